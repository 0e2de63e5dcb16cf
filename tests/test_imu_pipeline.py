"""IMU recording + measurements -> Motion (pipelines/imu.py) with the shipped weights, on
synthetic sensors and on the real TransPose example recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, measure_skeleton, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.feet.soles import foot_floor_points
from sparse_mocap_addon.core.feet.stage import FeetOptions
from sparse_mocap_addon.core.imu.formats import read_imu, resample_imu
from sparse_mocap_addon.core.imu.recording import ImuError, ImuRecording
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, virtual_imus
from sparse_mocap_addon.pipelines.imu import ImuSolveOptions, choose_mode, reconstruct_imu

TRANSPOSE = Path(__file__).resolve().parents[2] / "shared" / "data" / "imu_real" / "transpose_example"
BODY = BodyMeasurements(height=1.75, sex="male")


def _walk_recording(seconds=6.0, seed=0):
    walk = demo_motion(skeleton_from_measurements(BODY), seconds=seconds)
    return walk, corrupt(virtual_imus(walk), CorruptionModel(), np.random.default_rng(seed))


def _lowest_sole(motion):
    pos, rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    return foot_floor_points(pos, rot, motion.skeleton)[..., 1].min()


def test_a_synthetic_walk_becomes_a_walking_motion_on_the_wearers_skeleton():
    walk, rec = _walk_recording()
    progress = []
    motion, report = reconstruct_imu(rec, BODY, progress=progress.append)
    assert report["mode"] == "network" and report["model"] == "full" and report["frames"] == walk.num_frames
    assert motion.fps == 60.0 and np.isfinite(motion.rotations).all() and np.isfinite(motion.translation).all()
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert abs(measure_skeleton(motion.skeleton)["height"] - 1.75) < 0.01
    assert _lowest_sole(motion) > -0.02                                   # nothing sinks into the floor
    true_step = walk.translation[-1] - walk.translation[0]
    step = motion.translation[-1] - motion.translation[0]
    horizontal = [0, 2]
    cosine = step[horizontal] @ true_step[horizontal] / np.linalg.norm(step[horizontal]) / np.linalg.norm(true_step[horizontal])
    assert cosine > 0.9, f"walked {step} for a true {true_step}"
    assert 0.5 < np.linalg.norm(step[horizontal]) / np.linalg.norm(true_step[horizontal]) < 1.5
    assert 0.1 < report["contact_fraction"][0] < 1.0 and 0.1 < report["contact_fraction"][1] < 1.0


def test_the_bidirectional_offline_model_is_the_default_and_the_causal_one_runs_on_request():
    from sparse_mocap_addon.inference.imu_poser import has_offline_model
    from sparse_mocap_addon.pipelines.imu import load_poser
    _, rec = _walk_recording(seconds=3.0)
    motion, report = reconstruct_imu(rec, BODY)
    assert report["offline_model"] is report["mirror_average"] is has_offline_model("full")
    # The offline model's answer is averaged with its answer on the mirror image, unless asked not to.
    once, report = reconstruct_imu(rec, BODY, ImuSolveOptions(mirror_average=False))
    assert report["mirror_average"] is False and report["offline_model"] is has_offline_model("full")
    if has_offline_model("full"):
        assert np.abs(once.rotations - motion.rotations).max() > 1e-3
    _, report = reconstruct_imu(rec, BODY, ImuSolveOptions(offline_model=False))
    assert report["offline_model"] is False and report["mirror_average"] is False
    assert load_poser("full", offline=True).bidirectional is has_offline_model("full")
    assert not load_poser("full").bidirectional
    # The comparison models have no offline variant: the option falls back to their causal model.
    _, report = reconstruct_imu(rec, BODY, ImuSolveOptions(model="no_shape", offline_model=True))
    assert report["offline_model"] is False and report["model"] == "no_shape"


def test_other_rates_are_resampled_and_translation_can_be_off():
    _, rec = _walk_recording(seconds=3.0)
    rec100 = resample_imu(rec, 100.0)
    motion, _ = reconstruct_imu(rec100, BODY, ImuSolveOptions(translation=False))
    assert motion.fps == 60.0 and abs(motion.num_frames - rec.num_frames) <= 1
    assert np.ptp(motion.translation[:, [0, 2]]) == 0.0


@pytest.mark.parametrize("model", ["no_shape", "baseline"])
def test_the_comparison_models_run_through_the_pipeline(model):
    _, rec = _walk_recording(seconds=3.0)
    motion, report = reconstruct_imu(rec, BODY, ImuSolveOptions(model=model))
    assert report["model"] == model and np.isfinite(motion.translation).all()


def test_bad_recordings_and_options_are_refused_with_one_sentence():
    _, rec = _walk_recording(seconds=1.0)
    device = ImuRecording(sensors=rec.sensors, orientation=rec.orientation, acceleration=rec.acceleration,
                          fps=rec.fps, world="xsens_z_up", source="take.txt")
    with pytest.raises(ImuError, match="take.txt is in the device world 'xsens_z_up': calibrate it first"):
        reconstruct_imu(device, BODY)
    with pytest.raises(ImuError, match="lacks head"):
        choose_mode(("left_forearm", "right_forearm", "left_lower_leg", "right_lower_leg", "pelvis"), "network")
    with pytest.raises(ImuError, match="neither the six"):
        choose_mode(("left_forearm", "head"))
    with pytest.raises(ValueError, match="mode must be one of"):
        reconstruct_imu(rec, BODY, ImuSolveOptions(mode="magic"))
    with pytest.raises(ValueError, match="model must be one of"):
        reconstruct_imu(rec, BODY, ImuSolveOptions(model="huge"))


@pytest.mark.skipif(not TRANSPOSE.exists(), reason=f"the TransPose example recording is absent ({TRANSPOSE})")
def test_the_real_transpose_recording_end_to_end():
    rec = read_imu(TRANSPOSE)
    motion, report = reconstruct_imu(rec, BODY)
    assert motion.num_frames == rec.num_frames == 1760
    assert np.isfinite(motion.rotations).all() and np.isfinite(motion.translation).all()
    assert _lowest_sole(motion) > -0.02
    assert report["dropped_samples"] == 0


@pytest.mark.skipif(not TRANSPOSE.exists(), reason=f"the TransPose example recording is absent ({TRANSPOSE})")
def test_on_the_real_recording_the_walk_goes_forward_and_the_hops_stay_in_place():
    """No ground truth, but the recording's own shins say it hops (frames 800-1100) then walks
    (1150-1760) (benchmarks/imu_real.py): the default reconstruction, the causal one and the live
    stream walk mostly forward and do not drift while hopping (the causal model before its
    root-velocity head went backwards and sideways at 0.54 m/s there)."""
    import benchmarks.imu_real as real
    recording = read_imu(TRANSPOSE)
    motions = {"default": reconstruct_imu(recording, BODY)[0],
               "causal": reconstruct_imu(recording, BODY, ImuSolveOptions(offline_model=False))[0],
               "live": real.live_motion(recording, BODY)}
    for name, motion in motions.items():
        figures = real.travel_figures(motion)
        assert figures["walk_forward_share"] > 0.25, (name, figures)
        assert 0.3 < figures["walk_speed_m_s"] < 1.5, (name, figures)
        assert np.hypot(figures["hop_drift_forward_m_s"], figures["hop_drift_left_m_s"]) < 0.2, (name, figures)


def test_the_live_stream_equals_the_offline_reconstruction_without_smoothing():
    from sparse_mocap_addon.pipelines.imu import ImuStream
    _, rec = _walk_recording(seconds=2.0, seed=3)
    assert not rec.valid.all()                                            # drops are held the same way
    # The offline feet stage sees the whole take: the stream has none, so it is off here; and the
    # stream runs the causal model, not the bidirectional offline one.
    offline, report = reconstruct_imu(rec, BODY, ImuSolveOptions(smoothing_hz=0.0, feet=FeetOptions(enabled=False),
                                                                 offline_model=False))
    assert report["offline_model"] is False
    order = [4, 0, 1, 2, 3, 5]                                           # any column order, named
    stream = ImuStream(BODY, sensors=tuple(rec.sensors[i] for i in order), smoothing=False)
    frames = [stream.step(rec.orientation[t, order], rec.acceleration[t, order], rec.valid[t, order])
              for t in range(rec.num_frames)]
    rotations = np.stack([f[0] for f in frames])
    translation = np.stack([f[1] for f in frames])
    assert np.abs(np.abs(np.sum(rotations * offline.rotations, axis=-1)) - 1.0).max() < 1e-5
    assert np.abs(translation - offline.translation).max() < 1e-4
    with pytest.raises(ImuError, match="lacks head"):
        ImuStream(BODY, sensors=rec.sensors[:4] + ("pelvis",))


def test_the_live_stream_smooths_causally_like_smooth_rotations_online():
    from sparse_mocap_addon.core.kinematics.metrics import jitter_km_s3
    from sparse_mocap_addon.pipelines.imu import ImuStream
    _, rec = _walk_recording(seconds=2.0, seed=4)
    streams = {smooth: ImuStream(BODY, smoothing=smooth) for smooth in (False, True)}
    joints = {}
    for smooth, stream in streams.items():
        rotations = np.stack([stream.step(rec.orientation[t], rec.acceleration[t], rec.valid[t])[0]
                              for t in range(rec.num_frames)])
        joints[smooth] = forward_kinematics(rotations, np.zeros((len(rotations), 3)), stream.skeleton)[0]
    assert jitter_km_s3(joints[True], 60.0) < 0.5 * jitter_km_s3(joints[False], 60.0)
    assert np.abs(joints[True] - joints[False]).max() < 0.15             # smoothing, not another pose


def _angle_between(q1, q2):
    return 2.0 * np.arccos(np.clip(np.abs(np.sum(q1 * q2, axis=-1)), 0.0, 1.0))


def _laned_and_sequential(rec, monkeypatch):
    """The reconstruction with the network in lanes and sequentially, up to the feet stage: its
    contact decisions are thresholds, so any float-level change can flip one and re-solve a leg (on
    a corpus test take the sequential run itself moves 0.036 rad when the accelerations change by
    1e-9 m/s^2); what the lanes change is measured before it."""
    from sparse_mocap_addon.inference import imu_poser
    options = ImuSolveOptions(feet=FeetOptions(floor="zero", enabled=False))
    laned, _ = reconstruct_imu(rec, BODY, options)
    monkeypatch.setattr(imu_poser, "LANES", 1)
    sequential, _ = reconstruct_imu(rec, BODY, options)
    return laned, sequential


def test_long_recordings_run_in_lanes_within_1e_3_rad_of_the_sequential_run(monkeypatch):
    """Offline, a long recording goes through the network as batched segments (nn lanes): the
    reconstruction stays within 1e-3 rad (and 1 mm) of the sequential run, with the shipped weights."""
    from .test_imu_dataset import _turning_motion
    motion = _turning_motion(seconds=100.0, seed=5)
    rec = corrupt(virtual_imus(motion), CorruptionModel(), np.random.default_rng(6))
    laned, sequential = _laned_and_sequential(rec, monkeypatch)
    assert _angle_between(laned.rotations, sequential.rotations).max() < 1e-3
    assert np.abs(laned.translation - sequential.translation).max() < 1e-3


@pytest.mark.skipif(not TRANSPOSE.exists(), reason=f"the TransPose example recording is absent ({TRANSPOSE})")
def test_the_real_recording_in_short_lanes_stays_within_1e_3_rad(monkeypatch):
    from sparse_mocap_addon.inference import nn
    monkeypatch.setattr(nn._Recurrent, "MIN_LANE", 200)       # 8 segments of 220 frames
    laned, sequential = _laned_and_sequential(read_imu(TRANSPOSE), monkeypatch)
    assert _angle_between(laned.rotations, sequential.rotations).max() < 1e-3
    assert np.abs(laned.translation - sequential.translation).max() < 1e-3
