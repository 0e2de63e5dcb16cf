"""What can be judged on a real six-IMU recording without a ground truth (issue 16).

The TransPose example (``../shared/data/imu_real/transpose_example``: 1,760 frames of a real
Noitom recording, 60 fps, already in the core frame) has no body or root truth, but its own
sensors say what the body does in two stretches:

- **hops**, frames 800-1100: both shins pitch together (correlation of their pitch +0.93) and the
  pelvis's vertical acceleration swings with a 11 m/s^2 standard deviation (impacts to 70 m/s^2 on
  the shins): two-footed jumps.
- **walk**, frames 1150-1760: the shins alternate (correlation -0.58), the pelvis's vertical
  acceleration has a 1.2 m/s^2 standard deviation: steps.

A walk travels forward, so its root velocity in the pelvis's heading frame
(``core/imu/root.heading_velocity``) should be mostly forward: the **forward share** is the mean
forward velocity over the mean horizontal speed (1 for a straight forward walk, 0 for travel in
random directions, negative backwards). Hops, in place or forward, should not travel backwards or
sideways: the **hop drift** is the mean velocity's forward and leftward components over the hops.
Neither figure is an error against a truth; they catch a model that walks sideways or drifts away
while jumping, which the synthetic test split cannot show.

Each model runs the whole pipeline (``reconstruct_imu``, 1.75 m neutral body): the offline and
the causal model (``default`` names the one ``reconstruct_imu`` runs; ``offline_once``: the offline
model without its default mirror averaging); ``live`` is the live stream
(``ImuStream``, frame by frame: the causal model, its One Euro filter, no feet stage). Prints the
sensors' evidence and a table to stderr, and one JSON line last on stdout.

    python benchmarks/imu_real.py [--data ../shared/data/imu_real/transpose_example]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.body.measurements import BodyMeasurements  # noqa: E402
from sparse_mocap_addon.core.imu.formats import read_imu  # noqa: E402
from sparse_mocap_addon.core.imu.root import heading_velocity  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import quat_to_matrix  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.pipelines.imu import ImuSolveOptions, ImuStream, reconstruct_imu  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "imu_real" / "transpose_example"
HOPS = slice(800, 1100)
WALK = slice(1150, 1760)


def travel_figures(motion) -> dict:
    """The figures of the module docstring for one reconstruction of the TransPose example."""
    velocity = heading_velocity(motion.translation, quat_to_matrix(motion.rotations[:, 0]), motion.fps)
    speed = np.linalg.norm(velocity, axis=1)
    horizontal = motion.translation[:, [0, 2]]
    return {
        "walk_forward_share": round(float(velocity[WALK, 0].mean() / speed[WALK].mean()), 3),
        "walk_speed_m_s": round(float(speed[WALK].mean()), 3),
        "hop_drift_forward_m_s": round(float(velocity[HOPS, 0].mean()), 3),
        "hop_drift_left_m_s": round(float(velocity[HOPS, 1].mean()), 3),
        "net_travel_m": round(float(np.linalg.norm(horizontal[-1] - horizontal[0])), 3),
        "path_m": round(float(np.linalg.norm(np.diff(horizontal, axis=0), axis=1).sum()), 3),
    }


def stretch_evidence(recording) -> dict:
    """What the recording's own sensors say about each stretch (the module docstring's premise):
    the correlation of the two shins' pitch (the angle of each lower-leg sensor's long axis from
    the vertical) and the std of the pelvis's vertical acceleration."""
    shins = [recording.sensors.index(s) for s in ("left_lower_leg", "right_lower_leg")]
    pitch = np.degrees(np.arccos(np.clip(recording.orientation[:, shins, 1, 1], -1.0, 1.0)))
    pelvis = recording.acceleration[:, recording.sensors.index("pelvis"), 1]
    return {name: {"shin_pitch_correlation": round(float(np.corrcoef(pitch[part].T)[0, 1]), 2),
                   "pelvis_vertical_acc_std_m_s2": round(float(pelvis[part].std()), 2)}
            for name, part in (("hops", HOPS), ("walk", WALK))}


def live_motion(recording, body: BodyMeasurements) -> Motion:
    """The recording streamed through ``ImuStream`` one frame at a time, as a Motion."""
    stream = ImuStream(body, sensors=recording.sensors)
    frames = [stream.step(recording.orientation[t], recording.acceleration[t], recording.valid[t])
              for t in range(recording.num_frames)]
    return Motion(recording.fps, np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames]), stream.skeleton)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: the TransPose example recording {args.data} is absent")
        return 0
    recording = read_imu(args.data)
    body = BodyMeasurements(height=1.75)
    evidence = stretch_evidence(recording)
    for (name, figures), part in zip(evidence.items(), (HOPS, WALK)):
        print(f"{name} (frames {part.start}-{part.stop}): shin pitch correlation "
              f"{figures['shin_pitch_correlation']:+.2f}, pelvis vertical acceleration std "
              f"{figures['pelvis_vertical_acc_std_m_s2']:.1f} m/s^2", file=sys.stderr)
    default = "offline" if ImuSolveOptions().offline_model else "causal"
    rows = {}
    variants = {"offline": ImuSolveOptions(), "offline_once": ImuSolveOptions(mirror_average=False),
                "causal": ImuSolveOptions(offline_model=False)}
    for name, options in variants.items():
        rows[name] = travel_figures(reconstruct_imu(recording, body, options)[0])
    rows["live"] = travel_figures(live_motion(recording, body))
    print(f"{'model':<17} {'walk fwd share':>14} {'walk m/s':>9} {'hop drift fwd/left m/s':>23} "
          f"{'net m':>6} {'path m':>7}", file=sys.stderr)
    for name, row in rows.items():
        label = name + (" (default)" if name == default else "")
        print(f"{label:<17} {row['walk_forward_share']:>14.2f} {row['walk_speed_m_s']:>9.2f} "
              f"{row['hop_drift_forward_m_s']:>+11.2f} / {row['hop_drift_left_m_s']:>+9.2f} "
              f"{row['net_travel_m']:>6.2f} {row['path_m']:>7.2f}", file=sys.stderr)
    result = {"evidence": evidence, "default": default, **rows}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
