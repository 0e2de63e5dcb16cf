"""Tracker reconstruction (pipelines/trackers.py) and causal foot planting (core/feet/plant.py),
with the shipped tracker poser weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.feet.soles import foot_floor_points
from sparse_mocap_addon.core.feet.stage import FeetOptions, feet_metrics, motion_contacts
from sparse_mocap_addon.core.feet.plant import FootPlanter, sole_offsets
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from sparse_mocap_addon.core.trackers.six_point import solve_six_point
from sparse_mocap_addon.core.trackers.synth import default_mountings, joint_targets, virtual_trackers
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, THREE_POINT, TRACKER_JOINTS, TrackerError
from sparse_mocap_addon.pipelines.trackers import (TrackerSolveOptions, TrackerStream, choose_mode,
                                                   reconstruct_trackers, resample_targets, solve_targets)

from .test_imu_dataset import _turning_motion

CORPUS = Path(__file__).resolve().parents[1] / "build" / "corpus"
# Test-split clips on which the six-point head used to end centimetres off its tracker (issue 16):
# lying down (the network's pelvis up to 175 degrees off the tracked one), picking things up off
# the floor, salsa (a nearly straight spine, where the old Gauss-Newton crawled).
HEAD_CLIPS = ("hdm05/HDM_mm_lieDownFloor_018_120.npz", "hdm05/HDM_mm_depositFloorR_026_120.npz",
              "cmu_salsa/60_13_scaled.npz")


def _recording(names, seconds=2.0, seed=0):
    motion = _turning_motion(seconds=seconds, seed=seed)
    mountings = default_mountings(motion.skeleton, names)
    return motion, virtual_trackers(motion, names, mountings), mountings


def _positions(motion):
    return forward_kinematics(motion.rotations, motion.translation, motion.skeleton)


def test_choose_mode_names_what_is_missing():
    assert choose_mode(SIX_POINT) == "six_point"
    assert choose_mode(THREE_POINT + ("pelvis",)) == "three_point"
    with pytest.raises(TrackerError, match="at least the head and both hands"):
        choose_mode(("head", "left_hand"))
    with pytest.raises(TrackerError, match="left_foot, right_foot"):
        choose_mode(("pelvis", "head", "left_hand", "right_hand"), "six_point")
    with pytest.raises(ValueError, match="mode must be one of"):
        TrackerSolveOptions(mode="magic").validate()


@pytest.mark.parametrize("mode", ["six_point", "analytic"])
def test_six_point_reaches_every_tracked_joint(mode):
    motion, recording, mountings = _recording(SIX_POINT)
    # The solver alone (the feet stage after it may move the feet off their trackers: next test).
    solved, report = reconstruct_trackers(recording, motion.skeleton, mountings=mountings,
                                          options=TrackerSolveOptions(mode=mode, feet=FeetOptions(enabled=False)))
    assert report["mode"] == mode and solved.num_frames == motion.num_frames
    truth, _ = _positions(motion)
    pos, _ = _positions(solved)
    # Every tracked joint exactly, the head too (with a network's prior as well as from the analytic start).
    tracked = [TRACKER_JOINTS[n] for n in SIX_POINT]
    assert np.abs(pos[:, tracked] - truth[:, tracked]).max() < 1e-6
    assert report["head_residual_max_m"] < 1e-6
    # The untracked joints are guessed, but sensibly.
    assert np.linalg.norm(pos - truth, axis=-1).mean() < 0.05


@pytest.mark.parametrize("clip", HEAD_CLIPS)
def test_six_point_head_stays_on_its_tracker_on_real_clips(clip):
    path = CORPUS / "test" / clip
    if not path.is_file():
        pytest.skip(f"{path} is missing (build the corpus with training/build_corpus.py)")
    motion = Motion.load(path)
    mountings = default_mountings(motion.skeleton, SIX_POINT)
    targets = joint_targets(virtual_trackers(motion, SIX_POINT, mountings), mountings)
    solved, report = solve_targets(targets, motion.skeleton, motion.fps, TrackerSolveOptions(mode="six_point"))
    pos, _ = _positions(solved)
    head = np.linalg.norm(pos[:, TRACKER_JOINTS["head"]] - targets["head"][0], axis=-1)
    assert head.max() < 2e-3 and report["head_residual_max_m"] < 1e-6


@pytest.mark.parametrize("names", [SIX_POINT, THREE_POINT])
def test_the_feet_stage_keeps_the_tracked_joints_and_puts_the_feet_on_the_floor(names):
    """On by default: only the legs move (the pelvis, head and hands stay on their trackers); no
    sole under the floor (six-point feet follow their trackers 2 cm into it without the stage), the
    feet the truth plants slide less."""
    walk = demo_motion(seconds=3.0)
    motion = Motion(walk.fps, walk.rotations, walk.translation - [0.0, 0.02, 0.0], walk.skeleton)   # 2 cm low
    mountings = default_mountings(motion.skeleton, names)
    recording = virtual_trackers(motion, names, mountings)
    raw, _ = reconstruct_trackers(recording, motion.skeleton, mountings=mountings,
                                  options=TrackerSolveOptions(feet=FeetOptions(enabled=False)))
    solved, report = reconstruct_trackers(recording, motion.skeleton, mountings=mountings)
    assert report["feet"]["enabled"] and report["feet"]["floor"] == "given" and report["feet"]["contact_runs"] > 0
    upper = [TRACKER_JOINTS[n] for n in names if "foot" not in n]
    assert np.abs(_positions(solved)[0][:, upper] - _positions(raw)[0][:, upper]).max() < 1e-9
    contact = motion_contacts(walk)
    after, before = feet_metrics(solved, contact), feet_metrics(raw, contact)
    assert after["foot_below_floor_max_cm"] <= 1.0
    assert after["foot_skate_cm_per_s"] < before["foot_skate_cm_per_s"]
    if "left_foot" in names:
        assert before["foot_below_floor_max_cm"] > 1.5 and after["foot_float_in_contact_max_cm"] <= 1.0
    else:
        # Three points: where the guessed pelvis is too high for the leg, a contact foot stays short
        # of the floor (lowering the body would pull the head and hands off their trackers).
        assert after["foot_float_in_contact_max_cm"] <= before["foot_float_in_contact_max_cm"]


def test_the_network_prior_is_only_a_prior():
    """With the true pose as a fully trusted prior the six-point solver gives the truth back; with
    the default trust the end orientations still have their say."""
    motion = _turning_motion(seconds=1.0)
    pos, glob = _positions(motion)
    targets = {n: (pos[:, TRACKER_JOINTS[n]], glob[:, TRACKER_JOINTS[n]]) for n in SIX_POINT}
    trusted = replace(TrackerSolveOptions().ik, prior_pole_weight=1e6)
    solved, _ = solve_six_point(targets, motion.skeleton, motion.fps, trusted, prior=glob)
    out, _ = _positions(solved)
    assert np.linalg.norm(out - pos, axis=-1).max() < 1e-3
    solved, _ = solve_six_point(targets, motion.skeleton, motion.fps, TrackerSolveOptions().ik, prior=glob)
    out, _ = _positions(solved)
    assert np.linalg.norm(out - pos, axis=-1).mean() < 0.01


def test_three_point_reaches_head_and_hands_and_keeps_feet_on_the_floor():
    motion, recording, mountings = _recording(THREE_POINT, seconds=3.0)
    solved, report = reconstruct_trackers(recording, motion.skeleton, mountings=mountings)
    assert report["mode"] == "three_point" and report["guessed"] == ["pelvis", "left_foot", "right_foot"]
    truth, _ = _positions(motion)
    pos, glob = _positions(solved)
    tracked = [TRACKER_JOINTS[n] for n in THREE_POINT]
    assert np.abs(pos[:, tracked] - truth[:, tracked]).max() < 1e-3
    soles = foot_floor_points(pos, glob, motion.skeleton)
    assert soles[..., 1].min() > -0.005          # never below the floor (a few mm of unreachable slack)
    assert np.linalg.norm(pos - truth, axis=-1).mean() < 0.15


@pytest.mark.parametrize("names", [THREE_POINT, SIX_POINT])
def test_stream_equals_offline_without_losses(names):
    motion, recording, mountings = _recording(names, seconds=1.0)
    targets = joint_targets(recording, mountings)
    # The offline feet stage sees the whole take: the stream has none, so it is off here.
    offline, _ = solve_targets(targets, motion.skeleton, motion.fps,
                               TrackerSolveOptions(offline_model=False, feet=FeetOptions(enabled=False)))
    stream = TrackerStream(motion.skeleton, names)
    rotations, translation = [], []
    for t in range(motion.num_frames):
        r, x = stream.step(np.stack([targets[n][0][t] for n in names]),
                           np.stack([targets[n][1][t] for n in names]))
        rotations.append(r)
        translation.append(x)
    rotations = np.stack(rotations)
    same_sign = np.sign(np.sum(rotations * offline.rotations, axis=-1, keepdims=True))
    assert np.abs(rotations * same_sign - offline.rotations).max() < 1e-4
    assert np.abs(np.stack(translation) - offline.translation).max() < 1e-5


def test_stream_holds_a_lost_tracker():
    motion, recording, mountings = _recording(SIX_POINT, seconds=0.5)
    targets = joint_targets(recording, mountings)
    stream = TrackerStream(motion.skeleton, SIX_POINT)
    pos = np.stack([targets[n][0][0] for n in SIX_POINT])
    rot = np.stack([targets[n][1][0] for n in SIX_POINT])
    stream.step(pos, rot)
    lost = pos.copy()
    lost[2] = np.nan
    r, x = stream.step(lost, rot, valid=[True, True, False, True, True, True])
    assert np.isfinite(r).all() and np.isfinite(x).all()


def test_other_frame_rates_are_resampled_to_the_network_rate():
    motion, recording, mountings = _recording(SIX_POINT, seconds=1.0)
    targets = joint_targets(recording, mountings)
    at_30 = {n: (p[::2], r[::2]) for n, (p, r) in targets.items()}
    back = resample_targets(at_30, 30.0, 60.0)
    assert len(back["head"][0]) == 2 * len(at_30["head"][0]) - 1
    assert np.abs(back["head"][0][::2] - at_30["head"][0]).max() < 1e-12
    solved, report = solve_targets(at_30, motion.skeleton, 30.0)
    assert solved.fps == 60.0 and report["resampled_from_fps"] == 30.0


def test_foot_planter_pins_contact_feet_on_the_floor_and_never_below():
    motion = _turning_motion(seconds=1.0)
    T = 40
    rot = np.broadcast_to(np.eye(3), (T, 2, 3, 3)).copy()
    rest = motion.skeleton.rest_positions()
    floor = -sole_offsets(motion.skeleton)[..., 1].min(axis=1)      # ankle height with the sole on the floor
    ankle = np.zeros((T, 2, 3))
    ankle[:, :, 0] = rest[[7, 8], 0]
    ankle[:, :, 2] = np.linspace(0.0, 0.2, T)[:, None]               # sliding forward
    ankle[:, :, 1] = floor + 0.03                                     # floating 3 cm
    ankle[:10, 1, 1] = floor[1] - 0.05                                  # right foot sinking at first
    contact = np.zeros((T, 2))
    contact[10:30, 0] = 1.0
    planter = FootPlanter(motion.skeleton, 60.0, ease_s=0.05)
    out = planter.run(ankle, rot, contact)
    assert np.ptp(out[10:30, 0, [0, 2]], axis=0).max() < 1e-12       # pinned while in contact
    assert np.abs(out[16:30, 0, 1] - floor[0]).max() < 1e-12         # on the floor after the ease
    assert (out[..., 1] >= floor - 1e-12).all()                       # never below it
    assert np.abs(out[36:, 0] - ankle[36:, 0]).max() < 1e-12          # released and eased back
    again = FootPlanter(motion.skeleton, 60.0, ease_s=0.05)
    assert np.array_equal(np.stack([again.step(ankle[t], rot[t], contact[t]) for t in range(T)]), out)


def test_foot_planter_without_pinning_only_keeps_feet_on_and_above_the_floor():
    motion = _turning_motion(seconds=1.0)
    T = 30
    rot = np.broadcast_to(np.eye(3), (T, 2, 3, 3)).copy()
    floor = -sole_offsets(motion.skeleton)[..., 1].min(axis=1)
    ankle = np.zeros((T, 2, 3))
    ankle[:, :, 2] = np.linspace(0.0, 0.2, T)[:, None]
    ankle[:, :, 1] = floor + 0.03
    contact = np.zeros((T, 2))
    contact[5:25, 0] = 1.0
    out = FootPlanter(motion.skeleton, 60.0, ease_s=0.05, pin=False).run(ankle, rot, contact)
    assert np.array_equal(out[..., [0, 2]], ankle[..., [0, 2]])        # free to slide
    assert np.abs(out[11:25, 0, 1] - floor[0]).max() < 1e-12           # but down on the floor in contact
    assert np.array_equal(out[:, 1], ankle[:, 1])                      # the other foot untouched


def test_offline_smoothing_takes_tracking_noise_out():
    from sparse_mocap_addon.core.kinematics.metrics import jitter_km_s3
    from sparse_mocap_addon.core.trackers.synth import TrackerNoise, corrupt_trackers

    from sparse_mocap_addon.core.body.demo import demo_motion

    motion = demo_motion(seconds=3.0)          # a smooth walk (the turning test motion is jittery itself)
    mountings = default_mountings(motion.skeleton, SIX_POINT)
    recording = virtual_trackers(motion, SIX_POINT, mountings)
    noisy = joint_targets(corrupt_trackers(recording, TrackerNoise(drop_rate=0.0), 1), mountings)
    truth, _ = _positions(motion)
    raw, _ = solve_targets(noisy, motion.skeleton, motion.fps, TrackerSolveOptions(mode="analytic"))
    smooth, _ = solve_targets(noisy, motion.skeleton, motion.fps, TrackerSolveOptions(mode="analytic", smoothing_hz=8.0))
    raw_pos, smooth_pos = _positions(raw)[0], _positions(smooth)[0]
    assert jitter_km_s3(smooth_pos, motion.fps) < 0.5 * jitter_km_s3(raw_pos, motion.fps)
    assert np.linalg.norm(smooth_pos - truth, axis=-1).mean() < np.linalg.norm(raw_pos - truth, axis=-1).mean()
    with pytest.raises(ValueError, match="smoothing_hz"):
        TrackerSolveOptions(smoothing_hz=40.0).validate()


def _glitched(names, seconds=2.0):
    """A recording with a hand tracker 3 m off for frames 40-45, the head 1 m under the floor for
    frames 70-72 and the head lost for frames 90-91."""
    motion, recording, mountings = _recording(names, seconds=seconds)
    targets = joint_targets(recording, mountings)
    bad = {n: (p.copy(), r.copy()) for n, (p, r) in targets.items()}
    bad["left_hand"][0][40:46] += np.array([3.0, 0.0, 0.0])
    bad["head"][0][70:73, 1] = -1.0
    bad["head"][0][90:92] = np.nan
    return motion, targets, bad


@pytest.mark.parametrize("names", [THREE_POINT, SIX_POINT])
def test_impossible_input_is_flagged_and_given_a_fallback_pose(names):
    motion, targets, bad = _glitched(names)
    options = TrackerSolveOptions(feet=FeetOptions(enabled=False))
    solved, report = solve_targets(bad, motion.skeleton, motion.fps, options)
    failed = report["failed_frames"]
    assert np.nonzero(failed)[0].tolist() == list(range(40, 46)) + [70, 71, 72, 90, 91]
    # The head under the floor is also too far from the hands (both reasons count).
    assert report["failures"] == {"lost": 2, "too_far_apart": 9, "below_floor": 3}
    assert solved.metadata["failed_frames"] == np.nonzero(failed)[0].tolist()
    # The fallback: the rejected samples are treated as lost (interpolated from the good frames
    # around them), so the hand and head stay with the body instead of reaching for the glitch
    # (1 m and 3 m away). The three-point network hears the head as lost there, so its guessed
    # legs may differ from the clean solve's more than the tracked joints do.
    clean, _ = solve_targets(targets, motion.skeleton, motion.fps, options)
    pos, _ = _positions(solved)
    ref, _ = _positions(clean)
    error = np.linalg.norm(pos - ref, axis=-1)[failed]
    assert error[:, [TRACKER_JOINTS[n] for n in names]].max() < 0.2
    assert error.max() < 0.5
    assert np.linalg.norm(pos - ref, axis=-1)[~failed].mean() < 0.02


def test_the_stream_flags_impossible_input_and_holds_the_last_good_samples():
    motion, targets, bad = _glitched(THREE_POINT)
    stream = TrackerStream(motion.skeleton, THREE_POINT)
    flags, reasons, hands = [], {}, []
    wrist = TRACKER_JOINTS["left_hand"]
    for t in range(motion.num_frames):
        r, x = stream.step(np.stack([bad[n][0][t] for n in THREE_POINT]), np.stack([bad[n][1][t] for n in THREE_POINT]))
        flags.append(stream.failed)
        reasons[t] = stream.failure_reasons
        pos, _ = forward_kinematics(r[None], x[None], motion.skeleton)
        hands.append(pos[0, wrist])
    assert np.nonzero(flags)[0].tolist() == list(range(40, 46)) + [70, 71, 72, 90, 91]
    assert reasons[40] == ("too_far_apart",) and reasons[70] == ("too_far_apart", "below_floor")
    assert reasons[90] == ("lost",)
    # The glitched hand's last good sample is held.
    assert np.linalg.norm(np.array(hands[40:46]) - targets["left_hand"][0][39], axis=-1).max() < 1e-3


def test_a_recording_that_fits_no_pose_of_the_skeleton_is_refused():
    motion, targets, _ = _glitched(THREE_POINT)
    doubled = {n: (2.0 * p, r) for n, (p, r) in targets.items()}
    with pytest.raises(TrackerError, match="fits the skeleton"):
        solve_targets(doubled, motion.skeleton, motion.fps, TrackerSolveOptions())
