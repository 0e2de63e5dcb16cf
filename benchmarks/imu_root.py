"""Root drift after 10 s of ``core/imu/root.py`` on the corpus test split (issue 5, item 4).

Every clip gets its truth inputs (``imu_root.pose_inputs``: world-oriented root-relative joints and
0/1 foot contacts) and a pelvis free acceleration from ``synth.virtual_imus`` + ``synth.corrupt``
(the default corruption model: white noise, drifting bias, tilt/heading errors, dropped samples
as NaN; one seed per clip). Variants, each with truth contact and with "network-like" contact
(:func:`perturb_contact`):

- ``contact``: :func:`imu_root.root_translation` without the acceleration;
- ``acceleration``: naive double integration of the corrupted acceleration from rest
  (:func:`imu_root.integrate_acceleration`; no contact used, so one figure);
- ``fused``: :func:`imu_root.root_translation` with the acceleration;
- ``kinematic``: fused, with :func:`imu_root.kinematic_contact` (pose-only contact) instead.

Drift: :func:`imu_root.root_drift_errors` (10-s windows starting every second) pooled over all
clips longer than 10 s, mean in metres; clips of any length also give the 5-s figure. Prints a
table to stderr and, as the last stdout line, one JSON object.

    python benchmarks/imu_root.py [--corpus build/corpus] [--split test] [--limit N] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.imu import root as imu_root  # noqa: E402
from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, virtual_imus  # noqa: E402


def perturb_contact(contact: np.ndarray, fps: float, rng) -> np.ndarray:
    """0/1 contacts (T, 2) made to look like a network's probabilities: shifted by a random lag of
    up to +-3 frames per clip (onsets called early or late), blurred (Gaussian, sigma 50 ms),
    plus slowly varying noise (std 0.15, smoothed over about 80 ms) and white noise (std 0.05),
    and confusions: bursts (about one every 2 s per foot, mean 100 ms) where ``p`` becomes ``1 - p``.
    Clipped to [0, 1]."""
    T = len(contact)
    lag = int(rng.integers(-3, 4))
    p = np.roll(contact.astype(np.float64), lag, axis=0)
    if lag > 0:
        p[:lag] = p[lag]
    elif lag < 0:
        p[lag:] = p[lag - 1]
    p = _smooth(p, 0.05 * fps) + _smooth(rng.normal(size=(T, 2)), 0.04 * fps, normalise=True) * 0.15
    p += rng.normal(scale=0.05, size=(T, 2))
    starts = rng.uniform(size=(T, 2)) < 0.5 / fps
    t, f = np.nonzero(starts)
    lengths = rng.geometric(1.0 / max(1.0, 0.1 * fps), size=t.size)
    flip = np.zeros((T + 1, 2), dtype=np.int64)
    np.add.at(flip, (t, f), 1)
    np.add.at(flip, (np.minimum(t + lengths, T), f), -1)
    flip = np.cumsum(flip[:-1], axis=0) > 0
    p = np.where(flip, 1.0 - p, p)
    return np.clip(p, 0.0, 1.0)


def _smooth(x: np.ndarray, sigma: float, normalise: bool = False) -> np.ndarray:
    """Gaussian smoothing along axis 0 (edges repeated); ``normalise`` rescales to unit std."""
    sigma = max(float(sigma), 1e-6)
    half = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((half, half), (0, 0)), mode="edge")
    out = np.stack([np.convolve(padded[:, i], k, mode="valid") for i in range(x.shape[1])], axis=1)
    return out / (np.sqrt(np.sum(k ** 2)) if normalise else 1.0)


def evaluate(motions, seed: int = 0, options_overrides: dict | None = None, seconds=(10.0, 5.0)) -> dict:
    """Pooled drift windows per variant and window length: {variant: {seconds: errors array}}."""
    overrides = options_overrides or {}
    out: dict = {}
    for i, motion in enumerate(motions):
        rng = np.random.default_rng([seed, i])
        rel, contact = imu_root.pose_inputs(motion)
        options = imu_root.RootOptions.for_skeleton(motion.skeleton, **overrides)
        recording = corrupt(virtual_imus(motion), CorruptionModel(), rng)
        acc = recording.acceleration[:, recording.index("pelvis")]      # NaN where dropped
        noisy = perturb_contact(contact, motion.fps, rng)
        kinematic = imu_root.kinematic_contact(rel, motion.fps, options)
        fps = motion.fps
        tracks = {
            "acceleration": imu_root.integrate_acceleration(acc, fps),
            "truth_contact/contact": imu_root.root_translation(rel, contact, fps, None, options),
            "truth_contact/fused": imu_root.root_translation(rel, contact, fps, acc, options),
            "network_contact/contact": imu_root.root_translation(rel, noisy, fps, None, options),
            "network_contact/fused": imu_root.root_translation(rel, noisy, fps, acc, options),
            "kinematic_contact/contact": imu_root.root_translation(rel, kinematic, fps, None, options),
            "kinematic_contact/fused": imu_root.root_translation(rel, kinematic, fps, acc, options),
        }
        for name, track in tracks.items():
            for s in seconds:
                errors = imu_root.root_drift_errors(track, motion.translation, fps, s)
                out.setdefault(name, {}).setdefault(s, []).append(errors)
    return {name: {s: np.concatenate(v) for s, v in per.items()} for name, per in out.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "build" / "corpus"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0, help="at most this many clips (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from training.imu_dataset import load_corpus

    t0 = time.perf_counter()
    motions = load_corpus(args.corpus, args.split, include_mirrored=False)
    if args.limit:
        motions = motions[: args.limit]
    results = evaluate(motions, args.seed)
    seconds = time.perf_counter() - t0

    long_clips = sum(m.num_frames > round(10.0 * m.fps) for m in motions)
    print(f"{len(motions)} clips ({sum(m.num_frames / m.fps for m in motions):.0f} s), {long_clips} longer than "
          f"10 s; pelvis acceleration: corrupted synthetic sensor", file=sys.stderr)
    print(f"{'variant':28s} {'drift 10 s (m)':>15s} {'windows':>8s} {'drift 5 s (m)':>14s} {'windows':>8s}", file=sys.stderr)
    summary = {}
    for name, per in results.items():
        e10, e5 = per[10.0], per[5.0]
        d10 = float(e10.mean()) if e10.size else float("nan")
        d5 = float(e5.mean()) if e5.size else float("nan")
        print(f"{name:28s} {d10:15.3f} {e10.size:8d} {d5:14.3f} {e5.size:8d}", file=sys.stderr)
        summary[name] = {"drift_10s_m": round(d10, 4), "drift_5s_m": round(d5, 4)}
    print(json.dumps({
        "split": args.split, "clips": len(motions), "clips_over_10s": int(long_clips),
        "windows_10s": int(results["acceleration"][10.0].size), "seconds": round(seconds, 1),
        "root_drift_10s_m": {
            "truth_contact": {"contact": summary["truth_contact/contact"]["drift_10s_m"],
                              "acceleration": summary["acceleration"]["drift_10s_m"],
                              "fused": summary["truth_contact/fused"]["drift_10s_m"]},
            "network_contact": {"contact": summary["network_contact/contact"]["drift_10s_m"],
                                "acceleration": summary["acceleration"]["drift_10s_m"],
                                "fused": summary["network_contact/fused"]["drift_10s_m"]},
            "kinematic_contact": {"contact": summary["kinematic_contact/contact"]["drift_10s_m"],
                                  "fused": summary["kinematic_contact/fused"]["drift_10s_m"]},
        },
        "variants": summary,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
