#!/usr/bin/python3
"""Peer for the capacity benchmark: Optuna's trials/s with a random sampler and a null objective,
on SQLite storage (durable) and in memory. Run with Debian's python3 (python3-optuna):

    /usr/bin/python3 bench/optuna_capacity.py --trials 500
"""
import argparse
import os
import tempfile
import time

import optuna


def run(storage, trials):
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=1))
    start = time.perf_counter()
    study.optimize(lambda t: t.suggest_float("x1", 0, 1) + t.suggest_float("x2", 0, 1) * 0,
                   n_trials=trials)
    return trials / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=500)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        url = "sqlite:///" + os.path.join(d, "optuna.db")
        print(f"optuna {optuna.__version__} random sampler, null objective, {args.trials} trials")
        print(f"  sqlite   {run(url, args.trials):8.0f} trials/s")
        print(f"  memory   {run(None, args.trials * 10):8.0f} trials/s")


if __name__ == "__main__":
    main()
