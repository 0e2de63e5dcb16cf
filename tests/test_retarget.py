"""Retargeting onto the SMPL-24 skeleton, on rigs the tests build with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.mocap.joint_maps import (
    BUILTIN_MAPS, JointMap, JointMapError, detect_joint_map, load_joint_map, save_joint_map,
)
from sparse_mocap_addon.core.mocap.retarget import RetargetError, retarget, retarget_fidelity
from sparse_mocap_addon.core.kinematics.rotations import (
    axis_angle_to_quat, quat_conjugate, quat_identity, quat_multiply, quat_rotate,
)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, forward_kinematics
from sparse_mocap_addon.core.mocap.source import SourceMotion, SourceSkeleton

J = JOINT_INDEX


@pytest.fixture(scope="module")
def walk():
    return demo_motion(seconds=3.0)


@pytest.fixture(scope="module")
def other_body():
    return skeleton_from_measurements(BodyMeasurements(height=1.58, sex="female", leg_length=0.70))


def game_rig(motion, arm_drop_deg=40.0, z_up=True, units=100.0, twist_bones=True, prefix="rig:", bone_frames=None):
    """The motion on a different rig: A-pose zero pose, extra twist joints, Z up, centimetres.

    Each joint's zero-pose frame differs from SMPL's T-pose by ``B_j`` (the arms dropped by
    ``arm_drop_deg``, then ``bone_frames`` (24, 4) on top: any roll and zero pose), so the rig's
    global rotations are ``G_smpl B_j`` and its offsets ``B_parent^-1 offset``: world positions are
    the SMPL ones.
    """
    positions, global_matrices = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    smpl_global = _matrices_to_quats(global_matrices)
    drop = np.radians(arm_drop_deg)
    bend = quat_identity((24,))
    for side, sign in (("left", 1.0), ("right", -1.0)):   # zero-pose arms = bend^-1 (T-pose arms): down
        for joint in ("shoulder", "elbow", "wrist", "hand"):
            bend[J[f"{side}_{joint}"]] = axis_angle_to_quat(np.array((0.0, 0.0, sign * drop)))
    if bone_frames is not None:
        bend = quat_multiply(bend, bone_frames)
    names, parents, offsets, globals_, world = [], [], [], [], []
    index_of = {}
    for j in range(24):
        p = PARENTS[j]
        offset = motion.skeleton.offsets[j] if p < 0 else quat_rotate(quat_conjugate(bend[p]), motion.skeleton.offsets[j])
        index_of[j] = len(names)
        names.append(prefix + JOINT_NAMES[j].title().replace("_", ""))
        parents.append(-1 if p < 0 else index_of[p])
        offsets.append(offset)
        globals_.append(quat_multiply(smpl_global[:, j], bend[j]))
        world.append(positions[:, j])
        if twist_bones and JOINT_NAMES[j].endswith(("shoulder", "elbow")):
            # A twist joint half-way down the bone, rotating about the bone axis on its own.
            child = [c for c in range(24) if PARENTS[c] == j][0]
            half = quat_rotate(quat_conjugate(bend[j]), motion.skeleton.offsets[child] * 0.5)
            names.append(names[-1] + "Twist")
            parents.append(index_of[j])
            offsets.append(half)
            axis = half / np.linalg.norm(half)
            twist = axis_angle_to_quat(np.outer(np.sin(np.arange(motion.num_frames) * 0.1), axis))
            globals_.append(quat_multiply(globals_[-1], twist))
            world.append(None)
    globals_ = np.stack(globals_, axis=1)
    local = globals_.copy()
    for k, p in enumerate(parents):
        if p >= 0:
            local[:, k] = quat_multiply(quat_conjugate(globals_[:, p]), globals_[:, k])
    offsets = np.array(offsets) * units
    root = positions[:, 0] * units
    if z_up:
        # Turn the whole world Y up -> Z up: positions and offsets W v, rotations W R W^-1.
        to_z = axis_angle_to_quat(np.array((np.pi / 2, 0.0, 0.0)))
        offsets = quat_rotate(to_z, offsets)
        root = quat_rotate(to_z, root)
        local = quat_multiply(quat_multiply(to_z, local), quat_conjugate(to_z))
    skeleton = SourceSkeleton(names, parents, offsets)
    return SourceMotion(skeleton, motion.fps, local, root, up_axis="Z" if z_up else "Y",
                        metres_per_unit=1.0 / units, source="game rig")


def _matrices_to_quats(m):
    from sparse_mocap_addon.core.kinematics.rotations import matrix_to_quat
    return matrix_to_quat(m)


def game_rig_map(prefix="rig:"):
    return JointMap("test rig", {n: prefix + n.title().replace("_", "") for n in JOINT_NAMES})


def test_smpl_source_onto_same_skeleton_is_exact(walk):
    out = retarget(SourceMotion.from_motion(walk, "walk"), walk.skeleton)
    assert out.metadata["retarget"]["reference"] == "zero pose"
    np.testing.assert_allclose(out.joint_positions(), walk.joint_positions(), atol=1e-9)


def test_other_body_keeps_limb_directions_and_foot_contact(walk, other_body):
    source = SourceMotion.from_motion(walk, "walk")
    out = retarget(source, other_body)
    fidelity = retarget_fidelity(source, out)
    limbs = [i for i, bone in enumerate(fidelity["bones"]) if bone[2] == "limb"]
    assert len(limbs) == 8    # thighs, shins, upper arms, forearms
    assert fidelity["angles_deg"][:, limbs].max() < 1e-5
    assert fidelity["foot_height_r"] > 0.95
    # The root path is scaled by the ratio of leg lengths.
    scale = out.metadata["retarget"]["translation_scale"]
    assert scale == pytest.approx(0.70 / 0.86, rel=0.05)


def standing_then(motion, seconds=0.5):
    """``motion`` after ``seconds`` of standing still with the arms down (a neutral posture)."""
    from sparse_mocap_addon.core.kinematics.motion import Motion

    frames = int(round(seconds * motion.fps))
    stand = quat_identity((frames, 24))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        stand[:, J[f"{side}_shoulder"]] = axis_angle_to_quat(np.array((0.0, 0.0, -sign * np.radians(75.0))))
    root = np.repeat(motion.skeleton.offsets[:1], frames, axis=0)
    return Motion(motion.fps, np.concatenate((stand, motion.rotations)),
                  np.concatenate((root, motion.translation - motion.translation[:1] + root[:1])), motion.skeleton)


def random_bone_frames(seed=0):
    """A rotation per SMPL joint: the rig's bone-local frame against SMPL's (any roll, any zero pose)."""
    rng = np.random.default_rng(seed)
    frames = axis_angle_to_quat(rng.normal(scale=0.8, size=(24, 3)))
    frames[0] = (1.0, 0.0, 0.0, 0.0)
    return frames


def test_game_rig_in_a_pose_z_up_centimetres_recovers_the_motion(walk):
    rig = game_rig(walk)
    world, _ = rig.global_transforms()
    assert np.ptp(world[..., 2]) > 100.0          # really Z up, in centimetres
    out = retarget(rig, walk.skeleton, game_rig_map())
    assert out.metadata["retarget"]["reference"] == "zero pose"
    assert out.metadata["retarget"]["up_axis"] == "Z"
    assert out.metadata["retarget"]["translation_scale"] == pytest.approx(0.01)
    np.testing.assert_allclose(out.joint_positions(), walk.joint_positions(), atol=1e-6)
    # The rig's twist joints and bone frames never become twist: the same rotations as from SMPL.
    plain = retarget(SourceMotion.from_motion(walk, "walk"), walk.skeleton)
    np.testing.assert_allclose(np.abs(np.sum(out.rotations * plain.rotations, axis=-1)), 1.0, atol=1e-6)


def test_rig_conventions_do_not_change_the_motion(walk, other_body):
    """Bone rolls, a zero pose that is no T-pose, twist joints, units and up axis: one motion."""
    motion = standing_then(walk)
    plain = retarget(SourceMotion.from_motion(motion, "smpl"), other_body)
    assert plain.metadata["retarget"]["neutral"].endswith("standing frames")
    for seed in (0, 1):
        rig = game_rig(motion, arm_drop_deg=25.0, bone_frames=random_bone_frames(seed))
        out = retarget(rig, other_body, game_rig_map())
        assert out.metadata["retarget"]["neutral"] == plain.metadata["retarget"]["neutral"]
        np.testing.assert_allclose(out.joint_positions(), plain.joint_positions(), atol=1e-6)
        np.testing.assert_allclose(np.abs(np.sum(out.rotations * plain.rotations, axis=-1)), 1.0, atol=1e-6)


def test_twist_is_anatomical(walk, other_body):
    """The retarget's twist is the IK's, from the joints alone (bend planes, the foot, hip and
    shoulder lines; a rig without knuckles gives the hand no roll): re-solving the output's own joint
    positions gives its rotations back."""
    source = SourceMotion.from_motion(walk, "walk")
    out = retarget(source, other_body)
    from sparse_mocap_addon.core.kinematics.ik import solve_ik
    again = solve_ik(out.joint_positions(), other_body)
    dot = np.abs(np.sum(again.rotations * out.rotations, axis=-1))
    leaves = [J[n] for n in ("head", "left_foot", "right_foot", "left_hand", "right_hand")]
    errors = np.degrees(2 * np.arccos(np.clip(dot, -1, 1)))
    errors[:, leaves] = 0.0          # leaves: nothing in the joints says how they turn
    assert errors.max() < 0.01


def test_explicit_reference_frame_outside_the_take_is_refused(walk):
    with pytest.raises(RetargetError, match="reference frame 9999 is outside"):
        retarget(SourceMotion.from_motion(walk, "walk"), walk.skeleton, rest_reference=9999)


def test_mirrored_rig_is_refused(walk):
    source = SourceMotion.from_motion(walk, "mirrored.bvh")
    swapped = JointMap("swapped", {n: n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
                                   for n in JOINT_NAMES})
    with pytest.raises(RetargetError, match="mirrored.bvh: the toes point backwards"):
        retarget(source, walk.skeleton, swapped)


def test_missing_required_joints_are_listed(walk):
    source = SourceMotion.from_motion(walk, "walk")
    partial = JointMap("partial", {n: n for n in JOINT_NAMES if "elbow" not in n and "spine" not in n})
    with pytest.raises(JointMapError) as info:
        retarget(source, walk.skeleton, partial)
    message = str(info.value)
    assert "left_elbow" in message and "right_elbow" in message and "spine1/spine2/spine3" in message


def test_rigs_without_spine2_or_collars_still_bend_there(walk, other_body):
    """Missing spine joints are resampled from the rig's spine; missing collars follow how the
    shoulders move against the chest."""
    source = SourceMotion.from_motion(walk, "walk")
    fewer = JointMap("fewer", {n: n for n in JOINT_NAMES if n not in ("spine2", "left_collar", "right_collar")})
    out = retarget(source, other_body, fewer)
    full = retarget(source, other_body)
    angle = np.degrees(2 * np.arccos(np.clip(np.abs(out.rotations[:, J["spine2"], 0]), 0, 1)))
    assert angle.max() > 0.5          # not left straight
    fidelity = retarget_fidelity(source, out, fewer)
    limbs = [i for i, bone in enumerate(fidelity["bones"]) if bone[2] == "limb"]
    assert fidelity["angles_deg"][:, limbs].max() < 1e-5
    # The trunk stays within a few centimetres of the fully mapped retarget.
    error = np.linalg.norm(out.joint_positions() - full.joint_positions(), axis=-1)
    assert error.max() < 0.03


def test_detect_picks_the_fitting_builtin_map():
    cgspeed = ["Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RHipJoint", "RightUpLeg",
               "RightLeg", "RightFoot", "RightToeBase", "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head",
               "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "RightShoulder", "RightArm",
               "RightForeArm", "RightHand"]
    assert detect_joint_map(cgspeed) is BUILTIN_MAPS["cgspeed"]
    mixamo = ["mixamorig:" + n for n in ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftUpLeg",
                                         "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot",
                                         "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm",
                                         "RightHand")]
    assert detect_joint_map(mixamo) is BUILTIN_MAPS["mixamo"]
    with pytest.raises(JointMapError, match="no built-in joint map fits.*JSON joint map"):
        detect_joint_map(["a", "b", "c"], "odd.bvh")


def test_json_map_round_trip_and_errors(tmp_path):
    path = save_joint_map(game_rig_map(), tmp_path / "rig.json")
    loaded = load_joint_map(path)
    assert loaded.joints == game_rig_map().joints
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"joints": {"pelvis": "Hips", "left_thigh": "LeftUpLeg"}}))
    with pytest.raises(JointMapError, match="bad.json: unknown SMPL joint name\\(s\\) left_thigh"):
        load_joint_map(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(JointMapError, match="broken.json: not a readable JSON joint map"):
        load_joint_map(broken)
    with pytest.raises(JointMapError, match="no such joint map file"):
        load_joint_map(tmp_path / "absent.json")


def test_floor_policy_puts_sunken_feet_back_on_the_floor(walk):
    source = SourceMotion.from_motion(walk, "sunken")
    source.root_position = source.root_position - np.array((0.0, 1.0, 0.0))   # root channels 1 m too low
    kept = retarget(source, walk.skeleton, floor="source")
    fixed = retarget(source, walk.skeleton)                                    # floor="auto"
    np.testing.assert_allclose(kept.translation, walk.translation - [0.0, 1.0, 0.0], atol=1e-9)
    # (within the toes' own bend, which the retarget leaves at rest)
    np.testing.assert_allclose(fixed.translation, walk.translation, atol=0.02)
    # A file already on its floor is left alone by "auto".
    np.testing.assert_allclose(retarget(SourceMotion.from_motion(walk), walk.skeleton).translation,
                               walk.translation, atol=1e-9)
    with pytest.raises(ValueError, match="floor must be"):
        retarget(source, walk.skeleton, floor="ceiling")


def test_the_hand_rolls_with_the_palm_and_only_with_it(walk, other_body):
    """A rig with index and pinky knuckles gives the wrist the palm's roll; without them (the rig's
    wrist rotation alone is a convention) the hand keeps the forearm's roll."""
    roll = np.radians(40.0)
    motion = standing_then(walk)
    rotations = motion.rotations.copy()
    for side, sign in (("left", 1.0), ("right", -1.0)):
        twist = axis_angle_to_quat(np.array((sign * roll, 0.0, 0.0)))      # about the T-pose hand axis
        rotations[30:, J[f"{side}_wrist"]] = quat_multiply(rotations[30:, J[f"{side}_wrist"]], twist)
    from sparse_mocap_addon.core.kinematics.motion import Motion
    rolled = SourceMotion.from_motion(Motion(motion.fps, rotations, motion.translation, motion.skeleton), "rolled")
    plain = retarget(rolled, other_body)
    # The same rig with knuckles: index ahead of the hand joint, pinky behind it (palm down in the T-pose).
    sk = rolled.skeleton
    names, parents, offsets = list(sk.names), list(sk.parents), list(sk.offsets)
    for side in ("left", "right"):
        wrist = names.index(f"{side}_wrist")
        hand = sk.offsets[names.index(f"{side}_hand")]
        for finger, forward in (("index", 0.03), ("pinky", -0.03)):
            names.append(f"{side}_{finger}1")
            parents.append(wrist)
            offsets.append(hand + (0.0, 0.0, forward))
    knuckled = SourceMotion(SourceSkeleton(names, parents, np.array(offsets)), rolled.fps,
                            np.concatenate((rolled.rotations, quat_identity((rolled.num_frames, 4))), axis=1),
                            rolled.root_position, up_axis="Y", metres_per_unit=1.0, source="knuckles")
    palm = retarget(knuckled, other_body, BUILTIN_MAPS["smpl"])

    def wrist_roll(motion):
        q = motion.rotations[:, J["left_wrist"]]
        return np.degrees(2 * np.arctan2(q[:, 1], q[:, 0]))               # twist about +X, the left hand

    assert np.abs(wrist_roll(plain)[40:]).max() < 1.0
    assert np.median(wrist_roll(palm)[40:]) == pytest.approx(40.0, abs=3.0)
    np.testing.assert_allclose(palm.joint_positions(), plain.joint_positions(), atol=1e-6)
