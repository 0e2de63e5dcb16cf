"""Train the six-IMU poser (issue 5) on the corpus's train split; one command, fixed seed.

    .venv/bin/python -m training.train_imu --kind full --out sparse_mocap_addon/assets/imu_poser.npz
    .venv/bin/python -m training.train_imu --kind no_shape --out sparse_mocap_addon/assets/imu_poser_no_shape.npz
    .venv/bin/python -m training.train_imu --kind baseline --out sparse_mocap_addon/assets/imu_poser_baseline.npz
    .venv/bin/python -m training.train_imu --kind full --bidirectional --epochs 25 \
        --out sparse_mocap_addon/assets/imu_poser_offline.npz

Every epoch draws a fresh augmented copy of every training clip (``training/imu_dataset``:
mirroring, a random body on its own skeleton, a heading, the sensor corruption model), seeded by
``(seed, epoch)``, so a run is reproducible and never sees the same sensors twice. The validation
split (corrupted sensors, no augmentation, its own fixed seed) picks the epoch that is written.
``--smoke`` trains a tiny model on a few clips for a few steps (what CI runs).

Losses (masked over window padding), all models: the rotations' 6D MSE, the joint positions of
those rotations put through forward kinematics on the true skeleton, and the same positions'
frame-to-frame velocities (against jitter). The staged models add their leaf and joint position
outputs and a binary cross-entropy on foot contact. The baseline gets the same rotation losses, so
the comparison is "trained the same way".
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from sparse_mocap_addon.core.imu.synth import CorruptionModel
from training.export_weights import export
from training.loop import add_training_arguments, fit, parse_training_arguments
from training.imu_dataset import build_arrays, load_corpus
from training.imu_model import (KINDS, LOWER_JOINTS, POSE_JOINTS, UPPER_JOINTS, ACC_CLAMP, ImuPoserNet,
                                forward_kinematics, full_relative_globals, sixd_to_matrix)

WEIGHT_VERSION = 1
LOSS_WEIGHTS = {"rotation": 1.0, "fk": 10.0, "velocity": 300.0, "leaf": 10.0, "joints": 10.0, "contact": 0.1,
                "root_velocity": 0.1}
ARRAY_KEYS = ("imu", "imu_valid", "measurements", "global_6d", "joints", "leaf", "tpose_joints", "contact", "mask",
              "root_velocity")


def tensors(arrays: dict) -> dict:
    out = {k: torch.from_numpy(np.ascontiguousarray(arrays[k], dtype=np.float32)) for k in ARRAY_KEYS}
    out["pose_6d"] = out.pop("global_6d")[:, :, list(POSE_JOINTS)]
    return out


def _masked_mean(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over everything, padding frames (mask 0) excluded; ``value`` is (B, T, ...)."""
    value = value.reshape(*value.shape[:2], -1).mean(-1)
    return (value * mask).sum() / mask.sum().clamp_min(1.0)


def losses(model: ImuPoserNet, batch: dict) -> dict:
    out = model(batch["imu"], batch["imu_valid"], batch["measurements"])
    mask = batch["mask"]
    terms = {"rotation": _masked_mean((out["pose_6d"] - batch["pose_6d"]) ** 2, mask)}
    fk_pred = forward_kinematics(full_relative_globals(sixd_to_matrix(out["pose_6d"])), batch["tpose_joints"])
    with torch.no_grad():
        fk_true = forward_kinematics(full_relative_globals(sixd_to_matrix(batch["pose_6d"])), batch["tpose_joints"])
    terms["fk"] = _masked_mean((fk_pred - fk_true) ** 2, mask)
    step_mask = mask[:, 1:] * mask[:, :-1]
    terms["velocity"] = _masked_mean((torch.diff(fk_pred, dim=1) - torch.diff(fk_true, dim=1)) ** 2, step_mask)
    if model.kind != "baseline":
        terms["leaf"] = _masked_mean((out["leaf"] - batch["leaf"]) ** 2, mask)
        terms["joints"] = _masked_mean((out["joints"] - batch["joints"][:, :, 1:]) ** 2, mask)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(out["contact_logit"], batch["contact"],
                                                                   reduction="none")
        terms["contact"] = _masked_mean(bce, mask)
    if "root_velocity" in out:
        terms["root_velocity"] = _masked_mean((out["root_velocity"] - batch["root_velocity"]) ** 2, mask)
    terms["total"] = sum(LOSS_WEIGHTS[k] * v for k, v in terms.items())
    return terms


@torch.no_grad()
def rotation_error_deg(model: ImuPoserNet, data: dict, batch_size: int = 64) -> float:
    """Mean geodesic error (degrees) of the 17 posed joints' root-relative rotations."""
    total, count = 0.0, 0.0
    for start in range(0, len(data["imu"]), batch_size):
        b = {k: v[start:start + batch_size] for k, v in data.items()}
        pred = sixd_to_matrix(model(b["imu"], b["imu_valid"], b["measurements"])["pose_6d"])
        true = sixd_to_matrix(b["pose_6d"])
        cos = ((pred * true).sum((-1, -2)) - 1.0) / 2.0
        angle = torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0))).mean(-1)
        total += float((angle * b["mask"]).sum())
        count += float(b["mask"].sum())
    return total / max(count, 1.0)


def build_epoch(motions, seed: int, epoch: int, augment: bool, window: int, stride: int,
                speed_range=None) -> dict:
    rng = np.random.default_rng([seed, epoch])
    return tensors(build_arrays(motions, rng, window=window, stride=stride, augment=augment,
                                corruption=CorruptionModel(), speed_range=speed_range))


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
        print("no validation clips: the epoch is picked on the training clips without augmentation", flush=True)
        val_motions = train_motions
    model = ImuPoserNet(args.kind, hidden=args.hidden, layers=args.layers, bidirectional=args.bidirectional,
                        root_velocity=args.root_velocity)
    speed = tuple(args.speed_range) if args.speed_range else None
    first = build_epoch(train_motions, args.seed, 0, True, args.window, args.stride, speed)
    model.shape_mean.copy_(first["measurements"].mean(0))
    model.shape_std.copy_(first["measurements"].std(0).clamp_min(1e-3))
    val = build_epoch(val_motions, args.seed + 1, 0, False, args.window, args.window)

    def next_epoch(epoch):
        return build_epoch(train_motions, args.seed, epoch, True, args.window, args.stride, speed)

    best, history = fit(model, first, next_epoch,
                        losses, lambda m: rotation_error_deg(m, val), metric="val_rotation_deg", epochs=args.epochs,
                        batch=args.batch, lr=args.lr, seed=args.seed, max_steps=args.max_steps)
    metadata = {
        "architecture": "imu_poser", "version": WEIGHT_VERSION, "kind": args.kind,
        "hyperparameters": {"hidden": args.hidden, "layers": args.layers, "pose_joints": list(POSE_JOINTS),
                            "upper_joints": list(UPPER_JOINTS), "lower_joints": list(LOWER_JOINTS),
                            "acc_clamp": ACC_CLAMP, "bidirectional": bool(args.bidirectional),
                            "root_velocity": bool(args.root_velocity)},
        "training": {"seed": args.seed, "epochs": args.epochs, "best_epoch": best["epoch"],
                     "val_rotation_deg": round(best["val_rotation_deg"], 3), "batch": args.batch, "lr": args.lr,
                     "loss_weights": LOSS_WEIGHTS, "window": args.window, "stride": args.stride,
                     "speed_range": list(speed) if speed else None,
                     "train_clips": len(train_motions), "seconds": best["seconds"],
                     "smoke": bool(args.smoke), "command": " ".join(["python -m training.train_imu"] + sys.argv[1:]),
                     "history": history},
    }
    # float16 storage halves the files (a few MB each); the runtime computes in float32, and the
    # rounding (relative 5e-4 per weight) moves the outputs far less than the model's own error.
    export(model, args.out, {**metadata, "storage_dtype": "float16"}, dtype=np.float16)
    return metadata


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=KINDS, default="full")
    parser.add_argument("--bidirectional", action="store_true",
                        help="an offline-only model whose stages also see the future (imu_poser_offline.npz)")
    parser.add_argument("--root-velocity", action="store_true",
                        help="the joint stage also estimates the root velocity (m/s, root frame) for the root filter")
    add_training_arguments(parser, epochs=40, hidden=192)
    args = parse_training_arguments(parser, argv)
    meta = train(args)
    print(f"{args.kind}: best epoch {meta['training']['best_epoch']}, validation rotation error "
          f"{meta['training']['val_rotation_deg']:.2f} deg, {meta['training']['seconds']:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
