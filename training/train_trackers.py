"""Train a tracker poser (issue 6) on the corpus's train split; one command, fixed seed.

    .venv/bin/python -m training.train_trackers --kind three_point --out sparse_mocap_addon/assets/tracker_three_point.npz
    .venv/bin/python -m training.train_trackers --kind six_point --out sparse_mocap_addon/assets/tracker_six_point.npz
    .venv/bin/python -m training.train_trackers --kind three_point --bidirectional --epochs 30 \
        --out sparse_mocap_addon/assets/tracker_three_point_offline.npz
    .venv/bin/python -m training.train_trackers --kind six_point --bidirectional --epochs 30 \
        --out sparse_mocap_addon/assets/tracker_six_point_offline.npz

Every epoch draws a fresh augmented copy of every training clip (``training/tracker_dataset``:
mirroring, a random body, a heading, consumer-VR tracking errors on half the clips), seeded by
``(seed, epoch)``. The validation split (no augmentation; half the clips noisy, its own fixed
seed) picks the epoch that is written, by joint position error. ``--smoke`` trains a tiny model on
a few clips for a few steps (what CI runs).

Losses (masked over window padding): the rotations' 6D MSE; the joint positions those rotations
and the predicted pelvis give through forward kinematics on the true skeleton (heading frame);
the same positions' frame-to-frame velocities (against jitter); a binary cross-entropy on foot
contact.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from training.export_weights import export
from training.loop import add_training_arguments, fit, parse_training_arguments
from training.imu_dataset import load_corpus
from training.tracker_dataset import build_arrays
from training.tracker_model import KINDS, TrackerPoserNet, full_globals, positions_from
from sparse_mocap_addon.inference.tracker_poser import POSE_JOINTS

WEIGHT_VERSION = 1
LOSS_WEIGHTS = {"rotation": 1.0, "fk": 10.0, "velocity": 300.0, "contact": 0.1}


def tensors(arrays: dict) -> dict:
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in arrays.items()}


def _masked_mean(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    value = value.reshape(*value.shape[:2], -1).mean(-1)
    return (value * mask).sum() / mask.sum().clamp_min(1.0)


def losses(model: TrackerPoserNet, batch: dict) -> dict:
    out = model(batch["features"])
    mask = batch["mask"]
    terms = {"rotation": _masked_mean((out["pose_6d"] - batch["pose_6d"]) ** 2, mask)}
    fk = positions_from(full_globals(out["pose_6d"]), out["root"], batch["tpose_joints"])
    truth = batch["joints"]
    terms["fk"] = _masked_mean((fk - truth) ** 2, mask)
    step_mask = mask[:, 1:] * mask[:, :-1]
    terms["velocity"] = _masked_mean((torch.diff(fk, dim=1) - torch.diff(truth, dim=1)) ** 2, step_mask)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out["contact_logit"], batch["contact"], reduction="none")
    terms["contact"] = _masked_mean(bce, mask)
    terms["total"] = sum(LOSS_WEIGHTS[k] * v for k, v in terms.items())
    return terms


@torch.no_grad()
def position_error_cm(model: TrackerPoserNet, data: dict, batch_size: int = 64) -> float:
    """Mean joint position error (cm, 24 joints, heading frame) of the network alone."""
    total, count = 0.0, 0.0
    for start in range(0, len(data["features"]), batch_size):
        b = {k: v[start:start + batch_size] for k, v in data.items()}
        out = model(b["features"])
        fk = positions_from(full_globals(out["pose_6d"]), out["root"], b["tpose_joints"])
        err = (fk - b["joints"]).norm(dim=-1).mean(-1)
        total += float((err * b["mask"]).sum())
        count += float(b["mask"].sum())
    return 100.0 * total / max(count, 1.0)


def build_epoch(motions, kind, seed: int, epoch: int, augment: bool, window: int, stride: int,
                speed_range=None) -> dict:
    return tensors(build_arrays(motions, kind, np.random.default_rng([seed, epoch]), window=window,
                                stride=stride, augment=augment, speed_range=speed_range))


def train(args) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_motions = load_corpus(args.corpus, "train")
    val_motions = load_corpus(args.corpus, "validation")
    if args.smoke:
        train_motions, val_motions = train_motions[:4], val_motions[:2]
    if not train_motions:
        raise SystemExit(f"error: the corpus {args.corpus} has no training clips")
    if not val_motions:
        val_motions = train_motions
    model = TrackerPoserNet(args.kind, hidden=args.hidden, layers=args.layers, bidirectional=args.bidirectional)
    speed = tuple(args.speed_range) if args.speed_range else None
    first = build_epoch(train_motions, args.kind, args.seed, 0, True, args.window, args.stride, speed)
    flat = first["features"][first["mask"] > 0]
    model.input_mean.copy_(flat.mean(0))
    model.input_std.copy_(flat.std(0).clamp_min(1e-2))
    val = build_epoch(val_motions, args.kind, args.seed + 1, 0, False, args.window, args.window)

    def next_epoch(epoch):
        return build_epoch(train_motions, args.kind, args.seed, epoch, True, args.window, args.stride, speed)

    best, history = fit(model, first, next_epoch,
                        losses, lambda m: position_error_cm(m, val), metric="val_mpjpe_cm", epochs=args.epochs,
                        batch=args.batch, lr=args.lr, seed=args.seed, max_steps=args.max_steps)
    metadata = {
        "architecture": "tracker_poser", "version": WEIGHT_VERSION, "kind": args.kind,
        "hyperparameters": {"hidden": args.hidden, "layers": args.layers, "pose_joints": list(POSE_JOINTS),
                            "bidirectional": bool(args.bidirectional)},
        "training": {"seed": args.seed, "epochs": args.epochs, "best_epoch": best["epoch"],
                     "val_mpjpe_cm": round(best["val_mpjpe_cm"], 3), "batch": args.batch, "lr": args.lr,
                     "loss_weights": LOSS_WEIGHTS, "window": args.window, "stride": args.stride,
                     "speed_range": list(speed) if speed else None,
                     "train_clips": len(train_motions), "seconds": best["seconds"],
                     "smoke": bool(args.smoke),
                     "command": " ".join(["python -m training.train_trackers"] + sys.argv[1:]), "history": history},
    }
    export(model, args.out, {**metadata, "storage_dtype": "float16"}, dtype=np.float16)
    return metadata


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=tuple(KINDS), default="three_point")
    add_training_arguments(parser, epochs=30, hidden=256)
    parser.add_argument("--bidirectional", action="store_true",
                        help="an offline-only model that also sees the future (not streamable)")
    args = parse_training_arguments(parser, argv)
    meta = train(args)
    print(f"{args.kind}: best epoch {meta['training']['best_epoch']}, validation joint error "
          f"{meta['training']['val_mpjpe_cm']:.2f} cm, {meta['training']['seconds']:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
