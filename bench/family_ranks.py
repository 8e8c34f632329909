#!/usr/bin/env python3
"""Average rank per task family from an hpo bench ranks.csv, and whether a candidate's average
rank is no worse than the better of two references on every family.

  python3 bench/family_ranks.py DIR/ranks.csv [--candidate auto] [--refs gp,tpe]

Families: lcbench (lcbench-*), synthetic-mixed (mixed, mixed2: categorical and conditional
parameters), synthetic-numeric (the other synthetic tasks). Ranks are the report's (1 = best by
mean normalized score, ties share the average rank).
"""
import argparse
import csv
import sys
from collections import defaultdict


def family(task):
    if task.startswith("lcbench-"):
        return "lcbench"
    if task in ("mixed", "mixed2"):
        return "synthetic-mixed"
    return "synthetic-numeric"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ranks_csv")
    parser.add_argument("--candidate", default="auto")
    parser.add_argument("--refs", default="gp,tpe")
    args = parser.parse_args()
    refs = args.refs.split(",")
    ranks = defaultdict(lambda: defaultdict(list))  # family -> optimizer -> ranks
    with open(args.ranks_csv, newline="") as f:
        for row in csv.DictReader(f):
            if row["task"] == "average":  # the report's own overall row
                continue
            ranks[family(row["task"])][row["optimizer"]].append(float(row["rank"]))
    optimizers = sorted({o for fam in ranks.values() for o in fam})
    print("| family | tasks | " + " | ".join(optimizers) + f" | {args.candidate} no worse than "
          f"the better of {', '.join(refs)} |")
    print("|---|---:|" + "---:|" * len(optimizers) + ":---:|")
    ok_all = True
    for fam in sorted(ranks):
        by = ranks[fam]
        avg = {o: sum(v) / len(v) for o, v in by.items() if v}
        tasks = max(len(v) for v in by.values())
        ok = args.candidate in avg and all(r in avg for r in refs) and \
            avg[args.candidate] <= min(avg[r] for r in refs) + 1e-9
        ok_all &= ok
        cells = " | ".join(f"{avg[o]:.2f}" if o in avg else "-" for o in optimizers)
        print(f"| {fam} | {tasks} | {cells} | {'yes' if ok else 'no'} |")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
