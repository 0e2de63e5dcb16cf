"""Root translation from pose + foot contact + pelvis acceleration (core/imu/root.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.imu import root as R
from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, virtual_imus

CORPUS = Path(__file__).resolve().parents[1] / "build" / "corpus"
FEET = [7, 10, 8, 11]


@pytest.fixture(scope="module")
def walk():
    """14 s of the demo walk: truth inputs and a corrupted pelvis acceleration (with dropped samples)."""
    motion = demo_motion(seconds=14.0)
    rel, contact = R.pose_inputs(motion)
    recording = corrupt(virtual_imus(motion), CorruptionModel(drop_rate=0.02), rng=1)
    acc = recording.acceleration[:, recording.index("pelvis")]
    assert np.isnan(acc).any()                      # the filter must cope with dropped samples
    clean = virtual_imus(motion).acceleration[:, 5]
    return motion, rel, contact, acc, clean, R.RootOptions.for_skeleton(motion.skeleton)


def foot_elevation(translation, rel, options):
    """Height above the floor of the four foot points minus their flat-foot heights, (T, 4)."""
    heights = np.array([options.ankle_height, options.foot_height] * 2)
    return translation[:, None, 1] + rel[:, FEET, 1] - heights


def test_drift_far_below_naive_integration(walk):
    motion, rel, contact, acc, _, options = walk
    fused = R.root_translation(rel, contact, motion.fps, acc, options)
    contact_only = R.root_translation(rel, contact, motion.fps, None, options)
    naive = R.integrate_acceleration(acc, motion.fps)
    d_fused = R.root_drift(fused, motion.translation, motion.fps)
    d_contact = R.root_drift(contact_only, motion.translation, motion.fps)
    d_naive = R.root_drift(naive, motion.translation, motion.fps)
    travelled = np.linalg.norm(motion.translation[600] - motion.translation[0])
    assert travelled > 10.0                          # a walk of > 1 m/s: drift is relative to that
    assert d_naive > 5.0
    assert d_fused < 0.08 * travelled and d_fused < 0.05 * d_naive
    assert d_contact < 0.08 * travelled


def test_acceleration_carries_velocity_through_a_contact_gap(walk):
    """0.4 s with no foot reported on the floor (a flight phase), started at every third frame of a
    gait cycle: the acceleration carries the velocity, coasting without it does much worse."""
    motion, rel, contact, _, clean, options = walk
    true = motion.translation
    fused_errors, coast_errors = [], []
    for start in range(300, 366, 3):
        gap = slice(start, start + 24)
        holed = contact.copy()
        holed[gap] = 0.0
        for pelvis, errors in ((clean, fused_errors), (None, coast_errors)):
            track = R.root_translation(rel[:400], holed[:400], motion.fps, None if pelvis is None else pelvis[:400], options)
            e = (track[gap.stop] - track[gap.start]) - (true[gap.stop] - true[gap.start])
            errors.append(np.hypot(e[0], e[2]))          # horizontal error picked up across the gap
    assert np.mean(fused_errors) < 0.12
    assert np.mean(fused_errors) < 0.5 * np.mean(coast_errors)


def test_streaming_equals_offline(walk):
    motion, rel, contact, acc, _, options = walk
    n = 400
    prob = np.clip(contact[:n] * 0.8 + 0.1, 0, 1)    # soft probabilities exercise the weights
    prob[150:200] = 0.0                               # a contact-less run: coasting, unless estimated
    velocity = np.diff(motion.translation[:n + 1], axis=0) * motion.fps
    velocity += np.random.default_rng(4).normal(scale=0.1, size=velocity.shape)
    for pelvis, estimated in ((acc[:n], None), (None, None), (acc[:n], velocity)):
        offline = R.root_translation(rel[:n], prob, motion.fps, pelvis, options, estimated_velocity=estimated)
        tracker = R.RootTracker(motion.fps, options)
        stream = np.array([tracker.step(rel[t], prob[t], None if pelvis is None else pelvis[t],
                                        None if estimated is None else estimated[t]) for t in range(n)])
        np.testing.assert_allclose(stream, offline, rtol=0, atol=1e-12)
    tracker.reset()
    np.testing.assert_allclose(tracker.step(rel[0], prob[0]), offline[0], atol=1e-12)


def test_bias_estimate_stays_within_bias_max(walk):
    """A foot wrongly called planted while the pelvis accelerates (the contact velocity says 'still',
    the accelerometer says 2 m/s^2) is explained by the filter as accelerometer bias; the estimate is
    held within bias_max per axis (unbounded it runs far beyond any real sensor's bias), and the
    stream still equals the offline run with the bound active."""
    motion, rel, contact, _, _, options = walk
    n = 300
    rel = np.broadcast_to(rel[:1], (n,) + rel.shape[1:]).copy()     # a frozen pose: contact velocity 0
    prob = np.ones((n, 2))
    acc = np.zeros((n, 3))
    acc[:, 0] = 2.0
    biases = {}
    for bound in (0.0, options.bias_max):
        opts = options.replace(bias_max=bound)
        tracker = R.RootTracker(motion.fps, opts)
        b = []
        for t in range(n):
            tracker.step(rel[t], prob[t], acc[t])
            b.append(list(tracker._filter.b))
        biases[bound] = np.array(b)
        stream = tracker._filter.x
        offline = R.root_translation(rel, prob, motion.fps, acc, opts)
        np.testing.assert_allclose(stream, offline[-1], rtol=0, atol=1e-12)
    assert options.bias_max == pytest.approx(0.3)
    assert np.abs(biases[0.0][:, 0]).max() > 1.0                      # unbounded: the bias takes it all
    assert np.abs(biases[options.bias_max]).max() <= options.bias_max + 1e-15


def test_start_and_floor(walk):
    motion, rel, contact, acc, _, options = walk
    for prob in (contact, R.kinematic_contact(rel, motion.fps, options), np.zeros_like(contact)):
        track = R.root_translation(rel, prob, motion.fps, acc, options)
        elevation = foot_elevation(track, rel, options)
        assert np.allclose(track[0, [0, 2]], 0.0)
        assert abs(elevation[0].min()) < 1e-12                  # the lowest foot on the floor at the start
        assert elevation.min() > -1e-9                          # never below the floor
    # With contact the planted foot stays on the floor and the height changes smoothly.
    track = R.root_translation(rel, contact, motion.fps, acc, options)
    elevation = foot_elevation(track, rel, options)
    planted = contact.max(axis=1) > 0.5
    assert np.percentile(elevation.min(axis=1)[planted], 95) < 0.02
    true_step = np.abs(np.diff(motion.translation[:, 1])).max()
    assert np.abs(np.diff(track[:, 1])).max() < true_step + 0.01


def test_kinematic_contact_matches_truth(walk):
    motion, rel, contact, _, _, options = walk
    prob = R.kinematic_contact(rel, motion.fps, options)
    assert prob.shape == contact.shape and prob.min() >= 0 and prob.max() <= 1
    agree = ((prob > 0.5) == (contact > 0.5)).mean()
    assert agree > 0.85
    # A swinging foot is never called planted while the other one is on the floor and still.
    swing = (contact[:, 0] == 0) & (contact[:, 1] == 1)
    assert (prob[swing, 0] > 0.5).mean() < 0.15


def test_root_drift_definition():
    fps = 10.0
    t = np.arange(250) / fps
    true = np.stack((t, 0 * t, 2 * t), axis=1)
    pred = true + np.array((0.03, 0.0, 0.04)) * t[:, None] + 5.0     # 5 cm/s off, plus an offset
    assert R.root_drift(pred, true, fps) == pytest.approx(0.5)       # 10 s at 5 cm/s
    errors = R.root_drift_errors(pred, true, fps)
    assert len(errors) == 15                                         # starts 0..14 s, windows end before 25 s
    assert R.root_drift(pred, true, fps, seconds=2.0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="longer than"):
        R.root_drift(pred[:100], true[:100], fps)
    with pytest.raises(ValueError, match="shaped"):
        R.root_drift(pred, true[:, :2], fps)


def test_integrate_acceleration():
    fps = 100.0
    acc = np.tile((0.0, 0.0, 2.0), (201, 1))
    x = R.integrate_acceleration(acc, fps)
    assert x[-1, 2] == pytest.approx(0.5 * 2.0 * 2.0 ** 2, rel=0.02)
    acc[50:60] = np.nan
    assert np.isfinite(R.integrate_acceleration(acc, fps)).all()


def test_options_for_skeleton():
    default = R.RootOptions.for_skeleton(skeleton_from_measurements(default_measurements()))
    base = R.RootOptions()
    assert default.ankle_height == pytest.approx(base.ankle_height, abs=1e-6)
    assert default.foot_height == pytest.approx(base.foot_height, abs=1e-6)
    np.testing.assert_allclose(default.sensor_offset, base.sensor_offset, atol=1e-6)
    with pytest.raises(ValueError, match="contact_low"):
        R.RootOptions(contact_low=0.9, contact_high=0.5)
    with pytest.raises(ValueError, match="gate"):
        R.RootOptions(gate=0.0)
    with pytest.raises(ValueError, match="sensor_offset"):
        R.RootOptions(sensor_offset=(0.0, 1.0))


def test_clear_errors():
    rel = np.zeros((10, 24, 3))
    prob = np.ones((10, 2))
    with pytest.raises(ValueError, match=r"relative_positions must be shaped \(T, 24, 3\)"):
        R.root_translation(np.zeros((10, 23, 3)), prob, 60)
    with pytest.raises(ValueError, match=r"contact_prob must be shaped \(10, 2\)"):
        R.root_translation(rel, np.ones((10, 3)), 60)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        R.root_translation(rel, prob * 2, 60)
    with pytest.raises(ValueError, match=r"pelvis_acc must be shaped \(10, 3\)"):
        R.root_translation(rel, prob, 60, np.zeros((9, 3)))
    with pytest.raises(ValueError, match="fps"):
        R.root_translation(rel, prob, 0)
    with pytest.raises(ValueError, match="finite"):
        R.root_translation(np.full((10, 24, 3), np.nan), prob, 60)
    with pytest.raises(ValueError, match="no frames"):
        R.root_translation(np.zeros((0, 24, 3)), np.zeros((0, 2)), 60)
    tracker = R.RootTracker(60)
    with pytest.raises(ValueError, match=r"\(24, 3\)"):
        tracker.step(np.zeros((1, 24, 3)), (1, 1))
    with pytest.raises(ValueError, match="contact_prob"):
        tracker.step(rel[0], (1, 1, 1))
    tracker.step(rel[0], (1, 1), (0, 0, 0))
    with pytest.raises(ValueError, match="every frame or on none"):
        tracker.step(rel[0], (1, 1))
    with pytest.raises(ValueError, match=r"pelvis_acc_t must be shaped \(3,\)"):
        tracker.step(rel[0], (1, 1), (0, 0))
    with pytest.raises(ValueError, match="estimated_velocity_t must be given on every frame or on none"):
        tracker.step(rel[0], (1, 1), (0, 0, 0), (0.5, 0, 0))
    with pytest.raises(ValueError, match="estimated_velocity_t must be 3 finite values"):
        R.RootTracker(60).step(rel[0], (1, 1), None, (np.nan, 0, 0))


def test_corpus_drift_below_naive():
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(f"no corpus at {CORPUS} (build it with training/build_corpus.py)")
    from training.imu_dataset import load_corpus

    motions = [m for m in load_corpus(CORPUS, "test", include_mirrored=False) if m.num_frames > 12 * m.fps][:3]
    if not motions:
        pytest.skip("the corpus test split has no clip longer than 12 s")
    fused, naive = [], []
    for i, motion in enumerate(motions):
        rel, contact = R.pose_inputs(motion)
        options = R.RootOptions.for_skeleton(motion.skeleton)
        acc = corrupt(virtual_imus(motion), CorruptionModel(), rng=i).acceleration[:, 5]
        fused.append(R.root_drift_errors(R.root_translation(rel, contact, motion.fps, acc, options),
                                         motion.translation, motion.fps))
        naive.append(R.root_drift_errors(R.integrate_acceleration(acc, motion.fps), motion.translation, motion.fps))
    d_fused, d_naive = np.concatenate(fused).mean(), np.concatenate(naive).mean()
    assert d_fused < 1.0 and d_fused < 0.1 * d_naive


def test_an_estimated_root_velocity_is_fused_where_the_contacts_say_nothing(walk):
    """A velocity estimated on every frame (the offline IMU network's) is a second measurement: with
    no foot ever reported planted it holds the root on its path, where contacts alone cannot; a
    wrong shape is refused in one sentence."""
    motion, rel, contact, acc, _, options = walk
    none = np.zeros_like(contact)
    truth = np.vstack((np.zeros((1, 3)), np.diff(motion.translation, axis=0) * motion.fps))
    noisy = truth + np.random.default_rng(3).normal(scale=0.2, size=truth.shape)
    blind = R.root_translation(rel, none, motion.fps, acc, options)
    estimated = R.root_translation(rel, none, motion.fps, acc, options, estimated_velocity=noisy)
    assert R.root_drift(estimated, motion.translation, motion.fps) < 0.2 * R.root_drift(blind, motion.translation,
                                                                                          motion.fps)
    assert np.array_equal(R.root_translation(rel, contact, motion.fps, acc, options, estimated_velocity=None),
                          R.root_translation(rel, contact, motion.fps, acc, options))
    with pytest.raises(ValueError, match=r"estimated_velocity must be \(T, 3\)"):
        R.root_translation(rel, contact, motion.fps, acc, options, estimated_velocity=noisy[:-1])
