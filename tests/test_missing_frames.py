"""Which frames of a reconstruction lacked usable input (pipelines/missing_frames), and gap filling as
the add-on runs it (inference/gap_fill: options, the predictor's fallback, the report). numpy only."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.imu.formats import resample_imu
from sparse_mocap_addon.core.gaps import interpolate_gaps
from sparse_mocap_addon.core.imu.recording import SIX_SENSORS, ImuRecording
from sparse_mocap_addon.core.landmarks.sequence import LandmarkSequence
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, forward_kinematics
from sparse_mocap_addon.core.imu.synth import virtual_imus
from sparse_mocap_addon.core.trackers.synth import virtual_trackers
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, THREE_POINT, TrackerMounting, TrackerRecording
from sparse_mocap_addon.inference import gap_fill
from sparse_mocap_addon.inference.gap_fill import (GapFillOptions, fill_reconstruction, fill_with_fallback,
                                                   gap_fill_report, gap_fill_summary)
from sparse_mocap_addon.pipelines.missing_frames import (imu_missing_frames, landmark_missing_frames, resample_mask,
                                                         tracker_missing_frames)
from sparse_mocap_addon.pipelines.trackers import resample_targets


def trackers(names=SIX_POINT, seconds=1.0, fps=60.0, lost=()) -> TrackerRecording:
    """Trackers on the demo walk's joints; ``lost``: (name, first frame, stop frame) runs of lost samples."""
    motion = demo_motion(seconds=seconds, fps=fps)
    rec = virtual_trackers(motion, names, {n: TrackerMounting() for n in names})
    valid = rec.valid.copy()
    for name, start, stop in lost:
        valid[start:stop, names.index(name)] = False
    return TrackerRecording(rec.names, np.where(valid[..., None], rec.positions, np.nan),
                            np.where(valid[..., None], rec.orientations, np.nan), rec.fps, valid)


def frames(mask) -> list[int]:
    return np.flatnonzero(mask).tolist()


# --- trackers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["six_point", "analytic"])
def test_six_point_frames_without_the_head_or_the_pelvis_are_missing_a_hand_alone_is_not(mode):
    rec = trackers(lost=[("head", 10, 13), ("pelvis", 20, 22), ("left_hand", 30, 40)])
    missing = tracker_missing_frames(rec, mode)
    assert missing.shape == (rec.num_frames,)
    assert frames(missing) == [10, 11, 12, 20, 21]


def test_half_of_the_trackers_lost_is_missing():
    rec = trackers(lost=[("left_hand", 5, 8), ("right_hand", 6, 9), ("left_foot", 7, 10)])
    assert frames(tracker_missing_frames(rec, "six_point")) == [7]        # three of six lost
    rec = trackers(THREE_POINT, lost=[("left_hand", 5, 8), ("right_hand", 7, 9)])
    assert frames(tracker_missing_frames(rec, "three_point")) == [7]      # two of three lost


def test_three_point_ignores_trackers_it_does_not_use():
    rec = trackers(lost=[("pelvis", 10, 20), ("left_foot", 10, 20), ("head", 30, 31)])
    assert frames(tracker_missing_frames(rec, "three_point")) == [30]


def test_tracker_mask_follows_the_networks_resampling():
    rec = trackers(THREE_POINT, fps=30.0, lost=[("head", 10, 12)])
    missing = tracker_missing_frames(rec, "three_point", motion_fps=60.0)
    # 60 fps frame k lies at 30 fps frame k / 2: missing where either frame around it is (frame 9 is
    # followed by lost frame 10, so 18 counts too, as the pipeline resamples the targets).
    assert len(missing) == 2 * rec.num_frames - 1
    assert frames(missing) == [18, 19, 20, 21, 22, 23]


def test_resample_mask_is_the_rule_the_tracker_pipeline_resamples_targets_by():
    rng = np.random.default_rng(3)
    T = 47
    lost = rng.random(T) < 0.2
    pos = np.where(lost[:, None], np.nan, rng.normal(size=(T, 3)))
    rot = np.where(lost[:, None, None], np.nan, np.broadcast_to(np.eye(3), (T, 3, 3)))
    for fps in (30.0, 90.0, 72.0):
        resampled_pos, _ = resample_targets({"head": (pos, rot)}, fps, 60.0)["head"]
        assert np.array_equal(resample_mask(lost, fps, 60.0), np.isnan(resampled_pos).any(-1)), fps
    assert np.array_equal(resample_mask(lost, 60.0, 60.0), lost)      # the pipeline does not resample then


# --- IMUs --------------------------------------------------------------------------------------------

def imus(fps=60.0, dropped=()) -> ImuRecording:
    rec = virtual_imus(demo_motion(seconds=1.0, fps=fps))
    valid = rec.valid.copy()
    for sensor, start, stop in dropped:
        valid[start:stop, SIX_SENSORS.index(sensor)] = False
    return ImuRecording(rec.sensors, rec.orientation, rec.acceleration, rec.fps, valid=valid, world="core")


def test_any_dropped_imu_sample_makes_a_frame_missing():
    rec = imus(dropped=[("left_forearm", 10, 12), ("pelvis", 30, 31)])
    assert frames(imu_missing_frames(rec, "network")) == [10, 11, 30]


def test_imu_mask_is_on_the_pipelines_60_fps_frames():
    rec = imus(fps=30.0, dropped=[("head", 8, 9)])
    missing = imu_missing_frames(rec, "network")
    assert len(missing) == resample_imu(rec, 60.0).num_frames
    assert frames(missing) == [15, 16, 17]


def test_direct_mode_looks_only_at_the_leg_sensors():
    from sparse_mocap_addon.core.imu.direct import DENSE_LOWER_BODY

    motion = demo_motion(seconds=1.0)
    rec = virtual_imus(motion, sensor_joints=(0, 1, 2, 4, 5, 15))   # pelvis, upper and lower legs, head
    assert set(DENSE_LOWER_BODY) < set(rec.sensors) and "head" in rec.sensors
    valid = rec.valid.copy()
    valid[5:7, rec.sensors.index("head")] = False
    valid[20, rec.sensors.index(DENSE_LOWER_BODY[3])] = False
    rec = ImuRecording(rec.sensors, rec.orientation, rec.acceleration, rec.fps, valid=valid, world="core")
    assert frames(imu_missing_frames(rec, "direct")) == [20]


# --- landmarks ---------------------------------------------------------------------------------------

def smpl_landmarks(frames_count=40) -> LandmarkSequence:
    motion = demo_motion(seconds=frames_count / 30.0, fps=30.0)
    joints, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    return LandmarkSequence(JOINT_NAMES, joints, np.ones(joints.shape[:2]), 30.0, layout="smpl24")


def test_landmark_frames_without_hips_or_most_joints_are_missing():
    seq = smpl_landmarks()
    seq.confidence[5, JOINT_NAMES.index("pelvis")] = 0.0             # no root target
    seq.confidence[10:12, :15] = 0.1                                 # 15 of 24 points below the threshold
    seq.confidence[20, 12:20] = 0.0                                  # 8 of 24 missing: still solvable
    assert frames(landmark_missing_frames(seq, threshold=0.5)) == [5, 10, 11]
    assert frames(landmark_missing_frames(seq, threshold=0.05)) == [5]


# --- filling, the fallback and the report ----------------------------------------------------------

def test_fill_reconstruction_fills_the_masked_frames_and_reports_them_in_scene_frames():
    motion = demo_motion(seconds=3.0)
    missing = np.zeros(motion.num_frames, bool)
    missing[30:40] = True
    missing[100:180] = True                                          # 80 frames: longer than 1 s at 60 fps
    filled, report = fill_reconstruction(motion, missing, GapFillOptions(method="slerp"), first_frame=5)
    expected = interpolate_gaps(motion, [(30, 40)])
    assert np.allclose(filled.rotations[30:40], expected.rotations[30:40])
    assert np.allclose(filled.rotations[~missing], motion.rotations[~missing], rtol=0, atol=1e-12)
    assert np.allclose(filled.rotations[100:180], motion.rotations[100:180], rtol=0, atol=1e-12)
    assert report == {"method": "slerp", "requested_method": "slerp", "note": "", "max_gap_seconds": 1.0,
                      "filled_gaps": [[35, 44]], "filled_frames": 10, "skipped_gaps": [[105, 184]],
                      "skipped_frames": 80}
    assert gap_fill_summary(report) == ("filled 1 gap (10 frames) by slerp; 1 gap longer than 1.0 s left alone "
                                        "(frames 105-184)")


def test_report_frames_follow_the_key_spacing():
    motion = demo_motion(seconds=1.0)
    missing = np.zeros(motion.num_frames, bool)
    missing[10:14] = True
    result, method, note = fill_with_fallback(motion, missing, GapFillOptions(method="slerp"))
    report = gap_fill_report(result, method, note, GapFillOptions(method="slerp"), first_frame=1, frame_step=0.5)
    assert report["filled_gaps"] == [[6, 8]]                         # keys every half frame from frame 1


def test_summary_counts_and_nothing_to_say():
    assert gap_fill_summary(None) == ""
    report = {"method": "predictor", "note": "", "max_gap_seconds": 0.25, "filled_gaps": [[1, 3], [9, 9]],
              "filled_frames": 4, "skipped_gaps": [[20, 40], [50, 90]], "skipped_frames": 62}
    assert gap_fill_summary(report) == ("filled 2 gaps (4 frames) by the motion predictor; 2 gaps longer than "
                                        "0.25 s left alone (frames 20-40, 50-90)")
    assert gap_fill_summary(dict(report, filled_gaps=[], skipped_gaps=[])) == ""


@pytest.mark.parametrize("error, note", [(ImportError("no module"), "not installed"),
                                         (FileNotFoundError(2, "No such file", "/x/motion_predictor.npz"),
                                          "weights (motion_predictor.npz) were not found")])
def test_the_predictor_falls_back_to_slerp_and_says_so(monkeypatch, error, note):
    real = gap_fill.fill_motion_gaps
    calls = []

    def fill(motion, missing, *, max_gap_seconds, method):
        calls.append(method)
        if method == "predictor":
            raise error
        return real(motion, missing, max_gap_seconds=max_gap_seconds, method=method)

    monkeypatch.setattr(gap_fill, "fill_motion_gaps", fill)
    motion = demo_motion(seconds=1.0)
    missing = np.zeros(motion.num_frames, bool)
    missing[20:25] = True
    result, method, text = fill_with_fallback(motion, missing, GapFillOptions())
    assert calls == ["predictor", "slerp"] and method == "slerp" and note in text and result.num_filled == 5
    with pytest.raises(type(error)):                                # slerp asked for: nothing to fall back to
        monkeypatch.setattr(gap_fill, "fill_motion_gaps", lambda *a, **k: (_ for _ in ()).throw(error))
        fill_with_fallback(motion, missing, GapFillOptions(method="slerp"))


@pytest.mark.parametrize("options, message", [(GapFillOptions(method="cubic"), "unknown gap-fill method"),
                                              (GapFillOptions(max_gap_seconds=0.0), "positive number of seconds"),
                                              (GapFillOptions(max_gap_seconds=np.nan), "positive number of seconds")])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        options.validate()
