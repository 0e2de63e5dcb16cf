"""Retarget to Character, Bake Motion Files onto Character and the bone map's overrides and presets,
on the real bpy module, onto test rigs with Mixamo and Unreal Engine names (tests/rigs.py).

The scene (rigs, an SMPL armature with a baked walk) is built once per module and saved; each test
opens its own copy of that file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat  # noqa: E402
from sparse_mocap_addon.blender.armature import create_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.blender.character_map import character_rig  # noqa: E402
from sparse_mocap_addon.panels.character import map_status  # noqa: E402
from tests.blender_helpers import counts, select_only  # noqa: E402
from tests.rigs import build_armature  # noqa: E402

WALK_FRAMES = 60          # 2 s at 30 fps
FEET = {"mixamo": ("mixamorig:LeftFoot", "mixamorig:LeftToeBase", "mixamorig:RightFoot", "mixamorig:RightToeBase"),
        "unreal": ("foot_l", "ball_l", "foot_r", "ball_r")}
HIPS = {"mixamo": "mixamorig:Hips", "unreal": "pelvis"}


def _performer():
    return skeleton_from_measurements(BodyMeasurements(height=1.62, sex="female"))


@pytest.fixture(scope="module")
def scene_file(registered_addon, tmp_path_factory):
    """The module's scene, saved: the Mixamo and UE rigs, the Mixamo one with an 'idle' action of its
    own; a Mixamo rig whose left thigh has another name; a UE rig without a left leg; an SMPL
    armature of another body with a 2 s demo walk as its action 'walk'."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mixamo, _ = build_armature("mixamo")
    build_armature("unreal")
    build_armature("unreal", omit=("left_hip",), name="one_leg")
    renamed, _ = build_armature("mixamo", name="renamed")
    renamed.data.bones["mixamorig:LeftUpLeg"].name = "mixamorig:LeftThigh"
    idle = bpy.data.actions.new("idle")
    compat.new_fcurve(compat.assign_new_action(mixamo, idle), "location", 0, "Object").keyframe_points.insert(1, 0.0)
    skeleton = _performer()
    smpl = create_armature(skeleton, name="SMPL", with_mesh=False)
    bake_motion(smpl, demo_motion(skeleton, seconds=2.0, fps=30.0), action_name="walk")
    path = tmp_path_factory.mktemp("character") / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


@pytest.fixture
def scene(scene_file):
    """A fresh copy of the module's scene, the SMPL armature active."""
    bpy.ops.wm.open_mainfile(filepath=str(scene_file))
    smpl = bpy.data.objects["SMPL"]
    select_only(smpl, active=smpl)
    return bpy.context.scene


def pick(scene, name):
    scene.sparse_mocap_character = bpy.data.objects[name]
    return scene.sparse_mocap_character


def action_curves(action) -> list:
    """The F-curves of an action whether assigned or not (its one slot from 4.4 on)."""
    if compat.has_slotted_actions():
        from bpy_extras import anim_utils

        return list(anim_utils.action_get_channelbag_for_slot(action, action.slots[0]).fcurves)
    return list(action.fcurves)


def keyed_bones(obj, action=None) -> dict:
    """Bone name -> number of keys on its rotation_quaternion W curve, in ``action`` (default: the
    character's active one)."""
    curves = action_curves(action) if action is not None else compat.action_fcurves(obj)
    return {c.data_path.split('"')[1]: len(c.keyframe_points) for c in curves
            if c.data_path.endswith(".rotation_quaternion") and c.array_index == 0}


def bone_points_z(obj, bones, frames) -> np.ndarray:
    """World heights (frames, bones, 2) of the posed heads and tails of ``bones`` (Blender's evaluation)."""
    heights = []
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        world = obj.matrix_world
        heights.append([[(world @ obj.pose.bones[b].head).z, (world @ obj.pose.bones[b].tail).z] for b in bones])
    return np.array(heights)


def hips_position(obj, frame) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    return np.array(obj.matrix_world @ obj.pose.bones[HIPS[obj.name]].head)


def test_operators_are_undoable_and_the_panels_sit_in_the_sidebar(registered_addon):
    for name in ("retarget_to_character", "bake_motion_onto_character", "pick_segment_bone", "clear_segment_bone",
                 "load_bone_map"):
        assert "UNDO" in getattr(bpy.types, f"SPARSE_MOCAP_OT_{name}").bl_options, name
    for panel in ("SPARSE_MOCAP_PT_character", "SPARSE_MOCAP_PT_character_bones"):
        cls = getattr(bpy.types, panel)
        assert (cls.bl_space_type, cls.bl_region_type, cls.bl_category) == ("VIEW_3D", "UI", "Sparse Mocap")
    props = bpy.ops.sparse_mocap.retarget_to_character.get_rna_type().properties
    assert props["root_motion"].enum_items.keys() == ["AUTO", "HIPS", "ROOT"]
    assert {"AUTO", "MIXAMO", "UNREAL", "RIGIFY_DEFORM", "JSON"} <= set(props["bone_map"].enum_items.keys())
    assert props["feet_on_floor"].default is True and props["push_to_nla"].default is False


def test_an_smpl_armature_or_a_mesh_is_no_character(scene):
    scene.sparse_mocap_character = bpy.data.objects["SMPL"]    # the picker offers no such; a script can
    with pytest.raises(RuntimeError, match="'SMPL' is no character armature"):
        bpy.ops.sparse_mocap.retarget_to_character()
    with pytest.raises(RuntimeError, match="'nothing' is no character armature"):
        bpy.ops.sparse_mocap.retarget_to_character(character="nothing")


@pytest.mark.parametrize("kind", ["mixamo", "unreal"])
def test_retarget_keys_a_new_action_on_the_character_with_its_feet_on_the_floor(scene, kind):
    obj = pick(scene, kind)
    before = obj.animation_data.action if obj.animation_data else None
    assert bpy.ops.sparse_mocap.retarget_to_character() == {"FINISHED"}

    action = obj.animation_data.action
    assert action.name == f"{kind}_walk" and action != before
    rig = character_rig(obj)[1]
    # Every mapped bone but the fingers SMPL's hand joints map to (they keep their rest pose).
    mapped = {name for segment in rig.chains if not segment.endswith("_hand") for name in rig.chain_names(segment)}
    keys = keyed_bones(obj)
    assert set(keys) == mapped and set(keys.values()) == {WALK_FRAMES}
    if before is not None:                      # the character's own action is kept
        assert bpy.data.actions["idle"] == before and before.use_fake_user
    if kind == "unreal":                        # Auto root motion: the floor-level root carries it
        assert any(c.data_path == 'pose.bones["root"].location' for c in compat.action_fcurves(obj))

    # The walk goes forward (Blender -Y) and the feet, as Blender poses them, stay out of the floor
    # and touch it.
    assert hips_position(obj, WALK_FRAMES)[1] - hips_position(obj, 1)[1] < -1.0
    heights = bone_points_z(obj, FEET[kind], range(1, WALK_FRAMES + 1, 4))
    assert heights.min() > -0.01
    assert np.all(heights.min(axis=(1, 2)) < 0.06)


def test_retarget_raw_and_on_the_hips_as_asked(scene):
    """Feet on Floor off: the performer's shorter legs' walk sinks the taller rig's feet into the
    floor (what the feet stage prevents above); Root Motion: Hips leaves the root bone alone."""
    obj = pick(scene, "unreal")
    assert bpy.ops.sparse_mocap.retarget_to_character(root_motion="HIPS", feet_on_floor=False,
                                                      action_name="raw") == {"FINISHED"}
    assert obj.animation_data.action.name == "raw"
    assert not any(c.data_path.startswith('pose.bones["root"]') for c in compat.action_fcurves(obj))
    assert any(c.data_path == 'pose.bones["pelvis"].location' for c in compat.action_fcurves(obj))
    assert bone_points_z(obj, FEET["unreal"], range(1, WALK_FRAMES + 1, 4)).min() < -0.03


def _curve_values(obj, bone, path="rotation_quaternion") -> np.ndarray:
    """(keys, 4) values of ``bone``'s ``path`` keys in the character's active action."""
    curves = sorted((c for c in compat.action_fcurves(obj) if c.data_path == f'pose.bones["{bone}"].{path}'),
                    key=lambda c: c.array_index)
    return np.stack([[k.co[1] for k in c.keyframe_points] for c in curves], axis=1)


def test_root_motion_and_hands_come_from_the_character_unless_the_operator_says(scene):
    """The Character panel's Root Motion and Hands are the character's own: Retarget to Character
    uses them when not told (and shows them in its redo panel); told, the operator's win."""
    obj = pick(scene, "unreal")
    settings = obj.sparse_mocap_bone_map
    assert (settings.root_motion, settings.hands) == ("AUTO", False)
    assert bpy.ops.sparse_mocap.retarget_to_character(action_name="plain") == {"FINISHED"}
    assert any(c.data_path.startswith('pose.bones["root"]') for c in compat.action_fcurves(obj))
    plain_arm = _curve_values(obj, "upperarm_l")

    settings.root_motion, settings.hands = "HIPS", True
    assert bpy.ops.sparse_mocap.retarget_to_character(action_name="own") == {"FINISHED"}
    assert not any(c.data_path.startswith('pose.bones["root"]') for c in compat.action_fcurves(obj))
    assert not np.allclose(_curve_values(obj, "upperarm_l"), plain_arm, atol=1e-3)     # the arms re-solved
    # Not remembered from one run to the next (Blender would count a remembered value as set).
    props = bpy.ops.sparse_mocap.retarget_to_character.get_rna_type().properties
    assert props["root_motion"].is_skip_save and props["hands"].is_skip_save

    assert bpy.ops.sparse_mocap.retarget_to_character(root_motion="AUTO", hands=False,
                                                      action_name="told") == {"FINISHED"}
    assert any(c.data_path.startswith('pose.bones["root"]') for c in compat.action_fcurves(obj))
    assert np.allclose(_curve_values(obj, "upperarm_l"), plain_arm, atol=1e-6)


def test_push_to_nla_makes_a_track_and_gives_back_the_active_action(scene):
    mixamo, unreal = pick(scene, "mixamo"), bpy.data.objects["unreal"]
    idle = mixamo.animation_data.action
    assert bpy.ops.sparse_mocap.retarget_to_character(push_to_nla=True) == {"FINISHED"}
    assert mixamo.animation_data.action == idle
    tracks = mixamo.animation_data.nla_tracks
    assert [t.name for t in tracks] == ["mixamo_walk"]
    strip = tracks[0].strips[0]
    assert strip.action == bpy.data.actions["mixamo_walk"] and strip.frame_start == 1
    if hasattr(strip, "action_slot"):
        assert strip.action_slot is not None

    pick(scene, "unreal")       # no action before: none after
    assert bpy.ops.sparse_mocap.retarget_to_character(push_to_nla=True) == {"FINISHED"}
    assert unreal.animation_data.action is None
    assert [t.name for t in unreal.animation_data.nla_tracks] == ["unreal_walk"]


def test_batch_bakes_each_file_and_goes_on_past_a_bad_one(scene, tmp_path, capsys):
    obj = pick(scene, "mixamo")
    walk = demo_motion(_performer(), seconds=1.0, fps=30.0)
    walk.save(tmp_path / "walk_a.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip archive")
    demo_motion(_performer(), seconds=1.5, fps=30.0).save(tmp_path / "walk_b.npz")
    files = [{"name": n} for n in ("walk_a.npz", "broken.npz", "walk_b.npz")]
    assert bpy.ops.sparse_mocap.bake_motion_onto_character(directory=str(tmp_path), files=files,
                                                           push_to_nla=True) == {"FINISHED"}
    assert [t.name for t in obj.animation_data.nla_tracks] == ["mixamo_walk_a", "mixamo_walk_b"]
    assert obj.animation_data.action == bpy.data.actions["idle"]
    assert keyed_bones(obj, bpy.data.actions["mixamo_walk_a"])["mixamorig:Hips"] == 30
    assert keyed_bones(obj, bpy.data.actions["mixamo_walk_b"])["mixamorig:Hips"] == 45
    assert "mixamo_broken" not in bpy.data.actions
    assert scene.frame_end >= 45
    out = capsys.readouterr()
    text = out.out + out.err
    assert "broken.npz" in text and "1 of 3 files failed" in text


def test_a_batch_of_bad_files_changes_nothing(scene, tmp_path):
    obj = pick(scene, "unreal")
    (tmp_path / "broken.npz").write_bytes(b"junk")
    before = counts()
    with pytest.raises(RuntimeError, match="broken.npz"):
        bpy.ops.sparse_mocap.bake_motion_onto_character(filepath=str(tmp_path / "broken.npz"))
    assert counts() == before and obj.animation_data is None


def test_a_rig_missing_a_leg_is_refused_with_the_sentence_and_nothing_changed(scene):
    obj = pick(scene, "one_leg")
    status, error = map_status(obj)
    assert status is None and "lacks left_hip" in error
    before = counts()
    with pytest.raises(RuntimeError, match=r"armature 'one_leg': no built-in bone map fits .*lacks left_hip") as err:
        bpy.ops.sparse_mocap.retarget_to_character()
    assert "Traceback" not in str(err.value) and "\n" not in str(err.value).strip()
    assert counts() == before and obj.animation_data is None
    # A map named by hand that does not fit is refused the same way.
    with pytest.raises(RuntimeError, match="bone map 'Mixamo' lacks"):
        bpy.ops.sparse_mocap.retarget_to_character(bone_map="MIXAMO")
    assert counts() == before


def test_the_missing_inputs_are_named(scene):
    with pytest.raises(RuntimeError, match="No character picked"):
        bpy.ops.sparse_mocap.retarget_to_character()
    pick(scene, "mixamo")
    smpl = bpy.data.objects["SMPL"]
    smpl.animation_data.action = None
    with pytest.raises(RuntimeError, match="armature 'SMPL' has no action"):
        bpy.ops.sparse_mocap.retarget_to_character()
    with pytest.raises(RuntimeError, match="'mixamo' is no SMPL armature"):
        bpy.ops.sparse_mocap.retarget_to_character(armature="mixamo")
    bpy.data.objects["mixamo"].sparse_mocap_bone_map.map = "JSON"
    with pytest.raises(RuntimeError, match="Bone Map is 'JSON File' but no bone map file is chosen"):
        bpy.ops.sparse_mocap.bake_motion_onto_character(filepath="/nonexistent/take.npz")


def test_a_bone_picked_by_hand_completes_the_map_and_is_used(scene):
    obj = pick(scene, "renamed")
    assert "lacks left_hip" in map_status(obj)[1]
    with pytest.raises(RuntimeError, match="lacks left_hip"):
        bpy.ops.sparse_mocap.retarget_to_character()

    # A bone the rig lacks is refused in one sentence.
    assert bpy.ops.sparse_mocap.pick_segment_bone(segment="left_hip", bone="mixamorig:NoSuchBone") == {"FINISHED"}
    with pytest.raises(RuntimeError, match="has no bone 'mixamorig:NoSuchBone' \\(left_hip\\)"):
        bpy.ops.sparse_mocap.retarget_to_character()

    assert bpy.ops.sparse_mocap.pick_segment_bone(segment="left_hip", bone="mixamorig:LeftThigh") == {"FINISHED"}
    assert [(o.segment, o.bone) for o in obj.sparse_mocap_bone_map.overrides] == [("left_hip", "mixamorig:LeftThigh")]
    rig, error = map_status(obj)
    assert error is None and rig.map_name == "Mixamo, 1 picked by hand"
    assert rig.chain_names("left_hip") == ("mixamorig:LeftThigh",)
    assert bpy.ops.sparse_mocap.retarget_to_character() == {"FINISHED"}
    assert keyed_bones(obj)["mixamorig:LeftThigh"] == WALK_FRAMES

    # Picking with no bone starts from the map's own; clearing gives the segment back to the map.
    assert bpy.ops.sparse_mocap.pick_segment_bone(segment="spine") == {"FINISHED"}
    spine = next(o for o in obj.sparse_mocap_bone_map.overrides if o.segment == "spine")
    assert spine.bone == "mixamorig:Spine, mixamorig:Spine1, mixamorig:Spine2"
    assert character_rig(obj)[1].chain_names("spine") == ("mixamorig:Spine", "mixamorig:Spine1", "mixamorig:Spine2")
    assert bpy.ops.sparse_mocap.clear_segment_bone(segment="spine") == {"FINISHED"}
    assert [o.segment for o in obj.sparse_mocap_bone_map.overrides] == ["left_hip"]


def test_a_saved_bone_map_loads_back_to_the_same_map(scene, tmp_path):
    obj = pick(scene, "renamed")
    bpy.ops.sparse_mocap.pick_segment_bone(segment="left_hip", bone="mixamorig:LeftThigh")
    chains = character_rig(obj)[1].chains
    path = tmp_path / "my_rig.json"
    assert bpy.ops.sparse_mocap.save_bone_map(filepath=str(path)) == {"FINISHED"}
    saved = json.loads(path.read_text())
    assert saved["name"] == "my_rig" and saved["bones"]["left_hip"] == ["mixamorig:LeftThigh"]
    assert saved["bones"]["spine"] == ["mixamorig:Spine", "mixamorig:Spine1", "mixamorig:Spine2"]

    assert bpy.ops.sparse_mocap.load_bone_map(filepath=str(path)) == {"FINISHED"}
    settings = obj.sparse_mocap_bone_map
    assert (settings.map, settings.path, len(settings.overrides)) == ("JSON", str(path), 0)
    rig = character_rig(obj)[1]
    assert rig.map_name == "my_rig" and rig.chains == chains
    assert bpy.ops.sparse_mocap.retarget_to_character() == {"FINISHED"}
    assert keyed_bones(obj)["mixamorig:LeftThigh"] == WALK_FRAMES

    # The preset fits only its rig; a malformed file is refused; either way the map stays as it was.
    pick(scene, "unreal")
    with pytest.raises(RuntimeError, match="my_rig.json: armature 'unreal': bone map 'my_rig' names bones"):
        bpy.ops.sparse_mocap.load_bone_map(filepath=str(path))
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "bones": {"pelvis": 3}}')
    with pytest.raises(RuntimeError, match="bad.json: expected"):
        bpy.ops.sparse_mocap.load_bone_map(filepath=str(bad))
    assert bpy.data.objects["unreal"].sparse_mocap_bone_map.map == "AUTO"


@pytest.fixture(scope="module")
def rigify_file(registered_addon, tmp_path_factory):
    """A scene with a generated Rigify rig and the SMPL armature's walk (a file of its own: the rig's
    700 bones would slow down opening the other tests' scene)."""
    from tests.rigs import build_rigify

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_rigify()
    skeleton = _performer()
    smpl = create_armature(skeleton, name="SMPL", with_mesh=False)
    bake_motion(smpl, demo_motion(skeleton, seconds=2.0, fps=30.0), action_name="walk")
    path = tmp_path_factory.mktemp("rigify") / "rigify.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def test_a_generated_rigify_rig_is_animated_through_its_controls(registered_addon, rigify_file):
    bpy.ops.wm.open_mainfile(filepath=str(rigify_file))
    scene, smpl = bpy.context.scene, bpy.data.objects["SMPL"]
    select_only(smpl, active=smpl)
    obj = pick(scene, "rig")
    assert map_status(obj)[0].map_name == "Rigify generated rig (ORG- bones)"
    assert bpy.ops.sparse_mocap.retarget_to_character() == {"FINISHED"}
    keys = keyed_bones(obj)
    assert {"thigh_fk.L", "shin_fk.R", "upper_arm_fk.L", "chest", "hips"} <= set(keys)
    assert not any(name.startswith(("DEF-", "ORG-")) for name in keys)
    assert any(c.data_path == 'pose.bones["torso"].location' for c in compat.action_fcurves(obj))
    # Blender's evaluation of the constraints: the deform bones walk forward with their feet on the floor.
    scene.frame_set(1)
    start = np.array(obj.pose.bones["DEF-spine"].head)
    scene.frame_set(WALK_FRAMES)
    assert np.array(obj.pose.bones["DEF-spine"].head)[1] - start[1] < -1.0
    heights = bone_points_z(obj, ("DEF-foot.L", "DEF-toe.L", "DEF-foot.R", "DEF-toe.R"), range(1, WALK_FRAMES + 1, 4))
    assert heights.min() > -0.01 and np.all(heights.min(axis=(1, 2)) < 0.06)
