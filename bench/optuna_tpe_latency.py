#!/usr/bin/python3
"""Peer for tpe_suggest_bench: Optuna's TPE ask+tell latency with 10 float params, in memory,
after a history of N completed trials (added with add_trials, so only the timed calls sample).
Run with Debian's python3 (python3-optuna):

    /usr/bin/python3 bench/optuna_tpe_latency.py [--history 100,1000] [--calls 20]
"""
import argparse
import random
import time

import optuna


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", default="100,1000")
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(10)}
    print(f"optuna {optuna.__version__} TPESampler (defaults), 10 float params, in memory")
    for n in (int(x) for x in args.history.split(",")):
        rng = random.Random(1)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
        trials = []
        for _ in range(n):
            params = {k: rng.random() for k in dists}
            trials.append(optuna.trial.create_trial(params=params, distributions=dists,
                                                    value=sum(v * v for v in params.values())))
        study.add_trials(trials)
        start = time.perf_counter()
        for _ in range(args.calls):
            t = study.ask(dists)
            study.tell(t, sum(v * v for v in t.params.values()))
        ms = (time.perf_counter() - start) / args.calls * 1000
        print(f"  history {n:5d}: {ms:8.2f} ms per ask+tell")


if __name__ == "__main__":
    main()
