"""Import Landmarks and Solve IK (sparse_mocap.import_landmarks / solve_landmarks) on the real bpy
module: landmark empties, their exact round trip, the solve onto new and existing armatures, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat, mocap_import  # noqa: E402
from sparse_mocap_addon.blender.armature import create_armature, skeleton_from_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion  # noqa: E402
from sparse_mocap_addon.blender.coords import core_to_blender_vectors  # noqa: E402
from sparse_mocap_addon.blender.landmark_objects import (  # noqa: E402
    create_landmark_empties, find_landmark_parent, read_landmark_empties)
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.landmarks.formats import read_landmarks  # noqa: E402
from sparse_mocap_addon.pipelines.landmarks import SolveOptions, solve_landmarks  # noqa: E402
from sparse_mocap_addon.core.landmarks.targets import joint_targets  # noqa: E402
from sparse_mocap_addon.core.landmarks.sequence import LAYOUTS, LandmarkError, LandmarkSequence, orient  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, forward_kinematics  # noqa: E402
from tests.blender_helpers import (  # noqa: E402
    count_frame_changes, counts, fail_after, key_frames, select_only)
from tests.conftest import SHARED_DATA  # noqa: E402

TRC = SHARED_DATA / "landmarks_real" / "pose2sim" / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc"
needs_trc = pytest.mark.skipif(not TRC.is_file(), reason=f"the Pose2Sim TRC take is not in {TRC.parent}")
LEG_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def world_heads(obj, frame):
    bpy.context.scene.frame_set(frame)
    return np.array([np.array(obj.matrix_world @ obj.pose.bones[n].head) for n in JOINT_NAMES])


def baked_positions(obj, frames):
    """(len(frames), 24, 3) evaluated joint positions of the armature, in Blender's axes."""
    return np.stack([world_heads(obj, int(f)) for f in frames])


def landmark_set():
    return next(o for o in bpy.data.objects if o.get("sparse_mocap_landmarks"))


# --- registration ----------------------------------------------------------------------------------

def test_registered_undoable_in_the_panel_and_the_file_import_menu(addon):
    from sparse_mocap_addon.panels.main import menu_file_import

    for name in ("import_landmarks", "solve_landmarks"):
        op_class = getattr(bpy.types, f"SPARSE_MOCAP_OT_{name}")
        assert {"REGISTER", "UNDO"} <= set(op_class.bl_options), name
    panel = bpy.types.SPARSE_MOCAP_PT_landmarks
    assert (panel.bl_space_type, panel.bl_region_type, panel.bl_category) == ("VIEW_3D", "UI", "Sparse Mocap")
    assert menu_file_import in bpy.types.TOPBAR_MT_file_import.draw._draw_funcs
    # Solve IK is greyed out until a landmark set is active.
    assert not bpy.ops.sparse_mocap.solve_landmarks.poll()
    props = bpy.ops.sparse_mocap.import_landmarks.get_rna_type().properties
    for key in ("layout_name", "units", "up_axis", "fps_source", "fps", "height", "threshold", "solve", "strength",
                "filter_mode", "feet_on_floor", "target", "blend_subject"):
        assert key in props, key
    assert {i.identifier for i in props["layout_name"].enum_items} == \
        {"AUTO", "MEDIAPIPE33", "H36M17", "COCO17", "HALPE26", "SMPL24"}


# --- landmark empties ------------------------------------------------------------------------------

def random_sequence(frames=30, seed=3):
    """A core-frame sequence with missing points, zero and partial confidences, float32 values."""
    rng = np.random.default_rng(seed)
    names = LAYOUTS["coco17"]
    points = rng.normal(scale=0.6, size=(frames, len(names), 3)).astype(np.float32).astype(np.float64)
    confidence = rng.uniform(size=(frames, len(names))).astype(np.float32).astype(np.float64)
    missing = rng.uniform(size=(frames, len(names))) < 0.15
    points[missing] = np.nan
    confidence[3, 4] = 0.0                        # present, zero confidence
    points[:, 7] = np.nan                         # a landmark never seen
    return LandmarkSequence(names, points, confidence, fps=25.0, layout="coco17", source="/tmp/take.json",
                            up_axis="+Y", metadata={"file_up_axis": "-Y"})


def test_empties_round_trip_exactly(addon):
    seq = random_sequence()
    scene = bpy.context.scene
    parent = create_landmark_empties(seq, "take_landmarks", scene.collection, frame_start=7)
    assert len(parent.children) == len(seq.names)
    assert parent["fps"] == 25.0 and parent["layout"] == "coco17" and parent["file_up_axis"] == "-Y"
    child = bpy.data.objects["left_wrist"]
    k = seq.index("left_wrist")
    frames, _ = key_frames(child)
    assert np.array_equal(frames, 7 + np.flatnonzero(np.isfinite(seq.points[:, k, 0])))   # masked: no key
    assert [c.get("landmark") for c in parent.children if not compat.action_fcurves(c)] == ["left_elbow"]

    back = read_landmark_empties(parent)
    assert back.names == seq.names and back.fps == seq.fps and back.layout == seq.layout
    assert back.source == seq.source and back.up_axis == "+Y" and back.metadata["file_up_axis"] == "-Y"
    assert np.array_equal(back.points, seq.points, equal_nan=True)
    assert np.array_equal(back.confidence, seq.confidence)
    # A frame range: scene frames 10-19 are sequence frames 3-12.
    part = read_landmark_empties(parent, frame_range=(10, 19))
    assert np.array_equal(part.points, seq.points[3:13], equal_nan=True)
    assert np.array_equal(part.confidence, seq.confidence[3:13])


def test_a_second_set_with_the_same_names_reads_back_its_own_points(addon):
    seq = random_sequence(frames=12)
    other = random_sequence(frames=12, seed=4)
    first = create_landmark_empties(seq, "one", frame_start=1)
    second = create_landmark_empties(other, "two", frame_start=1)
    assert any(c.name.endswith(".001") for c in second.children)
    assert np.array_equal(read_landmark_empties(second).points, other.points, equal_nan=True)
    assert np.array_equal(read_landmark_empties(first).points, seq.points, equal_nan=True)
    assert find_landmark_parent(second.children[0]) == second


def test_empties_moved_with_their_parent_read_in_world_space(addon):
    seq = random_sequence(frames=5)
    parent = create_landmark_empties(seq, "moved", frame_start=1)
    parent.location = (1.0, 2.0, 0.5)
    bpy.context.view_layer.update()
    back = read_landmark_empties(parent)
    shift_core = np.array([1.0, 0.5, -2.0])         # Blender (1, 2, 0.5) in the core frame
    assert np.allclose(back.points, seq.points + shift_core, equal_nan=True, atol=1e-6)


def test_user_made_animated_empties_are_sampled_in_world_space(addon):
    """Empties from elsewhere (a VR capture, another importer) whose names are landmarks."""
    scene = bpy.context.scene
    rig = bpy.data.objects.new("capture", None)
    scene.collection.objects.link(rig)
    rig.location = (0.0, 0.0, 0.1)
    names = {"LHip": (0.1, 0.0, 0.9), "RHip": (-0.1, 0.0, 0.9), "Neck": (0.0, 0.0, 1.45), "LAnkle": (0.1, 0, 0.1),
             "RAnkle": (-0.1, 0.0, 0.1), "not_a_landmark": (0.0, 0.0, 0.0)}
    for name, base in names.items():
        empty = bpy.data.objects.new(name, None)
        scene.collection.objects.link(empty)
        empty.parent = rig
        action = bpy.data.actions.new(name)
        curves = compat.assign_new_action(empty, action)
        for i in range(3):
            curve = compat.new_fcurve(curves, "location", i, "Location")
            curve.keyframe_points.add(2)      # frames 3 and 7; y moves forward 0.4 m
            curve.keyframe_points.foreach_set("co", [3.0, base[i], 7.0, base[i] + (0.4 if i == 1 else 0.0)])
            curve.keyframe_points.foreach_set("interpolation", [1, 1])
    select_only(bpy.data.objects["LHip"], active=bpy.data.objects["LHip"])
    assert find_landmark_parent(bpy.context.active_object) == rig
    assert bpy.ops.sparse_mocap.solve_landmarks.poll()
    scene.frame_set(42)
    seq = read_landmark_empties(rig)
    assert scene.frame_current == 42
    assert sorted(seq.names) == ["left_ankle", "left_hip", "neck", "right_ankle", "right_hip"]
    assert seq.num_frames == 5 and seq.metadata["frame_start"] == 3 and np.all(seq.confidence == 1.0)
    hip = seq.points[:, seq.index("left_hip")]
    expected = core_blender = np.array([[0.1, 0.0 + 0.1 * f, 1.0] for f in range(5)])
    assert np.allclose(core_to_blender_vectors(hip), core_blender, atol=1e-6), expected


def test_user_made_empties_are_read_from_their_curves_without_stepping_the_scene(addon):
    """Stepping the scene through every frame is slow with characters in it: empties that only their
    F-curves (and their parent's) move are read from the curves, the same points Blender places;
    one a constraint moves is read by stepping the scene, with the same result."""
    scene = bpy.context.scene
    rig = bpy.data.objects.new("capture", None)
    scene.collection.objects.link(rig)
    rig.rotation_euler = (0.0, 0.0, 0.4)
    for frame, x in ((1, 0.0), (20, 0.6)):                 # the parent walks too (Bezier keys)
        rig.location = (x, 0.3, 0.1)
        rig.keyframe_insert("location", frame=frame)
    children = []
    landmarks = {"LHip": "left_hip", "RHip": "right_hip", "Neck": "neck", "LAnkle": "left_ankle",
                 "RAnkle": "right_ankle"}
    for name, base in {"LHip": (0.1, 0.0, 0.9), "RHip": (-0.1, 0.0, 0.9), "Neck": (0.0, 0.0, 1.45),
                       "LAnkle": (0.1, 0.0, 0.1), "RAnkle": (-0.1, 0.0, 0.1)}.items():
        empty = bpy.data.objects.new(name, None)
        scene.collection.objects.link(empty)
        empty.parent = rig
        for frame in range(1, 21):
            empty.location = (base[0], base[1] + 0.02 * frame, base[2] + 0.01 * np.sin(frame))
            empty.keyframe_insert("location", frame=frame)
        children.append(empty)
    expected = []
    for frame in range(1, 21):
        scene.frame_set(frame)
        expected.append([np.array(c.matrix_world.translation) for c in children])
    expected = np.array(expected)
    scene.frame_set(42)
    calls, handler = count_frame_changes()
    try:
        fast = read_landmark_empties(rig)
        assert calls == []
        children[2].constraints.new("LIMIT_ROTATION")      # moves nothing, but only the scene knows
        stepped = read_landmark_empties(rig)
        assert len(calls) >= 20
    finally:
        bpy.app.handlers.frame_change_pre.remove(handler)
    assert scene.frame_current == 42
    assert fast.num_frames == stepped.num_frames == 20 and fast.metadata["frame_start"] == 1
    for k, child in enumerate(children):
        blender_points = core_to_blender_vectors(fast.points[:, fast.index(landmarks[child.name])])
        assert np.abs(blender_points - expected[:, k]).max() < 1e-5, child.name
    assert np.abs(fast.points - stepped.points).max() < 1e-5


def test_not_a_landmark_set(addon):
    empty = bpy.data.objects.new("lonely", None)
    bpy.context.scene.collection.objects.link(empty)
    assert find_landmark_parent(empty) is None
    with pytest.raises(LandmarkError, match="'lonely' is no landmark set"):
        read_landmark_empties(empty)


# --- the real Pose2Sim take ------------------------------------------------------------------------

@needs_trc
def test_import_real_trc_as_empties(addon):
    scene = bpy.context.scene
    scene.frame_start = 5
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC), solve=False) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent.name == "S00_P00_T01_BalancingTrial_0-100_landmarks" and parent["sparse_mocap_landmarks"]
    assert len(parent.children) == 21 and counts()["armatures"] == 0
    for child in parent.children:
        for index in range(3):
            frames, _ = key_frames(child, "location", index)
            assert len(frames) == 100 and frames[0] == 5 and frames[-1] == 104
        assert len(key_frames(child, '["confidence"]', 0)[0]) == 100
    assert {c["landmark"] for c in parent.children} >= {"left_hip", "right_knee", "head_top", "neck", "left_big_toe"}
    assert scene.render.fps == 60 and (scene.frame_start, scene.frame_end) == (5, 104)
    assert parent["file_up_axis"] == "+Y"

    # The empties stand where the oriented file points are, in Blender's axes.
    expected = orient(read_landmarks(TRC))
    knee = bpy.data.objects["right_knee"]
    scene.frame_set(5 + 40)
    assert np.allclose(np.array(knee.matrix_world.translation),
                       core_to_blender_vectors(expected.points[40, expected.index("right_knee")]), atol=1e-6)
    back = read_landmark_empties(parent)
    assert back.names == expected.names
    assert np.allclose(back.points, expected.points, atol=1e-6)


def assert_baked_like(obj, motion, frame_start=1, frames=(0, 33, 66, 99)):
    """The evaluated pose equals core FK of ``motion`` on the armature's own skeleton."""
    positions, _ = forward_kinematics(motion.rotations, motion.translation, skeleton_from_armature(obj))
    got = baked_positions(obj, [frame_start + f for f in frames])
    assert np.abs(got - core_to_blender_vectors(positions[list(frames)])).max() < 1e-4


def leg_errors(obj, feet_shift=0.0, frame_start=1):
    """Per frame and leg joint: distance (m) from the baked joint to its landmark-derived target."""
    targets = joint_targets(orient(read_landmarks(TRC)), 0.5).positions.copy()
    targets[..., 1] += feet_shift
    got = baked_positions(obj, range(frame_start, frame_start + 100))
    legs = [JOINT_INDEX[n] for n in LEG_JOINTS]
    return np.linalg.norm(got[:, legs] - core_to_blender_vectors(targets[:, legs]), axis=-1)


@needs_trc
def test_solve_ik_bakes_a_new_armature_that_follows_the_landmarks(addon):
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC), solve=False) == {"FINISHED"}
    parent = bpy.context.active_object
    before = counts()
    assert bpy.ops.sparse_mocap.solve_landmarks() == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and obj.name == "S00_P00_T01_BalancingTrial_0-100"
    assert counts() == dict(before, objects=before["objects"] + 2, armatures=1, meshes=1,
                            actions=before["actions"] + 1)
    action = obj.animation_data.action
    frames, _ = key_frames(obj, 'pose.bones["pelvis"].rotation_quaternion', 0)
    assert len(frames) == 100 and (frames[0], frames[-1]) == (1, 100)
    assert tuple(action.frame_range) == (1.0, 100.0)
    assert 1.5 < obj.sparse_mocap_subject.height < 2.0

    # Baked exactly as the core solves the file (default options: smoothing 0.5, feet on ground).
    motion, report = solve_landmarks(read_landmarks(TRC), SolveOptions())
    assert np.allclose(skeleton_from_armature(obj).offsets, motion.skeleton.offsets, atol=1e-6)
    assert_baked_like(obj, motion)
    # ... and it follows the landmarks: hips, knees and ankles within a few cm.
    # (Smoothing and pinned feet move them a little off the raw landmarks.)
    errors = leg_errors(obj, report["feet"]["ground_shift_m"])
    assert np.median(errors, axis=0).max() < 0.04, np.median(errors, axis=0)
    assert errors.max() < 0.3, errors.max(axis=0)      # a pinned ankle may swing the knee, never a leg

    # Without smoothing and foot locking the pose is the IK fit itself.
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.solve_landmarks(strength=0.0, feet_on_floor=False, with_body=False) == {"FINISHED"}
    plain = bpy.context.active_object
    assert plain != obj and not plain.children
    errors = leg_errors(plain)
    assert np.median(errors, axis=0).max() < 0.03, np.median(errors, axis=0)
    assert errors.max() < 0.10, errors.max(axis=0)


@needs_trc
def test_solve_onto_an_existing_armature_adds_an_action_and_keeps_the_old_one(addon, skeleton):
    scene = bpy.context.scene
    armature = create_armature(skeleton, name="Performer", collection=scene.collection, with_mesh=False)
    old = bake_motion(armature, demo_motion(skeleton, seconds=0.5), action_name="walk")
    old_frames, old_values = key_frames(armature, 'pose.bones["left_knee"].rotation_quaternion', 1)
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC), solve=False) == {"FINISHED"}
    parent = bpy.context.active_object
    # The landmark set active, the armature selected.
    select_only(parent, armature, active=parent)
    before = counts()
    assert bpy.ops.sparse_mocap.solve_landmarks(target="ARMATURE", feet_on_floor=False) == {"FINISHED"}
    assert bpy.context.active_object == armature
    assert counts() == dict(before, actions=before["actions"] + 1)
    new = armature.animation_data.action
    assert new != old and old.name == "walk" and old.use_fake_user
    assert np.allclose(skeleton_from_armature(armature).offsets, skeleton.offsets, atol=1e-6)
    # The old action is untouched.
    armature.animation_data.action = old
    if compat.has_slotted_actions():
        armature.animation_data.action_slot = old.slots[0]
    frames, values = key_frames(armature, 'pose.bones["left_knee"].rotation_quaternion', 1)
    assert np.array_equal(frames, old_frames) and np.array_equal(values, old_values)
    armature.animation_data.action = new
    if compat.has_slotted_actions():
        armature.animation_data.action_slot = new.slots[0]
    motion, _ = solve_landmarks(read_landmarks(TRC), SolveOptions(skeleton=skeleton, feet=False))
    assert_baked_like(armature, motion)
    # Onto this performer's 1.72 m body the legs still land near the 1.78 m performer's landmarks.
    assert np.median(leg_errors(armature)) < 0.05


@needs_trc
def test_import_and_solve_in_one_go_onto_the_named_armature(addon, skeleton):
    scene = bpy.context.scene
    armature = create_armature(skeleton, name="Performer", collection=scene.collection, with_mesh=False)
    select_only(armature, active=armature)
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC), target="ARMATURE", armature="Performer") \
        == {"FINISHED"}
    assert bpy.context.active_object == armature
    assert armature.animation_data.action.name == "S00_P00_T01_BalancingTrial_0-100"
    assert len(landmark_set().children) == 21 and counts()["armatures"] == 1


@needs_trc
def test_blend_subject_measurements_into_the_new_skeleton(addon):
    subject = bpy.context.scene.sparse_mocap_new_subject
    subject.height, subject.sex = 1.60, "female"
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC), target="NEW", blend_subject=True) == {"FINISHED"}
    blended = skeleton_from_armature(bpy.context.active_object).stature()
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC), target="NEW") == {"FINISHED"}
    alone = skeleton_from_armature(bpy.context.active_object).stature()
    assert blended < alone - 0.02      # pulled towards the 1.60 m subject


# --- other formats and options ---------------------------------------------------------------------

def mediapipe_json(path, frames=40, empty_frame=5, faint=(8, "left_elbow")):
    """MediaPipe world landmarks (y down, metres) for the demo walk: each point at its SMPL joint."""
    motion = demo_motion(seconds=frames / 30.0, fps=30.0)
    joints, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    joints = joints - joints[:, :1] * np.array([1.0, 0.0, 1.0])          # hips-centred like MediaPipe
    at = {"nose": "head", "left_eye_inner": "head", "left_eye": "head", "left_eye_outer": "head",
          "right_eye_inner": "head", "right_eye": "head", "right_eye_outer": "head", "left_ear": "head",
          "right_ear": "head", "mouth_left": "head", "mouth_right": "head", "left_pinky": "left_hand",
          "right_pinky": "right_hand", "left_index": "left_hand", "right_index": "right_hand",
          "left_thumb": "left_hand", "right_thumb": "right_hand", "left_heel": "left_ankle",
          "right_heel": "right_ankle", "left_foot_index": "left_foot", "right_foot_index": "right_foot"}
    items = []
    for f in range(frames):
        if f == empty_frame:
            items.append({"timestamp_ms": 1000.0 * f / 30.0, "pose_world_landmarks": []})
            continue
        marks = []
        for name in LAYOUTS["mediapipe33"]:
            x, y, z = joints[f, JOINT_INDEX[at.get(name, name)]]
            if name.endswith("heel"):
                y, z = y - 0.05, z - 0.06
            visibility = 0.1 if (f, name) == faint else 0.95
            marks.append({"x": float(x), "y": float(-y), "z": float(-z), "visibility": visibility})
        items.append({"timestamp_ms": 1000.0 * f / 30.0, "pose_world_landmarks": marks})
    path.write_text(json.dumps({"frames": items}))
    return path


def test_synthetic_mediapipe_json_imports_and_solves(addon, tmp_path):
    path = mediapipe_json(tmp_path / "clip.json")
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(path), with_body=False) == {"FINISHED"}
    obj = bpy.context.active_object
    parent = landmark_set()
    assert obj.type == "ARMATURE" and obj.name == "clip" and parent["layout"] == "mediapipe33"
    assert parent["file_up_axis"] == "-Y" and len(parent.children) == 33
    assert bpy.context.scene.render.fps == 30
    frames, _ = key_frames(bpy.data.objects["nose"])
    assert len(frames) == 39 and 1 + 5 not in frames                  # the frame without a person: no key
    # A faint point is kept with its confidence (the threshold masks it when solving).
    conf_frames, conf = key_frames(bpy.data.objects["left_elbow"], '["confidence"]', 0)
    assert conf[list(conf_frames).index(1 + 8)] == pytest.approx(0.1)
    # Upright: the head above the pelvis in Blender.
    heads = world_heads(obj, 1)
    assert heads[JOINT_INDEX["head"], 2] > heads[JOINT_INDEX["pelvis"], 2] + 0.3


def test_units_layout_fps_and_up_axis_options_reach_the_reader(addon, tmp_path):
    motion = demo_motion(seconds=1.0, fps=30.0)
    joints, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    zup = core_to_blender_vectors(joints) * 1000.0                   # SMPL joints in mm, Z up
    path = tmp_path / "regressor.npy"
    np.save(path, zup)
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(path), units="MM", up_axis="POS_Z",
                                                 fps_source="CUSTOM", fps=50.0, solve=False) == {"FINISHED"}
    parent = bpy.context.active_object
    assert parent["layout"] == "smpl24" and parent["fps"] == 50.0 and parent["file_up_axis"] == "+Z"
    assert bpy.context.scene.render.fps == 50
    back = read_landmark_empties(parent)
    assert np.allclose(back.points, joints, atol=1e-5)               # mm -> m, Z up -> core


# --- errors leave nothing behind -------------------------------------------------------------------

def test_bad_file_is_reported_and_leaves_nothing(addon, tmp_path):
    bad = tmp_path / "broken.trc"
    bad.write_text("PathFileType\t4\t(X/Y/Z)\tbroken.trc\nDataRate\tCameraRate\nnot numbers\n")
    with pytest.raises(RuntimeError, match="broken.trc"):
        bpy.ops.sparse_mocap.import_landmarks(filepath=str(bad))
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)
    with pytest.raises(RuntimeError, match="absent.trc: no such file"):
        bpy.ops.sparse_mocap.import_landmarks(filepath=str(tmp_path / "absent.trc"))
    with pytest.raises(RuntimeError, match="unknown landmark file type"):
        bpy.ops.sparse_mocap.import_landmarks(filepath=str(tmp_path / "take.bvh"))
    seventeen = tmp_path / "seventeen.npy"
    np.save(seventeen, np.zeros((4, 17, 3)))
    with pytest.raises(RuntimeError, match="seventeen.npy: 17 points per frame could be COCO-17"):
        bpy.ops.sparse_mocap.import_landmarks(filepath=str(seventeen))
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


def test_unsolvable_landmarks_leave_nothing(addon, tmp_path):
    """Only arms: the reading works, the solve finds no hips, and the empties go again."""
    path = tmp_path / "arms.csv"
    rows = ["left_wrist_x,left_wrist_y,left_wrist_z,right_wrist_x,right_wrist_y,right_wrist_z,"
            "nose_x,nose_y,nose_z,left_ankle_x,left_ankle_y,left_ankle_z"]
    rows += [f"0.3,1.0,{0.01 * f},-0.3,1.0,0,0,1.6,0,0.1,0.1,0" for f in range(10)]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(RuntimeError, match="arms.csv: the landmarks have no hips"):
        bpy.ops.sparse_mocap.import_landmarks(filepath=str(path), up_axis="POS_Y")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


@needs_trc
def test_failure_while_baking_removes_empties_and_armature(addon, monkeypatch):
    def failing_bake(obj, motion, **kwargs):
        bpy.data.actions.new("half written")
        raise ValueError("disk full while baking")

    monkeypatch.setattr(mocap_import, "bake_motion", failing_bake)
    with pytest.raises(RuntimeError, match="S00_P00_T01_BalancingTrial_0-100.trc: disk full while baking"):
        bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC))
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


@needs_trc
def test_failed_solve_onto_an_armature_gives_back_its_action(addon, skeleton, monkeypatch):
    armature = create_armature(skeleton, name="Performer", collection=bpy.context.scene.collection, with_mesh=False)
    old = bake_motion(armature, demo_motion(skeleton, seconds=0.5), action_name="walk")
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(TRC), solve=False) == {"FINISHED"}
    parent = bpy.context.active_object
    select_only(parent, armature, active=parent)
    before = counts()
    fail_after(monkeypatch, mocap_import, "bake_motion", "interrupted")
    with pytest.raises(RuntimeError, match="interrupted"):
        bpy.ops.sparse_mocap.solve_landmarks(target="ARMATURE")
    assert counts() == before
    assert armature.animation_data.action == old and not old.use_fake_user


def test_solve_needs_a_landmark_set_and_an_armature_target(addon):
    seq = random_sequence(frames=5)
    parent = create_landmark_empties(seq, "take_landmarks", frame_start=1)
    select_only(active=None)
    with pytest.raises(RuntimeError, match="landmark set"):
        bpy.ops.sparse_mocap.solve_landmarks()
    select_only(parent, active=parent)
    before = counts()
    with pytest.raises(RuntimeError, match="No SMPL armature to solve onto"):
        bpy.ops.sparse_mocap.solve_landmarks(target="ARMATURE")
    with pytest.raises(RuntimeError, match="'nothing' is no SMPL armature"):
        bpy.ops.sparse_mocap.solve_landmarks(target="ARMATURE", armature="nothing")
    assert counts() == before


# --- headless ------------------------------------------------------------------------------------

@needs_trc
def test_cli_landmarks_source(addon, tmp_path, capsys):
    from sparse_mocap_addon import cli

    bvh = tmp_path / "take.bvh"
    assert cli.main(["--landmarks", str(TRC), "--strength", "0.3", "--bvh", str(bvh), "--quiet"]) == 0
    assert bvh.is_file() and "Frames: 100" in bvh.read_text()
    obj = bpy.data.objects["S00_P00_T01_BalancingTrial_0-100"]
    assert obj.animation_data.action is not None and len(landmark_set().children) == 21

    assert cli.main(["--landmarks", str(TRC), "--strength", "2", "--bvh", str(tmp_path / "a.bvh")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert cli.main(["--landmarks", str(bad), "--bvh", str(tmp_path / "b.bvh"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--strength 2.0 is out of range" in err and f"error: {bad}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "take.bvh"]
