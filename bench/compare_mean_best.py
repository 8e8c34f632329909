#!/usr/bin/env python3
"""Compares two optimizers (or variants) of one hpo bench run by mean best value per task.

    python3 bench/compare_mean_best.py DIR/results.sqlite BASELINE CANDIDATE [--tasks PREFIX,...]
        [--table]

Reads the finished runs ('done') of both from results.sqlite, keeps the seeds both have on each
task, and prints the tasks where CANDIDATE's mean best value (lower is better) is better and
worse than BASELINE's, and the mean over tasks of the relative change of the mean best
((candidate - baseline) / |baseline|, tasks with a baseline of 0 left out). --table prints a row
per task as well. Exits 1 when the two have no task in common.
"""
import argparse
import sqlite3
import statistics
import sys


def best_per_seed(db, optimizer, prefixes):
    rows = db.execute(
        "SELECT r.task, r.seed, MIN(e.value) FROM runs r "
        "JOIN evals e USING (optimizer, task, seed, trials) "
        "WHERE r.optimizer = ? AND r.status = 'done' AND e.value IS NOT NULL "
        "GROUP BY r.task, r.seed, r.trials",
        (optimizer,),
    )
    out = {}
    for task, seed, best in rows:
        if prefixes and not any(task.startswith(p) for p in prefixes):
            continue
        out.setdefault(task, {})[seed] = best
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", help="results.sqlite of an hpo bench run")
    parser.add_argument("baseline", help="optimizer text as in the report, e.g. gp")
    parser.add_argument("candidate", help="e.g. 'gp:trust_regions=2'")
    parser.add_argument("--tasks", default="", help="comma list of task name prefixes")
    parser.add_argument("--table", action="store_true", help="a row per task")
    args = parser.parse_args()
    prefixes = [p for p in args.tasks.split(",") if p]
    db = sqlite3.connect("file:%s?mode=ro" % args.results, uri=True)
    base = best_per_seed(db, args.baseline, prefixes)
    cand = best_per_seed(db, args.candidate, prefixes)
    better, worse, relative = [], [], []
    count = 0
    if args.table:
        print("| task | seeds | %s | %s |" % (args.baseline, args.candidate))
        print("|---|---:|---:|---:|")
    for task in sorted(set(base) & set(cand)):
        seeds = sorted(set(base[task]) & set(cand[task]))
        if not seeds:
            continue
        count += 1
        b = statistics.mean(base[task][s] for s in seeds)
        c = statistics.mean(cand[task][s] for s in seeds)
        if args.table:
            print("| %s | %d | %.6g | %.6g |" % (task, len(seeds), b, c))
        if c < b:
            better.append(task)
        elif c > b:
            worse.append(task)
        if b != 0:
            relative.append((c - b) / abs(b))
    if count == 0:
        print("no task with finished runs of both %r and %r" % (args.baseline, args.candidate))
        return 1
    print(
        "%s against %s: better on %d of %d tasks (%s), worse on %d (%s); "
        "mean relative change of the mean best %+.1f%%"
        % (
            args.candidate,
            args.baseline,
            len(better),
            count,
            ", ".join(better) or "none",
            len(worse),
            ", ".join(worse) or "none",
            100 * statistics.mean(relative) if relative else 0.0,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
