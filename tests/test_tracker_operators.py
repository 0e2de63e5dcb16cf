"""Import Trackers, Calibrate Trackers and Reconstruct from Trackers (sparse_mocap.import_trackers /
calibrate_trackers / reconstruct_trackers) on the real bpy module: tracker sets of animated empties and
their round trip, the user's own animated empties read as trackers, the stored calibration, the
reconstruction baked onto new and existing armatures, and errors that leave the scene as it was.
Synthetic recordings only (no shared data)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat, mocap_import, tracker_solve  # noqa: E402
from sparse_mocap_addon.blender.coords import CORE_TO_BLENDER  # noqa: E402
from sparse_mocap_addon.blender.empty_sets import write_keys  # noqa: E402
from sparse_mocap_addon.blender.tracker_objects import (  # noqa: E402
    create_tracker_empties, find_tracker_parent, read_tracker_empties, recording_from_empties, tracker_children)
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.trackers.formats import read_trackers, write_trackers  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import matrix_to_quat, quat_to_matrix  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.trackers.calibration import calibration_pose  # noqa: E402
from sparse_mocap_addon.core.trackers.synth import default_mountings, virtual_trackers  # noqa: E402
from sparse_mocap_addon.core.trackers.recording import (  # noqa: E402
    SIX_POINT, THREE_POINT, TRACKER_JOINTS, TrackerError, TrackerMounting, TrackerRecording)
from sparse_mocap_addon.inference.tracker_poser import ASSETS  # noqa: E402
from tests.blender_helpers import (  # noqa: E402
    count_frame_changes, counts, fail_after, key_frames, select_only)

SUBJECT = BodyMeasurements(height=1.68, sex="female")
TRACKED_JOINTS = [TRACKER_JOINTS[n] for n in SIX_POINT]


def needs_weights(kind):
    path = ASSETS / f"tracker_{kind}.npz"
    return pytest.mark.skipif(not path.is_file(), reason=f"the {kind} tracker network's weights are not in {ASSETS}")


def on_joints(names=SIX_POINT):
    return {n: TrackerMounting() for n in names}


def walk(seconds=1.5, fps=60.0, measurements=SUBJECT) -> Motion:
    """The demo walk on the subject's skeleton (corpus-independent)."""
    return demo_motion(skeleton_from_measurements(measurements), seconds=seconds, fps=fps)


def synthetic(motion=None, names=SIX_POINT, lost=True) -> TrackerRecording:
    """Trackers sitting exactly on their joints (identity mountings), with a few lost samples."""
    motion = motion or walk()
    rec = virtual_trackers(motion, names, on_joints(names))
    if lost:
        valid = rec.valid.copy()
        valid[20:24, names.index("left_hand")] = False
        valid[min(50, rec.num_frames - 1), names.index("head")] = False
        pos = np.where(valid[..., None], rec.positions, np.nan)
        quat = np.where(valid[..., None], rec.orientations, np.nan)
        rec = TrackerRecording(rec.names, pos, quat, rec.fps, valid, source="demo walk", metadata=dict(rec.metadata))
    return rec


def same_rotations(a, b):
    """Largest |1 - |<qa, qb>|| (q and -q are the same rotation)."""
    return float(np.abs(1.0 - np.abs(np.sum(a * b, axis=-1))).max())


def assert_same_recording(back: TrackerRecording, rec: TrackerRecording, tol=1e-6):
    assert back.names == rec.names and back.fps == rec.fps
    assert np.array_equal(back.valid, rec.valid)
    v = rec.valid
    assert np.abs(back.positions[v] - rec.positions[v]).max() < tol
    assert same_rotations(back.orientations[v], rec.orientations[v]) < tol
    assert np.isnan(back.positions[~v]).all() and np.isnan(back.orientations[~v]).all()


def set_subject(measurements=SUBJECT):
    subject = bpy.context.scene.sparse_mocap_new_subject
    subject.height, subject.sex = measurements.height, measurements.sex


def bone_heads(obj, frame):
    """(24, 3) world positions of the armature's bone heads at ``frame``, in the core frame."""
    bpy.context.scene.frame_set(frame)
    heads = np.array([np.array(obj.matrix_world @ obj.pose.bones[n].head) for n in JOINT_NAMES])
    return heads @ CORE_TO_BLENDER                                   # Blender -> core


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


# The user's own empties: a VR capture arriving as animated empties, named as tools name devices.
EMPTY_NAMES = {"head": "HMD", "left_hand": "LeftHand", "right_hand": "Controller (right)", "pelvis": "Hips",
               "left_foot": "left_foot_tracker", "right_foot": "RightFoot"}


def keyed_empties(motion, names=SIX_POINT, origin=None, frame_start=1):
    """Empties named as in EMPTY_NAMES keyed (fast path) to the FK joint poses of ``motion`` in
    Blender's axes: location C p, rotation C R C^T. With ``origin`` (a Blender translation) they
    are children of a moved "VR_Origin" empty, keyed in its space; returns the empties."""
    scene = bpy.context.scene
    J, G = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    frames = frame_start + np.arange(motion.num_frames, dtype=np.float64)
    parent = None
    if origin is not None:
        parent = bpy.data.objects.new("VR_Origin", None)
        scene.collection.objects.link(parent)
        parent.location = origin
    out = []
    for name in names:
        j = TRACKER_JOINTS[name]
        obj = bpy.data.objects.new(EMPTY_NAMES[name], None)
        scene.collection.objects.link(obj)
        obj.rotation_mode = "QUATERNION"
        if parent is not None:
            obj.parent = parent
        location = J[:, j] @ CORE_TO_BLENDER.T - (0.0 if origin is None else np.asarray(origin))
        quats = matrix_to_quat(CORE_TO_BLENDER @ G[:, j] @ CORE_TO_BLENDER.T)
        curves = compat.assign_new_action(obj, bpy.data.actions.new(obj.name))
        for i in range(3):
            write_keys(compat.new_fcurve(curves, "location", i, "Location"), frames, location[:, i])
        for i in range(4):
            write_keys(compat.new_fcurve(curves, "rotation_quaternion", i, "Rotation"), frames, quats[:, i])
        out.append(obj)
    scene.render.fps = int(motion.fps)
    scene.frame_start, scene.frame_end = frame_start, frame_start + motion.num_frames - 1
    bpy.context.view_layer.update()
    return out


# --- registration ----------------------------------------------------------------------------------

def test_registered_undoable_in_the_panel_and_the_file_import_menu(addon):
    from sparse_mocap_addon.panels.main import menu_file_import

    for name in ("import_trackers", "calibrate_trackers", "reconstruct_trackers"):
        op_class = getattr(bpy.types, f"SPARSE_MOCAP_OT_{name}")
        assert {"REGISTER", "UNDO"} <= set(op_class.bl_options), name
    panel = bpy.types.SPARSE_MOCAP_PT_trackers
    assert (panel.bl_space_type, panel.bl_region_type, panel.bl_category) == ("VIEW_3D", "UI", "Sparse Mocap")
    assert menu_file_import in bpy.types.TOPBAR_MT_file_import.draw._draw_funcs
    # Calibrate and Reconstruct are greyed out until a tracker set (or, for Reconstruct, an empty) is selected.
    assert not bpy.ops.sparse_mocap.calibrate_trackers.poll()
    assert not bpy.ops.sparse_mocap.reconstruct_trackers.poll()
    empty = bpy.data.objects.new("HMD", None)
    bpy.context.scene.collection.objects.link(empty)
    select_only(empty, active=empty)
    assert bpy.ops.sparse_mocap.reconstruct_trackers.poll() and not bpy.ops.sparse_mocap.calibrate_trackers.poll()
    props = bpy.ops.sparse_mocap.import_trackers.get_rna_type().properties
    assert {i.identifier for i in props["convention"].enum_items} == {"FILE", "UNITY", "UNREAL", "OPENXR", "STEAMVR",
                                                                      "BLENDER", "CORE"}
    assert {"units", "resample", "fps"} <= set(props.keys())
    props = bpy.ops.sparse_mocap.reconstruct_trackers.get_rna_type().properties
    assert {i.identifier for i in props["mode"].enum_items} == {"AUTO", "SIX_POINT", "THREE_POINT", "ANALYTIC"}
    assert {i.identifier for i in props["source"].enum_items} == {"SET", "EMPTIES"}


# --- tracker sets ----------------------------------------------------------------------------------

def test_synthetic_set_round_trips_with_lost_samples(addon):
    rec = synthetic()
    parent = create_tracker_empties(rec, "walk_trackers", bpy.context.scene.collection, frame_start=5)
    children = tracker_children(parent)
    assert [c["tracker"] for c in children] == list(SIX_POINT)
    assert parent["fps"] == 60.0 and parent["frame_count"] == rec.num_frames and list(parent["trackers"]) == \
        list(SIX_POINT)
    # A lost sample has no position or orientation key; "valid" is keyed on every frame.
    hand = bpy.data.objects["left_hand"]
    frames, _ = key_frames(hand, "location", 0)
    assert len(frames) == rec.num_frames - 4 and 5 + 21 not in frames
    assert len(key_frames(hand, "rotation_quaternion", 3)[0]) == rec.num_frames - 4
    frames, flags = key_frames(hand, '["valid"]', 0)
    assert len(frames) == rec.num_frames and flags[21] == 0.0 and flags[19] == 1.0
    # The empties stand where the devices are, in Blender's axes: p_b = C p, R_b = C R C^T.
    bpy.context.scene.frame_set(5 + 40)
    head = bpy.data.objects["head"]
    world = np.array(head.matrix_world)
    assert np.allclose(world[:3, 3], CORE_TO_BLENDER @ rec.positions[40, 1], atol=1e-6)
    R = quat_to_matrix(rec.orientations[40, 1])
    assert np.allclose(world[:3, :3], CORE_TO_BLENDER @ R @ CORE_TO_BLENDER.T, atol=1e-6)
    assert find_tracker_parent(head) == parent

    back = read_tracker_empties(parent)
    assert_same_recording(back, rec)
    assert back.source == "walk_trackers" and back.metadata["file"] == "demo walk"
    assert back.metadata["frame_start"] == 5 and np.allclose(back.metadata["times"], np.arange(rec.num_frames) / 60)


def test_moving_the_set_does_not_change_the_recording(addon):
    rec = synthetic(lost=False)
    parent = create_tracker_empties(rec, "walk_trackers", frame_start=1)
    parent.location = (2.0, 1.0, 0.0)
    parent.rotation_euler = (0.0, 0.0, 1.0)
    bpy.context.view_layer.update()
    assert_same_recording(read_tracker_empties(parent), rec)


def test_not_a_tracker_set(addon):
    empty = bpy.data.objects.new("lonely", None)
    bpy.context.scene.collection.objects.link(empty)
    assert find_tracker_parent(empty) is None
    with pytest.raises(TrackerError, match="'lonely' is no tracker set"):
        read_tracker_empties(empty)


# --- Import Trackers -------------------------------------------------------------------------------

@pytest.mark.parametrize("convention, suffix", [("unity", ".csv"), ("unreal", ".json"), ("openxr", ".npz"),
                                                ("steamvr", ".csv.gz"), ("blender", ".csv"), ("core", ".npz")])
def test_import_reads_every_convention_into_an_exact_set(addon, tmp_path, convention, suffix):
    rec = synthetic()
    path = write_trackers(rec, tmp_path / f"take{suffix}", convention=convention)
    scene = bpy.context.scene
    scene.frame_start = 3
    assert bpy.ops.sparse_mocap.import_trackers(filepath=str(path)) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent.name == "take_trackers" and parent["convention"] == convention
    expected = read_trackers(path)
    assert_same_recording(read_tracker_empties(parent), expected)
    assert_same_recording(expected, rec, tol=1e-5)            # the file itself keeps the recording
    assert scene.render.fps == 60 and (scene.frame_start, scene.frame_end) == (3, 3 + rec.num_frames - 1)
    assert counts() == dict(objects=7, armatures=0, meshes=0, actions=1 if compat.has_slotted_actions() else 6)


def test_import_with_convention_units_and_rate_given(addon, tmp_path):
    rec = synthetic(lost=False)
    path = write_trackers(rec, tmp_path / "take.csv", convention="unity", units="cm")
    text = path.read_text().splitlines()
    bare = tmp_path / "bare.csv"                              # no header: the dialog gives convention and units
    bare.write_text("\n".join(line for line in text if not line.startswith("#")) + "\n")
    with pytest.raises(RuntimeError, match="does not state its coordinate convention"):
        bpy.ops.sparse_mocap.import_trackers(filepath=str(bare))
    with pytest.raises(RuntimeError, match="170|apart|above"):        # metres assumed: a giant
        bpy.ops.sparse_mocap.import_trackers(filepath=str(bare), convention="UNITY")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)
    assert bpy.ops.sparse_mocap.import_trackers(filepath=str(bare), convention="UNITY", units="CM") == {"FINISHED"}
    assert_same_recording(read_tracker_empties(bpy.context.active_object), rec, tol=1e-5)
    # A convention other than the file states is refused; resampling gives the asked rate.
    with pytest.raises(RuntimeError, match="the file says its convention is 'unity'"):
        bpy.ops.sparse_mocap.import_trackers(filepath=str(path), convention="OPENXR")
    assert bpy.ops.sparse_mocap.import_trackers(filepath=str(path), resample=True, fps=30.0) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent.name == "take_trackers" and parent["fps"] == 30.0
    assert parent["frame_count"] == len(read_trackers(path, fps=30.0).positions)
    assert bpy.context.scene.render.fps == 30


def test_bad_input_is_reported_and_leaves_nothing(addon, tmp_path, monkeypatch):
    bad = tmp_path / "broken.csv"
    bad.write_text("# convention: unity\ntime,head_px,head_py,head_pz,head_qx,head_qy,head_qz,head_qw\n0,zero,1,0,0,0,0,1\n")
    with pytest.raises(RuntimeError, match="broken.csv"):
        bpy.ops.sparse_mocap.import_trackers(filepath=str(bad))
    with pytest.raises(RuntimeError, match="absent.csv: no such file"):
        bpy.ops.sparse_mocap.import_trackers(filepath=str(tmp_path / "absent.csv"))
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)

    # A failure while making the empties removes them and leaves the scene's timing alone.
    good = write_trackers(synthetic(lost=False), tmp_path / "good.csv", convention="unity")
    fail_after(monkeypatch, tracker_solve, "create_tracker_empties", "out of memory")
    scene = bpy.context.scene
    before = (scene.render.fps, scene.frame_start, scene.frame_end)
    with pytest.raises(RuntimeError, match="good.csv: out of memory"):
        bpy.ops.sparse_mocap.import_trackers(filepath=str(good))
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == before


# --- animated empties as trackers ------------------------------------------------------------------

def test_animated_empties_become_a_recording(addon):
    motion = walk(seconds=1.0)
    empties = keyed_empties(motion, origin=(0.5, -1.0, 0.0), frame_start=11)
    bpy.context.scene.frame_set(20)
    rec = recording_from_empties(empties)
    assert rec.names == SIX_POINT and rec.fps == 60.0 and rec.num_frames == motion.num_frames
    assert rec.metadata["frame_start"] == 11 and rec.metadata["empties"]["right_hand"] == "Controller (right)"
    assert rec.source == "VR_Origin" and rec.valid.all()
    assert bpy.context.scene.frame_current == 20                           # put back
    # The world poses (through the moved parent), in the core frame: the FK joints of the motion.
    J, G = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    assert np.abs(rec.positions - J[:, TRACKED_JOINTS]).max() < 1e-5
    assert same_rotations(rec.orientations, matrix_to_quat(G[:, TRACKED_JOINTS])) < 1e-6
    # A scaled empty is still a rotation; a set's own children may be read the same way (lost samples too).
    empties[0].scale = (2.0, 2.0, 2.0)
    assert same_rotations(recording_from_empties(empties).orientations, rec.orientations) < 1e-6
    set_rec = synthetic(motion)
    parent = create_tracker_empties(set_rec, "walk_trackers", frame_start=11)
    back = recording_from_empties(tracker_children(parent))
    assert back.names == SIX_POINT and np.array_equal(back.valid, set_rec.valid)
    assert np.nanmax(np.abs(back.positions - set_rec.positions)) < 1e-5


def stepped_worlds(objects, frames):
    """World matrices (F, K, 4, 4) read the slow way: the scene stepped through ``frames``."""
    scene = bpy.context.scene
    out = []
    for frame in frames:
        scene.frame_set(int(frame))
        out.append([np.array(obj.matrix_world) for obj in objects])
    return np.array(out)


def test_empties_are_read_from_their_curves_exactly_as_the_scene_places_them(addon):
    """The fast path (no frame_set) gives the world matrices Blender evaluates, for every way an
    empty's own curves move it: rotation modes, deltas, scale, an animated and rotated parent with a
    parent inverse, keys on some frames only (Bezier between them), a curve modifier."""
    from sparse_mocap_addon.blender.object_motion import custom_property, world_matrices

    scene = bpy.context.scene
    rig = bpy.data.objects.new("VR_Origin", None)
    scene.collection.objects.link(rig)
    rig.rotation_euler = (0.1, -0.2, 0.7)
    rig.scale = (1.0, 1.0, 1.0)
    for frame, x in ((1, 0.0), (30, 0.8)):                 # Bezier keys on two frames only
        rig.location = (x, 0.2, 0.0)
        rig.keyframe_insert("location", frame=frame)
    objects = []
    for name, mode in (("HMD", "QUATERNION"), ("LeftHand", "XZY"), ("RightHand", "AXIS_ANGLE"),
                       ("Hips", "ZXY")):
        obj = bpy.data.objects.new(name, None)
        scene.collection.objects.link(obj)
        obj.rotation_mode = mode
        obj.parent = rig
        obj.matrix_parent_inverse = np.linalg.inv(np.array(rig.matrix_world)).T.tolist()
        obj.delta_location = (0.0, 0.1, 0.0)
        obj.delta_scale = (1.0, 1.5, 1.0)
        for frame in range(1, 31, 3):
            t = frame / 30.0
            obj.location = (t, -t, 1.0 + 0.1 * t)
            if mode == "QUATERNION":
                obj.rotation_quaternion = (1.0, t, -0.5 * t, 0.2)     # not unit: Blender normalises
                obj.keyframe_insert("rotation_quaternion", frame=frame)
            elif mode == "AXIS_ANGLE":
                obj.rotation_axis_angle = (2.0 * t, 0.3, 1.0, -t)
                obj.keyframe_insert("rotation_axis_angle", frame=frame)
            else:
                obj.rotation_euler = (t, 2.0 * t, -t)
                obj.delta_rotation_euler = (0.0, 0.0, 0.3 * t)
                obj.keyframe_insert("rotation_euler", frame=frame)
                obj.keyframe_insert("delta_rotation_euler", frame=frame)
            obj.keyframe_insert("location", frame=frame)
        objects.append(obj)
    objects[0].delta_rotation_quaternion = (0.9, 0.0, 0.3, 0.0)
    objects[1]["valid"] = 1.0
    objects[1].keyframe_insert('["valid"]', frame=1)
    objects[1]["valid"] = 0.0
    objects[1].keyframe_insert('["valid"]', frame=12)
    compat.action_fcurves(objects[2])[0].modifiers.new("NOISE")
    frames = np.arange(1, 31)
    fast = world_matrices(objects, frames, scene)
    assert fast is not None
    assert np.abs(fast - stepped_worlds(objects, frames)).max() < 1e-5
    stepped_valid = []
    for frame in frames:
        scene.frame_set(int(frame))
        stepped_valid.append(objects[1]["valid"])
    assert np.abs(custom_property(objects[1], "valid", frames) - stepped_valid).max() < 1e-6

    # What the curves alone do not decide is left to the scene: a constraint, a driver, NLA strips.
    objects[3].constraints.new("COPY_LOCATION").target = objects[0]
    assert world_matrices(objects, frames, scene) is None
    objects[3].constraints.clear()
    assert world_matrices(objects, frames, scene) is not None
    rig.driver_add("scale", 0)
    assert world_matrices(objects, frames, scene) is None


def test_plain_keyed_empties_are_read_without_stepping_the_scene(addon):
    motion = walk(seconds=0.5)
    empties = keyed_empties(motion, origin=(0.5, -1.0, 0.0), frame_start=3)
    calls, handler = count_frame_changes()
    try:
        fast = recording_from_empties(empties)
        assert calls == []
        # A constraint moves the head: read by stepping the scene, the same recording otherwise.
        empties[0].constraints.new("COPY_ROTATION")
        stepped = recording_from_empties(empties)
        assert len(calls) > motion.num_frames
    finally:
        bpy.app.handlers.frame_change_pre.remove(handler)
    assert np.abs(stepped.positions - fast.positions).max() < 1e-6
    assert same_rotations(stepped.orientations, fast.orientations) < 1e-6


def test_empties_that_cannot_be_trackers_are_refused_in_one_sentence(addon):
    empties = keyed_empties(walk(seconds=0.5), names=THREE_POINT)
    scene = bpy.context.scene
    cube = bpy.data.objects.new("Cube", None)
    scene.collection.objects.link(cube)
    with pytest.raises(TrackerError, match=r"The empties 'Cube' name no tracker site; rename them"):
        recording_from_empties(empties + [cube])
    second = bpy.data.objects.new("Head", None)
    scene.collection.objects.link(second)
    with pytest.raises(TrackerError, match="The empties 'HMD' and 'Head' both mark the head tracker"):
        recording_from_empties(empties + [second])
    with pytest.raises(TrackerError, match="'Head' are not animated"):
        recording_from_empties([second])
    with pytest.raises(TrackerError, match="No empties to read as trackers"):
        recording_from_empties([])
    # Empties a hundred times too big are no person in metres.
    big = bpy.data.objects.new("Giant", None)
    scene.collection.objects.link(big)
    big.scale = (100.0, 100.0, 100.0)
    for obj in empties:
        obj.parent = big
    with pytest.raises(TrackerError, match="do not look like a person's trackers"):
        recording_from_empties(empties)


# --- Reconstruct -----------------------------------------------------------------------------------

def tracker_set(rec, name="walk_trackers"):
    parent = create_tracker_empties(rec, name, frame_start=1)
    select_only(parent, active=parent)
    return parent


def test_reconstruct_analytic_onto_a_new_armature(addon):
    set_subject()
    motion = walk()
    rec = synthetic(motion)
    tracker_set(rec)
    assert bpy.ops.sparse_mocap.reconstruct_trackers.poll()
    before = counts()
    # Feet on Floor off: the solver's own result (the stage may move tracked feet off their trackers).
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False, feet_on_floor=False) \
        == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and obj.name == "walk" and obj.animation_data.action.name == "walk"
    assert counts() == dict(before, objects=before["objects"] + 1, armatures=1, actions=before["actions"] + 1)
    assert obj.sparse_mocap_subject.height == pytest.approx(1.68) and obj.sparse_mocap_subject.sex == "female"
    assert np.isfinite(pose_keys(obj, rec.num_frames)).all()
    scene = bpy.context.scene
    assert scene.render.fps == 60 and (scene.frame_start, scene.frame_end) == (1, rec.num_frames)
    # Trackers on the joints of the same body: the baked armature reaches every tracked joint, also
    # across the lost samples (held, then reached again).
    J, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    for frame in (0, 30, 60, 89):
        heads = bone_heads(obj, 1 + frame)
        assert np.abs(heads[TRACKED_JOINTS] - J[frame, TRACKED_JOINTS]).max() < 1e-3, frame


def test_reconstruct_reports_progress_and_a_new_action_each_run(addon, skeleton):
    from sparse_mocap_addon.blender.armature import create_armature
    from sparse_mocap_addon.blender.bake import bake_motion
    from sparse_mocap_addon.pipelines.trackers import TrackerSolveOptions

    parent = tracker_set(synthetic())
    seen = []
    solved = tracker_solve.reconstruct_onto_armature(parent, TrackerSolveOptions(mode="analytic"),
                                                     measurements=BodyMeasurements(height=1.8), with_body=False,
                                                     progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and np.all(np.diff(seen) >= 0) and len(seen) > 5
    assert solved.created_armature and solved.report["mode"] == "analytic"
    summary = tracker_solve.solve_summary(solved.report)
    assert "analytic mode; 90 frames at 60 fps" in summary and "lost samples filled" in summary
    assert "not calibrated" in summary

    # An existing armature keeps its action, and every run adds a new one.
    armature = create_armature(skeleton, name="Performer", collection=bpy.context.scene.collection, with_mesh=False)
    old = bake_motion(armature, demo_motion(skeleton, seconds=0.5), action_name="old take")
    select_only(parent, armature, active=parent)
    actions = {old}
    for _ in range(2):
        before = counts()
        assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", target="ARMATURE") == {"FINISHED"}
        assert bpy.context.active_object == armature
        assert counts() == dict(before, actions=before["actions"] + 1)
        assert armature.animation_data.action not in actions
        actions.add(armature.animation_data.action)
        select_only(parent, armature, active=parent)
    assert old.name == "old take" and old.use_fake_user and len(actions) == 3


def test_every_operator_that_makes_a_motion_has_feet_on_floor_on_by_default(addon):
    for name in ("import_mocap", "bake_motion_file", "reconstruct_trackers", "reconstruct_imu", "import_landmarks",
                 "solve_landmarks", "fill_gaps"):
        prop = getattr(bpy.ops.sparse_mocap, name).get_rna_type().properties["feet_on_floor"]
        assert prop.default is True and prop.name == "Feet on Floor", name


def test_reconstruct_with_feet_on_floor_keeps_the_soles_out_of_the_floor_and_says_so(addon, capsys):
    from sparse_mocap_addon.blender.action_motion import read_action_motion
    from sparse_mocap_addon.core.feet.stage import sole_points

    set_subject()
    motion = walk()
    sunk = Motion(motion.fps, motion.rotations, motion.translation - [0.0, 0.02, 0.0], motion.skeleton)
    tracker_set(synthetic(sunk, lost=False))
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False) == {"FINISHED"}
    assert "; feet on the floor: " in capsys.readouterr().out
    baked = read_action_motion(bpy.context.active_object).motion
    assert sole_points(baked)[..., 1].min() > -0.01 > sole_points(sunk)[..., 1].min()


def test_reconstruct_from_animated_empties_follows_them(addon, skeleton):
    """The capture arrives as animated empties; the armature, on the same body, reaches them."""
    from sparse_mocap_addon.blender.armature import create_armature
    from sparse_mocap_addon.core.body.demo import demo_motion as demo

    motion = demo(skeleton, seconds=1.0)
    empties = keyed_empties(motion, origin=(0.0, 0.0, 0.0))
    armature = create_armature(skeleton, name="Performer", collection=bpy.context.scene.collection, with_mesh=False)
    select_only(*empties, armature, active=empties[0])
    before = counts()
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", target="ARMATURE", feet_on_floor=False) \
        == {"FINISHED"}
    assert counts() == dict(before, actions=before["actions"] + 1)
    assert armature.animation_data.action.name == "VR_Origin"
    for frame in (0, 25, 59):
        heads = bone_heads(armature, 1 + frame)
        bpy.context.scene.frame_set(1 + frame)
        for empty in empties:
            site = {v: k for k, v in EMPTY_NAMES.items()}[empty.name]
            target = np.array(empty.matrix_world.translation) @ CORE_TO_BLENDER
            assert np.abs(heads[TRACKER_JOINTS[site]] - target).max() < 1e-3, (frame, site)


def test_reconstruct_errors_leave_nothing(addon, skeleton, monkeypatch):
    from sparse_mocap_addon.blender.armature import create_armature
    from sparse_mocap_addon.blender.bake import bake_motion

    tracker_set(synthetic(names=THREE_POINT, motion=walk(seconds=0.5)), name="three_trackers")
    before = counts()
    bpy.context.scene.sparse_mocap_new_subject.height = 0.3
    with pytest.raises(RuntimeError, match="three_trackers: height 0.30 m is implausible"):
        bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC")
    bpy.context.scene.sparse_mocap_new_subject.height = 1.75
    with pytest.raises(RuntimeError, match="the analytic solver needs the pelvis, left_foot, right_foot tracker"):
        bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC")
    with pytest.raises(RuntimeError, match="No SMPL armature to bake onto"):
        bpy.ops.sparse_mocap.reconstruct_trackers(target="ARMATURE")
    with pytest.raises(RuntimeError, match="No empties to read as trackers"):
        bpy.ops.sparse_mocap.reconstruct_trackers(source="EMPTIES")
    assert counts() == before

    tracker_set(synthetic(motion=walk(seconds=0.5)))
    before = counts()

    fail_after(monkeypatch, mocap_import, "bake_motion", "interrupted")
    with pytest.raises(RuntimeError, match="walk_trackers: interrupted"):
        bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC")
    assert counts() == before
    armature = create_armature(skeleton, name="Performer", collection=bpy.context.scene.collection, with_mesh=False)
    old = bake_motion(armature, demo_motion(skeleton, seconds=0.5), action_name="walk")
    parent = bpy.data.objects["walk_trackers"]
    select_only(parent, armature, active=parent)
    before = counts()
    with pytest.raises(RuntimeError, match="interrupted"):
        bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", target="ARMATURE")
    assert counts() == before
    assert armature.animation_data.action == old and not old.use_fake_user


def test_a_set_at_another_rate_keeps_its_timing(addon):
    set_subject()
    rec = synthetic(walk(seconds=1.0, fps=90.0), lost=False)
    tracker_set(rec)
    bpy.context.scene.render.fps = 90
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert bpy.context.scene.render.fps == 90
    assert tuple(obj.animation_data.action.frame_range) == (1.0, float(rec.num_frames))


@needs_weights("six_point")
def test_reconstruct_auto_six_point_on_a_set_and_on_empties(addon):
    set_subject()
    motion = walk(seconds=2.0)
    rec = synthetic(motion)
    parent = tracker_set(rec)
    assert bpy.ops.sparse_mocap.reconstruct_trackers(with_body=False, feet_on_floor=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.animation_data.action.name == "walk"
    keys = pose_keys(obj, rec.num_frames)
    assert np.isfinite(keys).all()
    # The hands, feet and pelvis are reached exactly; the head through the spine's least-norm stretch
    # from the network's guess, so only nearly (analytic mode reaches it exactly).
    J, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    limbs = [TRACKER_JOINTS[n] for n in SIX_POINT if n != "head"]
    for frame in (10, 70, 110):
        heads = bone_heads(obj, 1 + frame)
        assert np.abs(heads[limbs] - J[frame, limbs]).max() < 2e-3, frame
        assert np.linalg.norm(heads[TRACKER_JOINTS["head"]] - J[frame, TRACKER_JOINTS["head"]]) < 0.01, frame
    # Average Mirror Image off: the network runs once, a slightly different guess between the same
    # tracked joints.
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.reconstruct_trackers(with_body=False, feet_on_floor=False,
                                                     mirror_average=False) == {"FINISHED"}
    once = bpy.context.active_object
    assert once != obj and np.abs(pose_keys(once, rec.num_frames) - keys).max() > 1e-3
    assert np.abs(bone_heads(once, 71)[limbs] - J[70, limbs]).max() < 2e-3

    bpy.ops.wm.read_factory_settings(use_empty=True)
    set_subject()
    empties = keyed_empties(motion)
    select_only(*empties, active=empties[0])
    solved = tracker_solve.reconstruct_onto_armature(empties, measurements=SUBJECT, with_body=False)
    assert solved.report["mode"] == "six_point" and solved.armature.name == "Trackers"
    assert "six-point mode (bidirectional network, mirror-averaged)" in tracker_solve.solve_summary(solved.report)
    assert np.abs(bone_heads(solved.armature, 41)[limbs] - J[40, limbs]).max() < 2e-3


@needs_weights("six_point")
def test_a_90_fps_set_through_the_network_keeps_real_time(addon):
    """The networks run at 60 fps: a 90 fps set's 60 fps motion is keyed to keep real time at 90 fps."""
    set_subject()
    rec = synthetic(walk(seconds=1.0, fps=90.0), lost=False)
    parent = tracker_set(rec)
    bpy.context.scene.render.fps = 90
    solved = tracker_solve.reconstruct_onto_armature(parent, measurements=SUBJECT, with_body=False)
    assert solved.report["mode"] == "six_point" and solved.report["resampled_from_fps"] == 90.0
    assert solved.motion.fps == 60.0 and bpy.context.scene.render.fps == 90
    first, last = solved.action.frame_range
    assert first == 1.0 and abs(last - rec.num_frames) < 1.6
    assert "resampled from 90 fps" in tracker_solve.solve_summary(solved.report)


@needs_weights("three_point")
def test_reconstruct_three_point_from_head_and_hands(addon):
    set_subject()
    motion = walk(seconds=2.0)
    rec = synthetic(motion, names=THREE_POINT)
    parent = tracker_set(rec, name="vr_trackers")
    assert bpy.ops.sparse_mocap.reconstruct_trackers(with_body=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.name == "vr"
    assert np.isfinite(pose_keys(obj, rec.num_frames)).all()
    J, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    hands = [TRACKER_JOINTS["left_hand"], TRACKER_JOINTS["right_hand"]]
    for frame in (10, 70, 110):
        heads = bone_heads(obj, 1 + frame)
        assert np.abs(heads[hands] - J[frame, hands]).max() < 2e-3, frame
        assert np.linalg.norm(heads[TRACKER_JOINTS["head"]] - J[frame, TRACKER_JOINTS["head"]]) < 0.05, frame
        # The legs are guessed: the feet stay near the floor, below the pelvis.
        ankles = heads[[JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")], 1]
        assert np.all(ankles < heads[0, 1] - 0.5) and np.all(ankles > -0.05)
    select_only(parent, active=parent)
    before = counts()
    with pytest.raises(RuntimeError, match="vr_trackers: the six-point solver needs the pelvis"):
        bpy.ops.sparse_mocap.reconstruct_trackers(mode="SIX_POINT")
    assert counts() == before


# --- Calibrate -------------------------------------------------------------------------------------

FACING_DEG = 90.0


def t_pose_then_walk(skeleton, seconds_still=1.0, seconds_walk=1.5):
    """The demo walk after a T-pose held still (wearer facing +Z)."""
    moving = demo_motion(skeleton, seconds=seconds_walk)
    still = int(round(seconds_still * moving.fps))
    _, local = calibration_pose("t")
    rotations = np.concatenate([np.broadcast_to(matrix_to_quat(local), (still, 24, 4)), moving.rotations])
    translation = np.concatenate([np.tile(moving.translation[:1], (still, 1)), moving.translation])
    return Motion(moving.fps, rotations, translation, skeleton, {"source": "T-pose then walk"})


def worn_recording(motion, facing_deg=FACING_DEG):
    """Realistically mounted devices (headset in front of the face, controllers in the hands, pucks on
    the belt and shoes), the wearer facing ``facing_deg`` in the recording."""
    rec = virtual_trackers(motion, SIX_POINT, default_mountings(motion.skeleton))
    a = math.radians(facing_deg)
    H = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    return TrackerRecording(rec.names, rec.positions @ H.T, matrix_to_quat(H @ quat_to_matrix(rec.orientations)),
                            rec.fps, source="worn trackers")


def test_calibrate_stores_the_calibration_and_reconstruct_uses_it(addon):
    set_subject()
    skeleton = skeleton_from_measurements(SUBJECT)
    motion = t_pose_then_walk(skeleton)
    parent = tracker_set(worn_recording(motion), name="worn_trackers")
    assert bpy.ops.sparse_mocap.calibrate_trackers.poll()
    before = counts()
    assert bpy.ops.sparse_mocap.calibrate_trackers(pose="T", start=0.0, duration=1.0) == {"FINISHED"}
    assert counts() == before
    stored = json.loads(parent["calibration"])
    assert stored["settings"] == {"pose": "t", "start_s": 0.0, "duration_s": 1.0, "heading": "auto"}
    assert stored["heading_deg"] == pytest.approx(FACING_DEG, abs=3.0) and stored["method"] == "positions"
    assert set(stored["mountings"]) == set(SIX_POINT) and stored["height_m"] > 1.5
    source = tracker_solve.set_source(parent, skeleton)
    assert source.calibration is not None and source.note.startswith("calibrated on the t-pose")

    # Reconstructed with the calibration, the body faces +Z again and its joints are where the
    # source motion's were; without it (devices taken to sit on the joints) they are not.
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False) == {"FINISHED"}
    obj = bpy.context.active_object
    J, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    errors = [np.linalg.norm(bone_heads(obj, 1 + f) - J[f], axis=-1).mean() for f in (30, 80, 130)]
    assert max(errors) < 0.05, errors
    del parent["calibration"]
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False) == {"FINISHED"}
    raw = bpy.context.active_object
    assert np.linalg.norm(bone_heads(raw, 81) - J[80], axis=-1).mean() > 0.3


def test_calibration_errors_change_nothing(addon):
    set_subject()
    skeleton = skeleton_from_measurements(SUBJECT)
    parent = tracker_set(worn_recording(t_pose_then_walk(skeleton)), name="worn_trackers")
    with pytest.raises(RuntimeError, match="worn_trackers: the wearer moved during the calibration window"):
        bpy.ops.sparse_mocap.calibrate_trackers(start=1.2, duration=1.0)
    with pytest.raises(RuntimeError, match="runs past the end of the recording"):
        bpy.ops.sparse_mocap.calibrate_trackers(start=2.2, duration=1.0)
    assert "calibration" not in parent
    assert bpy.ops.sparse_mocap.calibrate_trackers(heading="ANGLE", heading_angle=math.radians(FACING_DEG)) == \
        {"FINISHED"}
    good = parent["calibration"]
    assert json.loads(good)["method"] == "given" and json.loads(good)["heading_deg"] == pytest.approx(FACING_DEG)
    with pytest.raises(RuntimeError, match="moved during the calibration window"):
        bpy.ops.sparse_mocap.calibrate_trackers(start=1.2, duration=1.0)
    assert parent["calibration"] == good
    # A stored calibration that is not ours is refused at Reconstruct, creating nothing.
    parent["calibration"] = json.dumps({"mountings": {}})
    before = counts()
    with pytest.raises(RuntimeError, match="its stored calibration is not one Calibrate Trackers wrote"):
        bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC")
    assert counts() == before
