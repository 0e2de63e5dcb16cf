"""The six-point solver (core/trackers/six_point): exact joint-level targets from FK of real motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import quat_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, forward_kinematics
from sparse_mocap_addon.core.trackers.six_point import SixPointOptions, solve_six_point
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, TRACKER_JOINTS

CORPUS = Path(__file__).resolve().parents[1] / "build" / "corpus"
END_JOINTS = [TRACKER_JOINTS[n] for n in SIX_POINT]


def _targets(motion: Motion):
    pos, glob = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    return {n: (pos[:, TRACKER_JOINTS[n]].copy(), glob[:, TRACKER_JOINTS[n]].copy()) for n in SIX_POINT}, pos, glob


def _solve(motion: Motion, targets=None, options=None):
    if targets is None:
        targets, pos, glob = _targets(motion)
    else:
        pos, glob = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    solved, report = solve_six_point(targets, motion.skeleton, motion.fps, options)
    spos, sglob = forward_kinematics(solved.rotations, solved.translation, motion.skeleton)
    return solved, report, pos, glob, spos, sglob


def _check_exact(motion: Motion, mpjpe_limit_m: float):
    solved, report, pos, glob, spos, sglob = _solve(motion)
    assert solved.rotations.shape == (motion.num_frames, 24, 4)
    assert solved.translation.shape == (motion.num_frames, 3)
    assert solved.skeleton is motion.skeleton and solved.fps == motion.fps
    err = np.linalg.norm(spos - pos, axis=-1)
    # End effectors (pelvis, head, wrists, ankles) hit to < 1e-6 m; their global rotations exact.
    assert err[:, END_JOINTS].max() < 1e-6
    assert np.abs(sglob[:, END_JOINTS] - glob[:, END_JOINTS]).max() < 1e-6
    assert err.mean() < mpjpe_limit_m
    # Hands and toes keep identity locals.
    for j in (10, 11, 22, 23):
        assert np.allclose(np.abs(solved.rotations[:, j, 0]), 1.0)
    assert report["head_residual_max_m"] < 1e-6
    return err


def test_demo_walk_exact_end_effectors():
    err = _check_exact(demo_motion(seconds=2.0), mpjpe_limit_m=0.02)
    assert err.shape[1] == 24


@pytest.mark.parametrize("scale", (0.85, 1.15))
def test_different_proportions(scale):
    """A body whose limbs are 15% shorter/longer than the default proportions for its height."""
    m = BodyMeasurements(height=1.75 * (1.0 + 0.5 * (scale - 1.0)), arm_length=0.56 * scale, leg_length=0.84 * scale)
    skeleton = skeleton_from_measurements(m)
    _check_exact(demo_motion(skeleton, seconds=2.0), mpjpe_limit_m=0.02)


def test_corpus_test_clips():
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(f"no corpus at {CORPUS} (build it with training/build_corpus.py)")
    from training.imu_dataset import load_corpus
    motions = load_corpus(CORPUS, "test")
    by_source = {}
    for m in motions:
        by_source.setdefault(m.metadata.get("corpus_source"), m)
    errors = []
    for m in by_source.values():
        m = Motion(m.fps, m.rotations[:300], m.translation[:300], m.skeleton, m.metadata)
        solved, report, pos, glob, spos, sglob = _solve(m)
        err = np.linalg.norm(spos - pos, axis=-1)
        # Reachable ends: the feet always (the hips ride the exact pelvis); the head within a
        # micrometre; hands unless the report names unreachable frames.
        for name in ("left_foot", "right_foot"):
            assert err[:, TRACKER_JOINTS[name]].max() < 1e-6
        assert err[:, JOINT_INDEX["head"]].max() < 1e-5
        for name in ("left_hand", "right_hand"):
            if report["unreachable_frames"][name] == 0:
                assert err[:, TRACKER_JOINTS[name]].max() < 1e-6
        errors.append(err.mean())
    assert np.mean(errors) < 0.03


def test_missing_frames_are_filled_and_reported():
    motion = demo_motion(seconds=1.0)
    targets, pos, _ = _targets(motion)
    lp, lr = targets["left_hand"]
    lp[10:20] = np.nan
    lr[10:20] = np.nan
    hp, hr = targets["head"]
    hp[:5] = np.nan
    targets["right_foot"][1][-3:] = np.nan
    solved, report, _, _, spos, _ = _solve(motion, targets)
    assert np.isfinite(solved.rotations).all() and np.isfinite(solved.translation).all()
    assert report["filled_frames"] == {"pelvis": 0, "head": 5, "left_hand": 10, "right_hand": 0,
                                       "left_foot": 0, "right_foot": 3}
    good = np.ones(motion.num_frames, dtype=bool)
    good[10:20] = False
    wrist = TRACKER_JOINTS["left_hand"]
    assert np.linalg.norm(spos[good, wrist] - pos[good, wrist], axis=-1).max() < 1e-6
    # The filled frames lie between their neighbours (interpolated, not thrown away).
    assert np.linalg.norm(spos[10:20, wrist] - pos[10:20, wrist], axis=-1).max() < 0.05


def test_missing_targets():
    motion = demo_motion(seconds=0.5)
    targets, _, _ = _targets(motion)
    no_hand = dict(targets)
    del no_hand["right_hand"]
    solved, report = solve_six_point(no_hand, motion.skeleton, motion.fps)
    assert "right_hand" in report["missing_targets"]
    # The arm stays at rest below its collar.
    for joint in ("right_shoulder", "right_elbow", "right_wrist"):
        assert np.allclose(quat_to_matrix(solved.rotations[:, JOINT_INDEX[joint]]), np.eye(3))
    no_pelvis = dict(targets)
    no_pelvis["pelvis"] = (np.full((motion.num_frames, 3), np.nan), np.full((motion.num_frames, 3, 3), np.nan))
    with pytest.raises(ValueError, match="pelvis"):
        solve_six_point(no_pelvis, motion.skeleton, motion.fps)
    with pytest.raises(ValueError, match="frames"):
        bad = dict(targets)
        bad["head"] = (targets["head"][0][:-1], targets["head"][1][:-1])
        solve_six_point(bad, motion.skeleton, motion.fps)


@pytest.mark.parametrize("soft", (0.0, 0.05))
def test_unreachable_foot_points_straight_at_target(soft):
    motion = demo_motion(seconds=0.5)
    targets, pos, _ = _targets(motion)
    hip = JOINT_INDEX["left_hip"]
    p, r = targets["left_foot"]
    p[:] = pos[:, hip] + (p - pos[:, hip]) * 2.0          # twice as far as the leg reaches
    solved, report, _, _, spos, _ = _solve(motion, targets, SixPointOptions(soft_reach=soft))
    assert report["unreachable_frames"]["left_foot"] == motion.num_frames
    knee, ankle = JOINT_INDEX["left_knee"], JOINT_INDEX["left_ankle"]
    thigh = spos[:, knee] - spos[:, hip]
    shin = spos[:, ankle] - spos[:, knee]
    cos = np.sum(thigh * shin, -1) / np.linalg.norm(thigh, axis=-1) / np.linalg.norm(shin, axis=-1)
    assert cos.min() > 0.99
    to_target = p - spos[:, hip]
    reached = spos[:, ankle] - spos[:, hip]
    cos_dir = np.sum(to_target * reached, -1) / np.linalg.norm(to_target, axis=-1) / np.linalg.norm(reached, axis=-1)
    assert cos_dir.min() > 1 - 1e-9


def test_head_is_reached_from_any_spine_start():
    """The spine reaches the head exactly from a prior that is nonsense (the whole body turned
    upside down, as a network's guess of someone lying on the floor was) and on a spine stretched to
    within a millimetre of its length, where the old Gauss-Newton crawled."""
    motion = demo_motion(seconds=1.0)
    targets, pos, glob = _targets(motion)
    flip = np.diag([1.0, -1.0, -1.0])
    for prior in (flip @ glob, np.broadcast_to(np.eye(3), glob.shape).copy()):
        solved, report = solve_six_point(targets, motion.skeleton, motion.fps, prior=prior)
        spos, _ = forward_kinematics(solved.rotations, solved.translation, motion.skeleton)
        assert report["head_residual_max_m"] < 1e-6
        assert np.linalg.norm(spos[:, END_JOINTS] - pos[:, END_JOINTS], axis=-1).max() < 1e-6
    # Nearly straight: the head 0.5 mm short of the spine's full length above spine1.
    skeleton = motion.skeleton
    spine = [JOINT_INDEX[n] for n in ("spine2", "spine3", "neck", "head")]
    length = np.linalg.norm(skeleton.offsets[spine], axis=-1).sum()
    straight = dict(targets)
    hp = pos[:, JOINT_INDEX["spine1"]] + (length - 5e-4) * glob[:, 0, :, 1]
    straight["head"] = (hp, targets["head"][1])
    solved, report = solve_six_point(straight, skeleton, motion.fps)
    spos, _ = forward_kinematics(solved.rotations, solved.translation, skeleton)
    assert np.linalg.norm(spos[:, JOINT_INDEX["head"]] - hp, axis=-1).max() < 1e-6
    # Beyond reach: a straight spine pointing at the head, the residual reported.
    far = dict(targets)
    far["head"] = (pos[:, JOINT_INDEX["spine1"]] + 1.2 * length * glob[:, 0, :, 1], targets["head"][1])
    solved, report = solve_six_point(far, skeleton, motion.fps)
    assert abs(report["head_residual_max_m"] - 0.2 * length) < 1e-6
