"""Position error, jitter, rotation angles, bone-length stability and foot skating."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.kinematics.metrics import (bone_length_cv, bone_lengths, geodesic_deg, jitter,
                                                        jitter_km_s3, mean_bone_length_cv, mpjpe, quat_geodesic_deg)
from sparse_mocap_addon.core.feet.metrics import foot_skating_cm


def rot_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_mpjpe_hand_computed_and_masked():
    true = np.zeros((2, 3, 3))
    pred = true.copy()
    pred[0, 0] = [3.0, 4.0, 0.0]      # 5
    pred[1, 2] = [0.0, 0.0, -2.0]     # 2
    assert mpjpe(pred, true) == pytest.approx(7.0 / 6.0)
    mask = np.ones((2, 3), dtype=bool)
    mask[0, 0] = False
    assert mpjpe(pred, true, mask) == pytest.approx(2.0 / 5.0)
    pred[1, 1] = np.nan               # non-finite predictions are left out too
    assert mpjpe(pred, true, mask) == pytest.approx(2.0 / 4.0)
    assert np.isnan(mpjpe(pred, true, np.zeros((2, 3), dtype=bool)))
    with pytest.raises(ValueError, match="shape"):
        mpjpe(pred, true[:1])


def test_jitter_of_constant_jerk_is_the_jerk():
    fps = 50.0
    t = np.arange(100) / fps
    jerk = np.array([2.0, -6.0, 3.0])                 # |jerk| = 7 m/s^3
    points = (jerk[None] * t[:, None] ** 3 / 6 + 0.5 * t[:, None] ** 2 + 1.0)[:, None, :]
    assert jitter(points, fps) == pytest.approx(7.0, rel=1e-6)
    assert jitter_km_s3(points, fps) == pytest.approx(0.007, rel=1e-6)
    # Quadratic motion (constant acceleration) has no jerk.
    assert jitter(0.5 * t[:, None, None] ** 2 * np.ones((1, 2, 3)), fps) == pytest.approx(0.0, abs=1e-6)


def test_jitter_skips_windows_touching_nan():
    fps = 10.0
    x = np.zeros((20, 1, 3))
    x[10, 0, 0] = 1.0                                 # an isolated spike: windows 7..10 see it
    x[3, 0, 1] = np.nan                               # windows 0..3 are skipped
    windows = np.arange(17)
    kept = windows[(windows > 3)]
    third = np.zeros(17)
    coefficients = {7: 1.0, 8: 3.0, 9: 3.0, 10: 1.0}  # |x[t+3] - 3x[t+2] + 3x[t+1] - x[t]|
    for window, value in coefficients.items():
        third[window] = value
    expected = third[kept].mean() * fps ** 3
    assert jitter(x, fps) == pytest.approx(expected)
    assert np.isnan(jitter(np.zeros((3, 1, 3)), fps))


def test_geodesic_of_known_rotations():
    angles = np.radians([0.0, 1e-7, 30.0, 90.0, 179.0, 180.0])
    Ra = np.stack([np.eye(3)] * len(angles))
    Rb = np.stack([rot_z(a) for a in angles])
    np.testing.assert_allclose(geodesic_deg(Ra, Rb), np.degrees(angles), atol=1e-9)
    # Relative angle, independent of a common rotation applied on the left.
    base = rot_z(0.3) @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
    assert geodesic_deg(base, base @ rot_z(np.radians(42.0))) == pytest.approx(42.0)


def test_quat_geodesic_is_sign_invariant():
    half = np.radians(50.0) / 2
    q_identity = np.array([1.0, 0.0, 0.0, 0.0])
    q = np.array([np.cos(half), 0.0, np.sin(half), 0.0])          # 50 deg about y
    assert quat_geodesic_deg(q_identity, q) == pytest.approx(50.0)
    assert quat_geodesic_deg(q_identity, -q) == pytest.approx(50.0)
    assert quat_geodesic_deg(-q, q) == pytest.approx(0.0, abs=1e-6)
    # +170 deg and -170 deg about x are 340 deg apart one way, 20 deg the short way.
    q1 = np.array([np.cos(np.radians(85)), np.sin(np.radians(85)), 0.0, 0.0])
    q2 = np.array([np.cos(np.radians(-85)), np.sin(np.radians(-85)), 0.0, 0.0])
    assert quat_geodesic_deg(q1, q2) == pytest.approx(20.0)
    batch = quat_geodesic_deg(np.tile(q_identity, (4, 2, 1)), np.tile(q, (4, 2, 1)))
    assert batch.shape == (4, 2)


def test_bone_length_cv_hand_computed_with_mask():
    points = np.zeros((4, 3, 3))
    points[:, 1, 0] = [1.0, 2.0, 3.0, 100.0]          # bone (0, 1): lengths 1, 2, 3, 100
    points[:, 2, 1] = 0.5                              # bone (0, 2): rigid
    pairs = [(0, 1), (0, 2)]
    np.testing.assert_allclose(bone_lengths(points, pairs)[:, 0], [1, 2, 3, 100])
    mask = np.ones((4, 3), dtype=bool)
    mask[3, 1] = False                                 # the 100 m frame is an outlier, masked
    cv = bone_length_cv(points, pairs, mask)
    assert cv[0] == pytest.approx(np.sqrt(2.0 / 3.0) / 2.0)
    assert cv[1] == pytest.approx(0.0)
    assert mean_bone_length_cv(points, pairs, mask) == pytest.approx(np.sqrt(2.0 / 3.0) / 4.0)
    few = mask.copy()
    few[1:, 1] = False
    assert np.isnan(bone_length_cv(points, pairs, few)[0])


def test_foot_skating_planted_versus_sliding():
    num = 11
    feet = np.zeros((num, 2, 3))
    feet[:, 0, 1] = 0.02                               # left foot planted (tiny vertical wobble allowed)
    feet[:, 0, 1] += 0.001 * (np.arange(num) % 2)
    feet[:, 1, 0] = 0.01 * np.arange(num)              # right foot slides 1 cm per frame along x
    feet[:, 1, 2] = 0.0
    contact = np.ones((num, 2), dtype=bool)
    contact[5, 1] = False                              # breaks the pairs (4,5) and (5,6)
    result = foot_skating_cm(feet, contact)
    np.testing.assert_allclose(result["per_foot_total_cm"], [0.0, 8.0])
    np.testing.assert_array_equal(result["per_foot_contact_frames"], [10, 8])
    np.testing.assert_allclose(result["per_foot_mean_cm"], [0.0, 1.0])
    assert result["total_cm"] == pytest.approx(8.0)
    assert result["contact_frames"] == 18
    assert result["mean_cm_per_frame"] == pytest.approx(8.0 / 18.0)
    # Z up: the y slide now counts as horizontal and x motion too.
    feet_z = feet.copy()
    feet_z[:, 1, 1] = 0.03 * np.arange(num)
    z_up = foot_skating_cm(feet_z, contact, up_axis=2)
    assert z_up["per_foot_total_cm"][1] == pytest.approx(8 * np.hypot(1.0, 3.0))
    none = foot_skating_cm(feet, np.zeros((num, 2), dtype=bool))
    assert none["contact_frames"] == 0 and np.isnan(none["mean_cm_per_frame"])
