"""Keying a motion onto a character armature in Blender (``blender/character.py``): Blender's evaluated
pose is the core's forward kinematics of the keyed channels, a rig imported Y-up in centimetres moves
as the same rig in metres does, and an unevenly scaled rig is refused."""

import math

import bpy
import numpy as np
import pytest

from sparse_mocap_addon.blender.character import bake_onto_character
from sparse_mocap_addon.blender.coords import BLENDER_TO_CORE
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.mocap.onto_rig import rig_forward_kinematics
from tests.rigs import build_armature


@pytest.fixture
def scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two rotation matrices, robust near zero (no arccos of a number close to 1)."""
    return math.degrees(2.0 * math.asin(min(1.0, np.linalg.norm(a - b) / (2.0 * math.sqrt(2.0)))))


def _evaluated(obj, names, frames):
    """World rotations and head positions (core frame) of ``names`` as Blender evaluates them."""
    world = np.empty((len(frames), len(names), 3, 3))
    heads = np.empty((len(frames), len(names), 3))
    for i, frame in enumerate(frames):
        bpy.context.scene.frame_set(frame + 1)
        for k, name in enumerate(names):
            matrix = np.array(obj.matrix_world @ obj.pose.bones[name].matrix)
            world[i, k] = BLENDER_TO_CORE @ matrix[:3, :3] / np.linalg.norm(matrix[:3, 0])
            heads[i, k] = BLENDER_TO_CORE @ matrix[:3, 3]
    return world, heads


@pytest.mark.parametrize("kind", ["mixamo", "unreal", "vrm"])
def test_blender_shows_what_the_core_keyed(scene, kind):
    obj, _ = build_armature(kind)
    previous = bpy.data.actions.new("previous")
    obj.animation_data_create().action = previous
    action, rig_motion = bake_onto_character(obj, demo_motion(seconds=1.0), "walk")
    assert obj.animation_data.action == action and previous.use_fake_user
    frames = [0, 20, 59]
    world, heads = rig_forward_kinematics(rig_motion)
    seen, seen_heads = _evaluated(obj, rig_motion.bones, frames)
    worst = max(_angle_deg(seen[i, k], world[f, k]) for i, f in enumerate(frames) for k in range(len(rig_motion.bones)))
    assert worst < 0.05
    assert np.abs(seen_heads - heads[frames]).max() < 1e-4


def test_a_rig_imported_y_up_in_centimetres_moves_as_the_same_rig_in_metres(scene):
    motion = demo_motion(seconds=1.0)
    plain, _ = build_armature("mixamo", name="plain")
    bake_onto_character(plain, motion, "walk")
    imported, _ = build_armature("mixamo", name="imported")
    # What Blender's FBX importer gives for a Y-up rig in cm: bones turned -90 deg about X and x100,
    # the object turned back +90 deg and scaled 0.01.
    bpy.context.view_layer.objects.active = imported
    bpy.ops.object.mode_set(mode="EDIT")
    from mathutils import Matrix
    to_file = Matrix.Rotation(-math.pi / 2, 4, "X") @ Matrix.Scale(100.0, 4)
    for bone in imported.data.edit_bones:
        bone.transform(to_file)
    bpy.ops.object.mode_set(mode="OBJECT")
    imported.rotation_euler = (math.pi / 2, 0.0, 0.0)
    imported.scale = (0.01, 0.01, 0.01)
    bpy.context.view_layer.update()
    bake_onto_character(imported, motion, "walk")
    names = ["mixamorig:Hips", "mixamorig:LeftFoot", "mixamorig:RightHand", "mixamorig:Head"]
    frames = [0, 30, 59]
    _, want = _evaluated(plain, names, frames)
    _, got = _evaluated(imported, names, frames)
    assert np.abs(got - want).max() < 1e-3
    assert want[:, 0, 1].min() > 0.8                               # standing, not lying down


def test_an_unevenly_scaled_rig_is_refused_before_anything_changes(scene):
    obj, _ = build_armature("unreal")
    obj.scale = (1.0, 2.0, 1.0)
    bpy.context.view_layer.update()
    with pytest.raises(ValueError, match="scaled unevenly.*apply its scale"):
        bake_onto_character(obj, demo_motion(seconds=0.5), "walk")
    assert obj.animation_data is None or obj.animation_data.action is None


def test_the_sidebar_exports_a_character_as_fbx(addon, tmp_path):
    from tests.fbx_reader import read_fbx

    obj, _ = build_armature("unreal")
    bake_onto_character(obj, demo_motion(seconds=1.0), "walk")
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.sparse_mocap.export_fbx.poll()
    path = tmp_path / "manny.fbx"
    assert bpy.ops.sparse_mocap.export_fbx(filepath=str(path), preset="UNREAL") == {"FINISHED"}
    fbx = read_fbx(path)
    assert "pelvis" in fbx.bones and fbx.frames == 60
    bpy.context.view_layer.objects.active = None
    assert not bpy.ops.sparse_mocap.export_fbx.poll()
