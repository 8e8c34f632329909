#!/usr/bin/env python3
"""How often each optimizer's best configurations sit on a bound of the space, from an
`hpo bench` results.sqlite.

    python3 bench/bound_share.py DIR/results.sqlite [--tasks lcbench] [--param weight_decay]

For every finished run on a task whose name starts with --tasks, the best trial's numeric
parameters are read; a parameter is on a bound when it equals (within 1e-9 of the range) the
smallest or largest value that any run in the file tried for it on that task. With an
optimizer that reaches the bounds (gp's L-BFGS stops on them), those extremes are the space's
own bounds. Prints, per optimizer, the runs, the share of parameters on a bound and the runs
whose every numeric parameter is on one; with --param NAME, also the median over those runs of
the best trial's value of NAME. Standard library only.
"""
import argparse
import json
import sqlite3
import statistics
import sys
from collections import defaultdict


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--tasks", default="lcbench", help="task name prefix (default: lcbench)")
    ap.add_argument("--param", default="", help="also print the median best value of this parameter")
    args = ap.parse_args(argv)

    db = sqlite3.connect("file:%s?mode=ro" % args.results, uri=True)
    rows = db.execute(
        "SELECT e.optimizer, e.task, e.seed, e.trials, e.value, e.params_json FROM evals e "
        "JOIN runs r USING (optimizer, task, seed, trials) "
        "WHERE r.status = 'done' AND e.task LIKE ? || '%' AND e.value IS NOT NULL",
        (args.tasks,)).fetchall()
    if not rows:
        print("no finished runs on tasks starting with %r in %s" % (args.tasks, args.results))
        return 1

    extremes = defaultdict(lambda: [float("inf"), float("-inf")])  # (task, param) -> [lo, hi]
    best = {}  # (optimizer, task, seed, trials) -> (value, params)
    for optimizer, task, seed, trials, value, params_json in rows:
        params = {k: v for k, v in json.loads(params_json).items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        for name, v in params.items():
            e = extremes[(task, name)]
            e[0] = min(e[0], v)
            e[1] = max(e[1], v)
        key = (optimizer, task, seed, trials)
        if key not in best or value < best[key][0]:
            best[key] = (value, params)

    on = defaultdict(int)
    total = defaultdict(int)
    runs = defaultdict(int)
    all_on = defaultdict(int)
    chosen = defaultdict(list)  # optimizer -> best values of --param
    for (optimizer, task, _, _), (_, params) in best.items():
        runs[optimizer] += 1
        if args.param in params:
            chosen[optimizer].append(params[args.param])
        k = 0
        for name, v in params.items():
            lo, hi = extremes[(task, name)]
            tol = 1e-9 * max(hi - lo, 1e-300)
            k += abs(v - lo) <= tol or abs(hi - v) <= tol
        on[optimizer] += k
        total[optimizer] += len(params)
        all_on[optimizer] += params != {} and k == len(params)

    extra = " median best %s |" % args.param if args.param else ""
    print("| optimizer | runs | parameters on a bound | runs with every parameter on one |" + extra)
    print("|---|---:|---:|---:|" + ("---:|" if args.param else ""))
    for o in sorted(runs):
        share = 100.0 * on[o] / total[o] if total[o] else 0.0
        cell = ""
        if args.param:
            cell = " %.4g |" % statistics.median(chosen[o]) if chosen[o] else " - |"
        print("| %s | %d | %.1f%% | %d |%s" % (o, runs[o], share, all_on[o], cell))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
