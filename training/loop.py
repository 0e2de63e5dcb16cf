"""The training loop and command-line options the posers share (torch; training only): Adam with a cosine learning-rate
decay over all steps, gradient clipping at 1, shuffled mini-batches of a fresh epoch of data each
epoch, and the epoch with the best validation figure kept.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch


def fit(model: torch.nn.Module, first: dict, next_epoch: Callable[[int], dict], losses: Callable,
        validate: Callable[[torch.nn.Module], float], *, metric: str, epochs: int, batch: int, lr: float,
        seed: int, max_steps: int | None = None) -> tuple[dict, list]:
    """Train ``model`` in place and load its best state (lowest ``validate``) back.

    ``first``: epoch 0's tensors ((N, ...) each, with a ``mask``); ``next_epoch(epoch)`` builds
    the later ones; ``losses(model, batch)`` returns a dict of loss terms with ``total``. Prints
    one JSON line per epoch (``metric`` names the validation figure). Returns (best: {metric,
    "epoch", "seconds"}, history)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(first["mask"]) / batch)
    total_steps = max(1, epochs * steps_per_epoch if max_steps is None else max_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    best = {metric: float("inf"), "epoch": -1, "state": None}
    history, step, started = [], 0, time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        data = first if epoch == 0 else next_epoch(epoch)
        model.train()
        order = torch.randperm(len(data["mask"]), generator=gen)
        sums = {}
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            terms = losses(model, {k: v[idx] for k, v in data.items()})
            opt.zero_grad()
            terms["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            schedule.step()
            step += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            if max_steps is not None and step >= max_steps:
                break
        model.eval()
        figure = validate(model)
        n = max(1, math.ceil(len(order) / batch))
        record = {"epoch": epoch, "seconds": round(time.perf_counter() - started, 1), metric: round(figure, 3),
                  **{k: round(v / n, 5) for k, v in sums.items()}}
        history.append(record)
        print(json.dumps(record), flush=True)
        if figure < best[metric]:
            best = {metric: figure, "epoch": epoch,
                    "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        if max_steps is not None and step >= max_steps:
            break
    model.load_state_dict(best.pop("state"))
    best["seconds"] = round(time.perf_counter() - started, 1)
    return best, history


def add_training_arguments(parser: argparse.ArgumentParser, *, epochs: int, hidden: int) -> None:
    """The options every poser training script takes (corpus, output, seed, schedule, sizes)."""
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--corpus", type=Path, default=root / "build" / "corpus")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    parser.add_argument("--hidden", type=int, default=hidden)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--stride", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--speed-range", type=float, nargs=2, metavar=("SLOWEST", "FASTEST"), default=None,
                        help="augment playback speed by a log-uniform factor in this range, e.g. 0.8 1.25 (default off)")
    parser.add_argument("--smoke", action="store_true", help="a few clips, a tiny model, a few steps (CI)")


def parse_training_arguments(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parsed options; ``--smoke`` shrinks the model, the epochs and the windows (what CI runs)."""
    args = parser.parse_args(argv)
    if args.smoke:
        args.hidden, args.epochs, args.window, args.stride = min(args.hidden, 16), min(args.epochs, 2), 60, 60
    return args
