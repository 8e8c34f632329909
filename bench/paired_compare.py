#!/usr/bin/env python3
"""Pairs two bench runs of one optimizer seed by seed: `min(value)` per (task, seed) at a trial
count, from two results.sqlite files (e.g. an old build's and a new one's, or two variants in one
file). Prints per task the seeds both have, the mean and median best of each, on how many seeds
B is better and worse, an exact two-sided sign test and a Wilcoxon signed-rank test (normal
approximation), both on the per-seed differences.

  python3 bench/paired_compare.py OLD/results.sqlite NEW/results.sqlite --optimizer gp --trials 400
  python3 bench/paired_compare.py R.sqlite R.sqlite --optimizer gp --optimizer-b 'gp:trust_regions=2'
"""
import argparse
import sqlite3
import statistics as st
from math import comb, erf, sqrt


def best(db, optimizer, trials):
    query = "select task, seed, min(value) from evals where optimizer = ?"
    args = [optimizer]
    if trials:
        query += " and trials = ?"
        args.append(trials)
    with sqlite3.connect(db) as c:
        return {(t, s): v for t, s, v in c.execute(query + " group by task, seed", args)}


def sign_test_p(wins, n):
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(0, min(wins, n - wins) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def wilcoxon_p(a, b):
    d = [y - x for x, y in zip(a, b) if y != x]
    if not d:
        return 1.0
    order = sorted(range(len(d)), key=lambda i: abs(d[i]))
    ranks = [0.0] * len(d)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n = len(d)
    w = sum(r for r, x in zip(ranks, d) if x > 0)
    z = (w - n * (n + 1) / 4) / sqrt(n * (n + 1) * (2 * n + 1) / 24)
    return 2 * (1 - 0.5 * (1 + erf(abs(z) / sqrt(2))))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--optimizer", required=True)
    p.add_argument("--optimizer-b", help="the optimizer name in B (default: --optimizer)")
    p.add_argument("--trials", type=int, default=0, help="only runs of this many trials")
    args = p.parse_args()
    a = best(args.a, args.optimizer, args.trials)
    b = best(args.b, args.optimizer_b or args.optimizer, args.trials)
    for task in sorted({t for t, _ in a}):
        seeds = sorted(s for t, s in a if t == task and (t, s) in b)
        if not seeds:
            continue
        x = [a[(task, s)] for s in seeds]
        y = [b[(task, s)] for s in seeds]
        better = sum(v < u for u, v in zip(x, y))
        worse = sum(v > u for u, v in zip(x, y))
        print(f"{task}: {len(seeds)} seeds; A mean {st.mean(x):.4f} median {st.median(x):.4f}; "
              f"B mean {st.mean(y):.4f} median {st.median(y):.4f}; B better on {better}, "
              f"worse on {worse}; sign test p = {sign_test_p(better, better + worse):.3f}, "
              f"Wilcoxon p = {wilcoxon_p(x, y):.3f}")


if __name__ == "__main__":
    main()
