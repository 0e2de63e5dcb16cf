"""Target rig descriptions: bone maps detected from names, chains and twist bones, user JSON maps, and
the rest pose read from real armatures (test rigs built in code, Rigify generated from the metarig)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_matrix, quat_to_matrix, rotation_between_vectors
from sparse_mocap_addon.core.mocap.joint_maps import JointMapError
from sparse_mocap_addon.core.mocap.target_rig import (
    BUILTIN_RIG_MAPS, SEGMENTS, RigMapError, describe_target_rig, detect_rig_map, load_rig_map, save_rig_map,
)
from tests.rigs import RIGS, build_armature, build_rigify, rig_bones

REQUIRED = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "spine",
            "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")
EXPECTED_MAP = {"mixamo": "mixamo", "unreal": "unreal", "vrm": "vrm", "cc_base": "cc_base"}


def describe(bones, rig_map=None):
    """A TargetRig from ``rig_bones`` data (identity rest orientations: names and layout only)."""
    names = [b[0] for b in bones]
    parents = [names.index(b[1]) if b[1] else -1 for b in bones]
    heads = np.array([b[2] for b in bones])
    tails = np.array([b[3] for b in bones])
    return describe_target_rig(names, parents, heads, tails, np.broadcast_to(np.eye(3), (len(bones), 3, 3)),
                               rig_map, source="test rig")


# -- names and maps (no Blender) ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(RIGS))
def test_each_test_rig_is_detected_with_its_map_and_every_required_joint(kind):
    rig = describe(rig_bones(kind))
    assert rig.map_name == BUILTIN_RIG_MAPS[EXPECTED_MAP[kind]].name
    assert set(REQUIRED) <= set(rig.chains)
    assert "neck" in rig.chains and "head" in rig.chains
    assert set(rig.chains) <= set(SEGMENTS)


def test_mixamo_is_found_under_any_namespace_or_none():
    for prefix in ("mixamorig:", "mixamorig7:", "Armature|mixamorig:", ""):
        bare = lambda name: name and prefix + name.split(":")[-1]  # noqa: E731
        bones = [(bare(n), bare(p), h, t) for n, p, h, t in rig_bones("mixamo")]
        rig = describe(bones)
        assert rig.map_name == "Mixamo"
        assert rig.chain_names("spine2") == tuple(prefix + n for n in ("Spine", "Spine1", "Spine2"))


def test_a_rig_missing_a_leg_is_refused_naming_the_missing_joints_and_the_close_bones():
    bones = rig_bones("mixamo", omit=("left_hip",))
    with pytest.raises(RigMapError) as error:
        describe(bones)
    message = str(error.value)
    assert "closest is 'Mixamo'" in message
    for joint in ("left_hip", "left_knee", "left_ankle"):
        assert joint in message
    assert "right_hip" not in message and "\n" not in message
    # A misspelt bone is offered as the close match.
    renamed = [("mixamorig:LeftUpperLeg" if n == "mixamorig:RightUpLeg" else n,
                "mixamorig:LeftUpperLeg" if p == "mixamorig:RightUpLeg" else p, h, t) for n, p, h, t in bones]
    with pytest.raises(RigMapError, match="right_hip.*look close: mixamorig:LeftUpperLeg"):
        describe(renamed)


def test_names_that_fit_two_rigs_equally_are_refused_not_guessed():
    both = rig_bones("mixamo") + rig_bones("unreal")
    with pytest.raises(RigMapError, match="several rigs equally well.*Mixamo.*Unreal"):
        detect_rig_map([b[0] for b in both])
    assert describe(both, "unreal").map_name == BUILTIN_RIG_MAPS["unreal"].name


def test_chains_run_root_to_tip_whatever_the_bone_order():
    rig = describe(list(reversed(rig_bones("unreal"))))
    assert rig.chain_names("spine") == tuple(f"spine_0{i}" for i in range(1, 6))
    assert rig.chain_names("spine1") == rig.chain_names("spine3") == rig.chain_names("spine")
    assert rig.chain_names("neck") == ("neck_01", "neck_02")
    assert rig.chain_names("left_shoulder") == ("upperarm_l",)


def test_twist_bones_are_flagged_under_their_segment_and_chain_bones_are_not():
    unreal = describe(rig_bones("unreal"))
    assert unreal.twist_names("left_shoulder") == ("upperarm_twist_01_l", "upperarm_twist_02_l")
    assert unreal.twist_names("right_elbow") == ("lowerarm_twist_01_r", "lowerarm_twist_02_r")
    assert unreal.twist_names("left_hip") == ("thigh_twist_01_l", "thigh_twist_02_l")
    assert unreal.twist_names("right_knee") == ("calf_twist_01_r",)
    assert unreal.is_twist("calf_twist_01_l") and not unreal.is_twist("calf_l")
    cc = describe(rig_bones("cc_base"))
    assert cc.chain_names("neck") == ("CC_Base_NeckTwist01", "CC_Base_NeckTwist02")
    assert not cc.is_twist("CC_Base_NeckTwist01")
    assert cc.twist_names("left_elbow") == ("CC_Base_L_ForearmTwist01",)
    assert describe(rig_bones("mixamo")).twist == {}


def _custom_rig():
    """The UE test rig under made-up names (a hand-made rig no built-in map knows)."""
    return [("my_" + n, p and "my_" + p, h, t) for n, p, h, t in rig_bones("unreal")]


def _custom_map() -> dict:
    left = {"left_hip": "thigh_l", "left_knee": "calf_l", "left_ankle": "foot_l", "left_collar": "clavicle_l",
            "left_shoulder": "upperarm_l", "left_elbow": "lowerarm_l", "left_wrist": "hand_l"}
    bones = {"pelvis": "my_pelvis", "spine": ["my_spine_05", "my_spine_03", "my_spine_01"],   # any order
             "neck": ["my_neck_01", "my_neck_02"], "head": "my_head"}
    for joint, name in left.items():
        bones[joint] = "my_" + name
        bones[joint.replace("left_", "right_")] = "my_" + name[:-1] + "r"
    return {"name": "hand-made", "bones": bones, "twist": {"left_shoulder": ["my_upperarm_twist_01_l"]}}


def test_a_user_json_map_works_and_round_trips(tmp_path):
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(_custom_map()))
    with pytest.raises(RigMapError, match="no built-in bone map fits"):
        describe(_custom_rig())
    rig_map = load_rig_map(path)
    rig = describe(_custom_rig(), rig_map)
    assert rig.map_name == "hand-made"
    assert rig.chain_names("spine") == ("my_spine_01", "my_spine_03", "my_spine_05")
    assert "left_foot" not in rig.chains and "left_hand" not in rig.chains   # toes and fingers optional
    assert rig.twist_names("left_shoulder") == ("my_upperarm_twist_01_l", "my_upperarm_twist_02_l")
    again = load_rig_map(save_rig_map(rig_map, tmp_path / "again.json"))
    assert describe(_custom_rig(), again).chains == rig.chains


@pytest.mark.parametrize("change, expected", [
    (lambda m: m["bones"].update(left_elbo="my_lowerarm_l"), "unknown joint name(s) left_elbo"),
    (lambda m: m["bones"].update(head=["my_head", 3]), 'expected "bones"'),
    (lambda m: m.pop("bones"), 'expected {"name"'),
    (lambda m: m["bones"].update(head="my_skull"), "names bones the armature lacks: my_skull"),
    (lambda m: m["bones"].pop("left_wrist"), "bone map 'hand-made' lacks left_wrist"),
])
def test_a_bad_user_map_is_refused_in_one_sentence(tmp_path, change, expected):
    data = _custom_map()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(JointMapError) as error:
        describe(_custom_rig(), load_rig_map(path))
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_unreadable_map_files_and_unknown_map_keys_are_refused(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(RigMapError, match="broken.json: not a readable JSON bone map"):
        load_rig_map(tmp_path / "broken.json")
    with pytest.raises(RigMapError, match="no such bone map file"):
        load_rig_map(tmp_path / "absent.json")
    with pytest.raises(RigMapError, match="unknown bone map 'rigfy'; the built-in ones are rigify_deform"):
        describe(rig_bones("mixamo"), "rigfy")


# -- real armatures (bpy) ----------------------------------------------------------------------------

def _blender_roll_frame(direction_b: np.ndarray, roll: float) -> np.ndarray:
    """Blender's bone frame (``vec_roll_to_mat3``): the shortest turn of +Y onto the bone, then the roll."""
    aim = quat_to_matrix(rotation_between_vectors(np.array([0.0, 1.0, 0.0]), direction_b))
    return aim @ axis_angle_to_matrix(np.array([0.0, roll, 0.0]))


@pytest.mark.parametrize("kind", sorted(RIGS))
def test_the_description_read_from_blender_matches_the_rig_built(blank_scene, kind):
    pytest.importorskip("bpy")
    from sparse_mocap_addon.blender.coords import CORE_TO_BLENDER
    from sparse_mocap_addon.blender.target_rig import target_rig_from_armature

    obj, built = build_armature(kind)
    rig = target_rig_from_armature(obj)
    assert rig.map_name == BUILTIN_RIG_MAPS[EXPECTED_MAP[kind]].name
    assert rig.source == f"armature '{obj.name}'"
    assert sorted(rig.bone_names) == sorted(built)
    for name, (head, tail) in built.items():
        i = rig.bone_index(name)
        np.testing.assert_allclose(rig.heads[i], head, atol=1e-6)
        np.testing.assert_allclose(rig.tails[i], tail, atol=1e-6)
        parent = dict((b[0], b[1]) for b in rig_bones(kind))[name]
        assert (rig.bone_names[rig.parents[i]] if rig.parents[i] >= 0 else None) == parent
        rotation = rig.rest_rotations[i]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
        direction = (tail - head) / np.linalg.norm(tail - head)
        np.testing.assert_allclose(rotation[:, 1], direction, atol=1e-5)
        direction_b = CORE_TO_BLENDER @ direction
        if direction_b[1] > -0.9:   # Blender frames bones along -Y its own way
            roll = 0.0 if rig.parents[i] < 0 and kind in ("unreal", "cc_base") else np.radians(RIGS[kind]["roll_deg"])
            np.testing.assert_allclose(CORE_TO_BLENDER @ rotation, _blender_roll_frame(direction_b, roll), atol=1e-5)


def test_a_vertical_bone_without_roll_is_the_identity_in_core_axes(blank_scene):
    pytest.importorskip("bpy")
    from sparse_mocap_addon.blender.target_rig import target_rig_from_armature

    obj, _ = build_armature("unreal")
    rig = target_rig_from_armature(obj)
    np.testing.assert_allclose(rig.rest_rotations[rig.bone_index("root")], np.eye(3), atol=1e-6)


def test_a_non_armature_is_refused(blank_scene):
    bpy = pytest.importorskip("bpy")
    from sparse_mocap_addon.blender.target_rig import target_rig_from_armature

    empty = bpy.data.objects.new("Empty", None)
    with pytest.raises(ValueError, match="'Empty' is not an armature"):
        target_rig_from_armature(empty)


@pytest.fixture(scope="session")
def rigify_rigs():
    """Target rigs of Blender's human metarig and of the Rigify rig generated from it (built once)."""
    bpy = pytest.importorskip("bpy")
    from sparse_mocap_addon.blender.target_rig import target_rig_from_armature

    bpy.ops.wm.read_factory_settings(use_empty=True)
    metarig, rig = build_rigify()
    described = {"metarig": target_rig_from_armature(metarig), "deform": target_rig_from_armature(rig),
                 "org": target_rig_from_armature(rig, "rigify_org"), "bone_names": [b.name for b in rig.data.bones]}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return described


def test_the_metarig_and_the_generated_rigify_rig_are_detected(rigify_rigs):
    assert rigify_rigs["metarig"].map_name == BUILTIN_RIG_MAPS["metarig"].name
    assert rigify_rigs["deform"].map_name == BUILTIN_RIG_MAPS["rigify_deform"].name
    assert rigify_rigs["org"].map_name == BUILTIN_RIG_MAPS["rigify_org"].name
    for rig in (rigify_rigs["metarig"], rigify_rigs["deform"], rigify_rigs["org"]):
        assert set(REQUIRED) <= set(rig.chains)
    deform = rigify_rigs["deform"]
    assert deform.chain_names("spine") == ("DEF-spine.001", "DEF-spine.002", "DEF-spine.003")
    assert deform.chain_names("neck") == ("DEF-spine.004", "DEF-spine.005")
    assert deform.twist_names("left_shoulder") == ("DEF-upper_arm.L.001",)
    assert deform.twist_names("right_knee") == ("DEF-shin.R.001",)
    assert rigify_rigs["org"].twist == {}


def test_rigify_deform_and_org_bones_sit_where_the_metarig_put_them(rigify_rigs):
    metarig = rigify_rigs["metarig"]
    for layer in ("deform", "org"):
        rig = rigify_rigs[layer]
        assert set(rig.chains) == set(metarig.chains)
        for segment in metarig.chains:
            for ours, theirs in zip(rig.chain_names(segment), metarig.chain_names(segment), strict=True):
                np.testing.assert_allclose(rig.heads[rig.bone_index(ours)],
                                           metarig.heads[metarig.bone_index(theirs)], atol=1e-5)
    # Core axes: the metarig stands on the floor, Y up, facing +Z (its toes ahead of its heels).
    toe, foot = metarig.bone_index("toe.L"), metarig.bone_index("foot.L")
    assert metarig.heads[toe, 2] > metarig.heads[foot, 2] and metarig.heads[metarig.bone_index("spine.006"), 1] > 1.5
