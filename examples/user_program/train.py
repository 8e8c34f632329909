#!/usr/bin/env python3
"""A user program hpo can tune: it reads its parameters from argv (or HPO_PARAMS) and reports
a learning curve with metric lines on stdout. Any language works the same way."""
import argparse
import json
import math
import os

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--width", type=int, required=True)
parser.add_argument("--epochs", type=int, default=8)
args = parser.parse_args()

params = json.loads(os.environ.get("HPO_PARAMS", "{}"))
print(f"trial {os.environ.get('HPO_TRIAL_ID')} got {params}", flush=True)

# A toy loss surface: best near lr = 0.01, width = 64; it decays over the epochs.
floor = (math.log10(args.lr) + 2.0) ** 2 + 0.5 * (math.log2(args.width) - 6.0) ** 2 / 4.0
for epoch in range(1, args.epochs + 1):
    loss = floor + 2.0 / epoch
    print("hpo-metric " + json.dumps({"step": epoch, "loss": loss}), flush=True)
