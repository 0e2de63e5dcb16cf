"""Plot real landmarks and the armature solved from them, for checking by eye (docs/landmarks_pose2sim.png).

The raw Pose2Sim balancing trial (``landmarks_real/pose2sim/trc``, 21 triangulated keypoints) goes
through ``solve_landmarks`` with the defaults (filter, PASE skeleton, IK, ground and foot locking).
Four frames, each seen from the front (top row) and from the subject's right side (bottom row):
the raw markers as dots and the armature's bones from forward kinematics as lines (with the head
top, the toe tips and the sole's heel points), blue on the body's left, red on its right, black on
the midline; the floor (y = 0) as a grey line. The markers are shifted by the solve's ground shift
so both stand on the same floor, and the whole take is turned about the vertical so that the
subject's median heading faces the viewer in the front view. Same scale in every panel.

    .venv/bin/python scripts/plot_landmarks.py [--trc FILE] [--frames 0 33 66 99] [--out docs/landmarks_pose2sim.png]
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

from sparse_mocap_addon.core.feet.soles import foot_floor_points  # noqa: E402
from sparse_mocap_addon.core.landmarks.formats import read_landmarks  # noqa: E402
from sparse_mocap_addon.pipelines.landmarks import solve_landmarks  # noqa: E402
from sparse_mocap_addon.core.landmarks.sequence import orient  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import (JOINT_INDEX, JOINT_NAMES, PARENTS,  # noqa: E402
                                                         forward_kinematics)

DATA = ROOT.parent / "shared" / "data"
TRC = DATA / "landmarks_real" / "pose2sim" / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc"
LEFT, RIGHT, MID = "tab:blue", "tab:red", "k"


def _side_colour(name: str) -> str:
    return LEFT if name.startswith("left") else RIGHT if name.startswith("right") else MID


def _heading_turn(pelvis_rot: np.ndarray) -> np.ndarray:
    """Rotation about Y that turns the median pelvis forward (+Z of the pelvis) onto +Z."""
    forward = np.median(pelvis_rot[:, :, 2], axis=0)
    yaw = np.arctan2(forward[0], forward[2])
    c, s = np.cos(-yaw), np.sin(-yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _segments(positions, rotations, skeleton):
    """(start, end, colour) lines of the armature for one frame: the bones, the head top, the toe
    tips and the heels."""
    lines = [(positions[p], positions[j], _side_colour(JOINT_NAMES[j])) for j, p in enumerate(PARENTS) if p >= 0]
    for leaf in ("head", "left_foot", "right_foot"):
        j = JOINT_INDEX[leaf]
        lines.append((positions[j], positions[j] + rotations[j] @ skeleton.leaf_tip(j), _side_colour(leaf)))
    soles = foot_floor_points(positions[None], rotations[None], skeleton)[0]     # (2, heel/ball/toe, 3)
    for f, side in enumerate(("left", "right")):
        colour = _side_colour(side)
        lines.append((positions[JOINT_INDEX[f"{side}_ankle"]], soles[f, 0], colour))
        lines.append((soles[f, 0], soles[f, 1], colour))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trc", type=Path, default=TRC)
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 33, 66, 99])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "landmarks_pose2sim.png")
    args = parser.parse_args(argv)
    if not args.trc.exists():
        print(f"skipped: the Pose2Sim landmark file {args.trc} is absent")
        return 0

    raw = orient(read_landmarks(args.trc))
    motion, report = solve_landmarks(read_landmarks(args.trc))
    positions, rotations = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    shift = np.array((0.0, report.get("feet", {}).get("ground_shift_m", 0.0), 0.0))
    markers = raw.points + shift
    frames = [f for f in args.frames if 0 <= f < motion.num_frames]

    turn = _heading_turn(rotations[:, 0])
    centre = np.median(positions[:, 0], axis=0) * np.array((1.0, 0.0, 1.0))
    to_view = lambda p: (np.asarray(p) - centre) @ turn.T  # noqa: E731
    views = (("front", 0, "subject's left \u2192"), ("right side", 2, "subject's forward \u2192"))
    marker_colours = [_side_colour(n) for n in raw.names]

    fig, axes = plt.subplots(2, len(frames), figsize=(16, 9), squeeze=False)
    for col, frame in enumerate(frames):
        lines = _segments(positions[frame], rotations[frame], motion.skeleton)
        pts = to_view(markers[frame])
        for row, (view, axis, xlabel) in enumerate(views):
            ax = axes[row, col]
            ax.axhline(0.0, color="0.6", lw=1.5, zorder=0)
            for start, end, colour in lines:
                a, b = to_view(start), to_view(end)
                ax.plot([a[axis], b[axis]], [a[1], b[1]], color=colour, lw=2.6, solid_capstyle="round", zorder=2)
            ax.scatter(pts[:, axis], pts[:, 1], s=26, c=marker_colours, edgecolors="white", linewidths=0.6,
                       alpha=0.9, zorder=3)
            ax.set_aspect("equal")
            ax.set_xlim(-0.75, 0.75)
            ax.set_ylim(-0.08, 1.95)
            ax.tick_params(labelsize=8)
            ax.grid(color="0.93", lw=0.6)
            if row == 0:
                ax.set_title(f"frame {frame} (t = {frame / motion.fps:.2f} s)", fontsize=11)
            if col == 0:
                ax.set_ylabel(f"{view} view\nheight above floor (m)", fontsize=10)
            ax.set_xlabel(f"m, {xlabel}", fontsize=8)
    feet = report.get("feet", {})
    fig.suptitle(f"Pose2Sim balancing trial, raw TRC ({args.trc.name}): markers (dots) and the solved SMPL-24 armature "
                 f"(lines, stature {motion.skeleton.stature():.2f} m)\nblue = left, red = right, black = midline; "
                 f"floor = grey line (ground shift {feet.get('ground_shift_m', 0.0) * 100:+.1f} cm, "
                 f"contact left/right {feet.get('contact_fraction', [0, 0])[0]:.0%}/"
                 f"{feet.get('contact_fraction', [0, 0])[1]:.0%})", fontsize=12)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
