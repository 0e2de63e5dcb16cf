"""Tracker-to-body calibration from a held pose: a synthetic round trip (device poses made from the
FK of a held T-/A-pose followed by the demo walk, with known random mountings and heading), the
heading choices, and refusals (a wearer who moved, swapped trackers, a window off the end)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.kinematics.rotations import (axis_angle_to_matrix, matrix_to_quat, quat_identity,
                                                          quat_to_matrix)
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from sparse_mocap_addon.core.trackers.calibration import (EYE_HEIGHT_RATIO, align_recording, apply_calibration,
                                                          apply_mountings, calibrate_trackers, calibration_pose,
                                                          estimate_height)
from sparse_mocap_addon.core.trackers.recording import (SIX_POINT, TRACKER_JOINTS, TrackerError, TrackerMounting,
                                                        TrackerRecording)

FPS = 60.0
HEADING_DEG = 130.0
SHIFT = np.array([0.7, 0.02, -1.3])


def ry(deg):
    a = math.radians(deg)
    return np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])


def scenario(pose="t", names=SIX_POINT, offset_scale=0.06, seed=3, heading=HEADING_DEG, height=1.68):
    """(recording, skeleton, true mountings, true joints (T, 24, 3), true globals) for a pose held 1 s
    then the demo walk; the recording faces ``heading`` and is shifted by SHIFT."""
    skeleton = skeleton_from_measurements(default_measurements(height=height))
    walk = demo_motion(skeleton, seconds=2.0, fps=FPS)
    _, local = calibration_pose(pose)
    held = np.broadcast_to(matrix_to_quat(local), (int(FPS), 24, 4))
    rotations = np.concatenate([held, walk.rotations])
    translation = np.concatenate([np.broadcast_to(skeleton.offsets[0], (int(FPS), 3)), walk.translation])
    J, G = forward_kinematics(rotations, translation, skeleton)
    rng = np.random.default_rng(seed)
    mounts = {n: TrackerMounting(rng.normal(scale=offset_scale, size=3), axis_angle_to_matrix(rng.normal(size=3)))
              for n in names}
    H = ry(heading)
    pos, quat = [], []
    for n in names:
        j = TRACKER_JOINTS[n]
        R_dev = G[:, j] @ mounts[n].rotation.T                    # R_bone = R_dev M
        p_dev = J[:, j] - R_dev @ mounts[n].offset                # joint = p + R_dev o
        pos.append(p_dev @ H.T + SHIFT)
        quat.append(matrix_to_quat(H @ R_dev))
    rec = TrackerRecording(names, np.stack(pos, 1), np.stack(quat, 1), FPS, source="synthetic.csv")
    return rec, skeleton, mounts, J, G


@pytest.mark.parametrize("pose", ["t", "a"])
def test_round_trip_with_known_head_mounting_is_exact(pose):
    rec, skeleton, mounts, J, G = scenario(pose)
    cal = calibrate_trackers(rec, skeleton, pose=pose, known={"head": mounts["head"]})
    assert cal.method == "known" and cal.pose == pose and cal.frames == (0, 59)
    assert abs(cal.heading_deg - HEADING_DEG) < 1e-9
    assert np.allclose(cal.alignment, ry(-HEADING_DEG), atol=1e-12)
    for n, m in mounts.items():
        assert np.abs(cal.mountings[n].offset - m.offset).max() < 1e-9
        assert np.abs(cal.mountings[n].rotation - m.rotation).max() < 1e-9
    out = apply_calibration(rec, cal)
    origin = ry(-HEADING_DEG) @ SHIFT                                 # the origin is not moved, only turned
    for n in SIX_POINT:
        j = TRACKER_JOINTS[n]
        assert np.abs(out[n][0] - (J[:, j] + origin)).max() < 1e-9    # joints over the held pose and the walk
        assert np.abs(out[n][1] - G[:, j]).max() < 1e-9               # bone rotations
    assert np.allclose(cal.body_position, origin, atol=1e-9)
    assert cal.height_m is not None and max(cal.motion[n][0] for n in SIX_POINT) < 1e-12


def test_positions_heading_without_known_mountings():
    rec, skeleton, mounts, J, G = scenario(offset_scale=0.03, seed=5)
    cal = calibrate_trackers(rec, skeleton)
    assert cal.method == "positions"
    assert abs((cal.heading_deg - HEADING_DEG + 180) % 360 - 180) < 5.0
    # Each joint is off by at most a fixed vector in its device frame (how far the held pose was misplaced).
    out = apply_mountings(rec, cal.mountings)
    H = ry(HEADING_DEG)
    for n in SIX_POINT:
        true = J[:, TRACKER_JOINTS[n]] @ H.T + SHIFT
        err = np.linalg.norm(out[n][0] - true, axis=-1)
        assert err.max() < 0.15 and np.ptp(err) < 1e-9
    # the aligned recording faces +Z: the walk goes along +Z
    aligned = align_recording(rec, cal)
    travel = aligned.positions[-1, 0] - aligned.positions[60, 0]
    assert travel[2] > 0.5 and abs(math.degrees(math.atan2(travel[0], travel[2]))) < 8.0


def test_head_heading_and_given_heading():
    rec, skeleton, mounts, J, G = scenario(names=("head", "pelvis"))
    # The head's forward axis gives the heading when its mounting rotation is the identity.
    rec2, *_ = scenario(names=("head", "pelvis"), seed=3)
    mounts_id = dict(mounts, head=TrackerMounting(mounts["head"].offset, np.eye(3)))
    H = ry(HEADING_DEG)
    j = TRACKER_JOINTS["head"]
    R_dev = G[:, j] @ mounts_id["head"].rotation.T
    rec2.orientations[:, 0] = matrix_to_quat(H @ R_dev)
    cal = calibrate_trackers(rec2, skeleton)                           # head + pelvis: too narrow for positions
    assert cal.method == "head" and abs(cal.heading_deg - HEADING_DEG) < 1e-9
    cal = calibrate_trackers(rec, skeleton, heading=HEADING_DEG)
    assert cal.method == "given" and abs(cal.heading_deg - HEADING_DEG) < 1e-9
    facing = H @ np.array([0.0, 0.0, 1.0])
    assert abs(calibrate_trackers(rec, skeleton, heading=facing).heading_deg - HEADING_DEG) < 1e-9
    with pytest.raises(TrackerError, match="too close together in the held t-pose"):
        calibrate_trackers(rec, skeleton, heading="positions")


def test_moving_wearer_is_refused():
    rec, skeleton, mounts, *_ = scenario()
    k = rec.index("left_hand")
    rec.positions[30:40, k, 1] += 0.12                                 # the left hand dips during the window
    with pytest.raises(TrackerError) as info:
        calibrate_trackers(rec, skeleton, known={"head": mounts["head"]})
    msg = str(info.value)
    assert msg.startswith("synthetic.csv: the wearer moved during the calibration window (frames 0-59)")
    assert "the left_hand tracker moved 0.1" in msg and "most at frame 3" in msg and msg.count(". ") == 0
    rec, skeleton, mounts, *_ = scenario()
    k = rec.index("right_foot")
    turn = axis_angle_to_matrix(np.array([0.0, 0.4, 0.0]))
    rec.orientations[45:, k] = matrix_to_quat(turn @ quat_to_matrix(rec.orientations[45:, k]))
    with pytest.raises(TrackerError, match=r"right_foot tracker turned 1[0-9.]+ deg from its mean orientation "
                                           r"\(most at frame 45\)"):
        calibrate_trackers(rec, skeleton)
    # a later still window is fine (the first 0.5 s only)
    calibrate_trackers(rec, skeleton, duration_s=0.5)


def test_swapped_hands_and_bad_windows_are_refused():
    rec, skeleton, mounts, *_ = scenario()
    i, j = rec.index("left_hand"), rec.index("right_hand")
    rec.positions[:, [i, j]] = rec.positions[:, [j, i]]
    rec.orientations[:, [i, j]] = rec.orientations[:, [j, i]]
    with pytest.raises(TrackerError, match=r"the left_hand tracker is 1\.[0-9]+ m from its joint in the held t-pose.*"
                                           "swapped"):
        calibrate_trackers(rec, skeleton, known={"head": mounts["head"]})
    rec, skeleton, *_ = scenario()
    with pytest.raises(TrackerError, match="runs past the end of the recording"):
        calibrate_trackers(rec, skeleton, start_s=2.5, duration_s=1.0)
    rec.valid[0:40, rec.index("pelvis")] = False
    rec.positions[0:40, rec.index("pelvis")] = np.nan
    with pytest.raises(TrackerError, match="the pelvis tracker is missing in 40 of the 60 calibration frames"):
        calibrate_trackers(rec, skeleton)
    with pytest.raises(TrackerError, match="unknown calibration pose 'x'; expected 't' .*'a' \\(A-pose\\)"):
        calibrate_trackers(rec, skeleton, pose="x")
    with pytest.raises(TrackerError, match="known mounting is given for 'left_knee'"):
        calibrate_trackers(rec, skeleton, known={"left_knee": TrackerMounting()})


def test_apply_mountings_keeps_missing_samples_missing():
    rec, skeleton, mounts, *_ = scenario()
    rec.valid[100, 0] = False
    rec.positions[100, 0] = np.nan
    rec.orientations[100, 0] = np.nan
    out = apply_mountings(rec, mounts)
    assert np.isnan(out[rec.names[0]][0][100]).all() and np.isfinite(out[rec.names[0]][0][99]).all()
    ident = apply_mountings(rec)
    assert set(ident) == set(rec.names)
    assert np.allclose(ident["head"][0][:50], rec.positions[:50, rec.index("head")])


def test_height_from_the_head_tracker():
    names = ("head", "left_hand", "right_hand")
    T = 90
    pos = np.zeros((T, 3, 3))
    pos[:, 0] = [0.0, EYE_HEIGHT_RATIO * 1.8, 0.0]
    pos[:, 1] = [0.8, 1.4, 0.0]
    pos[:, 2] = [-0.8, 1.4, 0.0]
    rec = TrackerRecording(names, pos, np.broadcast_to(quat_identity(), (T, 3, 4)), FPS)
    assert abs(estimate_height(rec) - 1.8) < 1e-12
    assert abs(estimate_height(rec, floor_y=-0.1) - (EYE_HEIGHT_RATIO * 1.8 + 0.1) / EYE_HEIGHT_RATIO) < 1e-12
