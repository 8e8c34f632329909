#!/usr/bin/env python3
"""A training script in PyTorch's usual shape, tuned by hpo through the `hpo` package.

It fits a small MLP classifier to a synthetic two-moons data set with PyTorch when it is
installed (Debian: python3-torch), and otherwise the same model as logistic regression in plain
Python, so the example runs anywhere. What matters is the hpo part:

    p = hpo.params(defaults=...)     # the trial's parameters (or defaults / --name value by hand)
    hpo.report(epoch, loss=..., accuracy=...)   # one metric line per epoch
    hpo.should_stop()                # the worker's SIGTERM: save and leave cleanly
    hpo.trial_dir()                  # the same directory on every attempt: checkpoints

Run by hand:  PYTHONPATH=python python3 examples/pytorch_style/train.py --lr 0.05
Under hpo:    hpo run examples/pytorch_style.yaml --workers 2
"""
import json
import math
import os
import random

import hpo

p = hpo.params(defaults={"lr": 0.05, "hidden": 16, "epochs": 15, "batch_size": 32,
                         "optimizer": "sgd", "seed": 0})
hpo.should_stop()  # installs the SIGTERM handler now, before the first epoch


def moons(n, rng):
    """Two interleaved half circles with noise: (x, y) pairs, labels 0 and 1."""
    data = []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2 == 0:
            x = (math.cos(t), math.sin(t))
        else:
            x = (1 - math.cos(t), 0.5 - math.sin(t))
        data.append(((x[0] + rng.gauss(0, 0.15), x[1] + rng.gauss(0, 0.15)), i % 2))
    return data


rng = random.Random(p["seed"])
train, val = moons(600, rng), moons(200, rng)
checkpoint = os.path.join(hpo.trial_dir(), "checkpoint.json")

try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    torch.manual_seed(p["seed"])
    model = torch.nn.Sequential(torch.nn.Linear(2, p["hidden"]), torch.nn.ReLU(),
                                torch.nn.Linear(p["hidden"], 2))
    opt_class = torch.optim.Adam if p["optimizer"] == "adam" else torch.optim.SGD
    optimizer = opt_class(model.parameters(), lr=p["lr"])
    x_train = torch.tensor([x for x, _ in train])
    y_train = torch.tensor([y for _, y in train])
    x_val = torch.tensor([x for x, _ in val])
    y_val = torch.tensor([y for _, y in val])
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_one_epoch():
        model.train()
        order = torch.randperm(len(x_train))
        for start in range(0, len(order), p["batch_size"]):
            batch = order[start:start + p["batch_size"]]
            optimizer.zero_grad()
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()

    def evaluate():
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            return (loss_fn(logits, y_val).item(),
                    (logits.argmax(1) == y_val).float().mean().item())

    def state():
        return {k: v.tolist() for k, v in model.state_dict().items()}

    def load(saved):
        model.load_state_dict({k: torch.tensor(v) for k, v in saved.items()})
else:
    w = [0.0, 0.0, 0.0]  # logistic regression: weights and bias

    def prob(x):
        z = w[0] * x[0] + w[1] * x[1] + w[2]
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    def train_one_epoch():
        rng.shuffle(train)
        for start in range(0, len(train), p["batch_size"]):
            batch = train[start:start + p["batch_size"]]
            g = [0.0, 0.0, 0.0]
            for x, y in batch:
                e = prob(x) - y
                g[0] += e * x[0]
                g[1] += e * x[1]
                g[2] += e
            for i in range(3):
                w[i] -= p["lr"] * g[i] / len(batch)

    def evaluate():
        loss = sum(-math.log(max(1e-12, prob(x) if y else 1 - prob(x))) for x, y in val)
        right = sum((prob(x) > 0.5) == bool(y) for x, y in val)
        return loss / len(val), right / len(val)

    def state():
        return list(w)

    def load(saved):
        w[:] = saved

first_epoch = 1
try:  # a retry of this trial number resumes where the attempt before it saved
    with open(checkpoint) as f:
        saved = json.load(f)
    if saved["params"] == p:
        load(saved["model"])
        first_epoch = saved["epoch"] + 1
        print(f"resuming after epoch {saved['epoch']}", flush=True)
except (OSError, ValueError, KeyError):
    pass

for epoch in range(first_epoch, p["epochs"] + 1):
    train_one_epoch()
    val_loss, val_accuracy = evaluate()
    hpo.report(epoch, loss=val_loss, accuracy=val_accuracy)
    tmp = checkpoint + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"params": p, "epoch": epoch, "model": state()}, f)
    os.replace(tmp, checkpoint)
    if hpo.should_stop():
        print(f"stopping after epoch {epoch}, checkpoint saved", flush=True)
        break
