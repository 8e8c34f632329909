#!/usr/bin/env python3
"""A user program hpo can tune: it reads its parameters from argv (or HPO_PARAMS) and reports
a learning curve with metric lines on stdout. Any language works the same way.

It checkpoints, so that a retry does not start over: after each epoch it saves its progress to
$HPO_TRIAL_DIR/checkpoint.json, a directory that stays the same for every attempt of one trial
number. When its worker dies, the trial is LOST and (with budget.max_retries) runs again; the
retry finds the checkpoint and goes on from the epoch after the saved one. Standard library only.
"""
import argparse
import json
import math
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--width", type=int, required=True)
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--step-seconds", type=float, default=0.0,
                    help="pretend each epoch takes this long (to watch a kill and a resume)")
args = parser.parse_args()

params = json.loads(os.environ.get("HPO_PARAMS", "{}"))
print(f"trial {os.environ.get('HPO_TRIAL_ID')} (number {os.environ.get('HPO_TRIAL_NUMBER')}) "
      f"got {params}", flush=True)

# Unset when the worker keeps no trial directories: then the program just starts from scratch.
trial_dir = os.environ.get("HPO_TRIAL_DIR")
checkpoint = os.path.join(trial_dir, "checkpoint.json") if trial_dir else None


def load_checkpoint():
    """The saved state, or None when there is none for these parameters."""
    if checkpoint is None:
        return None
    try:
        with open(checkpoint) as f:
            state = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        print(f"ignoring unreadable checkpoint {checkpoint}: {e}", file=sys.stderr)
        return None
    # Trial directories are named by study and trial number, so a study created again under the
    # same name (in a new database) finds the old study's directories: resume only our own.
    if state.get("params") != params:
        print(f"ignoring {checkpoint}: it was saved for other parameters", file=sys.stderr)
        return None
    return state


def save_checkpoint(state):
    # A new file renamed over the old one: a kill at any moment leaves one whole checkpoint.
    tmp = checkpoint + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, checkpoint)


def report(metrics):
    print("hpo-metric " + json.dumps(metrics), flush=True)


state = load_checkpoint()
start = 1
if state is not None:
    start = state["epoch"] + 1
    print(f"resuming after epoch {state['epoch']} from {checkpoint}", flush=True)
    if start > args.epochs:  # the attempt before finished but was not recorded: report again
        report(state["metrics"])
        sys.exit(0)

# A toy loss surface: best near lr = 0.01, width = 64; it decays over the epochs.
floor = (math.log10(args.lr) + 2.0) ** 2 + 0.5 * (math.log2(args.width) - 6.0) ** 2 / 4.0
for epoch in range(start, args.epochs + 1):
    time.sleep(args.step_seconds)  # the epoch's work
    loss = floor + 2.0 / epoch
    metrics = {"step": epoch, "loss": loss}
    report(metrics)
    if checkpoint is not None:
        save_checkpoint({"params": params, "epoch": epoch, "metrics": metrics})
