"""Import Mocap (sparse_mocap.import_mocap) on the real bpy module: retarget + bake, targets, errors."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat  # noqa: E402
from sparse_mocap_addon.blender import mocap_import  # noqa: E402
from sparse_mocap_addon.blender.armature import skeleton_from_armature  # noqa: E402
from sparse_mocap_addon.blender.coords import core_to_blender_vectors  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.feet.stage import (FeetOptions, feet_metrics, feet_on_floor, feet_summary,  # noqa: E402
                                                motion_contacts)
from sparse_mocap_addon.core.mocap.formats.bvh import read_bvh, write_bvh  # noqa: E402
from sparse_mocap_addon.core.mocap.formats.mocap import read_mocap  # noqa: E402
from sparse_mocap_addon.core.mocap.joint_maps import detect_joint_map  # noqa: E402
from sparse_mocap_addon.core.kinematics.resample import resample_times  # noqa: E402
from sparse_mocap_addon.core.mocap.retarget import retarget  # noqa: E402
from sparse_mocap_addon.core.mocap.rig_body import skeleton_from_rig  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.mocap.source import SourceMotion  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402

HDM05_AMC = SHARED_DATA / "hdm05" / "test" / "HDM_mm_rotateArmsBothBackward1Reps_013_120.amc.gz"
CMU62_BVH = SHARED_DATA / "cmu62" / "62_18.bvh.gz"
CMU_FBX = SHARED_DATA / "cmu_fbx" / "09_11_cmu.fbx"
needs_data = pytest.mark.skipif(
    not all(p.is_file() for p in (HDM05_AMC, CMU62_BVH, CMU_FBX)),
    reason=f"real mocap takes (hdm05, cmu62, cmu_fbx) not found in {SHARED_DATA}")


@pytest.fixture
def addon(registered_addon, blank_scene):
    return registered_addon


@pytest.fixture(scope="module")
def walk_bvh(tmp_path_factory):
    """The demo walk (60 fps, 1.5 s) written as a BVH with SMPL joint names."""
    path = tmp_path_factory.mktemp("bvh") / "walk.bvh"
    write_bvh(path, SourceMotion.from_motion(demo_motion(seconds=1.5, fps=60.0)))
    return path


def counts():
    return {kind: len(getattr(bpy.data, kind)) for kind in ("objects", "armatures", "meshes", "actions")}


def keys(obj):
    curves = compat.action_fcurves(obj)
    frames = np.empty(len(curves[0].keyframe_points) * 2, dtype=np.float32)
    curves[0].keyframe_points.foreach_get("co", frames)
    return frames[0::2]


def world_heads(obj, frame):
    bpy.context.scene.frame_set(frame)
    return np.array([np.array(obj.matrix_world @ obj.pose.bones[n].head) for n in JOINT_NAMES])


def assert_baked_like(obj, motion, frame_start=1):
    """The armature's evaluated pose matches core FK of ``motion`` on the armature's own skeleton."""
    positions, _ = forward_kinematics(motion.rotations, motion.translation, skeleton_from_armature(obj))
    for frame in (0, motion.num_frames // 2, motion.num_frames - 1):
        got = world_heads(obj, frame_start + frame)
        assert np.abs(got - core_to_blender_vectors(positions[frame])).max() < 1e-4, frame


# --- registration ----------------------------------------------------------------------------------

def test_registered_undoable_and_in_the_file_import_menu(addon):
    import sparse_mocap_addon
    from sparse_mocap_addon.panels.main import menu_file_import

    op_class = bpy.types.SPARSE_MOCAP_OT_import_mocap
    assert {"REGISTER", "UNDO"} <= set(op_class.bl_options)
    menu = bpy.types.TOPBAR_MT_file_import
    assert menu.draw._draw_funcs.count(menu_file_import) == 1
    sparse_mocap_addon.unregister()
    try:
        assert menu_file_import not in menu.draw._draw_funcs
        assert not hasattr(bpy.types, "SPARSE_MOCAP_OT_import_mocap")
    finally:
        sparse_mocap_addon.register()
    assert menu.draw._draw_funcs.count(menu_file_import) == 1


# --- a BVH the test writes -------------------------------------------------------------------------

def test_performer_import_bakes_the_retargeted_motion_then_a_second_import_adds_an_action(addon, walk_bvh):
    # Feet on Floor off: the raw retarget (the feet stage's own test follows).
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER", fps="FILE",
                                             feet_on_floor=False) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and obj.name == "walk" and len(obj.data.bones) == 24
    assert [c.type for c in obj.children] == ["MESH"]
    first = obj.animation_data.action
    assert first.name == "walk"

    # The same pipeline in core: the performer's body measured from the rig, then retargeting.
    source = read_bvh(walk_bvh)
    joint_map = detect_joint_map(source.skeleton.names)
    skeleton, report = skeleton_from_rig(source, joint_map)
    motion = retarget(source, skeleton, joint_map)
    assert np.allclose(skeleton_from_armature(obj).offsets, skeleton.offsets, atol=1e-6)
    assert obj.sparse_mocap_subject.height == pytest.approx(report["measurements"]["height"], abs=1e-4)
    assert bpy.context.scene.render.fps == 60 and bpy.context.scene.frame_end == motion.num_frames
    assert len(keys(obj)) == motion.num_frames
    assert_baked_like(obj, motion)

    # Again onto the same (active) armature: a new action; the first is kept with a fake user.
    before = counts()
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), fps="FILE", feet_on_floor=False) == {"FINISHED"}
    assert bpy.context.active_object == obj
    second = obj.animation_data.action
    assert second != first and second.name.startswith("walk")
    assert first.name in bpy.data.actions and first.use_fake_user
    assert counts() == dict(before, actions=before["actions"] + 1)
    assert_baked_like(obj, retarget(source, skeleton_from_armature(obj), joint_map))


def test_feet_on_floor_is_on_by_default_and_says_what_it_changed(addon, walk_bvh):
    assert bpy.ops.sparse_mocap.import_mocap.get_rna_type().properties["feet_on_floor"].default is True
    result = mocap_import.import_mocap(walk_bvh, with_body=False)
    source = read_bvh(walk_bvh)
    joint_map = detect_joint_map(source.skeleton.names)
    skeleton, _ = skeleton_from_rig(source, joint_map)
    raw = retarget(source, skeleton, joint_map)
    planted, report = feet_on_floor(raw)
    assert result.feet == report and result.feet["enabled"] and result.feet["contact_runs"] > 0
    assert feet_summary(result.feet).startswith("feet on the floor:")
    assert_baked_like(result.armature, planted)
    assert np.abs(planted.rotations - raw.rotations).max() > 1e-3          # it did change the legs
    contact = motion_contacts(raw, floor="estimate")
    metrics = feet_metrics(planted, contact)
    assert metrics["foot_below_floor_max_cm"] <= 1.0 and metrics["foot_float_in_contact_max_cm"] <= 1.0
    assert metrics["foot_skate_cm_per_s"] <= 2.0 < feet_metrics(raw, contact)["foot_skate_cm_per_s"]
    off = mocap_import.import_mocap(walk_bvh, armature=result.armature, feet=FeetOptions(enabled=False))
    assert off.feet["enabled"] is False
    assert_baked_like(result.armature, raw)


def test_resampled_to_the_scene_rate_when_asked_start_frame_and_subject_target(addon, walk_bvh):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start = 30, 1.0, 10
    scene.sparse_mocap_new_subject.height = 1.62
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="SUBJECT", with_body=False,
                                             fps="SCENE") == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.name == "Subject" and not obj.children
    assert obj.sparse_mocap_subject.height == pytest.approx(1.62)
    assert skeleton_from_armature(obj).stature() == pytest.approx(1.62, abs=1e-4)
    frames = keys(obj)
    source = read_bvh(walk_bvh)
    assert len(frames) == len(resample_times(source.num_frames, source.fps, 30.0))
    assert frames[0] == 10 and np.allclose(np.diff(frames), 1.0)
    assert scene.render.fps == 30 and (scene.frame_start, scene.frame_end) == (10, 9 + len(frames))


def test_the_take_keeps_its_frames_by_default_and_an_empty_scene_takes_its_rate(addon, walk_bvh, capsys):
    """A new file plays at 24 fps: the 60 fps take keeps every frame and the scene takes 60 fps."""
    scene = bpy.context.scene
    assert (scene.render.fps, scene.render.fps_base) == (24, 1.0)
    props = bpy.ops.sparse_mocap.import_mocap.get_rna_type().properties
    assert props["fps"].default == "FILE"
    assert "resample" in props["fps"].enum_items["SCENE"].description.lower()
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER") == {"FINISHED"}
    obj = bpy.context.active_object
    source = read_bvh(walk_bvh)
    assert obj.animation_data.action.name == "walk"
    frames = keys(obj)
    assert len(frames) == source.num_frames and np.allclose(np.diff(frames), 1.0)
    assert (scene.render.fps, scene.render.fps_base) == (60, 1.0)
    assert (scene.frame_start, scene.frame_end) == (1, source.num_frames)
    assert "the scene's frame rate is set to the take's 60 fps (was 24)" in capsys.readouterr().out


def test_a_scene_with_other_animation_keeps_its_rate_and_the_take_its_frames(addon, walk_bvh, capsys):
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_end = 24, 1, 250
    cube = bpy.data.objects.new("Cube", None)
    scene.collection.objects.link(cube)
    cube.keyframe_insert("location", frame=1)
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER") == {"FINISHED"}
    obj = bpy.context.active_object
    source = read_bvh(walk_bvh)
    frames = keys(obj)
    # Every frame of the take, spaced to keep its real timing at 24 fps (0.4 scene frames apart).
    assert len(frames) == source.num_frames and np.allclose(np.diff(frames), 24.0 / 60.0)
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == (24, 1, 250)
    assert "the scene keeps its 24 fps (Cube is animated): the take's 60 fps keys are 0.4 frames apart" \
        in capsys.readouterr().out


def test_active_target_needs_an_smpl_armature(addon, walk_bvh):
    with pytest.raises(RuntimeError, match="No active SMPL armature"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="ACTIVE")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


# --- real takes ------------------------------------------------------------------------------------

@needs_data
def test_real_takes_amc_bvh_and_fbx_onto_an_armature(addon):
    scene = bpy.context.scene
    # HDM05 AMC, its ASF found in ../skeletons; the performer's own body.
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(HDM05_AMC), target="PERFORMER", fps="FILE") \
        == {"FINISHED"}
    obj = bpy.context.active_object
    amc = read_mocap(HDM05_AMC)
    assert len(keys(obj)) == amc.num_frames and scene.render.fps == 120
    assert 1.4 < obj.sparse_mocap_subject.height < 2.0

    # CMU subject 62 BVH (120 fps) onto the same armature, resampled to a 30 fps scene.
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(CMU62_BVH), target="ACTIVE", fps="SCENE") == {"FINISHED"}
    bvh = read_mocap(CMU62_BVH)
    assert obj.animation_data.action.name == "62_18"
    assert len(keys(obj)) == len(resample_times(bvh.num_frames, bvh.fps, 30.0))

    # CMU FBX at the file's rate.
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(CMU_FBX), target="ACTIVE", fps="FILE") == {"FINISHED"}
    assert obj.animation_data.action.name == "09_11_cmu"
    frames = keys(obj)
    assert scene.render.fps == 120 and len(frames) > 100
    assert [o.type for o in bpy.data.objects] == ["ARMATURE", "MESH"]   # the FBX rig is gone again
    assert len(bpy.data.actions) == 3 and all(a.use_fake_user for a in bpy.data.actions
                                              if a != obj.animation_data.action)
    # The CMU FBX rig's unit is inferred: the pelvis stays at a human height.
    assert_pelvis_height_plausible(obj, frames)


def assert_pelvis_height_plausible(obj, frames):
    heights = [world_heads(obj, int(f))[0, 2] for f in frames[:: max(1, len(frames) // 5)]]
    assert all(0.3 < h < 1.6 for h in heights), heights


# --- errors leave nothing behind -------------------------------------------------------------------

def test_garbage_bvh_is_reported_and_leaves_nothing(addon, tmp_path):
    bad = tmp_path / "garbage.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    with pytest.raises(RuntimeError, match="garbage.bvh"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(bad), target="PERFORMER")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


def test_missing_file_is_reported(addon, tmp_path):
    with pytest.raises(RuntimeError, match="absent.fbx: no such"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(tmp_path / "absent.fbx"), target="PERFORMER")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


def test_amc_without_asf_says_to_choose_one(addon, tmp_path):
    amc = tmp_path / "lonely_01.amc"
    amc.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\n")
    with pytest.raises(RuntimeError, match="no ASF skeleton found beside this AMC file; choose the .asf file"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(amc), target="PERFORMER")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


@needs_data
def test_amc_with_a_chosen_asf(addon, tmp_path):
    amc = tmp_path / "take.amc"
    amc.write_bytes(gzip.decompress(HDM05_AMC.read_bytes()))
    (tmp_path / "sub").mkdir()   # not a place find_asf looks
    shutil.copy(SHARED_DATA / "hdm05" / "skeletons" / "HDM_mm.asf.gz", tmp_path / "sub" / "mm.asf.gz")
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(amc), asf_path=str(tmp_path / "sub" / "mm.asf.gz"),
                                             target="PERFORMER", fps="FILE", joint_map="ACCLAIM",
                                             reference="ZERO") == {"FINISHED"}
    assert len(keys(bpy.context.active_object)) == read_mocap(HDM05_AMC).num_frames


def test_json_map_missing_required_joints_names_them(addon, walk_bvh, tmp_path):
    partial = tmp_path / "partial.json"
    joints = {n: n for n in JOINT_NAMES if not n.endswith(("_wrist", "_hand"))}
    partial.write_text(json.dumps({"name": "no hands", "joints": joints}))
    with pytest.raises(RuntimeError, match=r"walk.bvh: joint map 'no hands' leaves required SMPL joints "
                                           r"unmapped on this rig: left_wrist, right_wrist"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER", joint_map="JSON",
                                          joint_map_path=str(partial))
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)
    with pytest.raises(RuntimeError, match="no joint map file is chosen"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER", joint_map="JSON")


def test_bad_reference_frame_is_reported(addon, walk_bvh):
    with pytest.raises(RuntimeError, match="reference frame 5000 is outside the take"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER", reference="FRAME",
                                          reference_frame=5000)
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


def test_failure_after_creating_the_armature_removes_it(addon, walk_bvh, monkeypatch):
    def failing_bake(obj, motion, **kwargs):
        bpy.data.actions.new("half written")
        raise ValueError("disk full while baking")

    monkeypatch.setattr(mocap_import, "bake_motion", failing_bake)
    with pytest.raises(RuntimeError, match="walk.bvh: disk full while baking"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER")
    assert counts() == dict(objects=0, armatures=0, meshes=0, actions=0)


def test_failed_import_onto_the_active_armature_gives_back_its_action(addon, walk_bvh, monkeypatch):
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="PERFORMER") == {"FINISHED"}
    obj = bpy.context.active_object
    first = obj.animation_data.action
    before = counts()
    real_bake = mocap_import.bake_motion

    def failing_bake(obj, motion, **kwargs):
        real_bake(obj, motion, **kwargs)
        raise ValueError("interrupted")

    monkeypatch.setattr(mocap_import, "bake_motion", failing_bake)
    with pytest.raises(RuntimeError, match="interrupted"):
        bpy.ops.sparse_mocap.import_mocap(filepath=str(walk_bvh), target="ACTIVE")
    assert counts() == before
    assert obj.animation_data.action == first and not first.use_fake_user
    if compat.has_slotted_actions():
        assert obj.animation_data.action_slot is not None


# --- several takes of one performer ----------------------------------------------------------------

def test_several_takes_share_one_body_and_a_failure_leaves_nothing(addon, tmp_path, monkeypatch):
    """Two takes whose rigs disagree on the body: one new armature whose skeleton is pooled from
    both, one action per take; the Subject panel shows the measurements of the bones it built."""
    from sparse_mocap_addon.core.body.measurements import BodyMeasurements, measure_skeleton, skeleton_from_measurements
    from sparse_mocap_addon.core.mocap.rig_body import measure_take, performer_body

    paths = []
    for name, height in (("take_a.bvh", 1.70), ("take_b.bvh", 1.80)):
        rig = skeleton_from_measurements(BodyMeasurements(height=height))
        paths.append(tmp_path / name)
        write_bvh(paths[-1], SourceMotion.from_motion(demo_motion(rig, seconds=1.0, fps=60.0)))
    before = counts()
    assert bpy.ops.sparse_mocap.import_mocap(directory=str(tmp_path), files=[{"name": p.name} for p in paths],
                                             target="PERFORMER", fps="FILE") == {"FINISHED"}
    obj = bpy.context.active_object
    assert counts() == dict(objects=before["objects"] + 2, armatures=before["armatures"] + 1,
                            meshes=before["meshes"] + 1, actions=before["actions"] + 2)
    assert {a.name for a in bpy.data.actions} == {"take_a", "take_b"}
    pooled, _ = performer_body([measure_take(read_bvh(p)) for p in paths])
    np.testing.assert_allclose(skeleton_from_armature(obj).offsets, pooled.offsets, atol=1e-6)
    bones = measure_skeleton(skeleton_from_armature(obj))
    assert obj.sparse_mocap_subject.height == pytest.approx(bones["height"], abs=1e-4)
    assert obj.sparse_mocap_subject.leg_length == pytest.approx(bones["leg_length"], abs=1e-4)
    assert 1.70 < bones["height"] < 1.80

    # A failure while baking the second take removes the first take's armature and action too.
    real_bake = mocap_import.bake_motion
    calls = []

    def failing_second(obj, motion, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("disk full while baking")
        return real_bake(obj, motion, **kwargs)

    monkeypatch.setattr(mocap_import, "bake_motion", failing_second)
    before = counts()
    with pytest.raises(RuntimeError, match="disk full while baking"):
        bpy.ops.sparse_mocap.import_mocap(directory=str(tmp_path), files=[{"name": p.name} for p in paths],
                                          target="PERFORMER", fps="FILE")
    assert counts() == before
