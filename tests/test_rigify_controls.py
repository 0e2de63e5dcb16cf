"""Driving a generated Rigify rig through its FK controls (real bpy, the rig Rigify generates from
Blender's human metarig): the ORG bones Blender evaluates must take the wanted rotations."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from sparse_mocap_addon.blender.rigify_controls import (  # noqa: E402
    ORG_BONES, PELVIS, apply_rigify_settings, is_rigify_rig, rigify_control_channels,
)
from sparse_mocap_addon.core.kinematics.rotations import (  # noqa: E402
    axis_angle_to_matrix, matrix_to_quat, quat_slerp, quat_to_matrix,
)
from tests.rigs import build_armature, build_rigify  # noqa: E402

FRAMES = 20
MAX_JOINT_DEG = 40.0
EXACT = [PELVIS, "ORG-spine.003", "ORG-spine.006",
         *(f"ORG-{b}{s}" for b in ("thigh", "shin", "foot", "toe", "shoulder", "upper_arm", "forearm", "hand")
           for s in (".L", ".R"))]


@pytest.fixture(scope="module")
def rigify():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    metarig, rig = build_rigify()
    bpy.ops.object.mode_set(mode="POSE")
    return metarig, rig


def _rest(rig) -> dict:
    return {b.name: (np.array(b.matrix_local.to_3x3()), np.array(b.head_local), np.array(b.tail_local))
            for b in rig.data.bones}


def _random_pose(rest: dict, rng) -> tuple[dict, np.ndarray]:
    """Wanted ORG world rotations (T, 3, 3): every joint turned up to 40 degrees from rest under its
    parent (varying smoothly over the frames), the whole body turning about the vertical; and the
    pelvis head moving by up to 30 cm."""
    t = np.linspace(0.0, 1.0, FRAMES)[:, None]
    wanted = {}
    for bone, (parent, _, _) in ORG_BONES.items():
        ends = rng.normal(size=(2, 3))
        ends *= np.radians(MAX_JOINT_DEG) * rng.uniform(0.3, 1.0, (2, 1)) / np.linalg.norm(ends, axis=1, keepdims=True)
        local = axis_angle_to_matrix((1.0 - t) * ends[0] + t * ends[1])   # inside the 40-degree ball
        if parent is None:
            turn = axis_angle_to_matrix(np.radians(150.0) * t * np.array([0.0, 0.0, 1.0]))
            wanted[bone] = turn @ rest[bone][0] @ local
        else:
            wanted[bone] = wanted[parent] @ (rest[parent][0].T @ rest[bone][0]) @ local
    head = rest[PELVIS][1] + t * np.array([0.3, -0.25, -0.1])
    return wanted, head


def _reset_pose(rig) -> None:
    for pose_bone in rig.pose.bones:
        pose_bone.location = (0.0, 0.0, 0.0)
        pose_bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
        pose_bone.rotation_euler = (0.0, 0.0, 0.0)
        pose_bone.scale = (1.0, 1.0, 1.0)


def _evaluate(rig, settings, channels) -> dict:
    """Set the channels frame by frame; each bone's evaluated (T, 4, 4) armature-space matrix."""
    _reset_pose(rig)
    apply_rigify_settings(rig, settings, channels)
    frames = len(channels["torso"]["location"])
    matrices = {b.name: np.empty((frames, 4, 4)) for b in rig.pose.bones}
    for frame in range(frames):
        for control, values in channels.items():
            for channel, array in values.items():
                setattr(rig.pose.bones[control], channel, array[frame])
        bpy.context.view_layer.update()
        for pose_bone in rig.pose.bones:
            matrices[pose_bone.name][frame] = np.array(pose_bone.matrix)
    return matrices


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between rotations, from |A - B| = 2 sqrt(2) sin(angle / 2): no arccos near 1, whose
    slope turns Blender's float32 rounding (1e-7) into a spurious 0.03 degrees."""
    chord = np.linalg.norm(a - b, axis=(-2, -1)) / (2.0 * np.sqrt(2.0))
    return np.degrees(2.0 * np.arcsin(np.clip(chord, 0.0, 1.0)))


def _direction_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


@pytest.fixture(scope="module")
def driven(rigify):
    """The rig posed through its controls from a random wanted pose: (wanted, head, rest, evaluated)."""
    _, rig = rigify
    rest = _rest(rig)
    wanted, head = _random_pose(rest, np.random.default_rng(18))
    settings, channels = rigify_control_channels(rig, wanted, head)
    return wanted, head, rest, _evaluate(rig, settings, channels)


def _wanted_direction(wanted: dict, rest: dict, bone: str) -> np.ndarray:
    rotation, head, tail = rest[bone]
    return (wanted[bone] @ rotation.T) @ (tail - head)


def test_limbs_pelvis_chest_and_head_take_the_wanted_rotations(driven):
    wanted, head, _, evaluated = driven
    errors = {bone: _angle_deg(evaluated[bone][:, :3, :3], wanted[bone]).max() for bone in EXACT}
    assert max(errors.values()) < 0.5, errors
    assert np.abs(evaluated[PELVIS][:, :3, 3] - head).max() < 1e-3


def test_the_spine_is_as_close_as_rigify_allows(driven):
    """ORG-spine.001 hangs (through tweak_spine.001) under spine_fk like ORG-spine: it turns with the
    pelvis. ORG-spine.002 takes the slerp halfway between the spine_fk.001 and spine_fk.002 turns.
    Every DEF spine bone (tweak head to tweak head) points where the wanted ORG bone points."""
    wanted, _, rest, evaluated = driven
    pelvis_turn = wanted[PELVIS] @ rest[PELVIS][0].T
    spine1 = evaluated["ORG-spine.001"][:, :3, :3]
    assert _angle_deg(spine1, pelvis_turn @ rest["ORG-spine.001"][0]).max() < 0.5
    turns = [matrix_to_quat(wanted[b] @ rest[b][0].T) for b in ("ORG-spine.001", "ORG-spine.002")]
    halfway = quat_to_matrix(quat_slerp(*turns, 0.5)) @ rest["ORG-spine.002"][0]
    assert _angle_deg(evaluated["ORG-spine.002"][:, :3, :3], halfway).max() < 0.5
    for k, bone in enumerate((PELVIS, "ORG-spine.001", "ORG-spine.002", "ORG-spine.003")):
        deform_axis = evaluated["DEF-spine" + bone[len(PELVIS):]][:, :3, 1]
        assert _direction_deg(deform_axis, _wanted_direction(wanted, rest, bone)).max() < 1.0, bone


def test_the_neck_control_serves_both_neck_bones_and_puts_the_head_in_place(driven):
    """One neck control for ORG-spine.004 and .005: each bone is off by at most about half of the
    wanted bend between them (plus a little); the head's pivot lies along the wanted neck chain's
    chord, off only by how much the bend shortens that chord (the control does not stretch)."""
    wanted, _, rest, evaluated = driven
    lower, upper = "ORG-spine.004", "ORG-spine.005"
    bend = _angle_deg(wanted[lower] @ rest[lower][0].T, wanted[upper] @ rest[upper][0].T)
    for bone in (lower, upper):
        error = _direction_deg(evaluated[bone][:, :3, 1], _wanted_direction(wanted, rest, bone))
        assert np.all(error < 0.5 * bend + 3.0), (bone, error, bend)
    chord = _wanted_direction(wanted, rest, lower) + _wanted_direction(wanted, rest, upper)
    reached = evaluated["ORG-spine.006"][:, :3, 3] - evaluated[lower][:, :3, 3]
    assert _direction_deg(reached, chord).max() < 0.1
    shortened = np.abs(np.linalg.norm(chord, axis=-1) - np.linalg.norm(rest[upper][2] - rest[lower][1]))
    assert np.all(np.linalg.norm(reached - chord, axis=-1) < shortened + 1e-4)


def test_deform_bones_follow_the_org_bones(driven):
    _, _, _, evaluated = driven
    for bone in ("thigh", "shin", "foot", "upper_arm", "forearm", "hand", "shoulder"):
        for side in (".L", ".R"):
            org, deform = evaluated[f"ORG-{bone}{side}"], evaluated[f"DEF-{bone}{side}"]
            assert _direction_deg(org[:, :3, 1], deform[:, :3, 1]).max() < 1.0, bone + side


def test_bones_not_given_keep_their_rest_pose_under_their_parent(rigify):
    _, rig = rigify
    rest = _rest(rig)
    turn = axis_angle_to_matrix(np.radians([[0.0, 0.0, 30.0], [0.0, 25.0, 0.0], [-35.0, 0.0, 10.0]]))
    thigh = turn @ rest["ORG-thigh.L"][0] @ axis_angle_to_matrix(np.radians([30.0, 0.0, 0.0]))
    wanted = {PELVIS: turn @ rest[PELVIS][0], "ORG-thigh.L": thigh}
    evaluated = _evaluate(rig, *rigify_control_channels(rig, wanted, np.tile(rest[PELVIS][1], (3, 1))))
    expected = {"ORG-spine.003": turn @ rest["ORG-spine.003"][0], "ORG-hand.R": turn @ rest["ORG-hand.R"][0],
                "ORG-spine.006": turn @ rest["ORG-spine.006"][0],
                "ORG-toe.L": thigh @ rest["ORG-thigh.L"][0].T @ rest["ORG-toe.L"][0]}
    for bone, rotation in expected.items():
        assert _angle_deg(evaluated[bone][:, :3, :3], rotation).max() < 0.5, bone


def test_rigify_rigs_are_told_from_other_armatures(rigify):
    metarig, rig = rigify
    plain, _ = build_armature("mixamo", name="PlainRig")
    assert is_rigify_rig(rig)
    assert not is_rigify_rig(metarig) and not is_rigify_rig(plain) and not is_rigify_rig(None)
    pose = {PELVIS: np.repeat(np.eye(3)[None], 2, axis=0)}
    with pytest.raises(ValueError, match=r"^armature 'PlainRig' is not a generated Rigify rig \(it lacks "
                                         r"ORG-spine, ORG-spine.001"):
        rigify_control_channels(plain, pose, np.zeros((2, 3)))


def test_bad_rotations_are_refused_in_one_sentence(rigify):
    _, rig = rigify
    pose = {PELVIS: np.repeat(np.eye(3)[None], 2, axis=0)}
    with pytest.raises(ValueError, match=r"^no Rigify control drives ORG-spine.007; expected ORG bones"):
        rigify_control_channels(rig, {**pose, "ORG-spine.007": pose[PELVIS]}, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"lack the pelvis bone ORG-spine$"):
        rigify_control_channels(rig, {"ORG-thigh.L": pose[PELVIS]}, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^the rotations of ORG-spine have shape \(2, 3, 3\); expected \(3, 3, 3\)"):
        rigify_control_channels(rig, pose, np.zeros((3, 3)))
