"""Train the gap-filling network on the corpus and export its numpy weights.

    python -m training.train_gap_fill --out sparse_mocap_addon/assets/gap_filler.npz

Samples: windows of ``GAP_WINDOW`` frames at ``GAP_FPS`` (both phases of the corpus's 60 fps), each
with fresh holes every epoch: one gap of 1 to ``--max-gap`` frames, inside the window (both sides
known: in-betweening), at its end (only the past known: forward prediction) or at its start (only
the future known: backward prediction), sometimes with a second short hole. The network reads the
bridged window (``motion_predictor.bridge_unknown``: Hermite between known sides, fading
extrapolation from one) plus a known flag per frame and is trained on what the bridge gets wrong.
Loss (unknown frames): joint positions by forward kinematics on each window's own skeleton, their
velocities, and the 6D rotations; known frames get a small weight so seams stay put.
Validation: the corpus's validation split with fixed holes; the best epoch is kept.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from sparse_mocap_addon.core.kinematics.resample import resample_motion
from sparse_mocap_addon.core.kinematics.rotations import matrix_to_6d, quat_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import PARENTS
from sparse_mocap_addon.inference.motion_predictor import (GAP_ARCHITECTURE, GAP_FEATURES, GAP_FPS, GAP_WINDOW,
                                                           network_input, reference_frames, root_features)
from training.export_weights import export
from training.imu_dataset import load_corpus
from training.loop import fit
from training.motion_mlp import MotionMLP, parameter_count

ROOT = Path(__file__).resolve().parents[1]


# --- windows ----------------------------------------------------------------------------------------

def motion_windows(motions, *, window: int = GAP_WINDOW, stride: int = 8, speeds=()) -> dict:
    """Every window of every motion at GAP_FPS (both phases when the motion is at twice the rate),
    and of each motion played ``speeds`` times as fast (sampled at GAP_FPS / speed, read as GAP_FPS).

    Returns float32 arrays: ``local6d`` (N, W, 138), ``root`` (N, W, 3, 3), ``translation`` (N, W, 3),
    ``offsets`` (N, 24, 3).
    """
    parts = {"local6d": [], "root": [], "translation": [], "offsets": []}
    for motion in motions:
        if abs(motion.fps / GAP_FPS - 2) < 1e-6:
            phases = ([motion.rotations[p::2] for p in (0, 1)], [motion.translation[p::2] for p in (0, 1)])
        else:
            at_rate = resample_motion(motion, GAP_FPS)
            phases = ([at_rate.rotations], [at_rate.translation])
        for speed in speeds:
            played = resample_motion(motion, GAP_FPS / speed)
            phases[0].append(played.rotations)
            phases[1].append(played.translation)
        for rotations, translation in zip(*phases):
            if len(rotations) < window:
                continue
            starts = np.arange(0, len(rotations) - window + 1, stride)
            index = starts[:, None] + np.arange(window)
            mats = quat_to_matrix(rotations[index])                       # (n, W, 24, 3, 3)
            parts["local6d"].append(matrix_to_6d(mats[:, :, 1:]).reshape(len(starts), window, -1))
            parts["root"].append(mats[:, :, 0])
            parts["translation"].append(translation[index])
            parts["offsets"].append(np.broadcast_to(motion.skeleton.offsets, (len(starts), 24, 3)))
    return {k: np.concatenate(v).astype(np.float32) for k, v in parts.items()}


def sample_known(rng, count: int, window: int = GAP_WINDOW, max_gap: int = 30,
                 interior_share: float = 0.7) -> np.ndarray:
    """(count, window) known flags with training holes (see the module doc); ``interior_share`` of
    the windows get their hole inside (in-betweening), the rest at the end or the start, half each."""
    known = np.ones((count, window), dtype=bool)
    length = rng.integers(1, max_gap + 1, count)
    one_sided = (1 - interior_share) / 2
    kind = rng.choice(3, count, p=[interior_share, one_sided, one_sided])   # interior, end, start
    margin = 4
    interior_start = margin + (rng.random(count) * (window - 2 * margin - length + 1)).astype(int)
    start = np.where(kind == 0, interior_start, np.where(kind == 1, window - length, 0))
    frames = np.arange(window)
    known &= ~((frames >= start[:, None]) & (frames < (start + length)[:, None]))
    second = rng.random(count) < 0.2                                  # a second short hole somewhere
    s_len = rng.integers(1, 8, count)
    s_start = rng.integers(0, window - 7, count)
    known &= ~(second[:, None] & (frames >= s_start[:, None]) & (frames < (s_start + s_len)[:, None]))
    known[~known.any(axis=1), 0] = True
    return known


def window_features(data: dict, index: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Features (n, W, 147) of windows ``index``, each in the frame of its reference frame."""
    root, _, _ = root_features(data["root"][index].astype(np.float64),
                               data["translation"][index].astype(np.float64), reference_frames(known))
    return np.concatenate([root, data["local6d"][index]], axis=-1)


def epoch_tensors(data: dict, rng, max_gap: int, interior_share: float = 0.7) -> dict:
    count = len(data["offsets"])
    known = sample_known(rng, count, max_gap=max_gap, interior_share=interior_share)
    features = window_features(data, np.arange(count), known)
    x, base = network_input(features, known)
    return {"x": torch.from_numpy(x.astype(np.float32)), "base": torch.from_numpy(base.astype(np.float32)),
            "target": torch.from_numpy(features.astype(np.float32)), "known": torch.from_numpy(known),
            "offsets": torch.from_numpy(data["offsets"]), "mask": torch.ones(count, dtype=torch.bool)}


# --- loss ---------------------------------------------------------------------------------------------

def sixd_to_matrix_torch(d6):
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=-1)], dim=-1)


def joint_positions(features, offsets):
    """(B, W, 147) features + (B, 24, 3) offsets -> (B, W, 24, 3) joint positions (the window's frame)."""
    B, W, _ = features.shape
    rotations = sixd_to_matrix_torch(features[..., 3:].reshape(B, W, 24, 6))
    glob = [rotations[:, :, 0]]
    pos = [features[..., :3]]
    for j in range(1, 24):
        p = PARENTS[j]
        glob.append(glob[p] @ rotations[:, :, j])
        pos.append(pos[p] + (glob[p] @ offsets[:, None, j, :, None])[..., 0])
    return torch.stack(pos, dim=2)


def losses(model, batch):
    out = model(batch["x"], batch["base"])
    unknown = (~batch["known"]).float()
    weight = unknown + 0.1 * (1 - unknown)
    norm = weight.sum().clamp(min=1)
    pred_pos = joint_positions(out, batch["offsets"])
    true_pos = joint_positions(batch["target"], batch["offsets"])
    diff = pred_pos - true_pos
    position = ((diff.norm(dim=-1).mean(-1)) * weight).sum() / norm
    v_weight = torch.maximum(weight[:, 1:], weight[:, :-1])
    velocity = ((diff[:, 1:] - diff[:, :-1]).norm(dim=-1).mean(-1) * v_weight).sum() / v_weight.sum().clamp(min=1)
    rotation = ((out - batch["target"]).abs().mean(-1) * weight).sum() / norm
    return {"total": position + velocity + 0.1 * rotation, "position": position, "velocity": velocity,
            "rotation": rotation}


def gap_error_mm(model, batch) -> float:
    """Mean joint position error over the unknown frames, millimetres."""
    with torch.no_grad():
        out = model(batch["x"], batch["base"])
        diff = joint_positions(out, batch["offsets"]) - joint_positions(batch["target"], batch["offsets"])
        unknown = ~batch["known"]
        return float(diff.norm(dim=-1).mean(-1)[unknown].mean()) * 1000


# --- main ---------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--blocks", type=int, default=24)
    parser.add_argument("--channel-hidden", type=int, default=0, help="width of each block's channel MLP (0: none)")
    parser.add_argument("--stride", type=int, default=8)
    parser.add_argument("--max-gap", type=int, default=30, help="longest training hole, model frames")
    parser.add_argument("--interior-share", type=float, default=0.7,
                        help="share of windows whose hole is inside (in-betweening); the rest are at the end or start")
    parser.add_argument("--speeds", type=float, nargs="*", default=[],
                        help="playback speeds added to the training windows (e.g. 0.8 1.25; the clips as "
                             "recorded are always there)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--smoke", action="store_true", help="a few clips, a tiny model, a few steps (CI)")
    args = parser.parse_args(argv)
    if not 0 <= args.interior_share <= 1:
        parser.error(f"--interior-share must be between 0 and 1, got {args.interior_share}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_motions = load_corpus(args.corpus, "train")
    valid_motions = load_corpus(args.corpus, "validation")
    if args.smoke:
        train_motions, valid_motions = train_motions[:3], valid_motions[:2]
        args.blocks, args.epochs, args.max_steps, args.stride = 2, 1, args.max_steps or 5, 32
        args.channel_hidden = min(args.channel_hidden, 8)
    if any(not (0.25 <= v <= 4.0) for v in args.speeds):
        parser.error(f"--speeds must be between 0.25 and 4, got {args.speeds}")
    train = motion_windows(train_motions, stride=args.stride, speeds=args.speeds)
    valid = motion_windows(valid_motions, stride=32)
    rng = np.random.default_rng(args.seed)
    first = epoch_tensors(train, rng, args.max_gap, args.interior_share)
    valid_batch = epoch_tensors(valid, np.random.default_rng(12345), args.max_gap, args.interior_share)
    model = MotionMLP(GAP_WINDOW, GAP_FEATURES, GAP_FEATURES + 1, blocks=args.blocks,
                      channel_hidden=args.channel_hidden)
    print(json.dumps({"train_windows": len(train["offsets"]), "validation_windows": len(valid["offsets"]),
                      "parameters": parameter_count(model),
                      "bridge_mm": round(gap_error_mm(lambda x, base: base, valid_batch), 2)}), flush=True)
    best, history = fit(model, first, lambda epoch: epoch_tensors(train, rng, args.max_gap, args.interior_share), losses,
                        lambda net: gap_error_mm(net, valid_batch), metric="validation_gap_mm",
                        epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed, max_steps=args.max_steps)
    export(model, args.out, {
        "architecture": GAP_ARCHITECTURE, "version": 1,
        "hyperparameters": {"blocks": args.blocks, "channel_hidden": args.channel_hidden, "frames": GAP_WINDOW, "features": GAP_FEATURES, "fps": GAP_FPS,
                            "max_gap_frames": args.max_gap, "interior_share": args.interior_share,
                            "speeds": list(args.speeds)},
        "training": {"seed": args.seed, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                     "stride": args.stride, "windows": int(len(train["offsets"])), "best": best,
                     "last": history[-1] if history else None, "smoke": args.smoke},
    })
    print(json.dumps({"saved": str(args.out), **best}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
