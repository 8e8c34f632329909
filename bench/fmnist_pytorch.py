#!/usr/bin/env python3
"""The fmnist-mlp / fmnist-cnn training loop in PyTorch eager mode: the peer that
hpo-task-train's samples/s and trial start are measured against (deploy/gpu-check.sh).

Same model, data split, standardization, batch order rule (a seeded permutation, the last partial
batch dropped), loss and optimizer (torch.optim.SGD or Adam, foreach implementation) as
tasks/fmnist_task.h; the data sit on the device. Prints one JSON line per epoch:
  {"epoch": 1, "samples_per_s": ..., "val_accuracy": ...}
(bench/trainer_compare.sh times a trial's start as the whole process's wall time.)

  python3 bench/fmnist_pytorch.py --model cnn --epochs 2 [--device cuda] [--batch-size 128]
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn

MEAN, STD = 0.2860, 0.3530
TRAIN, VAL = 50000, 10000


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def find(directory, base):
    for name in (base + ".gz", base):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"Fashion-MNIST not found at {os.path.join(directory, base)}[.gz]")


def model_of(args):
    layers = []
    width_in = 784
    if args.model == "cnn":
        layers += [nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                   nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        width_in = 64 * 7 * 7
    layers.append(nn.Flatten())
    for _ in range(args.depth if args.model == "mlp" else 1):
        layers += [nn.Linear(width_in, args.width), nn.ReLU(), nn.Dropout(args.dropout)]
        width_in = args.width
    layers.append(nn.Linear(width_in, 10))
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-train-samples", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--data", default=os.environ.get("HPO_FMNIST_DIR",
                                                    "/usr/share/datasets/fashion-mnist"))
    args = p.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    images = read_idx(find(args.data, "train-images-idx3-ubyte"))
    labels = read_idx(find(args.data, "train-labels-idx1-ubyte"))
    n = images.shape[0]
    train = min(TRAIN, n - VAL)
    train_n = min(train, args.max_train_samples) if args.max_train_samples > 0 else train
    val_n = min(VAL, args.max_train_samples) if args.max_train_samples > 0 else VAL

    def floats(x):
        t = torch.from_numpy(x.copy()).to(device).float().div_(255).sub_(MEAN).div_(STD)
        return t.unsqueeze(1)

    train_x = floats(images[:train_n])
    train_y = torch.from_numpy(labels[:train_n].astype(np.int64)).to(device)
    val_x = floats(images[n - VAL:n - VAL + val_n])
    val_y = torch.from_numpy(labels[n - VAL:n - VAL + val_n].astype(np.int64)).to(device)

    model = model_of(args).to(device)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              weight_decay=args.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    batch = min(args.batch_size, train_n)
    batches = train_n // batch
    for epoch in range(1, args.epochs + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.monotonic()
        order = torch.randperm(train_n, device=device)
        model.train()
        for b in range(batches):
            index = order[b * batch:(b + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(train_x.index_select(0, index)), train_y.index_select(0, index))
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.monotonic() - t0
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(val_x[i:i + 2000]).argmax(1) == val_y[i:i + 2000]).sum())
                          for i in range(0, val_n, 2000))
        print(json.dumps({"epoch": epoch, "samples_per_s": batches * batch / seconds,
                          "val_accuracy": correct / val_n}), flush=True)


if __name__ == "__main__":
    main()
