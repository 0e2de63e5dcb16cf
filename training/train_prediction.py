"""Train the CMU-Mocap motion predictor (10 frames in, 25 out) and export its numpy weights.

    python -m training.train_prediction --data ../shared/data/cmu_expmap \
        --out benchmarks/weights/cmu_prediction_linear.npz

Training data: every window of the train takes of the benchmark actions, from both phases of the
2x downsampling (the odd frames are as much a 25 fps recording as the even ones), and their mirror
images (x negated, left and right swapped). With ``--holdout`` the last take of each action is kept
out for validation; without it the test split is never used to choose anything: the schedule is
fixed and the last epoch's weights are exported.
Loss: mean joint distance over all 35 frames (observed ones included, as PGBIG), plus the same on
frame-to-frame velocities (siMLPe) and accelerations (KSOF's joint-point-smoothness term).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from training import cmu_benchmark as cb
from training.export_weights import export
from training.loop import fit
from training.motion_mlp import MotionMLP, parameter_count

ARCHITECTURE = "cmu_motion_mlp"
SCALE = 1e-3          # benchmark millimetres -> metres for the network
_LEFT = ("ltibia", "lfoot", "ltoes", "ltoes_end", "lhumerus", "lradius", "lwrist", "lfingers", "lfingers_end",
         "lthumb_end")


def mirror_permutation() -> np.ndarray:
    """Index map over the 25 used joints that swaps left and right."""
    from sparse_mocap_addon.core.mocap.formats.cmu_expmap import NAMES
    used_names = [NAMES[j] for j in cb.USED_JOINTS]
    swap = {n: "r" + n[1:] for n in _LEFT}
    swap.update({v: k for k, v in swap.items()})
    return np.array([used_names.index(swap.get(n, n)) for n in used_names])


def mirror(x: np.ndarray) -> np.ndarray:
    """(..., 75) used-joint positions mirrored through the body's sagittal plane (+X is left)."""
    joints = x.reshape(*x.shape[:-1], -1, 3)[..., mirror_permutation(), :].copy()
    joints[..., 0] *= -1
    return joints.reshape(x.shape)


def pad_observed(observed: np.ndarray) -> np.ndarray:
    """(N, 10, F) -> (N, 35, F): the observed frames then the last one repeated (LTD's padding)."""
    tail = np.repeat(observed[:, -1:], cb.OUTPUT_FRAMES, axis=1)
    return np.concatenate([observed, tail], axis=1)


def training_windows(root, actions, *, holdout: bool) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) windows (N, 35, 75) of used-joint positions in metres."""
    train, valid = [], []
    for action, paths in cb.take_paths(root, "train", actions).items():
        for i, path in enumerate(paths):
            held = holdout and i == len(paths) - 1 and len(paths) > 1
            for phase in (0, 1):
                w = cb.used(cb.all_windows(cb.load_take(path, phase=phase))) * SCALE
                if held:
                    if phase == 0:
                        valid.append(w[::5])
                else:
                    train.append(w)
    train = np.concatenate(train)
    train = np.concatenate([train, mirror(train)]).astype(np.float32)
    valid = np.concatenate(valid).astype(np.float32) if valid else np.zeros((0,) + train.shape[1:], np.float32)
    return train, valid


def numpy_predictor(models, *, mirror_average: bool = True):
    """``predict((N, 10, 75) mm) -> (N, 25, 75) mm`` from one network or a list (their mean).

    Each network is any callable ``(x, residual) -> out`` on padded windows in metres (the numpy
    ``MotionMLP`` or the torch one). ``mirror_average`` also predicts the mirror image of the input
    and mirrors the result back, averaging the two (test-time augmentation; the networks were
    trained on mirrored copies too).
    """
    models = list(models) if isinstance(models, (list, tuple)) else [models]

    def run(observed):
        inputs = [pad_observed(observed * SCALE).astype(np.float32)]
        if mirror_average:
            inputs.append(pad_observed(mirror(observed) * SCALE).astype(np.float32))
        out = 0.0
        for model in models:
            for k, padded in enumerate(inputs):
                y = np.asarray(model(padded, padded), dtype=np.float64)
                out = out + (mirror(y) if k else y)
        out = out / (len(models) * len(inputs))
        return out[:, cb.INPUT_FRAMES:] / SCALE
    return run


def losses(model, batch):
    target = batch["window"]
    padded = torch.cat([target[:, :cb.INPUT_FRAMES],
                        target[:, cb.INPUT_FRAMES - 1:cb.INPUT_FRAMES].expand(-1, cb.OUTPUT_FRAMES, -1)], dim=1)
    out = model(padded, padded)
    B, T, F = out.shape
    diff = (out - target).reshape(B, T, F // 3, 3)
    position = diff.norm(dim=-1).mean()
    velocity = (diff[:, 1:] - diff[:, :-1]).norm(dim=-1).mean()
    acceleration = (diff[:, 2:] - 2 * diff[:, 1:-1] + diff[:, :-2]).norm(dim=-1).mean()
    return {"total": position + velocity + 0.5 * acceleration, "position": position, "velocity": velocity,
            "acceleration": acceleration}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/cmu_expmap")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--blocks", type=int, default=24)
    parser.add_argument("--channel-hidden", type=int, default=0, help="width of each block's channel MLP (0: none)")
    parser.add_argument("--holdout", action="store_true", help="keep the last take of each action for validation")
    parser.add_argument("--walking-extra", action="store_true", help="also train on train/walking_extra")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--smoke", action="store_true", help="a tiny model for a few steps (CI)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    actions = cb.BENCHMARK_ACTIONS + (("walking_extra",) if args.walking_extra else ())
    if args.smoke:
        actions, args.blocks, args.epochs, args.max_steps = ("walking",), 2, 1, args.max_steps or 5
    train, valid = training_windows(args.data, actions, holdout=args.holdout)
    model = MotionMLP(cb.WINDOW, train.shape[-1], blocks=args.blocks, channel_hidden=args.channel_hidden)
    print(json.dumps({"train_windows": len(train), "validation_windows": len(valid),
                      "parameters": parameter_count(model)}), flush=True)
    first = {"window": torch.from_numpy(train), "mask": torch.ones(len(train), dtype=torch.bool)}
    # The epoch kept is the one with the lowest error on the held-out takes, or without them on a
    # fixed sample of training windows: the test split never chooses anything.
    check = valid if len(valid) else train[np.random.default_rng(args.seed).choice(len(train), 4000)]
    check_t = torch.from_numpy(check)

    def validate(net):
        with torch.no_grad():
            return losses(net, {"window": check_t})["position"].item() / SCALE

    best, history = fit(model, first, lambda epoch: first, losses, validate, metric="validation_mm",
                        epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed, max_steps=args.max_steps)
    export(model, args.out, {
        "architecture": ARCHITECTURE, "version": 1,
        "hyperparameters": {"blocks": args.blocks, "channel_hidden": args.channel_hidden, "frames": cb.WINDOW, "features": int(train.shape[-1]),
                            "input_frames": cb.INPUT_FRAMES, "output_frames": cb.OUTPUT_FRAMES, "scale": SCALE},
        "training": {"seed": args.seed, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                     "actions": list(actions), "holdout": args.holdout, "windows": int(len(train)),
                     "best": best, "last": history[-1] if history else None},
    })
    print(json.dumps({"saved": str(args.out), **best}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
