"""Plot the real TransPose example recording reconstructed end to end, for checking by eye
(docs/imu_transpose_example.png).

``imu_real/transpose_example`` (six Noitom sensors, 60 fps, already calibrated into TransPose's
SMPL frame) goes through ``reconstruct_imu`` with its defaults (the shipped bidirectional offline
model, mirror-averaged) and a 1.75 m neutral body. Six frames spread over the take, each from the front (top row)
and from the subject's right side (bottom row), centred on the pelvis: the armature's bones from forward kinematics, blue on
the body's left, red on its right, black on the midline; the floor (y = 0) as a grey line. The
right-hand panel is the root's path seen from above with the chosen frames marked. The whole take
is turned about the vertical so the median heading faces the viewer in the front views.

    .venv/bin/python scripts/plot_imu.py [--data ../shared/data/imu_real/transpose_example] [--out docs/imu_transpose_example.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from plot_landmarks import _heading_turn, _segments  # noqa: E402

from sparse_mocap_addon.core.body.measurements import BodyMeasurements  # noqa: E402
from sparse_mocap_addon.core.feet.soles import foot_floor_points  # noqa: E402
from sparse_mocap_addon.core.imu.formats import read_imu  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics  # noqa: E402
from sparse_mocap_addon.pipelines.imu import network_summary, reconstruct_imu  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "imu_real" / "transpose_example"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--height", type=float, default=1.75)
    parser.add_argument("--frames", type=int, nargs="+", default=None, help="default: six frames spread over the take")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "imu_transpose_example.png")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: the TransPose example recording {args.data} is absent")
        return 0

    recording = read_imu(args.data)
    motion, report = reconstruct_imu(recording, BodyMeasurements(height=args.height))
    positions, rotations = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    soles = foot_floor_points(positions, rotations, motion.skeleton)
    T = motion.num_frames
    frames = args.frames or [int(f) for f in np.linspace(0, T - 1, 8)[1:-1]]
    turn = _heading_turn(rotations[:, 0])
    views = (("front", 0, "subject's left \u2192"), ("right side", 2, "subject's forward \u2192"))

    fig = plt.figure(figsize=(19, 8.5))
    grid = fig.add_gridspec(2, len(frames) + 2)
    for col, frame in enumerate(frames):
        centre = positions[frame, 0] * np.array((1.0, 0.0, 1.0))
        to_view = lambda p: (np.asarray(p) - centre) @ turn.T  # noqa: E731
        lines = _segments(positions[frame], rotations[frame], motion.skeleton)
        for row, (view, axis, xlabel) in enumerate(views):
            ax = fig.add_subplot(grid[row, col])
            ax.axhline(0.0, color="0.6", lw=1.5, zorder=0)
            for start, end, colour in lines:
                a, b = to_view(start), to_view(end)
                ax.plot([a[axis], b[axis]], [a[1], b[1]], color=colour, lw=2.4, solid_capstyle="round")
            ax.set_aspect("equal")
            ax.set_xlim(-0.7, 0.7)
            ax.set_ylim(-0.08, 1.95)
            ax.tick_params(labelsize=7)
            ax.grid(color="0.93", lw=0.6)
            if row == 0:
                ax.set_title(f"frame {frame} (t = {frame / motion.fps:.1f} s)", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{view} view\nheight above floor (m)", fontsize=9)
            ax.set_xlabel(f"m, {xlabel}", fontsize=7)
    ax = fig.add_subplot(grid[:, len(frames):])
    path = positions[:, 0] @ turn.T
    ax.plot(path[:, 0], path[:, 2], color="0.3", lw=1.5)
    ax.scatter(path[frames, 0], path[frames, 2], color="tab:orange", zorder=3)
    for f in frames:
        ax.annotate(str(f), path[f, [0, 2]], fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title("root path from above (m)", fontsize=10)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("z (m)")
    ax.grid(color="0.9")
    lowest = soles[..., 1].min()
    fig.suptitle(f"TransPose example recording ({T} frames, {T / motion.fps:.1f} s, six IMUs) reconstructed by the "
                 f"network ({network_summary(report)}), {args.height:.2f} m body\nblue = left, red = right, black = midline; floor = "
                 f"grey line; contact left/right {report['contact_fraction'][0]:.0%}/{report['contact_fraction'][1]:.0%}; "
                 f"lowest sole point over the take {lowest * 100:+.1f} cm", fontsize=12)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}; no NaN: {bool(np.isfinite(positions).all())}, lowest sole point {lowest:+.3f} m")
    return 0


if __name__ == "__main__":
    sys.exit(main())
