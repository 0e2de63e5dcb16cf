"""Accuracy and speed of the six-point solver (``core/trackers/six_point``, issue 6 item 3) on clean,
exact joint-level targets from forward kinematics of the corpus's test split.

Every test clip (its own skeleton) gives the six targets of ``core/trackers/recording.SIX_POINT`` straight from
FK: pelvis, head, wrists and ankles, each position + global rotation. The solver runs on them and
is compared with the clip:

- **MPJPE** (mm): mean world-position error over all 24 joints;
- **end-effector** (mm): mean world-position error of the wrists, ankles and head;
- **MPJRE** (deg): mean geodesic error of the 24 local rotations;
- **jitter** (km/s^3): mean third derivative of the solved joint positions (truth's alongside).

Speed: frames per second of ``solve_six_point`` on one core (single BLAS thread), all test frames
in one call. Targets (issue 6): MPJPE <= 5 mm, end-effector <= 3 mm, >= 5,000 frames/s.
Prints one row per source, then the overall row; the last stdout line is JSON.

    python benchmarks/tracker_ik_accuracy.py [--corpus build/corpus] [--split test]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.kinematics.metrics import geodesic_deg, jitter_km_s3  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import quat_to_matrix  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.trackers.six_point import SixPointOptions, solve_six_point  # noqa: E402
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, TRACKER_JOINTS  # noqa: E402
from training.imu_dataset import CorpusMissingError, load_corpus  # noqa: E402

END_EFFECTORS = (TRACKER_JOINTS["left_hand"], TRACKER_JOINTS["right_hand"], TRACKER_JOINTS["left_foot"],
                 TRACKER_JOINTS["right_foot"], TRACKER_JOINTS["head"])
TARGETS = {"mpjpe_mm": 5.0, "end_effector_mm": 3.0, "frames_per_second": 5000.0}


def exact_targets(positions: np.ndarray, globals_: np.ndarray) -> dict:
    """Joint-level six-point targets from FK positions (T,24,3) and global rotations (T,24,3,3)."""
    return {name: (positions[:, TRACKER_JOINTS[name]].copy(), globals_[:, TRACKER_JOINTS[name]].copy())
            for name in SIX_POINT}


def evaluate(motion, options=None) -> dict:
    """Sums for one clip: errors (per joint-frame), counts, and the solved motion."""
    positions, globals_ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    solved, _ = solve_six_point(exact_targets(positions, globals_), motion.skeleton, motion.fps, options)
    pred_pos, _ = forward_kinematics(solved.rotations, solved.translation, motion.skeleton)
    err = np.linalg.norm(pred_pos - positions, axis=-1)                    # (T, 24)
    rot_err = geodesic_deg(quat_to_matrix(solved.rotations), quat_to_matrix(motion.rotations))
    return {"err": err, "rot_err": rot_err, "jitter": jitter_km_s3(pred_pos, motion.fps),
            "jitter_true": jitter_km_s3(positions, motion.fps), "frames": len(err)}


def summarise(rows: list[dict]) -> dict:
    err = np.concatenate([r["err"] for r in rows])
    rot = np.concatenate([r["rot_err"] for r in rows])
    frames = np.array([r["frames"] for r in rows], dtype=np.float64)
    return {
        "clips": len(rows), "frames": int(frames.sum()),
        "mpjpe_mm": float(1000 * err.mean()),
        "end_effector_mm": float(1000 * err[:, list(END_EFFECTORS)].mean()),
        "mpjre_deg": float(rot.mean()),
        "jitter_km_s3": float(np.average([r["jitter"] for r in rows], weights=frames)),
        "jitter_true_km_s3": float(np.average([r["jitter_true"] for r in rows], weights=frames)),
        "per_joint_mm": [round(float(v), 2) for v in 1000 * err.mean(axis=0)],
    }


def speed(motions, options=None, repeats: int = 3) -> float:
    """Frames per second of solve_six_point over all the clips' targets (best of ``repeats``)."""
    prepared = []
    for m in motions:
        positions, globals_ = forward_kinematics(m.rotations, m.translation, m.skeleton)
        prepared.append((exact_targets(positions, globals_), m.skeleton, m.fps))
    frames = sum(len(t["pelvis"][0]) for t, _, _ in prepared)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for targets, skeleton, fps in prepared:
            solve_six_point(targets, skeleton, fps, options)
        best = min(best, time.perf_counter() - start)
    return frames / best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="build/corpus")
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)
    try:
        motions = load_corpus(args.corpus, args.split)
    except CorpusMissingError as exc:
        print(f"skipped: {exc}")
        print(json.dumps({"skipped": str(exc)}))
        return 0
    options = SixPointOptions()
    by_source: dict = {}
    for motion in motions:
        by_source.setdefault(motion.metadata.get("corpus_source", "?"), []).append(evaluate(motion, options))
    table = {}
    print(f"{'source':<12} {'clips':>5} {'frames':>7} {'MPJPE mm':>9} {'EE mm':>8} {'MPJRE deg':>9} "
          f"{'jitter':>7} {'(true)':>7}")
    everything = []
    for source in sorted(by_source) + ["all"]:
        rows = everything if source == "all" else by_source[source]
        if source != "all":
            everything.extend(rows)
        s = summarise(rows)
        table[source] = s
        print(f"{source:<12} {s['clips']:>5} {s['frames']:>7} {s['mpjpe_mm']:>9.2f} {s['end_effector_mm']:>8.4f} "
              f"{s['mpjre_deg']:>9.2f} {s['jitter_km_s3']:>7.3f} {s['jitter_true_km_s3']:>7.3f}")
    print("per-joint MPJPE (mm, all):", table["all"]["per_joint_mm"])
    fps = speed(motions, options)
    overall = table["all"]
    gaps = {k: (round(overall[k] - v, 3) if k != "frames_per_second" else round(fps - v, 1))
            for k, v in TARGETS.items()}
    print(f"speed: {fps:,.0f} frames/s on one core")
    print("gap to targets (positive = worse for errors, surplus for speed):", gaps)
    result = {k: round(overall[k], 4) for k in ("mpjpe_mm", "end_effector_mm", "mpjre_deg", "jitter_km_s3",
                                               "jitter_true_km_s3")}
    result.update({"frames_per_second": round(fps, 1), "targets": TARGETS, "gaps": gaps, "split": args.split,
                   "per_source": {k: {m: round(v[m], 4) for m in ("mpjpe_mm", "end_effector_mm", "mpjre_deg",
                                                                   "jitter_km_s3")}
                                  for k, v in table.items() if k != "all"}})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
