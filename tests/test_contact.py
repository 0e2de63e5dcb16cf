"""Ground level, foot contact and contact runs on synthetic walking."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.feet.contact import contact_runs, detect_foot_contact, estimate_ground_height
from sparse_mocap_addon.core.feet.metrics import foot_skating_cm


def synthetic_walk(seconds=10.0, fps=60.0, ground=0.037, noise=0.003, seed=0, stance_fraction=0.6,
                   stride=1.4, lift=0.12):
    """Two sole points walking forward (+Z) at 1 Hz: each foot planted for ``stance_fraction`` of
    its cycle, then a smooth swing (zero speed at both ends) of ``stride`` metres lifting by ``lift``.
    Returns (points (T, 2, 3), true stance (T, 2))."""
    t = np.arange(int(seconds * fps)) / fps
    points = np.zeros((t.size, 2, 3))
    stance = np.zeros((t.size, 2), dtype=bool)
    for foot, (side, phase_shift) in enumerate(((0.1, 0.0), (-0.1, 0.5))):
        phase = t + phase_shift
        cycle = np.floor(phase)
        u = phase - cycle                              # position in the 1 s cycle
        planted = u < stance_fraction
        swing = np.clip((u - stance_fraction) / (1 - stance_fraction), 0.0, 1.0)
        progress = swing - np.sin(2 * np.pi * swing) / (2 * np.pi)
        points[:, foot, 0] = side
        points[:, foot, 1] = ground + lift * 0.5 * (1 - np.cos(2 * np.pi * swing))
        points[:, foot, 2] = stride * (cycle + progress)
        stance[:, foot] = planted
    rng = np.random.default_rng(seed)
    return points + noise * rng.normal(size=points.shape), stance


@pytest.mark.parametrize("fps, noise", [(30.0, 0.003), (60.0, 0.003), (60.0, 0.006), (120.0, 0.006)])
def test_contact_matches_true_stance_on_a_synthetic_walk(fps, noise):
    points, stance = synthetic_walk(fps=fps, noise=noise)
    contact = detect_foot_contact(points, fps)
    assert np.mean(contact == stance) >= 0.95
    # Every true stance phase is found as one run; no spurious extra runs.
    runs = contact_runs(contact)
    true_runs = contact_runs(stance)
    assert len(runs) == len(true_runs)


def test_ground_height_recovered_within_a_centimetre():
    for seed, ground, noise in ((1, 0.037, 0.003), (2, -0.8, 0.008), (3, 0.0, 0.0)):
        points, _ = synthetic_walk(ground=ground, noise=noise, seed=seed)
        assert estimate_ground_height(points, fps=60.0) == pytest.approx(ground, abs=0.01)
        assert estimate_ground_height(points) == pytest.approx(ground, abs=0.01)


def test_ground_height_ignores_a_glitch_below_the_floor_and_other_up_axes():
    points, _ = synthetic_walk(ground=0.05)
    points[100, 0, 1] = -1.0                            # one tracking glitch
    assert estimate_ground_height(points, fps=60.0) == pytest.approx(0.05, abs=0.01)
    z_up = points[..., [0, 2, 1]]                       # same walk with Z as the up axis
    assert estimate_ground_height(z_up, up_axis=2, fps=60.0) == pytest.approx(0.05, abs=0.01)
    contact_y = detect_foot_contact(points, 60.0)
    contact_z = detect_foot_contact(z_up, 60.0, up_axis=2)
    np.testing.assert_array_equal(contact_y, contact_z)


def test_ground_height_needs_finite_points():
    with pytest.raises(ValueError, match="no finite sample"):
        estimate_ground_height(np.full((10, 2, 3), np.nan))


def test_nan_points_are_never_in_contact():
    points, stance = synthetic_walk()
    points[200:230, 0] = np.nan
    points[400, 1, 2] = np.nan
    contact = detect_foot_contact(points, 60.0)
    assert not contact[200:230, 0].any()
    assert not contact[400, 1]
    outside = np.ones(len(points), dtype=bool)
    outside[195:235] = False
    assert np.mean(contact[outside, 0] == stance[outside, 0]) >= 0.95
    assert not detect_foot_contact(np.full((50, 2, 3), np.nan), 60.0).any()


def test_high_or_fast_points_are_not_in_contact():
    fps = 60.0
    points, _ = synthetic_walk(noise=0.0)
    lifted = points.copy()
    lifted[..., 1] += 0.5
    assert not detect_foot_contact(lifted, fps, ground_height=0.037).any()
    # A foot gliding along the floor at 1 m/s is low but not planted.
    glide = np.zeros((120, 1, 3))
    glide[:, 0, 2] = np.arange(120) / fps
    assert not detect_foot_contact(glide, fps, ground_height=0.0).any()


def test_short_contact_blips_are_removed_and_hysteresis_holds():
    fps = 60.0
    points = np.zeros((100, 1, 3))
    points[:, 0, 1] = 0.5                               # in the air...
    points[40:42, 0, 1] = 0.0                           # ...touching down for 2 frames only
    contact = detect_foot_contact(points, fps, ground_height=0.0, speed_threshold=1e9, min_frames=3)
    assert not contact.any()
    points[60:70, 0, 1] = 0.0
    contact = detect_foot_contact(points, fps, ground_height=0.0, speed_threshold=1e9, min_frames=3)
    assert contact_runs(contact) == [(0, 60, 70)]
    # Hovering between the entry (5 cm) and exit (6.25 cm) heights keeps the current state.
    hover = np.full((60, 1, 3), 0.0)
    hover[:, 0, 1] = 0.0
    hover[20:40, 0, 1] = 0.058
    hover[40:, 0, 1] = 0.2
    contact = detect_foot_contact(hover, fps, ground_height=0.0, speed_threshold=1e9, min_frames=1)
    assert contact_runs(contact) == [(0, 0, 40)]
    hover[:20, 0, 1] = 0.2
    contact = detect_foot_contact(hover, fps, ground_height=0.0, speed_threshold=1e9, min_frames=1)
    assert not contact[20:40].any()


def test_contact_runs_lists_intervals_by_foot():
    contact = np.zeros((10, 3), dtype=bool)
    contact[0:3, 0] = True
    contact[7:10, 0] = True
    contact[4:6, 2] = True
    assert contact_runs(contact) == [(0, 0, 3), (0, 7, 10), (2, 4, 6)]
    assert contact_runs(np.zeros((5, 2), dtype=bool)) == []


def test_detected_contact_feeds_foot_skating():
    points, _ = synthetic_walk(noise=0.0)
    contact = detect_foot_contact(points, 60.0)
    planted = foot_skating_cm(points, contact)
    assert planted["contact_frames"] > 0.5 * len(points)
    assert planted["mean_cm_per_frame"] < 0.1
    sliding = points.copy()
    sliding[..., 2] += 0.005 * np.arange(len(points))[:, None]   # the whole walk drifts 0.3 m/s
    assert foot_skating_cm(sliding, contact)["mean_cm_per_frame"] == pytest.approx(0.5, abs=0.1)
