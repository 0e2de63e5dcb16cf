"""Landmarks -> SMPL targets -> personalised skeleton -> IK -> feet: the core pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements
from sparse_mocap_addon.core.feet.contact import detect_foot_contact
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.feet.soles import foot_floor_points
from sparse_mocap_addon.core.feet.stage import feet_metrics, feet_on_floor, motion_contacts
from sparse_mocap_addon.core.feet.lock import two_bone_ik
from sparse_mocap_addon.pipelines.landmarks import SolveOptions, solve_landmarks, solve_targets
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.landmarks.skeleton import skeleton_from_landmarks
from sparse_mocap_addon.core.landmarks.targets import TRUNK_FRACTIONS, JointTargets, joint_targets
from sparse_mocap_addon.core.landmarks.sequence import LandmarkError, LandmarkSequence
from sparse_mocap_addon.core.feet.metrics import foot_skating_cm
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX as J
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, forward_kinematics

from .conftest import SHARED_DATA

TRC = SHARED_DATA / "landmarks_real" / "pose2sim" / "trc"


@pytest.fixture
def walk(skeleton):
    motion = demo_motion(skeleton, seconds=3.0)
    joints, globals_ = forward_kinematics(motion.rotations, motion.translation, skeleton)
    return motion, joints, globals_


def _mediapipe_like(joints):
    """Canonical-named landmarks that a pose tool would give, placed from SMPL joints."""
    names = ["left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
             "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"]
    points = [joints[:, J[n]] for n in names]
    head = joints[:, J["head"]]
    names += ["left_ear", "right_ear", "nose", "left_index", "left_pinky", "left_big_toe", "left_small_toe"]
    points += [head + [0.07, 0, 0], head - [0.07, 0, 0], head + [0, 0, 0.1],
               joints[:, J["left_hand"]] + [0, 0, 0.02], joints[:, J["left_hand"]] - [0, 0, 0.02],
               joints[:, J["left_foot"]] - [0.02, 0, 0], joints[:, J["left_foot"]] + [0.02, 0, 0]]
    return LandmarkSequence(names, np.stack(points, axis=1), np.ones((len(joints), len(names))), 60.0, source="test")


def test_joint_targets_follow_the_recipes(walk):
    _, joints, _ = walk
    seq = _mediapipe_like(joints)
    seq.confidence[5, seq.index("left_knee")] = 0.1          # below the threshold: masked
    targets = joint_targets(seq, threshold=0.5)
    assert np.allclose(targets.positions[:, J["left_hip"]], joints[:, J["left_hip"]])
    mid_hip = 0.5 * (joints[:, J["left_hip"]] + joints[:, J["right_hip"]])
    neck_base = 0.5 * (joints[:, J["left_shoulder"]] + joints[:, J["right_shoulder"]])
    assert np.allclose(targets.positions[:, J["pelvis"]], mid_hip + TRUNK_FRACTIONS["pelvis"] * (neck_base - mid_hip))
    assert np.allclose(targets.positions[:, J["head"]], joints[:, J["head"]])
    assert np.allclose(targets.positions[:, J["left_hand"]], joints[:, J["left_hand"]])
    assert np.allclose(targets.positions[:, J["left_foot"]], joints[:, J["left_foot"]])
    assert not targets.valid[5, J["left_knee"]] and np.isnan(targets.positions[5, J["left_knee"]]).all()
    assert targets.valid[4, J["left_knee"]]
    assert not targets.valid[:, J["right_hand"]].any() and targets.recipes["right_hand"] is None
    assert {"nose", "left_ear", "left_index"} <= set(targets.cues)


def test_smpl24_layout_is_used_as_it_is(walk):
    _, joints, _ = walk
    seq = LandmarkSequence(JOINT_NAMES, joints, np.ones(joints.shape[:2]), 60.0, layout="smpl24")
    targets = joint_targets(seq)
    assert np.array_equal(targets.positions, joints) and targets.valid.all()


def test_no_hips_is_refused(walk):
    _, joints, _ = walk
    seq = LandmarkSequence(["nose", "left_wrist"], joints[:, [15, 20]], np.ones((len(joints), 2)), 60.0)
    with pytest.raises(LandmarkError, match="no hips"):
        joint_targets(seq)


def test_skeleton_from_exact_joints_is_the_skeleton(walk, skeleton):
    _, joints, _ = walk
    estimate = skeleton_from_landmarks(joints, np.ones(joints.shape[:2], dtype=bool))
    assert np.allclose(estimate.skeleton.bone_lengths(), skeleton.bone_lengths(), atol=1e-9)
    for branch in ("left_hip", "right_hip", "spine1", "left_collar", "right_collar", "neck"):
        assert np.allclose(estimate.skeleton.offsets[J[branch]], skeleton.offsets[J[branch]], atol=1e-9), branch
    assert all(w == 1.0 for w in estimate.landmark_weights.values())


def test_skeleton_ignores_outlier_frames_and_pools_sides(walk, skeleton):
    _, joints, _ = walk
    corrupt = joints.copy()
    rng = np.random.default_rng(0)
    bad = rng.choice(len(joints), size=len(joints) // 20, replace=False)
    corrupt[bad] += rng.normal(scale=0.15, size=(len(bad), 24, 3))
    valid = np.ones(joints.shape[:2], dtype=bool)
    valid[:, J["right_knee"]] = False                           # the right thigh/shin come from the left
    estimate = skeleton_from_landmarks(corrupt, valid)
    lengths = estimate.skeleton.bone_lengths()
    assert np.abs(lengths - skeleton.bone_lengths()).max() < 0.002
    assert lengths[J["right_knee"]] == pytest.approx(lengths[J["left_knee"]])


def test_measurements_blend_with_reported_weights(walk):
    _, joints, _ = walk
    noisy = joints + np.random.default_rng(1).normal(scale=0.03, size=joints.shape)
    measured = BodyMeasurements(height=1.72, sex="female", arm_length=0.55, leg_length=0.84)
    estimate = skeleton_from_landmarks(noisy, np.ones(joints.shape[:2], dtype=bool), measured)
    weights = estimate.landmark_weights
    assert 0.0 < weights["left_knee"] < 1.0
    # Measured bones lean on the measurement more than bones the tables only guess.
    assert weights["left_elbow"] < weights["spine2"]
    assert estimate.measurements["arm_length"] == 0.55


def test_two_bone_ik_reaches_and_keeps_the_knee_side():
    hip = np.zeros((3, 3))
    knee = np.array([[0.0, -0.4, 0.1]] * 3)
    ankle = np.array([[0.0, -0.8, 0.0]] * 3)
    target = np.array([[0.0, -0.7, 0.05], [0.1, -0.6, 0.0], [0.0, -2.0, 0.0]])
    new_knee = two_bone_ik(hip, knee, ankle, target, 0.41, 0.41)
    assert np.allclose(np.linalg.norm(new_knee - hip, axis=-1), 0.41)
    assert np.allclose(np.linalg.norm(target[:2] - new_knee[:2], axis=-1), 0.41)
    assert (new_knee[:2, 2] > 0).all()                              # still in front
    assert np.linalg.norm(new_knee[2] - hip[2]) == pytest.approx(0.41)   # out of reach: straight leg


def test_the_feet_stage_grounds_and_stops_skating(walk, skeleton):
    """What the landmark solve runs after its IK (``feet_stage.feet_on_floor``, the floor estimated)."""
    motion, _, _ = walk
    lifted = Motion(motion.fps, motion.rotations, motion.translation + [0.0, 0.12, 0.0], skeleton)
    grounded, report = feet_on_floor(lifted)
    assert report["ground_shift_m"] == pytest.approx(-0.12, abs=0.01)
    assert np.abs(grounded.translation - motion.translation).max() < 0.02

    # Noise on the root makes planted feet slide; the stage pins them (measured where the clean
    # walk's sole points are in contact).
    contact = motion_contacts(motion)
    noisy = motion.translation + np.random.default_rng(2).normal(scale=0.01, size=motion.translation.shape) * [1, 0, 1]
    noisy = Motion(motion.fps, motion.rotations, noisy, skeleton)
    locked, report = feet_on_floor(noisy)
    assert report["contact_runs"] > 0
    before = feet_metrics(noisy, contact)["foot_skate_cm_per_s"]
    assert feet_metrics(locked, contact)["foot_skate_cm_per_s"] < 0.3 * before
    assert _skating(locked.rotations, locked.translation, skeleton, motion.fps) < 0.5 * _skating(
        noisy.rotations, noisy.translation, skeleton, motion.fps)


def _skating(rotations, translation, skeleton, fps):
    positions, globals_ = forward_kinematics(rotations, translation, skeleton)
    soles = foot_floor_points(positions, globals_, skeleton).reshape(len(positions), 6, 3)
    contact = detect_foot_contact(soles, fps, ground_height=0.0, speed_threshold=1.0)
    return foot_skating_cm(soles, contact)["mean_cm_per_frame"]


def test_solve_landmarks_on_z_up_noisy_joints(walk):
    motion, joints, _ = walk
    noisy = joints + np.random.default_rng(3).normal(scale=0.01, size=joints.shape)
    z_up = noisy[..., [0, 2, 1]] * [1, -1, 1]                      # core (Y up) -> a Z-up file
    seq = LandmarkSequence(JOINT_NAMES, z_up, np.ones(joints.shape[:2]), 60.0, layout="smpl24", source="walk.npy")
    solved, report = solve_landmarks(seq, SolveOptions(strength=0.5))
    assert report["file_up_axis"] == "+Z"
    assert solved.num_frames == len(joints) and np.isfinite(solved.rotations).all()
    positions, _ = forward_kinematics(solved.rotations, solved.translation, solved.skeleton)
    shift = report["feet"]["ground_shift_m"]
    error = np.linalg.norm(positions - (joints + [0, shift, 0]), axis=-1).mean()
    assert error < 0.02
    assert solved.skeleton.stature() == pytest.approx(motion.skeleton.stature(), rel=0.03)


def test_gaps_are_filled_and_long_gaps_bridged(walk):
    _, joints, _ = walk
    valid = np.ones(joints.shape[:2], dtype=bool)
    valid[40:45, J["left_wrist"]] = False            # short: filled
    valid[100:160] = False                           # 1 s without anyone: bridged
    positions = np.where(valid[..., None], joints, np.nan)
    targets = JointTargets(positions, valid, fps=60.0)
    motion, report = solve_targets(targets, SolveOptions(max_gap_s=0.5, feet=False))
    assert np.isfinite(motion.rotations).all()
    assert report["bridged_frame_count"] == 60 and report["bridged_frames"][0] == 100
    assert report["filled_points"] == 5
    line = np.linspace(motion.translation[99], motion.translation[160], 62)
    assert np.allclose(motion.translation[99:161], line, atol=1e-9)


def test_options_are_checked():
    with pytest.raises(LandmarkError, match="threshold"):
        SolveOptions(threshold=1.5).check()
    with pytest.raises(LandmarkError, match="filter mode"):
        SolveOptions(filter_mode="causal").check()


@pytest.mark.skipif(not TRC.is_dir(), reason="shared Pose2Sim TRC data not present (../shared/data/landmarks_real)")
def test_real_pose2sim_trial_solves_onto_a_plausible_body():
    from sparse_mocap_addon.core.landmarks.formats import read_landmarks

    seq = read_landmarks(TRC / "S00_P00_T01_BalancingTrial_0-100.trc")
    motion, report = solve_landmarks(seq)
    assert motion.num_frames == 100 and np.isfinite(motion.rotations).all()
    assert 1.5 < motion.skeleton.stature() < 2.0
    assert report["missing_joints"] == ["left_hand", "right_hand"]
    positions, globals_ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    soles = foot_floor_points(positions, globals_, motion.skeleton)
    lowest = soles[..., 1].min(axis=(1, 2))
    assert abs(np.median(lowest)) < 0.02 and lowest.min() > -0.03
    assert max(report["feet"]["contact_fraction"]) > 0.3
