"""Import IMU Recording, Calibrate IMU Set and Reconstruct from IMU (sparse_mocap.import_imu / calibrate_imu /
reconstruct_imu) on the real bpy module: IMU sets of animated empties, their round trip, the stored
calibration, the reconstruction baked onto new and existing armatures, and errors that leave the
scene as it was."""

from __future__ import annotations

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat, imu_solve, mocap_import  # noqa: E402
from sparse_mocap_addon.blender.bake import set_scene_timing  # noqa: E402
from sparse_mocap_addon.blender.coords import CORE_TO_BLENDER  # noqa: E402
from sparse_mocap_addon.blender.imu_objects import (  # noqa: E402
    create_imu_empties, find_imu_parent, read_imu_empties, sensor_children)
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.imu.formats import read_imu, resample_imu, write_imu_csv  # noqa: E402
from sparse_mocap_addon.core.imu.recording import SIX_SENSORS, ImuError, ImuRecording  # noqa: E402
from sparse_mocap_addon.core.imu.synth import virtual_imus  # noqa: E402
from tests.blender_helpers import counts, fail_after, key_frames, select_only  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402

IMU_REAL = SHARED_DATA / "imu_real"
TRANSPOSE = IMU_REAL / "transpose_example"
XIO = IMU_REAL / "xio_lower_body"
XSENS = IMU_REAL / "opensense_xsens"
needs_transpose = pytest.mark.skipif(not (TRANSPOSE / "acc.pt").is_file(),
                                     reason=f"the TransPose example recording is not in {TRANSPOSE}")
needs_xio = pytest.mark.skipif(not XIO.is_dir(), reason=f"the x-io lower-body recording is not in {XIO}")
needs_xsens = pytest.mark.skipif(not XSENS.is_dir(), reason=f"the Xsens OpenSense recording is not in {XSENS}")


def imu_set():
    return next(o for o in bpy.data.objects if o.get("sparse_mocap_imu"))


def synthetic(seconds=3.0, fps=60.0, dropped=True) -> ImuRecording:
    """Six clean virtual IMUs on the demo walk (core frame), with a few dropped samples."""
    rec = virtual_imus(demo_motion(seconds=seconds, fps=fps))
    if dropped:
        valid = rec.valid.copy()
        valid[20:24, 2] = False
        valid[50, 5] = False
        rec = ImuRecording(rec.sensors, rec.orientation, rec.acceleration, rec.fps, valid=valid, world="core",
                           source="demo walk", metadata=dict(rec.metadata))
    return rec


def assert_same_recording(back: ImuRecording, rec: ImuRecording, acc_tol=1e-5):
    assert back.sensors == rec.sensors and back.world == rec.world and back.fps == rec.fps
    assert np.array_equal(back.valid, rec.valid)
    v = rec.valid
    assert np.abs(back.orientation[v] - rec.orientation[v]).max() < 1e-5
    scale = max(1.0, float(np.abs(rec.acceleration[v]).max()))
    assert np.abs(back.acceleration[v] - rec.acceleration[v]).max() < acc_tol * scale
    assert np.isnan(back.orientation[~v]).all() and np.isnan(back.acceleration[~v]).all()


# --- registration ----------------------------------------------------------------------------------

def test_registered_undoable_in_the_panel_and_the_file_import_menu(addon):
    from sparse_mocap_addon.panels.main import menu_file_import

    for name in ("import_imu", "calibrate_imu", "reconstruct_imu"):
        op_class = getattr(bpy.types, f"SPARSE_MOCAP_OT_{name}")
        assert {"REGISTER", "UNDO"} <= set(op_class.bl_options), name
    panel = bpy.types.SPARSE_MOCAP_PT_imu
    assert (panel.bl_space_type, panel.bl_region_type, panel.bl_category) == ("VIEW_3D", "UI", "Sparse Mocap")
    assert menu_file_import in bpy.types.TOPBAR_MT_file_import.draw._draw_funcs
    # Calibrate and Reconstruct are greyed out until an IMU set is active.
    assert not bpy.ops.sparse_mocap.calibrate_imu.poll()
    assert not bpy.ops.sparse_mocap.reconstruct_imu.poll()
    props = bpy.ops.sparse_mocap.import_imu.get_rna_type().properties
    for key in ("kind", "whole_folder", "resample", "fps", "source_fps", "sensor_names"):
        assert key in props, key
    assert props["fps"].default == 60.0
    assert {i.identifier for i in props["kind"].enum_items} == {"AUTO", "TENSORS", "CSV", "XSENS", "DOT", "XIO"}


# --- IMU sets ----------------------------------------------------------------------------------------

def test_synthetic_set_round_trips(addon):
    rec = synthetic()
    parent = create_imu_empties(rec, "walk_imu", bpy.context.scene.collection, frame_start=5)
    children = sensor_children(parent)
    assert [c["sensor"] for c in children] == list(SIX_SENSORS)
    assert parent["fps"] == 60.0 and parent["world"] == "core" and parent["frame_count"] == rec.num_frames
    assert list(parent["sensors"]) == list(SIX_SENSORS) and parent["source"] == "demo walk"
    # A dropped sample has no orientation or acceleration key; "valid" is keyed on every frame.
    leg = bpy.data.objects["left_lower_leg"]
    frames, _ = key_frames(leg, "rotation_quaternion", 0)
    assert len(frames) == rec.num_frames - 4 and 5 + 21 not in frames
    frames, flags = key_frames(leg, '["valid"]', 0)
    assert len(frames) == rec.num_frames and flags[21] == 0.0 and flags[19] == 1.0
    assert len(key_frames(leg, '["acceleration"]', 2)[0]) == rec.num_frames - 4
    # The empties show the sensors in Blender's axes: Blender world rotation = C R.
    bpy.context.scene.frame_set(5 + 40)
    head = bpy.data.objects["head"]
    assert np.allclose(np.array(head.matrix_world.to_3x3()), CORE_TO_BLENDER @ rec.orientation[40, 4], atol=1e-5)
    assert find_imu_parent(head) == parent

    back = read_imu_empties(parent)
    assert_same_recording(back, rec)
    assert back.metadata["frame_start"] == 5 and np.allclose(back.metadata["times"], np.arange(rec.num_frames) / 60)


def test_moving_the_set_does_not_change_the_recording(addon):
    rec = synthetic(seconds=1.0, dropped=False)
    parent = create_imu_empties(rec, "walk_imu", frame_start=1)
    parent.location = (2.0, 1.0, 0.0)
    parent.rotation_euler = (0.0, 0.0, 1.0)
    bpy.context.view_layer.update()
    assert_same_recording(read_imu_empties(parent), rec)


def test_device_world_z_up_is_shown_as_it_is(addon):
    rec = synthetic(seconds=1.0, dropped=False)
    device = ImuRecording(rec.sensors, rec.orientation, rec.acceleration, rec.fps, world="xsens ENU (Z up)",
                          metadata={"up_axis": "+Z"})
    parent = create_imu_empties(device, "device_imu", frame_start=1)
    assert np.allclose(np.array(parent["world_to_blender"]).reshape(3, 3), np.eye(3))
    bpy.context.scene.frame_set(1 + 10)
    pelvis = bpy.data.objects["pelvis"]
    assert np.allclose(np.array(pelvis.matrix_world.to_3x3()), device.orientation[10, 5], atol=1e-5)
    back = read_imu_empties(parent)
    assert back.world == "xsens ENU (Z up)" and back.metadata["up_axis"] == "+Z"
    assert_same_recording(back, device)
    # A Z-down (NED) world is turned upright and still reads back in its own axes.
    ned = ImuRecording(rec.sensors, rec.orientation, rec.acceleration, rec.fps, world="x-io NED",
                       metadata={"up_axis": "-Z"})
    parent = create_imu_empties(ned, "ned_imu", frame_start=1)
    assert np.allclose(np.array(parent["world_to_blender"]).reshape(3, 3) @ [0, 0, -1], [0, 0, 1])
    assert_same_recording(read_imu_empties(parent), ned)


def test_not_an_imu_set(addon):
    empty = bpy.data.objects.new("lonely", None)
    bpy.context.scene.collection.objects.link(empty)
    assert find_imu_parent(empty) is None
    with pytest.raises(ImuError, match="'lonely' is no IMU set"):
        read_imu_empties(empty)


# --- Import IMU Recording ----------------------------------------------------------------------------

def test_import_generic_csv_keeps_its_rate_unless_resampling_is_asked(addon, tmp_path):
    rec = synthetic(seconds=2.0, fps=100.0, dropped=False)
    path = write_imu_csv(rec, tmp_path / "walk.csv")
    scene = bpy.context.scene
    scene.frame_start = 3
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(path), resample=True, fps=60.0) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent.name == "walk_imu" and parent["fps"] == 60.0 and parent["format"] == "csv"
    expected = resample_imu(read_imu(path), 60.0)
    assert parent["frame_count"] == expected.num_frames == 120
    assert scene.render.fps == 60 and (scene.frame_start, scene.frame_end) == (3, 3 + 119)
    assert_same_recording(read_imu_empties(parent), expected)
    assert counts() == dict(objects=7, armatures=0, meshes=0, actions=1 if compat.has_slotted_actions() else 6)

    # By default (as Import Trackers) the recording keeps its 100 fps: one key per recorded frame.
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(path)) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent.name == "walk_imu.001" and parent["fps"] == 100.0 and parent["frame_count"] == 200
    assert bpy.context.scene.render.fps == 100
    assert_same_recording(read_imu_empties(parent), read_imu(path))


def test_import_tensors_npz_with_a_source_rate_and_sensor_names(addon, tmp_path):
    rec = synthetic(seconds=1.0, dropped=False)
    path = tmp_path / "take.npz"
    np.savez(path, acc=rec.acceleration, ori=rec.orientation)
    # 30 fps tensors kept at 30 fps by default; resampled to 60 fps when asked: twice the frames;
    # renamed sensors.
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(path), source_fps=30.0) == {"FINISHED"}
    back = read_imu_empties(bpy.context.active_object)
    assert back.fps == 30.0 and back.num_frames == rec.num_frames
    assert np.allclose(back.orientation, rec.orientation, atol=1e-5)
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(path), source_fps=30.0, resample=True, fps=60.0,
                                           sensor_names="head=pelvis, pelvis = head") == {"FINISHED"}
    back = read_imu_empties(bpy.context.active_object)
    assert back.fps == 60.0 and back.num_frames == 2 * rec.num_frames - 1
    assert back.sensors == SIX_SENSORS[:4] + ("pelvis", "head")
    assert np.allclose(back.orientation[::2, 4], rec.orientation[:, 4], atol=1e-5)


def test_bad_input_is_reported_and_leaves_nothing(addon, tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("# sparse_mocap IMU CSV 1\ntime,pelvis_qw\n0,zero\n")
    with pytest.raises(RuntimeError, match="broken.csv"):
        bpy.ops.sparse_mocap.import_imu(filepath=str(bad))
    with pytest.raises(RuntimeError, match="absent.csv: no such file"):
        bpy.ops.sparse_mocap.import_imu(filepath=str(tmp_path / "absent.csv"))
    good = write_imu_csv(synthetic(seconds=0.5, dropped=False), tmp_path / "good.csv")
    with pytest.raises(RuntimeError, match="there is no sensor 'chest'"):
        bpy.ops.sparse_mocap.import_imu(filepath=str(good), sensor_names="chest=pelvis")
    with pytest.raises(RuntimeError, match="'elbow' is no body segment"):
        bpy.ops.sparse_mocap.import_imu(filepath=str(good), sensor_names="head=elbow")
    with pytest.raises(RuntimeError, match="would name two sensors"):
        bpy.ops.sparse_mocap.import_imu(filepath=str(good), sensor_names="head=pelvis")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


def test_failure_while_making_the_empties_leaves_nothing(addon, tmp_path, monkeypatch):
    good = write_imu_csv(synthetic(seconds=0.5, dropped=False), tmp_path / "good.csv")
    fail_after(monkeypatch, imu_solve, "create_imu_empties", "out of memory")
    scene = bpy.context.scene
    before = (scene.render.fps, scene.frame_start, scene.frame_end)
    with pytest.raises(RuntimeError, match="good.csv: out of memory"):
        bpy.ops.sparse_mocap.import_imu(filepath=str(good))
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == before


# --- the real recordings -----------------------------------------------------------------------------

@needs_transpose
def test_import_real_transpose_example(addon):
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(TRANSPOSE / "acc.pt")) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent.name == "transpose_example_imu"
    expected = read_imu(TRANSPOSE)
    assert parent["world"] == "core" and parent["fps"] == 60.0 and parent["frame_count"] == expected.num_frames
    assert_same_recording(read_imu_empties(parent), expected)
    # The folder itself (opened, no file chosen) reads the same recording.
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(TRANSPOSE) + "/") == {"FINISHED"}
    assert bpy.context.active_object.name == "transpose_example_imu.001"


@needs_xio
def test_import_real_xio_lower_body_folder(addon):
    inertial = next(XIO.glob("Left Foot*/Inertial.csv"))
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(inertial), whole_folder=True) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent.name == "xio_lower_body_imu" and parent["format"] == "xio"
    assert parent["world"].startswith("x-io") and parent["up_axis"] == "+Z" and parent["native_fps"] == 50.0
    expected = read_imu(XIO)                     # kept at the device's own 50 fps
    back = read_imu_empties(parent)
    assert_same_recording(back, expected)
    assert set(back.sensors) == {"pelvis", "left_upper_leg", "right_upper_leg", "left_lower_leg",
                                 "right_lower_leg", "left_foot", "right_foot"}
    assert json.loads(parent["metadata"])["serials"]


@needs_xsens
def test_import_xsens_serials_renamed(addon):
    names = "00B421E6=pelvis, 00B421ED=left thigh"
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(XSENS) + "/", sensor_names=names) == {"FINISHED"}
    back = read_imu_empties(bpy.context.active_object)
    assert "pelvis" in back.sensors and "left_upper_leg" in back.sensors and "00B421E6" not in back.sensors


# --- Calibrate -------------------------------------------------------------------------------------

def t_pose_then_walk(seconds_still=1.5, seconds_walk=2.0):
    """The demo walk after a T-pose held still (root unrotated: the wearer faces +Z)."""
    from sparse_mocap_addon.core.kinematics.motion import Motion

    walk = demo_motion(seconds=seconds_walk)
    still = int(round(seconds_still * walk.fps))
    rotations = np.concatenate([np.tile([1.0, 0.0, 0.0, 0.0], (still, 24, 1)), walk.rotations])
    translation = np.concatenate([np.tile(walk.translation[:1], (still, 1)), walk.translation])
    return Motion(walk.fps, rotations, translation, walk.skeleton, {"source": "T-pose then walk"})


MOUNTING_AXES = np.array([[0.3, 0.1, -0.2], [-0.2, 0.4, 0.1], [0.1, -0.3, 0.2], [0.2, 0.2, 0.3],
                          [-0.1, 0.2, -0.3], [0.3, -0.2, 0.1]])


def device_recording(motion, facing_deg=90.0):
    """Six virtual IMUs mounted askew, in a Z-up device world in which the wearer faced ``facing_deg``
    (counter-clockwise from +X); returns (device recording, the bones' core orientations)."""
    from sparse_mocap_addon.core.imu.calibration import world_alignment
    from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_matrix

    bones = virtual_imus(motion)
    mounted = virtual_imus(motion, mounting=axis_angle_to_matrix(MOUNTING_AXES))
    h = np.radians(facing_deg)
    W = world_alignment(np.array([0.0, 0.0, 1.0]), np.array([np.cos(h), np.sin(h), 0.0]))   # device -> core
    device = ImuRecording(mounted.sensors, W.T @ mounted.orientation, mounted.acceleration @ W, mounted.fps,
                          world="test ENU (Z up)", source="askew sensors", metadata={"up_axis": "+Z"})
    return device, bones


def test_calibrate_stores_the_calibration_and_reconstruct_input_is_the_bones(addon):
    device, bones = device_recording(t_pose_then_walk())
    parent = create_imu_empties(device, "askew_imu", frame_start=1)
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.calibrate_imu.poll()
    before = counts()
    assert bpy.ops.sparse_mocap.calibrate_imu(pose="T", start=0.0, duration=1.0, heading="ANGLE",
                                              heading_angle=np.radians(90.0)) == {"FINISHED"}
    assert counts() == before
    stored = json.loads(parent["calibration"])
    assert stored["pose"] == "t" and stored["sensors"] == list(SIX_SENSORS)
    assert stored["metadata"]["heading"]["deg"] == pytest.approx(90.0)
    assert max(stored["motion_deg"]) < 0.01
    # The stored calibration turns the askew device sensors into the bones, in the core frame.
    recording, note = imu_solve.calibrated_recording(parent)
    assert note == "stored calibration applied" and recording.world == "core"
    assert np.abs(recording.orientation - bones.orientation).max() < 1e-4
    assert np.abs(recording.acceleration - bones.acceleration).max() < 1e-3


def test_calibrate_reports_the_stillness_of_each_sensor(addon, capsys):
    device, _ = device_recording(t_pose_then_walk())
    parent = create_imu_empties(device, "askew_imu", frame_start=1)
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.calibrate_imu(duration=1.0, heading="ANGLE", heading_angle=0.5) == {"FINISHED"}
    out = capsys.readouterr().out
    assert "largest turn per sensor: left_forearm 0.0 deg" in out and "pelvis 0.0 deg" in out


def test_calibration_errors_change_nothing(addon):
    device, _ = device_recording(t_pose_then_walk())
    parent = create_imu_empties(device, "askew_imu", frame_start=1)
    select_only(parent, active=parent)
    # Walking is not still: the calibration module's sentence, and no calibration stored.
    with pytest.raises(RuntimeError, match="not still during the calibration window 2.00-3.00 s"):
        bpy.ops.sparse_mocap.calibrate_imu(start=2.0, duration=1.0, heading="ANGLE")
    assert "calibration" not in parent
    # Six sensors (no upper legs) in a device world: the heading must be given.
    with pytest.raises(RuntimeError, match="cannot choose the heading"):
        bpy.ops.sparse_mocap.calibrate_imu(duration=1.0, heading="AUTO")
    with pytest.raises(RuntimeError, match="runs past the end of the recording"):
        bpy.ops.sparse_mocap.calibrate_imu(start=3.0, duration=1.0, heading="ANGLE")
    assert "calibration" not in parent
    # A good calibration, then a failing one: the good one stays.
    assert bpy.ops.sparse_mocap.calibrate_imu(duration=1.0, heading="ANGLE") == {"FINISHED"}
    good = parent["calibration"]
    with pytest.raises(RuntimeError, match="not still"):
        bpy.ops.sparse_mocap.calibrate_imu(start=2.0, duration=1.0, heading="ANGLE")
    assert parent["calibration"] == good


def test_uncalibrated_device_recording_cannot_be_reconstructed(addon):
    device, _ = device_recording(t_pose_then_walk(seconds_walk=0.5))
    parent = create_imu_empties(device, "askew_imu", frame_start=1)
    select_only(parent, active=parent)
    before = counts()
    with pytest.raises(RuntimeError, match="device world 'test ENU \\(Z up\\)' and not calibrated; run Calibrate"):
        bpy.ops.sparse_mocap.reconstruct_imu()
    assert counts() == before


@needs_transpose
def test_real_transpose_example_is_not_still_at_the_start(addon):
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(TRANSPOSE) + "/") == {"FINISHED"}
    parent = bpy.context.active_object
    before = counts()
    with pytest.raises(RuntimeError, match="transpose_example: the wearer was not still during the calibration window"):
        bpy.ops.sparse_mocap.calibrate_imu(duration=1.0)
    assert counts() == before and "calibration" not in parent


@needs_xio
def test_calibrate_real_xio_from_the_knees(addon):
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(XIO) + "/") == {"FINISHED"}
    parent = bpy.context.active_object
    assert bpy.ops.sparse_mocap.calibrate_imu(pose="T", duration=1.0) == {"FINISHED"}
    stored = json.loads(parent["calibration"])
    assert stored["metadata"]["heading"]["method"] == "knees" and max(stored["motion_deg"]) < 5.0
    recording, _ = imu_solve.calibrated_recording(parent)
    assert recording.world == "core" and set(recording.sensors) >= {"pelvis", "left_lower_leg", "right_upper_leg"}
    # The pelvis sensor stands upright after calibration: its bone's up axis is near core +Y.
    up = recording.orientation[: 60, recording.sensors.index("pelvis"), :, 1]
    assert np.degrees(np.arccos(np.clip(up @ [0.0, 1.0, 0.0], -1, 1))).max() < 10.0


# --- Reconstruct -------------------------------------------------------------------------------------

LOWER_BODY_JOINTS = (0, 1, 2, 4, 5, 7, 8)       # pelvis, upper legs, lower legs, feet


def needs_weights(test):
    from sparse_mocap_addon.inference.imu_poser import ASSETS, WEIGHT_FILES

    path = ASSETS / WEIGHT_FILES["full"]
    return pytest.mark.skipif(not path.is_file(), reason=f"the poser network's weights are not in {path.parent}")(test)


def pose_keys(obj, frames_expected):
    """(F, 24*4 + 3) key values of every pose F-curve, checking each has one key per frame."""
    values = []
    for curve in compat.action_fcurves(obj):
        co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
        curve.keyframe_points.foreach_get("co", co)
        assert len(co) // 2 == frames_expected, curve.data_path
        values.append(co[1::2])
    assert len(values) == 24 * 4 + 3
    return np.stack(values, axis=1)


def lower_body_set(subject_height=None):
    motion = t_pose_then_walk(seconds_still=0.5, seconds_walk=2.0)
    rec = virtual_imus(motion, sensor_joints=LOWER_BODY_JOINTS)
    parent = create_imu_empties(rec, "legs_imu", frame_start=1)
    select_only(parent, active=parent)
    return parent, motion, rec


def test_reconstruct_direct_mode_onto_a_new_armature(addon):
    from sparse_mocap_addon.blender.armature import skeleton_from_armature
    from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, forward_kinematics

    subject = bpy.context.scene.sparse_mocap_new_subject
    subject.height, subject.sex = 1.68, "female"
    parent, motion, rec = lower_body_set()
    assert bpy.ops.sparse_mocap.reconstruct_imu.poll()
    before = counts()
    # Feet on Floor off: the sensors' own leg poses (the stage would plant the feet).
    assert bpy.ops.sparse_mocap.reconstruct_imu(with_body=False, feet_on_floor=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and obj.name == "legs" and obj.animation_data.action.name == "legs"
    assert counts() == dict(before, objects=before["objects"] + 1, armatures=1, actions=before["actions"] + 1)
    assert obj.sparse_mocap_subject.height == pytest.approx(1.68) and obj.sparse_mocap_subject.sex == "female"
    keys = pose_keys(obj, rec.num_frames)
    assert np.isfinite(keys).all()
    scene = bpy.context.scene
    assert scene.render.fps == 60 and (scene.frame_start, scene.frame_end) == (1, rec.num_frames)

    # Clean sensors on every leg bone: the baked legs bend as the source motion's, on the new body.
    skeleton = skeleton_from_armature(obj)
    assert skeleton.stature() == pytest.approx(1.68, abs=0.01)
    expected, _ = forward_kinematics(motion.rotations, np.zeros((motion.num_frames, 3)), skeleton)
    legs = [JOINT_INDEX[n] for n in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")]
    for frame in (0, 45, 80, 130):
        scene.frame_set(1 + frame)
        heads = np.array([np.array(obj.matrix_world @ obj.pose.bones[n].head) for n in JOINT_NAMES])
        got = (heads[legs] - heads[0]) @ CORE_TO_BLENDER            # Blender -> core, pelvis-relative
        assert np.abs(got - (expected[frame, legs] - expected[frame, 0])).max() < 2e-3, frame


def test_reconstruct_reports_progress_and_how_the_set_was_used(addon):
    from sparse_mocap_addon.core.body.measurements import BodyMeasurements

    parent, _, rec = lower_body_set()
    seen = []
    solved = imu_solve.reconstruct_onto_armature(parent, measurements=BodyMeasurements(height=1.8),
                                                 with_body=False, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and np.all(np.diff(seen) >= 0) and len(seen) > 5
    assert solved.report["mode"] == "direct" and solved.created_armature
    assert solved.report["calibration"] == "not calibrated: already in the core frame, used as it is"
    assert "direct mode" in imu_solve.solve_summary(solved.report)
    assert solved.motion.num_frames == rec.num_frames


def test_reconstruct_onto_an_existing_armature_keeps_its_action(addon, skeleton):
    from sparse_mocap_addon.blender.armature import create_armature, skeleton_from_armature
    from sparse_mocap_addon.blender.bake import bake_motion

    armature = create_armature(skeleton, name="Performer", collection=bpy.context.scene.collection, with_mesh=False)
    old = bake_motion(armature, demo_motion(skeleton, seconds=0.5), action_name="walk")
    parent, _, rec = lower_body_set()
    select_only(parent, armature, active=parent)
    before = counts()
    assert bpy.ops.sparse_mocap.reconstruct_imu(target="ARMATURE", translation=False) == {"FINISHED"}
    assert bpy.context.active_object == armature
    assert counts() == dict(before, actions=before["actions"] + 1)
    new = armature.animation_data.action
    assert new != old and old.name == "walk" and old.use_fake_user
    assert np.isfinite(pose_keys(armature, rec.num_frames)).all()
    assert np.allclose(skeleton_from_armature(armature).offsets, skeleton.offsets, atol=1e-6)


def test_reconstruct_errors_leave_nothing(addon, skeleton, monkeypatch):
    from sparse_mocap_addon.blender.armature import create_armature
    from sparse_mocap_addon.blender.bake import bake_motion

    parent, _, _ = lower_body_set()
    before = counts()
    # Implausible measurements: the core's sentence, nothing made.
    bpy.context.scene.sparse_mocap_new_subject.height = 0.3
    with pytest.raises(RuntimeError, match="legs_imu: height 0.30 m is implausible"):
        bpy.ops.sparse_mocap.reconstruct_imu()
    bpy.context.scene.sparse_mocap_new_subject.height = 1.75
    # Network mode needs the six sensors.
    with pytest.raises(RuntimeError, match="the network needs the six sensors"):
        bpy.ops.sparse_mocap.reconstruct_imu(mode="NETWORK")
    with pytest.raises(RuntimeError, match="No SMPL armature to bake onto"):
        bpy.ops.sparse_mocap.reconstruct_imu(target="ARMATURE")
    assert counts() == before

    # A failure while baking removes the new armature and the half-written action ...
    fail_after(monkeypatch, mocap_import, "bake_motion", "interrupted")
    with pytest.raises(RuntimeError, match="legs_imu: interrupted"):
        bpy.ops.sparse_mocap.reconstruct_imu()
    assert counts() == before
    # ... and gives an existing armature its action back.
    armature = create_armature(skeleton, name="Performer", collection=bpy.context.scene.collection, with_mesh=False)
    old = bake_motion(armature, demo_motion(skeleton, seconds=0.5), action_name="walk")
    select_only(parent, armature, active=parent)
    before = counts()
    with pytest.raises(RuntimeError, match="interrupted"):
        bpy.ops.sparse_mocap.reconstruct_imu(target="ARMATURE")
    assert counts() == before
    assert armature.animation_data.action == old and not old.use_fake_user


@needs_weights
def test_reconstruct_synthetic_six_sensors_with_the_network(addon):
    rec = virtual_imus(demo_motion(seconds=2.0))
    parent = create_imu_empties(rec, "six_imu", frame_start=1)
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.reconstruct_imu(with_body=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and obj.name == "six"
    assert np.isfinite(pose_keys(obj, rec.num_frames)).all()


@needs_weights
@needs_transpose
def test_reconstruct_real_transpose_example(addon):
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(TRANSPOSE) + "/") == {"FINISHED"}
    assert bpy.ops.sparse_mocap.reconstruct_imu() == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and obj.name == "transpose_example"
    keys = pose_keys(obj, 1760)
    assert np.isfinite(keys).all()
    assert tuple(obj.animation_data.action.frame_range) == (1.0, 1760.0)


@needs_xio
def test_calibrate_and_reconstruct_real_xio_directly(addon):
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(XIO) + "/") == {"FINISHED"}
    parent = bpy.context.active_object
    assert bpy.ops.sparse_mocap.calibrate_imu(pose="T", duration=1.0) == {"FINISHED"}
    assert bpy.ops.sparse_mocap.reconstruct_imu(with_body=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.name == "xio_lower_body"
    # The set keeps the device's 50 fps; the reconstruction runs at 60 fps and its keys keep real time.
    assert parent["fps"] == 50.0
    solved_frames = resample_imu(read_imu_empties(parent), 60.0).num_frames
    keys = pose_keys(obj, solved_frames)
    assert np.isfinite(keys).all()
    first, last = key_frames(obj, 'pose.bones["pelvis"].location')[0][[0, -1]]
    assert first == parent["frame_start"]
    assert last == pytest.approx(parent["frame_start"] + (solved_frames - 1) * 50.0 / 60.0, abs=1e-3)


MOVELLA = IMU_REAL / "movella_dot"


@pytest.mark.skipif(not MOVELLA.is_dir(), reason=f"the Movella DOT recording is not in {MOVELLA}")
def test_real_movella_knees_disagree_then_one_knee_sets_the_heading(addon):
    assert bpy.ops.sparse_mocap.import_imu(filepath=str(MOVELLA) + "/") == {"FINISHED"}
    parent = bpy.context.active_object
    with pytest.raises(RuntimeError, match="the knees disagree on the heading"):
        bpy.ops.sparse_mocap.calibrate_imu(duration=1.0)
    assert "calibration" not in parent
    assert bpy.ops.sparse_mocap.calibrate_imu(duration=1.0, heading="RIGHT_KNEE") == {"FINISHED"}
    assert json.loads(parent["calibration"])["metadata"]["heading"]["method"] == "right_knee"


def test_a_set_at_another_rate_is_baked_in_real_time(addon):
    """The pipeline works at 60 fps; a 30 fps set's keys are spaced to keep real time at 30 fps."""
    motion = t_pose_then_walk(seconds_still=0.5, seconds_walk=1.0)
    rec = virtual_imus(motion, sensor_joints=LOWER_BODY_JOINTS)
    half = ImuRecording(rec.sensors, rec.orientation[::2], rec.acceleration[::2], 30.0, world="core", source="half")
    scene = bpy.context.scene
    parent = create_imu_empties(half, "half_imu", frame_start=1)
    set_scene_timing(scene, 30.0, half.num_frames, 1)
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.reconstruct_imu(with_body=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert scene.render.fps == 30 and (scene.frame_start, scene.frame_end) == (1, half.num_frames)
    first, last = obj.animation_data.action.frame_range
    assert first == 1.0 and abs(last - half.num_frames) < 1.0
