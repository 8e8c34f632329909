#!/usr/bin/env python3
"""Median normalized regret per task, candidate vs baseline, from `hpo bench` final.csv files.

    python3 bench/compare_median.py DIR/final.csv [DIR2/final.csv ...] [--baseline optuna-tpe]
        [--candidates tpe,tpe:multivariate=false] [--rank-among random,gp] [--table tpe]

Several files (e.g. runs on seeds 0-19 and 20-39) are pooled, as if one run had written them;
a (optimizer, task, seed) found in two of them is an error.

Per task, every run's final best value is min-max normalized over all runs on that task in the
file (0 = best final value seen, 1 = worst; the report's score). Per optimizer, the median over
seeds of that score is taken. A candidate wins a task when its median is strictly below the
baseline's. For each candidate this prints the tasks won out of the tasks both ran, and its
average rank (by mean score, ties share the average rank, as in the report) among itself and the
--rank-among optimizers. --table prints the per-task medians of one candidate and the baseline.
Standard library only.
"""
import argparse
import csv
import statistics
import sys
from collections import defaultdict


def load(paths):
    """{task: {optimizer: [best per seed]}}, seeds in file order, files in the order given."""
    runs = defaultdict(lambda: defaultdict(list))
    seen = {}
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                key = (row["optimizer"], row["task"], row["seed"])
                if key in seen:
                    raise SystemExit("%s: %s on %s seed %s is also in %s"
                                     % (path, key[0], key[1], key[2], seen[key]))
                seen[key] = path
                runs[row["task"]][row["optimizer"]].append(float(row["best"]))
    return runs


def normalized(runs):
    """Same shape, each best mapped to [0, 1] by min-max over all runs on the task."""
    out = {}
    for task, by_opt in runs.items():
        values = [v for vs in by_opt.values() for v in vs]
        lo, hi = min(values), max(values)
        span = hi - lo
        out[task] = {o: [(v - lo) / span if span > 0 else 0.0 for v in vs]
                     for o, vs in by_opt.items()}
    return out


def ranks(scores):
    """{name: rank} for {name: score}, 1 = lowest, ties share the average rank."""
    ordered = sorted(scores, key=lambda k: scores[k])
    out = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and scores[ordered[j + 1]] == scores[ordered[i]]:
            j += 1
        for k in range(i, j + 1):
            out[ordered[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("final_csv", nargs="+")
    ap.add_argument("--baseline", default="optuna-tpe")
    ap.add_argument("--candidates", default="",
                    help="comma list (default: every optimizer in the file but the baseline)")
    ap.add_argument("--rank-among", default="random,gp",
                    help="comma list of optimizers to rank each candidate against")
    ap.add_argument("--table", default="", help="candidate whose per-task medians to print")
    args = ap.parse_args(argv)

    scores = normalized(load(args.final_csv))
    optimizers = []
    for by_opt in scores.values():
        for o in by_opt:
            if o not in optimizers:
                optimizers.append(o)
    if args.candidates:
        candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    else:
        candidates = [o for o in optimizers if o != args.baseline]
    among = [o.strip() for o in args.rank_among.split(",") if o.strip()]
    tasks = sorted(scores)

    if args.table:
        print("| task | %s median | %s median | %s wins |" % (args.table, args.baseline, args.table))
        print("|---|---:|---:|:---:|")
        for t in tasks:
            by_opt = scores[t]
            if args.table not in by_opt or args.baseline not in by_opt:
                continue
            mc = statistics.median(by_opt[args.table])
            mb = statistics.median(by_opt[args.baseline])
            print("| %s | %.4g | %.4g | %s |" % (t, mc, mb, "yes" if mc < mb else "no"))
        print()

    print("| candidate | wins vs %s | tasks | share | avg rank among {candidate, %s} |"
          % (args.baseline, ", ".join(among)))
    print("|---|---:|---:|---:|---:|")
    for c in candidates:
        wins = n = 0
        rank_sum = rank_n = 0
        for t in tasks:
            by_opt = scores[t]
            if c not in by_opt:
                continue
            if args.baseline in by_opt:
                n += 1
                if statistics.median(by_opt[c]) < statistics.median(by_opt[args.baseline]):
                    wins += 1
            group = [c] + [o for o in among if o in by_opt and o != c]
            if len(group) > 1:
                r = ranks({o: statistics.mean(by_opt[o]) for o in group})
                rank_sum += r[c]
                rank_n += 1
        share = "%.1f%%" % (100.0 * wins / n) if n else "-"
        avg = "%.3f" % (rank_sum / rank_n) if rank_n else "-"
        print("| %s | %d | %d | %s | %s |" % (c, wins, n, share, avg))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
