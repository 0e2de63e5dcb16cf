"""The headless CLI: python -m sparse_mocap_addon, and the script form used by blender --python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from .cli_support import check_fbx, fbx_takes, only_paths  # noqa: E402
from .fbx_reader import read_fbx  # noqa: E402


def run_cli(*args, script=False):
    if script:  # how `blender --background --python sparse_mocap_addon/cli.py -- ...` runs it
        command = [sys.executable, str(ROOT / "sparse_mocap_addon" / "cli.py"), "--", *args]
    else:
        command = [sys.executable, "-m", "sparse_mocap_addon", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_demo_to_blend_fbx_and_bvh(tmp_path):
    blend, fbx, bvh = tmp_path / "walk.blend", tmp_path / "walk.fbx", tmp_path / "walk.bvh"
    result = run_cli("--demo", "--demo-seconds", "2", "--height", "1.66", "--sex", "female",
                     "--blend", str(blend), "--fbx", str(fbx), "--bvh", str(bvh))
    assert result.returncode == 0, result.stderr
    assert "baked 120 frames into action 'demo_walk'" in result.stderr  # progress goes to stderr
    only_paths(result, blend, fbx, bvh)     # stdout: the paths written, never Blender's own messages
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.blend", "walk.bvh", "walk.fbx"]
    summary = check_fbx(fbx, "demo_walk", frames=120)
    assert len(summary.bones) == 24
    assert "Frames: 120" in bvh.read_text()


def test_blend_output_opens_with_the_character_and_measurements(tmp_path, registered_addon):
    import bpy

    blend = tmp_path / "walk.blend"
    result = run_cli("--demo", "--demo-seconds", "1", "--height", "1.9", "--name", "Performer", "--blend", str(blend))
    assert result.returncode == 0, result.stderr
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    obj = bpy.data.objects["Performer"]
    assert obj.sparse_mocap_subject.height == pytest.approx(1.9)
    assert obj.animation_data.action.name == "demo_walk"
    assert bpy.context.scene.frame_end - bpy.context.scene.frame_start + 1 == 60


def test_motion_file_input_through_the_script_form(tmp_path, random_motion):
    motion_path = random_motion.save(tmp_path / "take.npz")
    fbx = tmp_path / "take.fbx"
    result = run_cli("--motion", str(motion_path), "--fbx", str(fbx), "--preset", "unreal", "--no-feet-on-floor",
                     script=True)
    assert result.returncode == 0, result.stderr
    assert "feet left raw: the root path of a 1.72 m body kept on a 1.75 m one" in result.stderr
    only_paths(result, fbx)
    assert fbx_takes(fbx) == ["take"]        # the action and the FBX take are named after the file
    summary = read_fbx(fbx, [("pelvis", 3)])
    assert summary.frames == random_motion.num_frames
    assert summary.unit_meters == pytest.approx(0.01)
    # Raw (--no-feet-on-floor): the motion's rotations on the personalised armature, the pelvis
    # following the motion's translation exactly (the root is the pelvis world position).
    assert np.allclose(summary.world_positions[("pelvis", 3)] * 0.01, random_motion.translation[3], atol=1e-3)


def test_a_motion_of_another_body_is_fitted_to_the_armature_with_its_feet_on_the_floor(tmp_path):
    from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements
    from sparse_mocap_addon.core.body.demo import demo_motion
    from sparse_mocap_addon.core.feet.stage import feet_on_floor

    walk = demo_motion(skeleton_from_measurements(BodyMeasurements(height=1.80)), seconds=2.0)
    motion_path = walk.save(tmp_path / "tall.npz")
    fbx = tmp_path / "short.fbx"
    result = run_cli("--motion", str(motion_path), "--height", "1.64", "--fbx", str(fbx))
    assert result.returncode == 0, result.stderr
    assert "the motion's body (1.80 m) differs from the armature's (1.64 m): feet on the floor: moved onto a " \
           "1.64 m body (root path x0.91)" in result.stderr
    expected, _ = feet_on_floor(walk, skeleton_from_measurements(BodyMeasurements(height=1.64)))
    summary = read_fbx(fbx, [("pelvis", k) for k in (0, 60, 119)])
    for k in (0, 60, 119):
        assert np.allclose(summary.world_positions[("pelvis", k)] * summary.unit_meters, expected.translation[k], atol=1e-3)
    # The raw bake keeps the tall walk's pelvis path: about 9 cm too high for the shorter legs.
    assert walk.translation[:, 1].mean() - expected.translation[:, 1].mean() > 0.06


@pytest.mark.parametrize("args, message", [
    (["--height", "3.1", "--fbx", "{tmp}/a.fbx"], "height 3.10 m is implausible"),
    (["--arm-length", "nan", "--fbx", "{tmp}/a.fbx"], "arm_length nan is not a finite number"),
    (["--fbx", "{tmp}/a.txt"], "needs a file name ending in .fbx"),
    (["--fbx", "{tmp}/missing/a.fbx"], "does not exist"),
    (["--motion", "{tmp}/none.npz", "--fbx", "{tmp}/a.fbx"], "none.npz: no such file"),
    ([], "nothing to write"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    result = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failed_output_leaves_no_other_output(tmp_path, monkeypatch, capsys):
    """All outputs or none: a failing FBX export also discards the .blend already written."""
    from sparse_mocap_addon import cli
    from sparse_mocap_addon.blender import export

    def failing_export(*args, **kwargs):
        raise RuntimeError("simulated exporter failure")

    monkeypatch.setattr(export, "export_fbx", failing_export)
    code = cli.main(["--demo", "--demo-seconds", "0.5", "--quiet",
                     "--blend", str(tmp_path / "a.blend"), "--fbx", str(tmp_path / "a.fbx")])
    assert code == 1
    assert "error: simulated exporter failure" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_imu_recording_to_bvh(tmp_path):
    """--imu: a six-sensor recording in the core frame (a generic CSV of virtual sensors) goes
    through the shipped network straight to a BVH."""
    from sparse_mocap_addon.core.body.demo import demo_motion
    from sparse_mocap_addon.core.imu.formats import write_imu_csv
    from sparse_mocap_addon.core.imu.synth import virtual_imus
    csv, bvh = tmp_path / "take.csv", tmp_path / "take.bvh"
    write_imu_csv(virtual_imus(demo_motion(seconds=2.0)), csv)
    result = run_cli("--imu", str(csv), "--height", "1.8", "--bvh", str(bvh))
    assert result.returncode == 0, result.stderr
    assert "reconstructed 120 frames (network mode, full model, bidirectional, mirror-averaged)" in result.stderr
    assert "Frames: 120" in bvh.read_text()
    once = run_cli("--imu", str(csv), "--height", "1.8", "--no-mirror-average", "--bvh", str(tmp_path / "once.bvh"))
    assert once.returncode == 0, once.stderr
    assert "reconstructed 120 frames (network mode, full model, bidirectional)" in once.stderr
    assert (tmp_path / "once.bvh").read_text() != bvh.read_text()


def test_an_uncalibratable_imu_recording_is_one_line(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("time,nothing\n0,1\n")
    result = run_cli("--imu", str(csv), "--quiet", "--bvh", str(tmp_path / "x.bvh"))
    assert result.returncode != 0 and not (tmp_path / "x.bvh").exists()
    assert len(result.stderr.strip().splitlines()) == 1 and "bad.csv" in result.stderr
