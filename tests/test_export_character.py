"""FBX and BVH export from a character rig (issue 18 item 4), read back with ufbx, not Blender: the
character's own bones and hierarchy, the take named after the action, every frame, the pose that
Blender evaluates; Unreal's root motion on the rig's own root, or on one added above the hips."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")
pytest.importorskip("ufbx", reason="the ufbx reader is installed by scripts/setup.sh")

from sparse_mocap_addon.blender.character import bake_onto_character  # noqa: E402
from sparse_mocap_addon.blender.export import ROOT_BONE, ExportError, export_bvh, export_fbx  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.mocap.formats.bvh import read_bvh  # noqa: E402

from .cli_support import fbx_takes  # noqa: E402
from .fbx_reader import read_fbx  # noqa: E402
from .rigs import build_armature  # noqa: E402

HIPS = {"unreal": "pelvis", "mixamo": "mixamorig:Hips", "vrm": "hips", "cc_base": "CC_Base_Hip"}
HAND = {"unreal": "hand_l", "mixamo": "mixamorig:LeftHand", "vrm": "leftHand", "cc_base": "CC_Base_L_Hand"}
OWN_ROOT = {"unreal": "root", "cc_base": "CC_Base_BoneRoot"}     # rigs with a floor-level root bone
FRAMES = 30                                     # the demo walk's half second at 60 fps


@pytest.fixture(scope="module")
def walk():
    return demo_motion(skeleton_from_measurements(BodyMeasurements(height=1.80)), seconds=0.5)


def character(kind: str, walk, name: str = "Hero"):
    """The test rig ``kind`` with the walk baked into a new action ``walk_01`` (an old one kept)."""
    obj, _ = build_armature(kind, name=name)
    old = bpy.data.actions.new("idle")
    obj.animation_data_create().action = old
    bake_onto_character(obj, walk, "walk_01")
    return obj


def blender_positions(obj, bones, frames) -> dict:
    """(bone, frame index) -> world position of the bone's head as Blender evaluates it, in the FBX
    file's axes (Y up, the character facing +Z): Blender's (x, y, z) is (x, z, -y)."""
    scene = bpy.context.scene
    out = {}
    for frame in frames:
        scene.frame_set(frame + 1)               # the action starts on frame 1
        for bone in bones:
            x, y, z = obj.matrix_world @ obj.pose.bones[bone].head
            out[(bone, frame)] = np.array([x, z, -y])
    return out


def assert_same_pose(fbx, expected: dict, metres_per_unit: float):
    for key, position in expected.items():
        assert np.linalg.norm(fbx.world_positions[key] * metres_per_unit - position) < 1e-4, key


@pytest.mark.parametrize("kind", ["unreal", "mixamo", "vrm", "cc_base"])
def test_unity_export_keeps_the_characters_bones_and_names_the_take_after_the_action(blank_scene, walk, tmp_path,
                                                                                      kind):
    obj = character(kind, walk)
    frames = (0, 12, FRAMES - 1)
    expected = blender_positions(obj, (HIPS[kind], HAND[kind]), frames)
    path = export_fbx(obj, tmp_path / "walk.fbx", preset="UNITY")
    fbx = read_fbx(path, list(expected))
    assert set(fbx.bones) == {bone.name for bone in obj.data.bones}   # no root added, no leaf bones
    assert fbx_takes(path) == ["walk_01"]
    assert fbx.frames == FRAMES
    assert fbx.unit_meters == pytest.approx(1.0)
    assert (fbx.up, fbx.front) == ("POSITIVE_Y", "POSITIVE_Z")
    assert_same_pose(fbx, expected, 1.0)
    assert obj.animation_data.action.name == "walk_01" and "idle" in bpy.data.actions


@pytest.mark.parametrize("kind", OWN_ROOT)
def test_unreal_export_keeps_the_rigs_own_root_with_the_root_motion(blank_scene, walk, tmp_path, kind):
    obj = character(kind, walk)
    frames = (0, 15, FRAMES - 1)
    root_bone = OWN_ROOT[kind]
    expected = blender_positions(obj, (root_bone, HIPS[kind], HAND[kind]), frames)
    path = export_fbx(obj, tmp_path / "walk.fbx", preset="UNREAL")
    fbx = read_fbx(path, list(expected))
    assert set(fbx.bones) == {bone.name for bone in obj.data.bones}   # exactly the rig's one root
    tops = [b for b in fbx.bones if fbx.depths[b] == min(fbx.depths[n] for n in fbx.bones)]
    assert tops == [root_bone]
    assert fbx_takes(path) == ["walk_01"] and fbx.frames == FRAMES
    assert fbx.unit_meters == pytest.approx(0.01)
    assert_same_pose(fbx, expected, 0.01)
    root = np.array([fbx.world_positions[(root_bone, f)] for f in frames]) * 0.01
    assert np.allclose(root[:, 1], 0.0, atol=1e-6)                     # on the floor
    assert np.linalg.norm(root[-1] - root[0]) > 0.3                    # the walk's travel is on it
    for name, scale in fbx.scales.items():                              # a cm file, scale 1 everywhere
        assert np.allclose(scale, 1.0, atol=1e-6), name


@pytest.mark.parametrize("kind", ["mixamo", "vrm"])
def test_unreal_export_adds_a_root_above_the_hips_of_a_rig_without_one(blank_scene, walk, tmp_path, kind):
    obj = character(kind, walk)
    frames = (0, 15, FRAMES - 1)
    hips_bone = HIPS[kind]
    expected = blender_positions(obj, (hips_bone, HAND[kind]), frames)
    before = sorted(bpy.data.objects.keys()), sorted(bpy.data.actions.keys()), len(obj.data.bones)
    path = export_fbx(obj, tmp_path / "walk.fbx", preset="UNREAL")
    fbx = read_fbx(path, [*expected, *((ROOT_BONE, f) for f in frames)])
    assert set(fbx.bones) == {bone.name for bone in obj.data.bones} | {ROOT_BONE}
    assert fbx.depths[hips_bone] == fbx.depths[ROOT_BONE] + 1
    assert fbx.depths[ROOT_BONE] == min(fbx.depths[b] for b in fbx.bones)
    assert_same_pose(fbx, expected, 0.01)
    for frame in frames:
        root = fbx.world_positions[(ROOT_BONE, frame)] * 0.01
        hips = expected[(hips_bone, frame)]
        assert root[1] == pytest.approx(0.0, abs=1e-6)
        assert np.allclose(root[[0, 2]], hips[[0, 2]], atol=1e-4)     # the hips' travel, on the floor
    # The user's character is as it was: no root bone, no extra object or action left behind.
    assert (sorted(bpy.data.objects.keys()), sorted(bpy.data.actions.keys()), len(obj.data.bones)) == before


def test_unreal_export_of_a_centimetre_rig_under_a_scaled_object(blank_scene, walk, tmp_path):
    """A character imported from a centimetre FBX: bones in cm, the object scaled by 0.01."""
    obj, _ = build_armature("unreal", name="Hero")
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone in obj.data.edit_bones:
        bone.head, bone.tail = bone.head * 100.0, bone.tail * 100.0
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.scale = (0.01, 0.01, 0.01)
    bake_onto_character(obj, walk, "walk_01")
    expected = blender_positions(obj, ("pelvis", "hand_l", "root"), (0, FRAMES - 1))
    fbx = read_fbx(export_fbx(obj, tmp_path / "walk.fbx", preset="UNREAL"), list(expected))
    assert_same_pose(fbx, expected, 0.01)
    for name, scale in fbx.scales.items():
        assert np.allclose(scale, 1.0, atol=1e-6), name


def test_only_deform_bones_go_out_where_the_rig_has_control_bones(blank_scene, walk, tmp_path):
    obj = character("mixamo", walk)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    control = obj.data.edit_bones.new("IK_foot.L")          # a control bone, as Rigify has hundreds
    control.head, control.tail = (0.1, 0.0, 0.0), (0.1, -0.2, 0.0)
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.data.bones["IK_foot.L"].use_deform = False
    for preset in ("UNITY", "UNREAL"):
        fbx = read_fbx(export_fbx(obj, tmp_path / f"{preset}.fbx", preset=preset))
        deforming = {bone.name for bone in obj.data.bones if bone.use_deform}
        assert set(fbx.bones) == deforming | ({ROOT_BONE} if preset == "UNREAL" else set()), preset


def test_the_characters_mesh_goes_out_with_it(blank_scene, walk, tmp_path):
    obj = character("mixamo", walk)
    mesh = bpy.data.meshes.new("Body")
    mesh.from_pydata([(0, 0, 0), (0.2, 0, 0), (0, 0, 1.6)], [], [(0, 1, 2)])
    body = bpy.data.objects.new("Body", mesh)
    bpy.context.scene.collection.objects.link(body)
    body.modifiers.new("Armature", "ARMATURE").object = obj        # skinned, not parented
    body.vertex_groups.new(name="mixamorig:Hips").add([0, 1, 2], 1.0, "REPLACE")
    for preset in ("UNITY", "UNREAL"):
        fbx = read_fbx(export_fbx(obj, tmp_path / f"{preset}.fbx", preset=preset))
        assert "Body" in fbx.depths, (preset, sorted(fbx.depths))   # under its own name, not a copy's
        assert body.name == "Body" and sorted(bpy.data.objects.keys()) == ["Body", "Hero"]


def test_bvh_export_of_a_character(blank_scene, walk, tmp_path):
    obj = character("unreal", walk)
    text = export_bvh(obj, tmp_path / "walk.bvh").read_text()
    names = [line.split()[1] for line in text.splitlines() if line.strip().startswith(("ROOT", "JOINT"))]
    assert sorted(names) == sorted(bone.name for bone in obj.data.bones)
    assert names[0] == "root"
    assert f"Frames: {FRAMES}" in text


def test_export_refuses_what_is_not_an_animated_armature(blank_scene, tmp_path):
    obj, _ = build_armature("mixamo", name="Hero")
    with pytest.raises(ExportError, match="armature 'Hero' has no action to export"):
        export_fbx(obj, tmp_path / "walk.fbx")
    with pytest.raises(ExportError, match="armature 'Hero' has no action to export"):
        export_bvh(obj, tmp_path / "walk.bvh")
    empty = bpy.data.objects.new("Empty", None)
    with pytest.raises(ExportError, match="'Empty' is not an armature"):
        export_fbx(empty, tmp_path / "walk.fbx", preset="UNREAL")
    assert list(tmp_path.iterdir()) == []


def test_a_rigify_rig_goes_out_as_its_deform_bones_in_a_hierarchy_of_their_own(blank_scene, walk, tmp_path):
    """Rigify's 160 DEF bones hang off ORG and MCH bones; Unity's Humanoid needs the legs under the
    hips: the export is a baked copy holding only the DEF bones, each under its DEF parent, moving as
    Blender evaluates the rig (constraints and all)."""
    from .rigs import build_rigify

    _, rig = build_rigify()
    bake_onto_character(rig, walk, "walk_01")
    mesh = bpy.data.meshes.new("Body")
    mesh.from_pydata([(0, 0, 0.9), (0.2, 0, 0.9), (0, 0, 1.6)], [], [(0, 1, 2)])
    body = bpy.data.objects.new("Body", mesh)
    bpy.context.scene.collection.objects.link(body)
    body.parent = rig
    body.modifiers.new("Armature", "ARMATURE").object = rig
    body.vertex_groups.new(name="DEF-spine").add([0, 1, 2], 1.0, "REPLACE")
    joints = ("DEF-spine", "DEF-thigh.L", "DEF-foot.R", "DEF-hand.L", "DEF-spine.006")
    expected = blender_positions(rig, joints, (0, FRAMES - 1))
    deforming = {bone.name for bone in rig.data.bones if bone.use_deform}
    before = sorted(bpy.data.objects.keys()), sorted(bpy.data.actions.keys()), sorted(bpy.data.armatures.keys())
    for preset, unit, added in (("UNITY", 1.0, set()), ("UNREAL", 0.01, {ROOT_BONE})):
        path = export_fbx(rig, tmp_path / f"{preset}.fbx", preset=preset)
        fbx = read_fbx(path, list(expected))
        assert set(fbx.bones) == deforming | added, preset
        depth = fbx.depths
        assert depth["DEF-thigh.L"] == depth["DEF-spine"] + 1                  # the legs under the hips
        assert depth["DEF-upper_arm.L"] == depth["DEF-shoulder.L"] + 1
        assert depth["DEF-spine"] == min(depth[b] for b in fbx.bones) + len(added)
        assert fbx_takes(path) == ["walk_01"] and fbx.frames == FRAMES
        assert "Body" in depth                                                  # the mesh went too
        assert_same_pose(fbx, expected, unit)
    assert body.name == "Body" and rig.name == "rig"
    after = sorted(bpy.data.objects.keys()), sorted(bpy.data.actions.keys()), sorted(bpy.data.armatures.keys())
    assert after == before and rig.animation_data.action.name == "walk_01"


def test_bvh_of_a_character_with_control_bones_holds_its_deforming_bones(blank_scene, walk, tmp_path):
    obj = character("mixamo", walk)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    control = obj.data.edit_bones.new("IK_foot.L")
    control.head, control.tail = (0.1, 0.0, 0.0), (0.1, -0.2, 0.0)
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.data.bones["IK_foot.L"].use_deform = False
    text = export_bvh(obj, tmp_path / "walk.bvh").read_text()
    names = [line.split()[1] for line in text.splitlines() if line.strip().startswith(("ROOT", "JOINT"))]
    assert sorted(names) == sorted(bone.name for bone in obj.data.bones if bone.use_deform)
    assert f"Frames: {FRAMES}" in text
    # The pose is the rig's, read back by the project's BVH reader (Blender's axes, Z up).
    motion = read_bvh(tmp_path / "walk.bvh")
    positions, _ = motion.global_transforms()
    for frame in (0, FRAMES - 1):
        bpy.context.scene.frame_set(frame + 1)
        for bone in ("mixamorig:LeftHand", "mixamorig:RightFoot"):
            got = positions[frame, motion.skeleton.index(bone)]
            assert np.linalg.norm(got - np.array(obj.pose.bones[bone].head)) < 1e-4, (bone, frame)


@pytest.mark.parametrize("kind", ["unreal", "mixamo"])
def test_a_character_take_baked_as_samples_exports_the_same_motion(blank_scene, walk, tmp_path, kind):
    """A long take is baked as sampled curves (bake.keys_for): the Unreal copy scales their locations too."""
    from sparse_mocap_addon.blender import compat
    from sparse_mocap_addon.blender.character import bake_rig_motion, retarget_onto_armature

    obj, _ = build_armature(kind, name="Hero")
    bake_rig_motion(obj, retarget_onto_armature(obj, walk), "walk_01", keys="samples")
    assert all(len(c.sampled_points) and not len(c.keyframe_points) for c in compat.action_fcurves(obj))
    expected = blender_positions(obj, (HIPS[kind], HAND[kind]), (0, 17, FRAMES - 1))
    fbx = read_fbx(export_fbx(obj, tmp_path / "walk.fbx", preset="UNREAL"), list(expected))
    assert fbx.frames == FRAMES
    assert_same_pose(fbx, expected, 0.01)


def test_a_floor_level_bone_beside_the_hips_is_no_root(blank_scene, walk, tmp_path):
    """A top-level IK target standing on the floor (not above the hips) does not carry the travel:
    the Unreal export still adds a root above the hips."""
    obj, _ = build_armature("mixamo", name="Hero")
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    target = obj.data.edit_bones.new("ik_foot_root")
    target.head, target.tail = (0.0, 0.0, 0.0), (0.0, 0.2, 0.0)
    child = obj.data.edit_bones.new("ik_foot_l")
    child.head, child.tail, child.parent = (0.1, 0.0, 0.05), (0.1, 0.1, 0.05), target
    bpy.ops.object.mode_set(mode="OBJECT")
    bake_onto_character(obj, walk, "walk_01")
    frames = (0, FRAMES - 1)
    expected = blender_positions(obj, ("mixamorig:Hips",), frames)
    fbx = read_fbx(export_fbx(obj, tmp_path / "walk.fbx", preset="UNREAL"), [(ROOT_BONE, f) for f in frames])
    assert ROOT_BONE in fbx.bones and fbx.depths["ik_foot_root"] == fbx.depths[ROOT_BONE] + 1
    for frame in frames:
        root = fbx.world_positions[(ROOT_BONE, frame)] * 0.01
        assert np.allclose(root[[0, 2]], expected[("mixamorig:Hips", frame)][[0, 2]], atol=1e-4)
