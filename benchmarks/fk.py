"""Batched forward-kinematics throughput on one CPU core.

Runs ``core.kinematics.skeleton.forward_kinematics`` on batches of random SMPL-24 poses (quaternion input,
positions and global rotation matrices out) for about ``--seconds`` seconds and reports frames per
second. Prints a human-readable line to stderr and, as the last stdout line, one JSON object.

    python benchmarks/fk.py [--frames 10000] [--seconds 2] [--matrices]
"""

from __future__ import annotations

import os

# One core: must be set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import quat_normalize, quat_to_matrix  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import NUM_JOINTS, forward_kinematics  # noqa: E402

TARGET_FPS = 200_000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000, help="frames per batch")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to repeat")
    parser.add_argument("--matrices", action="store_true", help="feed (T, 24, 3, 3) matrices instead")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    skeleton = skeleton_from_measurements(default_measurements())
    rotations = quat_normalize(rng.normal(size=(args.frames, NUM_JOINTS, 4)))
    if args.matrices:
        rotations = quat_to_matrix(rotations)
    translation = rng.normal(size=(args.frames, 3))

    forward_kinematics(rotations, translation, skeleton)  # warm-up
    batches = 0
    best = float("inf")
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        forward_kinematics(rotations, translation, skeleton)
        best = min(best, time.perf_counter() - t0)
        batches += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.seconds:
            break
    fps = batches * args.frames / elapsed
    result = {
        "benchmark": "fk",
        "input": "matrices" if args.matrices else "quaternions",
        "frames_per_batch": args.frames,
        "batches": batches,
        "seconds": round(elapsed, 3),
        "frames_per_second": round(fps),
        "best_batch_frames_per_second": round(args.frames / best),
        "target_frames_per_second": TARGET_FPS,
        "meets_target": bool(fps >= TARGET_FPS),
        "threads": 1,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"FK: {fps:,.0f} frames/s ({batches} batches of {args.frames} frames in {elapsed:.2f} s, "
          f"one thread; target {TARGET_FPS:,})", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
