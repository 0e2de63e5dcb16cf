"""Left-right mirroring and frame-rate changes of SMPL-24 Motions."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.kinematics.mirror import mirror_motion
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.resample import resample_motion
from sparse_mocap_addon.core.kinematics.rotations import quat_angle_between
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, MIRROR


def test_mirror_reflects_every_joint_onto_its_partner(random_motion):
    mirrored = mirror_motion(random_motion)
    original = random_motion.joint_positions()
    reflected = original[:, MIRROR] * np.array((-1.0, 1.0, 1.0))
    np.testing.assert_allclose(mirrored.joint_positions(), reflected, atol=1e-12)
    assert mirrored.metadata["mirrored"] is True


def test_mirror_swaps_left_and_right_names():
    for j, name in enumerate(JOINT_NAMES):
        partner = JOINT_NAMES[MIRROR[j]]
        if name.startswith("left_"):
            assert partner == "right_" + name[5:]
        elif not name.startswith("right_"):
            assert partner == name


def test_mirror_twice_is_the_identity(random_motion):
    twice = mirror_motion(mirror_motion(random_motion))
    np.testing.assert_allclose(twice.joint_positions(), random_motion.joint_positions(), atol=1e-12)
    assert twice.metadata["mirrored"] is False


def test_mirrored_walk_leads_with_the_other_leg():
    walk = demo_motion(seconds=2.0)
    mirrored = mirror_motion(walk)
    left, right = JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]
    np.testing.assert_allclose(mirrored.joint_positions()[:, left, 1], walk.joint_positions()[:, right, 1], atol=1e-12)
    # A rotation about the vertical turns the other way (yaw flips sign).
    yaw = walk.rotations[:, 0, 2]
    np.testing.assert_allclose(mirrored.rotations[:, 0, 2], -yaw, atol=1e-12)


def test_resample_to_double_rate_keeps_the_original_frames(random_motion):
    doubled = resample_motion(random_motion, 2 * random_motion.fps)
    assert doubled.num_frames == 2 * random_motion.num_frames - 1
    np.testing.assert_allclose(doubled.joint_positions()[::2], random_motion.joint_positions(), atol=1e-9)


def test_resample_120_to_60_and_midpoints_are_slerped(skeleton):
    rng = np.random.default_rng(3)
    from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat, quat_slerp
    rotations = axis_angle_to_quat(rng.normal(scale=0.3, size=(121, 24, 3)))
    motion = Motion(120.0, rotations, rng.normal(size=(121, 3)), skeleton)
    half = resample_motion(motion, 60.0)
    assert half.num_frames == 61 and half.fps == 60.0
    assert np.max(quat_angle_between(half.rotations, motion.rotations[::2])) < 1e-6
    # 120 -> 50 fps lands between source frames: slerp half-way where the time falls half-way.
    odd = resample_motion(motion, 48.0)
    expected = quat_slerp(motion.rotations[2], motion.rotations[3], 0.5)
    assert np.max(quat_angle_between(odd.rotations[1], expected)) < 1e-6
    np.testing.assert_allclose(odd.translation[1], 0.5 * (motion.translation[2] + motion.translation[3]))


def test_resample_refuses_a_bad_rate(random_motion):
    with pytest.raises(ValueError, match="positive"):
        resample_motion(random_motion, 0.0)
