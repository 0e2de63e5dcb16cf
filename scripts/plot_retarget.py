"""Plot source rigs next to their SMPL-24 retargets, for checking by eye (docs/retarget_side_by_side.png).

One row per source (a few shared takes of different rigs), four frames per row. In each panel the
source rig (every bone, thin; mapped joints as dots) stands on the left and the retargeted SMPL
skeleton (thick) on the right, both coloured blue on the body's left and red on its right, in the
core frame, seen from the front-left; the source is scaled by the retarget's root scale and shifted
by its floor correction so both are the same size on the same floor.

    .venv/bin/python scripts/plot_retarget.py [--out docs/retarget_side_by_side.png]
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

from sparse_mocap_addon.core.mocap.joint_maps import detect_joint_map  # noqa: E402
from sparse_mocap_addon.core.mocap.retarget import retarget, source_positions  # noqa: E402
from sparse_mocap_addon.core.mocap.rig_body import skeleton_from_rig  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, PARENTS  # noqa: E402
from training.build_corpus import Take, read_take  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TAKES = (
    ("HDM05 ASF/AMC (jog)", Take("hdm05", DATA / "hdm05/test/HDM_mm_jogLeftCircle4StepsRstart_011_120.amc.gz",
                                  "hdm05:mm", "test", "jog", DATA / "hdm05/skeletons/HDM_mm.asf.gz", 120.0)),
    ("CC_Base BVH (run)", Take("cmu_bvh", DATA / "cmu_bvh/005/005_05.bvh.gz", "cmu:05", "train", "cc")),
    ("Poser BVH (salsa)", Take("cmu_salsa", DATA / "cmu_salsa/60_03_scaled.bvh.gz", "cmu:60", "train", "salsa")),
    ("CMU FBX (acrobatics)", Take("cmu_fbx", DATA / "cmu_fbx/49_08_cmu.fbx", "cmu:49", "validation", "fbx")),
)
VIEW_YAW = np.radians(30.0)


def _project(points: np.ndarray) -> np.ndarray:
    """Orthographic view from the front-left, slightly above: (..., 3) -> (..., 2)."""
    c, s = np.cos(VIEW_YAW), np.sin(VIEW_YAW)
    x = c * points[..., 0] + s * points[..., 2]
    depth = -s * points[..., 0] + c * points[..., 2]
    return np.stack((x, points[..., 1] + 0.15 * depth), axis=-1)


def _draw_bones(ax, pos2d, parents, colors, width):
    for j, p in enumerate(parents):
        if p >= 0 and np.all(np.isfinite(pos2d[[j, p]])):
            ax.plot(pos2d[[p, j], 0], pos2d[[p, j], 1], color=colors[j], lw=width, solid_capstyle="round")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "retarget_side_by_side.png")
    args = parser.parse_args(argv)
    rows = [(label, take) for label, take in TAKES if take.path.exists()]
    if not rows:
        print(f"skipped: the shared data folder {DATA} is absent")
        return 0
    fig, axes = plt.subplots(len(rows), 4, figsize=(16, 4.2 * len(rows)))
    axes = np.atleast_2d(axes)
    smpl_colors = ["tab:blue" if n.startswith("left") else "tab:red" if n.startswith("right") else "k"
                   for n in JOINT_NAMES]
    for row, (label, take) in enumerate(rows):
        source = read_take(take)
        skeleton, _ = skeleton_from_rig(source)
        motion = retarget(source, skeleton)
        info = motion.metadata["retarget"]
        resolved = detect_joint_map(source.skeleton.names).resolve(source.skeleton.names)
        rig = source_positions(source, info["up_axis"]) * info["translation_scale"]
        ours = motion.joint_positions()
        mapped = sorted(set(resolved.values()))
        # Colour the rig like the SMPL skeleton: a mapped joint takes its SMPL joint's colour and
        # an unmapped one its parent's, so left and right can be compared at a glance.
        rig_colors = []
        by_rig = {rig_joint: smpl for smpl, rig_joint in resolved.items()}
        for j, p in enumerate(source.skeleton.parents):
            rig_colors.append(smpl_colors[by_rig[j]] if j in by_rig else (rig_colors[p] if p >= 0 else "k"))
        rig[..., 1] += info["floor_shift_m"]
        for col, frame in enumerate(np.linspace(0, source.num_frames - 1, 4).astype(int)):
            ax = axes[row, col]
            centre = ours[frame, 0] * np.array((1.0, 0.0, 1.0))
            rig_now = _project(rig[frame] - centre - np.array((0.45, 0.0, 0.0)))
            ours_now = _project(ours[frame] - centre + np.array((0.45, 0.0, 0.0)))
            _draw_bones(ax, rig_now, source.skeleton.parents, rig_colors, 1.5)
            ax.plot(rig_now[mapped, 0], rig_now[mapped, 1], "o", color="0.3", ms=2.5)
            _draw_bones(ax, ours_now, PARENTS, smpl_colors, 2.5)
            ax.axhline(0.0, color="0.8", lw=1)
            ax.set_aspect("equal")
            ax.set_xlim(-1.3, 1.3)
            ax.set_ylim(-0.1, 2.1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}: frame {frame}" if col == 0 else f"frame {frame}", fontsize=10)
        axes[row, 0].set_ylabel(f"{take.path.name}\nrig | SMPL-24", fontsize=9)
    fig.suptitle("Source rig (left, thin, mapped joints as dots) and the retargeted SMPL-24 skeleton "
                 "(right, thick); blue = left side, red = right side; same frames", fontsize=12)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
