"""SMPL-24 motion onto character rigs (core, no Blender): bone directions, rest poses, facing, chains,
root motion and feet (issue 18 item 2). The rigs are the test rigs of ``tests/rigs.py``, every bone
rolled at random, so no result may depend on a rig's roll convention."""

import numpy as np
import pytest

from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.feet.stage import FeetOptions, pelvis_height
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat, matrix_to_quat
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, PARENTS, forward_kinematics
from sparse_mocap_addon.core.mocap.onto_rig import retarget_to_rig, rig_body, rig_forward_kinematics
from sparse_mocap_addon.core.mocap.target_rig import describe_target_rig
from tests.rigs import RIGS, rig_arrays, rig_bones

KINDS = tuple(RIGS)
RAW = FeetOptions(enabled=False)


def _rig(kind, seed=0, bones=None, height=1.75):
    return describe_target_rig(*rig_arrays(bones or rig_bones(kind, height=height), seed), source=kind)


def _varied_motion(frames=40, seed=1) -> Motion:
    """Every joint turned at random (up to about 60 degrees) and the body moving and turning."""
    rng = np.random.default_rng(seed)
    skeleton = skeleton_from_measurements(default_measurements(height=1.68))
    rotations = axis_angle_to_quat(rng.normal(0.0, 0.6, (frames, 24, 3)))
    translation = skeleton.offsets[0] + np.cumsum(rng.normal(0.0, 0.01, (frames, 3)), axis=0)
    return Motion(60.0, rotations, translation, skeleton, {"source": "varied"})


def _angle_deg(a, b):
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _segment_of(rig, bone_name):
    index = rig.bone_index(bone_name)
    return next(segment for segment, bones in rig.chains.items() if index in bones)


def _joint_directions(motion: Motion) -> tuple:
    """SMPL world bone directions (T, 24, 3): joint to its child (leaves: to their tip)."""
    positions, globals_ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    directions = np.empty_like(positions)
    for j in range(24):
        kids = [c for c in range(24) if PARENTS[c] == j]
        directions[:, j] = (positions[:, kids[-1] if j in (0, 9) else kids[0]] - positions[:, j] if kids
                            else globals_[:, j] @ motion.skeleton.leaf_tip(j))
    return directions


@pytest.mark.parametrize("kind", KINDS)
def test_limb_bones_point_where_the_performers_do_on_every_rig_and_roll(kind):
    motion = _varied_motion()
    rig = _rig(kind)
    rig_motion = retarget_to_rig(motion, rig, RAW)
    world, heads = rig_forward_kinematics(rig_motion)
    source = _joint_directions(motion)
    checked = 0
    for k, name in enumerate(rig_motion.bones):
        segment = _segment_of(rig, name)
        if segment in ("pelvis", "spine", "neck", "left_collar", "right_collar"):
            continue
        b = rig.bone_index(name)
        direction = world[:, k] @ (rig.rest_rotations[b].T @ (rig.tails[b] - rig.heads[b]))
        # The rig bone runs along SMPL's segment as the rig's rest geometry does (shortest turn).
        wanted = source[:, JOINT_INDEX[segment]]
        assert _angle_deg(direction, wanted).max() < 0.5, (kind, name)
        checked += 1
    assert checked >= 14


@pytest.mark.parametrize("kind", ["mixamo", "unreal"])
def test_the_rig_stands_in_its_rest_pose_when_the_performer_stands_as_the_rig_does(kind):
    rig = _rig(kind, seed=3)
    skeleton = skeleton_from_measurements(default_measurements(height=1.75))
    body = rig_body(rig, skeleton)
    local = np.array([body.rest_match[PARENTS[j]].T @ body.rest_match[j] if j else body.rest_match[0]
                      for j in range(24)])
    motion = Motion(30.0, np.repeat(matrix_to_quat(local)[None], 3, axis=0),
                    np.repeat(body.skeleton.offsets[:1], 3, axis=0), skeleton)
    rig_motion = retarget_to_rig(motion, rig, RAW, root_motion="hips")
    angles = 2.0 * np.degrees(np.arccos(np.clip(np.abs(rig_motion.rotations[..., 0]), 0.0, 1.0)))
    assert angles.max() < 1e-4


def test_a_rig_built_facing_backwards_is_turned_to_face_the_performers_way():
    names, parents, heads, tails, rotations = rig_arrays(rig_bones("mixamo"), seed=5)
    half_turn = np.diag([-1.0, 1.0, -1.0])                   # about the vertical axis
    rig = describe_target_rig(names, parents, heads @ half_turn.T, tails @ half_turn.T, half_turn @ rotations)
    motion = _varied_motion(frames=10)
    rig_motion = retarget_to_rig(motion, rig, RAW)
    world, heads_posed = rig_forward_kinematics(rig_motion, ["mixamorig:LeftUpLeg", "mixamorig:RightUpLeg"])
    source = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)[0]
    rig_left = heads_posed[:, 0] - heads_posed[:, 1]
    smpl_left = source[:, JOINT_INDEX["left_hip"]] - source[:, JOINT_INDEX["right_hip"]]
    assert _angle_deg(rig_left, smpl_left).max() < 1.0


def test_a_five_bone_spine_bends_as_smpls_three_joint_spine_does_end_to_end():
    rig = _rig("unreal")
    motion = _varied_motion(seed=4)
    rig_motion = retarget_to_rig(motion, rig, RAW)
    spine = rig.chain_names("spine")
    _, heads = rig_forward_kinematics(rig_motion, [spine[0], "neck_01"])
    source = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)[0]
    smpl = source[:, JOINT_INDEX["neck"]] - source[:, JOINT_INDEX["spine1"]]
    assert _angle_deg(heads[:, 1] - heads[:, 0], smpl).max() < 0.01
    assert len(spine) == 5


def test_a_rig_without_clavicles_still_points_its_arms_where_the_performers_do():
    bones = [b for b in rig_bones("mixamo") if "Shoulder" not in b[0]]
    bones = [(n, "mixamorig:Spine2" if p and "Shoulder" in p else p, h, t) for n, p, h, t in bones]
    rig = _rig("mixamo", bones=bones)
    assert "left_collar" not in rig.chains
    motion = _varied_motion(seed=6)
    rig_motion = retarget_to_rig(motion, rig, RAW)
    world, heads = rig_forward_kinematics(rig_motion, ["mixamorig:LeftArm", "mixamorig:LeftForeArm"])
    wanted = _joint_directions(motion)[:, JOINT_INDEX["left_shoulder"]]
    assert _angle_deg(heads[:, 1] - heads[:, 0], wanted).max() < 0.5


def test_root_motion_goes_on_a_floor_level_root_as_ground_projection_and_on_the_hips_otherwise():
    motion = demo_motion(seconds=2.0)
    unreal = retarget_to_rig(motion, _rig("unreal"))
    assert set(unreal.locations) == {"root", "pelvis"}
    _, heads = rig_forward_kinematics(unreal, ["root", "pelvis"])
    assert np.abs(heads[:, 0, 1]).max() < 1e-9                  # the root stays on the floor
    assert np.ptp(heads[:, 0, 2]) > 1.0                           # and walks forward with the body
    assert np.allclose(heads[:, 0, [0, 2]], heads[:, 1, [0, 2]])  # under the pelvis
    hips_only = retarget_to_rig(motion, _rig("unreal"), root_motion="hips")
    assert set(hips_only.locations) == {"pelvis"}
    assert np.allclose(rig_forward_kinematics(hips_only, ["pelvis"])[1][:, 0], heads[:, 1])
    mixamo = retarget_to_rig(motion, _rig("mixamo"))
    assert set(mixamo.locations) == {"mixamorig:Hips"}
    with pytest.raises(ValueError, match="no root bone near the floor.*put the root motion on the hips"):
        retarget_to_rig(motion, _rig("mixamo"), root_motion="root")
    with pytest.raises(ValueError, match="root_motion must be one of"):
        retarget_to_rig(motion, _rig("mixamo"), root_motion="pelvis")


@pytest.mark.parametrize("height", [1.40, 2.10])
def test_feet_stay_on_the_floor_and_the_stride_fits_rigs_of_other_heights(height):
    motion = demo_motion(seconds=3.0)
    rig = _rig("unreal", height=height)
    rig_motion = retarget_to_rig(motion, rig)
    feet = [name for side in ("l", "r") for name in (f"foot_{side}", f"ball_{side}")]
    world, heads = rig_forward_kinematics(rig_motion, feet)
    tips = np.stack([world[:, k] @ (rig.rest_rotations[rig.bone_index(n)].T
                                    @ (rig.tails[rig.bone_index(n)] - rig.heads[rig.bone_index(n)]))
                     for k, n in enumerate(feet)], axis=1) + heads
    assert np.concatenate([heads[..., 1], tips[..., 1]], axis=1).min() > -0.01    # nothing under the floor
    body = rig_body(rig, motion.skeleton)
    scale = pelvis_height(body.skeleton) / pelvis_height(motion.skeleton)
    assert rig_motion.metadata["feet"]["root_scale"] == pytest.approx(scale)
    _, pelvis = rig_forward_kinematics(rig_motion, ["pelvis"])
    stride = np.ptp(pelvis[:, 0, 2]) / np.ptp(motion.translation[:, 2])
    assert stride == pytest.approx(scale, rel=0.05)


def test_rotations_are_unit_and_continuous_and_other_bones_stay_unkeyed():
    rig = _rig("cc_base")
    rig_motion = retarget_to_rig(demo_motion(seconds=2.0), rig)
    assert np.allclose(np.linalg.norm(rig_motion.rotations, axis=-1), 1.0)
    assert (np.sum(rig_motion.rotations[1:] * rig_motion.rotations[:-1], -1) > 0).all()
    twist = {rig.bone_names[b] for bones in rig.twist.values() for b in bones}
    assert len(twist) == 8 and not twist & set(rig_motion.bones)
    assert "CC_Base_Pelvis" not in rig_motion.bones       # the legs' own parent rides the hip bone


def test_hands_reach_where_the_performers_were_when_asked():
    import dataclasses

    short_arms = dataclasses.replace(default_measurements(height=1.75), arm_length=0.48)   # the table: 0.55
    motion = demo_motion(skeleton_from_measurements(short_arms), seconds=2.0)
    rig = _rig("unreal", height=1.60)
    floor_given = FeetOptions(floor="zero")
    rig_motion = retarget_to_rig(motion, rig, floor_given, hands=True)
    scale = rig_motion.metadata["feet"]["root_scale"]
    source = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)[0]
    origin = motion.translation[0] * (1.0, 0.0, 1.0)
    _, heads = rig_forward_kinematics(rig_motion, ["hand_l", "hand_r"])
    for k, side in enumerate(("left", "right")):
        wanted = origin + scale * (source[:, JOINT_INDEX[f"{side}_wrist"]] - origin)
        assert np.linalg.norm(heads[:, k] - wanted, axis=-1).max() < 1e-3
    plain = retarget_to_rig(motion, rig, floor_given)
    _, plain_heads = rig_forward_kinematics(plain, ["hand_l"])
    wanted = origin + scale * (source[:, JOINT_INDEX["left_wrist"]] - origin)
    assert np.linalg.norm(plain_heads[:, 0] - wanted, axis=-1).max() > 0.01   # without IK they miss


def test_fingers_keep_their_rest_pose_unless_asked():
    motion = _varied_motion(seed=7)
    rig = _rig("mixamo")
    finger = rig.chain_names("left_hand")[0]
    assert finger not in retarget_to_rig(motion, rig, RAW).bones
    with_fingers = retarget_to_rig(motion, rig, RAW, fingers=True)
    world, _ = rig_forward_kinematics(with_fingers, [finger])
    b = rig.bone_index(finger)
    direction = world[:, 0] @ (rig.rest_rotations[b].T @ (rig.tails[b] - rig.heads[b]))
    assert _angle_deg(direction, _joint_directions(motion)[:, JOINT_INDEX["left_hand"]]).max() < 0.5
