"""Armature building and baking in real Blender (bpy 5.0.1): geometry, roll, FK agreement, safety."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat  # noqa: E402
from sparse_mocap_addon.blender.armature import create_armature, skeleton_from_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion  # noqa: E402
from sparse_mocap_addon.blender.coords import CORE_TO_BLENDER, core_to_blender_vectors  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, PARENTS, forward_kinematics  # noqa: E402


def world_heads(obj, frame):
    bpy.context.scene.frame_set(frame)
    return np.array([np.array(obj.matrix_world @ obj.pose.bones[n].head) for n in JOINT_NAMES])


def test_coordinate_conversion_is_a_proper_rotation():
    assert np.allclose(CORE_TO_BLENDER @ CORE_TO_BLENDER.T, np.eye(3))
    assert np.isclose(np.linalg.det(CORE_TO_BLENDER), 1.0)
    # core: +Y up, +Z the subject's forward, +X the subject's left; Blender: +Z up, faces -Y.
    assert np.allclose(core_to_blender_vectors([0, 1, 0]), [0, 0, 1])
    assert np.allclose(core_to_blender_vectors([0, 0, 1]), [0, -1, 0])
    assert np.allclose(core_to_blender_vectors([1, 0, 0]), [1, 0, 0])


def test_armature_topology_rest_pose_and_roll(blank_scene, skeleton):
    obj = create_armature(skeleton, name="Subject")
    bones = obj.data.bones
    assert sorted(b.name for b in bones) == sorted(JOINT_NAMES)
    for j, name in enumerate(JOINT_NAMES):
        parent = bones[name].parent
        assert (parent.name if parent else None) == (JOINT_NAMES[PARENTS[j]] if PARENTS[j] >= 0 else None)
    heads = np.array([np.array(bones[n].head_local) for n in JOINT_NAMES])
    assert np.allclose(heads, core_to_blender_vectors(skeleton.rest_positions()), atol=1e-6)
    for b in bones:  # documented roll: Z faces forward (-Y); along the foot: Z up
        z_axis = np.array(b.matrix_local.to_3x3().col[2])
        along_foot = b.name.endswith(("_foot", "_ankle"))
        assert z_axis @ np.array([0, 0, 1] if along_foot else [0, -1, 0]) > 0.7, b.name
    # The stature is kept: the top of the head is the entered height above the floor (z = 0).
    assert np.isclose(bones["head"].tail_local.z, skeleton.stature(), atol=1e-6)


def test_body_mesh_is_skinned_to_every_bone(blank_scene, skeleton):
    obj = create_armature(skeleton, name="Subject")
    body = [c for c in obj.children if c.type == "MESH"]
    assert len(body) == 1
    mesh = body[0]
    assert {g.name for g in mesh.vertex_groups} == set(JOINT_NAMES)
    modifier = next(m for m in mesh.modifiers if m.type == "ARMATURE")
    assert modifier.object == obj
    weighted = {mesh.vertex_groups[g.group].name for v in mesh.data.vertices for g in v.groups if g.weight > 0}
    assert weighted == set(JOINT_NAMES)
    assert np.isclose(max(v.co.z for v in mesh.data.vertices), skeleton.stature(), rtol=0.02)


def test_skeleton_read_back_from_armature(blank_scene, skeleton):
    obj = create_armature(skeleton, with_mesh=False)
    back = skeleton_from_armature(obj)
    assert np.allclose(back.offsets, skeleton.offsets, atol=1e-6)
    assert np.isclose(back.stature(), skeleton.stature(), atol=1e-6)


def test_bake_matches_core_forward_kinematics(blank_scene, random_motion):
    obj = create_armature(random_motion.skeleton, with_mesh=False)
    action = bake_motion(obj, random_motion, action_name="take")
    assert obj.animation_data.action == action
    if compat.has_slotted_actions():
        assert obj.animation_data.action_slot is not None
    curves = compat.action_fcurves(obj)
    assert len(curves) == 24 * 4 + 3
    assert all(len(c.keyframe_points) == random_motion.num_frames for c in curves)
    positions, _ = forward_kinematics(random_motion.rotations, random_motion.translation, random_motion.skeleton)
    for frame in (0, 13, random_motion.num_frames - 1):
        got = world_heads(obj, 1 + frame)
        assert np.abs(got - core_to_blender_vectors(positions[frame])).max() < 1e-5
    scene = bpy.context.scene
    assert scene.render.fps / scene.render.fps_base == pytest.approx(60.0)
    assert (scene.frame_start, scene.frame_end) == (1, random_motion.num_frames)


def pose_matrices(obj, frame):
    bpy.context.scene.frame_set(frame)
    return np.array([np.array(obj.pose.bones[n].matrix) for n in JOINT_NAMES])


def test_bake_as_samples_plays_as_the_keyframes(blank_scene, random_motion):
    """keys="samples" (long takes): every F-curve holds one sampled point per frame and no key, and
    the pose on every frame (and between frames: both interpolate linearly) is the keyframes' pose."""
    keyed = create_armature(random_motion.skeleton, name="keyed", with_mesh=False)
    bake_motion(keyed, random_motion, action_name="keys")
    sampled = create_armature(random_motion.skeleton, name="sampled", with_mesh=False)
    action = bake_motion(sampled, random_motion, action_name="samples", keys="samples")
    curves = compat.action_fcurves(sampled)
    assert len(curves) == 24 * 4 + 3
    assert all(len(c.keyframe_points) == 0 and len(c.sampled_points) == random_motion.num_frames for c in curves)
    assert tuple(action.frame_range) == (1.0, float(random_motion.num_frames))
    for frame in (1, 14, random_motion.num_frames):
        assert np.abs(pose_matrices(sampled, frame) - pose_matrices(keyed, frame)).max() < 1e-6
    scene = bpy.context.scene
    scene.frame_set(20, subframe=0.5)
    halfway = [np.array(obj.pose.bones["left_knee"].rotation_quaternion) for obj in (keyed, sampled)]
    assert np.abs(halfway[0] - halfway[1]).max() < 1e-6
    with pytest.raises(ValueError, match="keys must be one of"):
        bake_motion(sampled, random_motion, keys="sparse")


def test_bake_as_samples_needs_one_frame_spacing(blank_scene, random_motion):
    """Keys half a frame apart (a 60 fps motion on a 30 fps scene) cannot be samples: keyframes."""
    obj = create_armature(random_motion.skeleton, with_mesh=False)
    bpy.context.scene.render.fps = 30
    bake_motion(obj, random_motion, match_scene=False, keys="samples")
    assert len(compat.action_fcurves(obj)[0].keyframe_points) == random_motion.num_frames


def test_keys_for_long_takes():
    from sparse_mocap_addon.blender.bake import LONG_TAKE_FRAMES, keys_for

    assert keys_for(1000) == keys_for(LONG_TAKE_FRAMES) == "keyframes"
    assert keys_for(LONG_TAKE_FRAMES + 1) == "samples"


def test_bake_keeps_real_timing_when_scene_rate_differs(blank_scene, random_motion):
    obj = create_armature(random_motion.skeleton, with_mesh=False)
    bpy.context.scene.render.fps = 30
    bake_motion(obj, random_motion, match_scene=False)
    keys = np.empty(2 * random_motion.num_frames)
    compat.action_fcurves(obj)[0].keyframe_points.foreach_get("co", keys)
    assert np.allclose(np.diff(keys[0::2]), 0.5)  # 60 fps motion on a 30 fps scene


def test_bake_never_overwrites_an_existing_action(blank_scene, random_motion):
    obj = create_armature(random_motion.skeleton, with_mesh=False)
    first = bake_motion(obj, random_motion, action_name="take")
    before = np.empty(2 * random_motion.num_frames)
    compat.action_fcurves(obj)[5].keyframe_points.foreach_get("co", before)
    second = bake_motion(obj, random_motion, action_name="take")
    assert second != first and second.name != first.name
    assert first.name in bpy.data.actions and first.use_fake_user  # kept, and survives saving
    obj.animation_data.action = first
    if compat.has_slotted_actions():
        obj.animation_data.action_slot = first.slots[0]
    after = np.empty_like(before)
    compat.action_fcurves(obj)[5].keyframe_points.foreach_get("co", after)
    assert np.array_equal(before, after)


def test_bake_refuses_a_non_smpl_armature(blank_scene, random_motion):
    data = bpy.data.armatures.new("Other")
    obj = bpy.data.objects.new("Other", data)
    bpy.context.scene.collection.objects.link(obj)
    with pytest.raises(ValueError, match="lacks the SMPL bone"):
        bake_motion(obj, random_motion)
    assert len(bpy.data.actions) == 0
