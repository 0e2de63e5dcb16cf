"""One CMU take through two rigs, overlaid, for checking by eye (docs/same_take_two_rigs.png).

CMU take 01_01 exists in the shared data as the CMU FBX rig (``cmu_fbx/01_01_cmu.fbx``, 120 fps) and
as a Character Creator BVH (``cmu_bvh/001/001_01.bvh.gz``, 60 fps). Both are retargeted onto one
1.75 m SMPL body, aligned in time (``benchmarks/rig_consistency.aligned_angles``) and drawn on top
of each other at a few moments: the FBX read thick and dark, the CC read thin and light. The same
motion reads as one figure; a rig convention shows as two.

The bottom row ("before") is drawn from joint positions an earlier version saved with ``--save``
(run this script with ``--save before.npz`` on that version, then ``--before before.npz`` on this
one); without ``--before`` only this version's row is drawn.

    .venv/bin/python scripts/plot_rig_consistency.py [--before before.npz] [--out docs/same_take_two_rigs.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.kinematics.resample import resample_motion  # noqa: E402
from sparse_mocap_addon.core.mocap.retarget import retarget  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import PARENTS  # noqa: E402
from training.build_corpus import Take, read_take  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
READS = (
    ("CMU FBX rig", Take("cmu_fbx", DATA / "cmu_fbx/01_01_cmu.fbx", "cmu:01", "test", "01_01_cmu")),
    ("Character Creator BVH", Take("cmu_bvh", DATA / "cmu_bvh/001/001_01.bvh.gz", "cmu:01", "test", "001_01")),
)
MOMENTS_S = (2.0, 6.0, 10.0, 14.0, 18.0, 22.0)
FPS = 60.0
VIEW_YAW = np.radians(35.0)


def reads_on_one_body() -> tuple[np.ndarray, np.ndarray]:
    """Joint positions (T, 24, 3) of the two reads at 60 fps on one body, the CC read shifted in time
    onto the FBX read (best frame offset) and both centred on the FBX read's pelvis path."""
    from benchmarks.rig_consistency import aligned_angles

    body = skeleton_from_measurements(default_measurements("neutral", 1.75))
    motions = [resample_motion(retarget(read_take(take), body), FPS) for _, take in READS]
    _, offset = aligned_angles(motions[0], motions[1])
    a, b = (m.joint_positions() for m in motions)
    a, b = a[max(offset, 0):], b[max(-offset, 0):]
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    # Side by side rigs may stand apart: put the second read's pelvis on the first one's path.
    b = b - (b[:, :1] - a[:, :1]) * np.array((1.0, 0.0, 1.0))
    return a, b


def _project(points: np.ndarray) -> np.ndarray:
    c, s = np.cos(VIEW_YAW), np.sin(VIEW_YAW)
    x = c * points[..., 0] + s * points[..., 2]
    depth = -s * points[..., 0] + c * points[..., 2]
    return np.stack((x, points[..., 1] + 0.1 * depth), axis=-1)


def _draw(ax, joints: np.ndarray, color, width):
    p = _project(joints - joints[:1] * np.array((1.0, 0.0, 1.0)))
    for j, parent in enumerate(PARENTS):
        if parent >= 0:
            ax.plot(p[[parent, j], 0], p[[parent, j], 1], color=color, lw=width, solid_capstyle="round")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "same_take_two_rigs.png")
    parser.add_argument("--before", type=Path, help="joint positions saved by an earlier version (--save)")
    parser.add_argument("--save", type=Path, help="save this version's joint positions and stop")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"skipped: the shared data folder {DATA} is absent")
        return 0
    fbx, cc = reads_on_one_body()
    if args.save:
        np.savez(args.save, fbx=fbx, cc=cc)
        print(f"saved {args.save}")
        return 0
    rows = [("after (this version)", fbx, cc)]
    if args.before:
        saved = np.load(args.before)
        rows.insert(0, ("before (one rotation per rig joint)", saved["fbx"], saved["cc"]))
    fig, axes = plt.subplots(len(rows), len(MOMENTS_S), figsize=(1.9 * len(MOMENTS_S), 3.4 * len(rows)),
                             squeeze=False)
    for r, (title, a, b) in enumerate(rows):
        for c, moment in enumerate(MOMENTS_S):
            ax = axes[r, c]
            frame = min(int(moment * FPS), len(a) - 1, len(b) - 1)
            _draw(ax, b[frame], "#f4a261", 4.5)
            _draw(ax, a[frame], "#1d3557", 1.6)
            ax.set_aspect("equal")
            ax.set_xlim(-0.65, 0.65)
            ax.set_ylim(-0.05, 1.9)
            ax.axis("off")
            ax.set_title(f"{title}\n{moment:g} s" if c == 0 else f"\n{moment:g} s", fontsize=9, loc="left" if c == 0 else "center")
    fig.suptitle("CMU 01_01 through two rigs on one body: CMU FBX (dark, thin) over Character Creator BVH "
                 "(light, thick)", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
