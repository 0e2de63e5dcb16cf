"""Analytic IK: exact roundtrips, the Procrustes fit, twist cues, masking and errors."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.kinematics import ik
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.kinematics.metrics import geodesic_deg
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat, quat_normalize, quat_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX as J
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics

RNG = np.random.default_rng(11)


def _hinge_motion(skeleton, frames=120, bend_deg=(30.0, 110.0), seed=3):
    """Random hips/shoulders/spine, knees and elbows pure hinges about the default axes (bent)."""
    rng = np.random.default_rng(seed)
    rot_vec = rng.normal(scale=0.35, size=(frames, 24, 3))
    for name, axis in ik.DEFAULT_HINGE_AXES.items():
        angle = np.radians(rng.uniform(*bend_deg, size=frames))
        rot_vec[:, J[name]] = np.asarray(axis) * angle[:, None]
    rot_vec[:, [J["left_ankle"], J["right_ankle"], J["left_wrist"], J["right_wrist"], J["neck"],
                J["left_collar"], J["right_collar"], J["spine1"], J["spine2"]]] = 0.0
    rot_vec[:, [J["head"], J["left_foot"], J["right_foot"], J["left_hand"], J["right_hand"]]] = 0.0
    translation = skeleton.offsets[0] + rng.normal(scale=0.2, size=(frames, 3))
    return axis_angle_to_quat(rot_vec), translation


def test_exact_roundtrip_on_the_demo_walk(skeleton):
    motion = demo_motion(skeleton, seconds=2.0)
    joints, true_global = forward_kinematics(motion.rotations, motion.translation, skeleton)
    result = ik.solve_ik(joints, skeleton)
    solved, _ = forward_kinematics(result.rotations, result.translation, skeleton)
    assert np.abs(solved - joints).max() < 1e-9
    assert np.allclose(result.positions, joints, atol=1e-9)
    # The two joints with several children are fully determined by positions.
    for name in ("pelvis", "spine3"):
        assert geodesic_deg(true_global[:, J[name]], result.global_matrices[:, J[name]]).max() < 1e-6


def test_hinge_twists_recover_hips_and_shoulders(skeleton):
    rotations, translation = _hinge_motion(skeleton)
    joints, true_global = forward_kinematics(rotations, translation, skeleton)
    result = ik.solve_ik(joints, skeleton)
    for name in ("left_hip", "right_hip", "left_shoulder", "right_shoulder", "left_knee", "right_elbow"):
        error = geodesic_deg(true_global[:, J[name]], result.global_matrices[:, J[name]])
        assert error.max() < 1e-5, name


def test_hinge_axes_of_another_convention(skeleton):
    tilted = {"left_elbow": (0.0, -0.87, 0.5), "right_elbow": (0.0, 0.87, -0.5)}
    rotations, translation = _hinge_motion(skeleton)
    for name, axis in tilted.items():
        axis = np.asarray(axis) / np.linalg.norm(axis)
        angle = np.radians(np.linspace(30, 100, len(rotations)))
        rotations[:, J[name]] = axis_angle_to_quat(axis * angle[:, None])
    joints, true_global = forward_kinematics(rotations, translation, skeleton)
    estimated = ik.estimate_hinge_axes(rotations)
    assert np.allclose(estimated["left_elbow"], np.asarray(tilted["left_elbow"]) / np.linalg.norm(tilted["left_elbow"]),
                       atol=1e-9)
    default = ik.solve_ik(joints, skeleton)
    matched = ik.solve_ik(joints, skeleton, hinge_axes=estimated)
    shoulder = J["left_shoulder"]
    assert geodesic_deg(true_global[:, shoulder], default.global_matrices[:, shoulder]).min() > 20.0
    assert geodesic_deg(true_global[:, shoulder], matched.global_matrices[:, shoulder]).max() < 1e-5


def test_straight_limb_takes_the_twist_of_its_neighbours(skeleton):
    rotations, translation = _hinge_motion(skeleton, frames=60)
    # The same upper-arm twist throughout; the elbow straight in the middle 20 frames.
    shoulder, elbow = J["left_shoulder"], J["left_elbow"]
    rotations[:, shoulder] = axis_angle_to_quat(np.array([0.6, 0.0, 0.0]))
    bend = np.full(60, np.radians(60.0))
    bend[20:40] = 0.0
    rotations[:, elbow] = axis_angle_to_quat(np.asarray(ik.DEFAULT_HINGE_AXES["left_elbow"]) * bend[:, None])
    joints, true_global = forward_kinematics(rotations, translation, skeleton)
    result = ik.solve_ik(joints, skeleton)
    error = geodesic_deg(true_global[:, shoulder], result.global_matrices[:, shoulder])
    assert error.max() < 1e-5
    assert result.twist_reliability["left_shoulder"][25] == 0.0


def test_procrustes_fast_path_equals_svd():
    rest = np.array([[0.08, -0.09, 0.01], [-0.08, -0.09, 0.0], [0.0, 0.12, -0.02]])
    truth = quat_to_matrix(quat_normalize(RNG.normal(size=(500, 4))))
    observed = np.einsum("tij,kj->tki", truth, rest) + RNG.normal(scale=0.02, size=(500, 3, 3))
    weights = np.ones((500, 3))
    weights[::5, 2] = 0.0          # a missing child in some frames
    prior = np.broadcast_to(np.eye(3), (500, 3, 3))
    h = (observed * weights[..., None]).transpose(0, 2, 1) @ rest + ik._PRIOR_WEIGHT * prior
    assert np.abs(ik._procrustes(rest, observed, weights, prior) - ik._procrustes_svd(h)).max() < 1e-10


def test_missing_child_keeps_the_bone_at_rest(skeleton):
    motion = demo_motion(skeleton, seconds=0.5)
    joints, _ = forward_kinematics(motion.rotations, motion.translation, skeleton)
    valid = np.ones(joints.shape[:2], dtype=bool)
    valid[:, J["left_hand"]] = False
    joints[:, J["left_hand"]] = np.nan
    result = ik.solve_ik(joints, skeleton, valid)
    assert np.allclose(np.abs(result.rotations[:, J["left_wrist"], 0]), 1.0)
    assert np.isfinite(result.rotations).all()


def test_head_turns_with_its_cue_points(skeleton):
    motion = demo_motion(skeleton, seconds=0.5)
    turn = axis_angle_to_quat(np.array([0.0, 0.7, 0.0]))
    rotations = motion.rotations.copy()
    rotations[:, J["head"]] = turn
    joints, true_global = forward_kinematics(rotations, motion.translation, skeleton)
    head = J["head"]
    cues = {
        "head_top": joints[:, head] + true_global[:, head] @ np.array([0.0, 0.1, 0.0]),
        "nose": joints[:, head] + true_global[:, head] @ np.array([0.0, 0.0, 0.1]),
    }
    result = ik.solve_ik(joints, skeleton, cues=cues)
    assert geodesic_deg(true_global[:, head], result.global_matrices[:, head]).max() < 1e-6
    without = ik.solve_ik(joints, skeleton)
    assert np.allclose(without.rotations[:, head], [1.0, 0.0, 0.0, 0.0])


def test_bad_targets_are_refused(skeleton):
    with pytest.raises(ValueError, match=r"shape \(frames, 24, 3\)"):
        ik.solve_ik(np.zeros((5, 17, 3)), skeleton)
    joints = np.zeros((5, 24, 3))
    joints[3, 0] = np.nan
    with pytest.raises(ValueError, match="pelvis .* frame 3"):
        ik.solve_ik(joints, skeleton)
