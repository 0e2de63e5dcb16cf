"""The headless CLI with --trackers: a small tracker file written here, reconstructed and exported."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.trackers.formats import write_trackers  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import matrix_to_quat  # noqa: E402
from sparse_mocap_addon.core.trackers.calibration import calibration_pose  # noqa: E402
from sparse_mocap_addon.core.trackers.synth import default_mountings, virtual_trackers  # noqa: E402
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, THREE_POINT, TrackerMounting  # noqa: E402
from sparse_mocap_addon.inference.tracker_poser import ASSETS  # noqa: E402

from .test_cli import run_cli  # noqa: E402

MEASUREMENTS = BodyMeasurements(height=1.8)


def take(seconds=1.0, names=SIX_POINT, mountings=None, held_s=0.0):
    skeleton = skeleton_from_measurements(MEASUREMENTS)
    motion = demo_motion(skeleton, seconds=seconds)
    if held_s:
        still = int(round(held_s * motion.fps))
        _, local = calibration_pose("t")
        motion = Motion(motion.fps, np.concatenate([np.broadcast_to(matrix_to_quat(local), (still, 24, 4)),
                                                    motion.rotations]),
                        np.concatenate([np.tile(motion.translation[:1], (still, 1)), motion.translation]), skeleton)
    return virtual_trackers(motion, names, mountings or {n: TrackerMounting() for n in names})


def test_tracker_file_to_bvh_analytic(tmp_path):
    csv, bvh = tmp_path / "take.csv", tmp_path / "take.bvh"
    write_trackers(take(), csv, convention="unity")
    result = run_cli("--trackers", str(csv), "--tracker-mode", "analytic", "--height", "1.8", "--bvh", str(bvh))
    assert result.returncode == 0, result.stderr
    assert "read 6 trackers" in result.stderr and "unity" in result.stderr
    assert "reconstructed 60 frames (analytic mode, 60 fps)" in result.stderr
    assert "Frames: 60" in bvh.read_text()


def test_calibrated_worn_trackers_in_another_convention(tmp_path):
    skeleton = skeleton_from_measurements(MEASUREMENTS)
    rec = take(seconds=1.0, mountings=default_mountings(skeleton), held_s=1.0)
    path = write_trackers(rec, tmp_path / "worn.json", convention="unreal")
    bvh = tmp_path / "worn.bvh"
    result = run_cli("--trackers", str(path), "--tracker-convention", "unreal", "--tracker-mode", "analytic",
                     "--tracker-calibration-pose", "t", "--tracker-calibration-seconds", "0.8", "--height", "1.8",
                     "--bvh", str(bvh))
    assert result.returncode == 0, result.stderr
    assert "calibrated on the t-pose held from 0 s (heading" in result.stderr
    heading = float(result.stderr.split("(heading ")[1].split(" deg")[0])
    assert min(heading, 360.0 - heading) < 5.0
    assert "Frames: 120" in bvh.read_text()


@pytest.mark.parametrize("args, message", [
    (["--trackers", "{tmp}/none.csv"], "none.csv: no such file"),
    (["--trackers", "{tmp}/take.csv", "--tracker-convention", "openxr"],
     "the file says its convention is 'unity' but --tracker-convention 'openxr' was given; leave out "
     "--tracker-convention to use the file's"),
    (["--trackers", "{tmp}/take.csv", "--tracker-calibration-pose", "t", "--tracker-heading", "north"],
     "--tracker-heading 'north': expected auto, positions, head or a number of degrees"),
    (["--trackers", "{tmp}/three.csv", "--tracker-mode", "analytic"], "the analytic solver needs the pelvis"),
    (["--trackers", "{tmp}/take.csv", "--tracker-calibration-pose", "t"], "moved during the calibration window"),
])
def test_bad_tracker_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    write_trackers(take(), tmp_path / "take.csv", convention="unity")
    write_trackers(take(names=THREE_POINT), tmp_path / "three.csv", convention="unity")
    bvh = tmp_path / "out.bvh"
    result = run_cli(*[a.format(tmp=tmp_path) for a in args], "--quiet", "--bvh", str(bvh))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not bvh.exists()


@pytest.mark.skipif(not (ASSETS / "tracker_three_point.npz").is_file(),
                    reason=f"the three_point tracker network's weights are not in {ASSETS}")
def test_three_point_file_to_fbx(tmp_path):
    from .fbx_reader import read_fbx

    csv, fbx = tmp_path / "vr.csv", tmp_path / "vr.fbx"
    write_trackers(take(seconds=2.0, names=THREE_POINT), csv, convention="openxr")
    result = run_cli("--trackers", str(csv), "--fbx", str(fbx))
    assert result.returncode == 0, result.stderr
    assert "(three-point mode, bidirectional network, mirror-averaged, 60 fps)" in result.stderr
    assert read_fbx(fbx).frames == 120
    once = run_cli("--trackers", str(csv), "--no-mirror-average", "--bvh", str(tmp_path / "vr.bvh"))
    assert once.returncode == 0, once.stderr
    assert "(three-point mode, bidirectional network, 60 fps)" in once.stderr
