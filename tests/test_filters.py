"""Gap filling, Butterworth design, zero-phase filtfilt, One Euro and the landmark clean-up."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.kinematics.filters import (
    OneEuroFilter,
    butterworth_coefficients,
    fill_gaps,
    filtfilt,
    lfilter_zi,
    offline_cutoff_hz,
    one_euro,
    online_parameters,
    smooth_points,
    zero_phase_lowpass,
)


def frequency_response(b, a, freq_hz, fps):
    """H(e^{jw}) of a digital filter, evaluated directly from its coefficients."""
    z = np.exp(-1j * 2 * np.pi * np.asarray(freq_hz) / fps)
    num = np.polyval(np.asarray(b)[::-1], z)  # sum b_k z^k with z = e^{-jw}
    den = np.polyval(np.asarray(a)[::-1], z)
    return num / den


def slow_lfilter(b, a, x, zi):
    """Direct-form II transposed, one sample and one tap at a time (the textbook recursion)."""
    b = np.asarray(b, float) / a[0]
    a = np.asarray(a, float) / a[0]
    n = len(a)
    z = np.array(zi, dtype=float)
    y = np.empty(len(x))
    for t, xt in enumerate(x):
        yt = b[0] * xt + z[0]
        for i in range(n - 2):
            z[i] = b[i + 1] * xt + z[i + 1] - a[i + 1] * yt
        z[n - 2] = b[n - 1] * xt - a[n - 1] * yt
        y[t] = yt
    return y


def slow_filtfilt(b, a, x):
    """scipy.signal.filtfilt's default algorithm, written out plainly for one channel."""
    n = max(len(a), len(b))
    edge = 3 * n
    ext = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2:-(edge + 2):-1]))
    companion = np.zeros((n - 1, n - 1))
    companion[0] = -np.asarray(a[1:]) / a[0]
    companion[1:, :-1] += np.eye(n - 2)
    zi = np.linalg.solve(np.eye(n - 1) - companion.T, np.asarray(b[1:]) - np.asarray(a[1:]) * b[0])
    y = slow_lfilter(b, a, ext, zi * ext[0])
    y = slow_lfilter(b, a, y[::-1], zi * y[-1])[::-1]
    return y[edge:-edge]


# --- Butterworth design -------------------------------------------------------------------------


@pytest.mark.parametrize("order, cutoff, fps", [
    (order, cutoff, fps) for order in (1, 2, 3, 4, 6, 8) for cutoff, fps in ((6.0, 60.0), (2.0, 30.0), (20.0, 100.0))
] + [(1, 0.5, 240.0), (2, 0.5, 240.0), (3, 0.5, 240.0)])
def test_butterworth_unit_dc_gain_and_half_power_at_cutoff(order, cutoff, fps):
    b, a = butterworth_coefficients(cutoff, fps, order)
    assert a[0] == pytest.approx(1.0)
    assert abs(frequency_response(b, a, 0.0, fps)) == pytest.approx(1.0, abs=1e-9)
    assert abs(frequency_response(b, a, cutoff, fps)) == pytest.approx(1 / np.sqrt(2), abs=1e-9)
    # Monotone fall-off above the cutoff, zero at Nyquist.
    gains = np.abs(frequency_response(b, a, np.linspace(cutoff, fps / 2, 50), fps))
    assert np.all(np.diff(gains) < 1e-12)
    assert gains[-1] < 1e-6


def test_butterworth_matches_published_scipy_coefficients():
    # scipy.signal.butter(2, 0.25) (documented values): fs = 2 so cutoff 0.25 is a quarter of Nyquist.
    b, a = butterworth_coefficients(0.25, 2.0, 2)
    np.testing.assert_allclose(b, [0.09763107, 0.19526215, 0.09763107], atol=1e-8)
    np.testing.assert_allclose(a, [1.0, -0.94280904, 0.33333333], atol=1e-8)
    # scipy.signal.butter(1, 0.5): tan(pi/4) = 1 gives b = [0.5, 0.5], a = [1, 0].
    b, a = butterworth_coefficients(0.5, 2.0, 1)
    np.testing.assert_allclose(b, [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(a, [1.0, 0.0], atol=1e-12)


def test_butterworth_rejects_bad_requests():
    with pytest.raises(ValueError, match="half the frame rate"):
        butterworth_coefficients(30.0, 60.0)
    with pytest.raises(ValueError, match="order"):
        butterworth_coefficients(5.0, 60.0, 9)


def test_lfilter_zi_is_the_step_steady_state():
    b, a = butterworth_coefficients(5.0, 60.0, 3)
    zi = lfilter_zi(b, a)
    y = slow_lfilter(b, a, np.ones(50), zi)
    np.testing.assert_allclose(y, 1.0, atol=1e-12)


# --- filtfilt ----------------------------------------------------------------------------------


@pytest.mark.parametrize("order, cutoff, fps, length", [
    (1, 6.0, 60.0, 500), (2, 6.0, 60.0, 1000), (4, 3.0, 60.0, 777), (8, 10.0, 100.0, 300),
    (2, 1.0, 240.0, 3000), (2, 6.0, 60.0, 64), (2, 6.0, 60.0, 129),
])
def test_filtfilt_matches_slow_reference(order, cutoff, fps, length):
    rng = np.random.default_rng(order * 1000 + length)
    x = rng.normal(size=(length, 4)).cumsum(axis=0) + rng.normal(size=(length, 4))
    b, a = butterworth_coefficients(cutoff, fps, order)
    fast = filtfilt(x, b, a)
    slow = np.stack([slow_filtfilt(b, a, x[:, c]) for c in range(x.shape[1])], axis=1)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9 * max(1.0, np.abs(slow).max()))


def test_filtfilt_axis_and_shape():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 200, 3))
    b, a = butterworth_coefficients(6.0, 60.0)
    along_1 = filtfilt(x, b, a, axis=1)
    assert along_1.shape == x.shape
    np.testing.assert_allclose(along_1[2, :, 1], slow_filtfilt(b, a, x[2, :, 1]), atol=1e-10)


def test_filtfilt_has_zero_lag_and_keeps_slow_motion():
    fps = 100.0
    t = np.arange(2000) / fps
    rng = np.random.default_rng(2)
    slow = np.sin(2 * np.pi * 0.7 * t)
    noisy = slow + 0.2 * rng.normal(size=t.size)
    smooth = zero_phase_lowpass(noisy, fps, cutoff_hz=5.0)
    lags = np.arange(-20, 21)
    xcorr = [np.dot(smooth[50:-50], np.roll(slow, lag)[50:-50]) for lag in lags]
    assert lags[int(np.argmax(xcorr))] == 0
    assert np.abs(smooth - slow)[20:-20].max() < 0.15
    # A causal single pass of the same filter does lag.
    b, a = butterworth_coefficients(5.0, fps)
    causal = slow_lfilter(b, a, noisy, lfilter_zi(b, a) * noisy[0])
    xcorr_causal = [np.dot(causal[50:-50], np.roll(slow, lag)[50:-50]) for lag in lags]
    assert lags[int(np.argmax(xcorr_causal))] > 0


def test_filtfilt_removes_noise_above_cutoff():
    fps, cutoff = 100.0, 5.0
    rng = np.random.default_rng(3)
    noise = rng.normal(size=(20000, 3))
    out = zero_phase_lowpass(noise, fps, cutoff)
    freqs = np.fft.rfftfreq(len(noise), 1 / fps)
    above = freqs > cutoff
    power_in = (np.abs(np.fft.rfft(noise, axis=0)) ** 2)[above].sum()
    power_out = (np.abs(np.fft.rfft(out, axis=0)) ** 2)[above].sum()
    assert power_out < 0.2 * power_in
    below = freqs < 0.5 * cutoff
    kept = (np.abs(np.fft.rfft(out, axis=0)) ** 2)[below].sum() / (np.abs(np.fft.rfft(noise, axis=0)) ** 2)[below].sum()
    assert kept > 0.85


def test_filtfilt_passes_lines_through_and_handles_short_signals():
    b, a = butterworth_coefficients(6.0, 60.0)
    constant = np.full((100, 2), [1.5, -3.0])
    np.testing.assert_allclose(filtfilt(constant, b, a), constant, atol=1e-12)
    # A line survives away from the ends (the steady-state start assumes a constant, not a slope).
    line = np.linspace(-1.0, 2.0, 100)[:, None] * np.array([1.0, -3.0])
    np.testing.assert_allclose(filtfilt(line, b, a)[15:-15], line[15:-15], atol=1e-5)
    for length in (1, 2):
        x = np.arange(length, dtype=float)
        np.testing.assert_array_equal(filtfilt(x, b, a), x)
    short = np.array([0.0, 1.0, 0.5, 2.0, 1.0])
    out = filtfilt(short, b, a)
    assert out.shape == short.shape and np.all(np.isfinite(out))


# --- One Euro ----------------------------------------------------------------------------------


def test_one_euro_keeps_constants_constant():
    x = np.full((200, 5), 3.25)
    np.testing.assert_allclose(one_euro(x, 60.0, 1.0, 0.5), x, atol=1e-12)


def test_one_euro_slow_ramp_has_small_lag_and_noise_is_reduced():
    fps = 60.0
    t = np.arange(600) / fps
    ramp = 0.2 * t                                    # 20 cm/s
    rng = np.random.default_rng(4)
    noise = 0.005 * rng.normal(size=t.size)
    out = one_euro(ramp + noise, fps, min_cutoff=1.0, beta=2.0)
    settled = slice(120, None)
    lag_s = np.mean(ramp[settled] - out[settled]) / 0.2
    assert 0 <= lag_s < 0.15                          # under 0.15 s behind (3 cm)
    residual = out[settled] - ramp[settled] - np.mean(out[settled] - ramp[settled])
    assert residual.std() < 0.5 * noise.std()
    # Noise-free ramp, beta 0: the steady lag of this smoother is exactly speed / (2 pi min_cutoff).
    clean = one_euro(ramp, fps, 1.0, 0.0)
    assert np.mean(ramp[settled] - clean[settled]) == pytest.approx(0.2 / (2 * np.pi), rel=1e-6)


def test_one_euro_faster_motion_opens_the_cutoff():
    fps = 60.0
    t = np.arange(300) / fps
    fast = 2.0 * t
    no_beta = one_euro(fast, fps, 1.0, 0.0)
    with_beta = one_euro(fast, fps, 1.0, 5.0)
    assert np.mean(fast[100:] - with_beta[100:]) < 0.3 * np.mean(fast[100:] - no_beta[100:])


def test_streaming_filter_equals_batch():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 4, 3)).cumsum(axis=0) * 0.01
    batch = one_euro(x, 50.0, 1.5, 2.0, 1.2)
    live = OneEuroFilter(1.5, 2.0, 1.2)
    streamed = np.stack([live(frame, 1 / 50.0) for frame in x])
    np.testing.assert_array_equal(streamed, batch)
    stamped = OneEuroFilter(1.5, 2.0, 1.2)
    by_time = np.stack([stamped.at_time(frame, i / 50.0) for i, frame in enumerate(x)])
    np.testing.assert_allclose(by_time, batch, atol=1e-12)
    scalar = OneEuroFilter(1.5, 2.0, 1.2)
    values = [scalar(v, 1 / 50.0) for v in x[:, 0, 0]]
    np.testing.assert_allclose(values, one_euro(x[:, 0, 0], 50.0, 1.5, 2.0, 1.2), atol=0)


def test_one_euro_returned_samples_are_not_aliased_to_state():
    live = OneEuroFilter(1.0, 0.0)
    first = live(np.array([1.0, 2.0]), 0.1)
    first[:] = 100.0
    second = live(np.array([1.0, 2.0]), 0.1)
    np.testing.assert_allclose(second, [1.0, 2.0])


# --- gap filling -------------------------------------------------------------------------------


def test_fill_gaps_is_exact_on_linear_motion_and_holds_edges():
    t = np.arange(40, dtype=float)
    points = np.stack([np.stack([t, 2 * t + 1, -t], axis=-1), np.stack([t * 0.5, t, t], axis=-1)], axis=1)
    valid = np.ones((40, 2), dtype=bool)
    valid[10:15, 0] = False
    valid[:3, 1] = False
    valid[-4:, 1] = False
    broken = np.where(valid[..., None], points, np.nan)
    filled, mask = fill_gaps(broken, valid)
    np.testing.assert_allclose(filled[:, 0], points[:, 0], atol=1e-12)
    np.testing.assert_allclose(filled[3:-4, 1], points[3:-4, 1], atol=1e-12)
    np.testing.assert_allclose(filled[:3, 1], np.repeat(points[3:4, 1], 3, axis=0))
    np.testing.assert_allclose(filled[-4:, 1], np.repeat(points[-5:-4, 1], 4, axis=0))
    np.testing.assert_array_equal(mask, ~valid)


def test_fill_gaps_respects_max_gap_and_empty_channels():
    x = np.arange(30, dtype=float)[:, None] * np.ones((1, 3))
    valid = np.ones_like(x, dtype=bool)
    valid[5:8, 0] = False       # 3 frames: filled
    valid[12:20, 0] = False     # 8 frames: too long
    valid[:6, 1] = False        # leading 6: too long
    valid[:, 2] = False         # never valid
    filled, mask = fill_gaps(x, valid, max_gap_frames=5)
    np.testing.assert_allclose(filled[5:8, 0], [5, 6, 7])
    assert np.isnan(filled[12:20, 0]).all()
    assert np.isnan(filled[:6, 1]).all() and np.isfinite(filled[6:, 1]).all()
    assert np.isnan(filled[:, 2]).all()
    assert mask[5:8, 0].all() and not mask[12:20, 0].any() and not mask[:, 2].any()
    # Values marked invalid are never kept, even when finite; NaN marked valid counts as a gap.
    y = np.arange(10, dtype=float)
    y[4] = np.nan
    out, filled_here = fill_gaps(y, np.ones(10, dtype=bool))
    assert out[4] == pytest.approx(4.0) and filled_here[4]


# --- smooth_points -----------------------------------------------------------------------------


def walking_points(num=600, fps=60.0, seed=6):
    t = np.arange(num) / fps
    base = np.stack([0.3 * np.sin(2 * np.pi * 0.8 * t), 1.0 + 0.1 * np.sin(2 * np.pi * 1.3 * t), 0.5 * t], axis=-1)
    offsets = np.array([[0.0, 0.0, 0.0], [0.2, -0.5, 0.1], [-0.2, -0.5, 0.1]])
    clean = base[:, None, :] + offsets[None]
    rng = np.random.default_rng(seed)
    return clean, clean + 0.004 * rng.normal(size=clean.shape)


def test_smooth_points_strength_zero_only_fills_gaps():
    clean, noisy = walking_points()
    valid = np.ones(noisy.shape[:2], dtype=bool)
    valid[100:110, 1] = False
    out, filled = smooth_points(noisy, valid, 60.0, strength=0.0)
    np.testing.assert_array_equal(out[valid], noisy[valid])
    assert filled[100:110, 1].all() and filled.sum() == 10
    assert np.isfinite(out).all()


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_smooth_points_keeps_long_gaps_and_reduces_noise(mode):
    clean, noisy = walking_points()
    valid = np.ones(noisy.shape[:2], dtype=bool)
    valid[200:260, 0] = False        # 1 s: stays missing
    valid[400:405, 2] = False        # short: filled
    valid[590:, 1] = False           # 10 frames at the end: held
    out, filled = smooth_points(noisy, valid, 60.0, strength=0.5, mode=mode)
    assert np.isnan(out[200:260, 0]).all()
    assert np.isfinite(np.delete(out, np.s_[200:260], axis=0)).all()
    assert filled[400:405, 2].all() and filled[590:, 1].all() and not filled[200:260, 0].any()
    interior = np.ones(len(out), dtype=bool)
    interior[180:280] = False
    interior[:20] = interior[-20:] = False
    error_in = np.linalg.norm(noisy - clean, axis=-1)[interior].mean()
    error_out = np.linalg.norm(out - clean, axis=-1)[interior].mean()
    if mode == "offline":
        assert error_out < 0.6 * error_in
    else:
        # Causal: it trails a point moving at up to 1.5 m/s, but by little.
        assert error_out < 0.015


def test_smooth_points_online_calms_a_still_point():
    rng = np.random.default_rng(8)
    still = np.array([0.1, 1.2, -0.3]) + 0.004 * rng.normal(size=(600, 1, 3))
    out, _ = smooth_points(still, None, 60.0, strength=0.5, mode="online")
    error_in = np.linalg.norm(still[60:, 0] - [0.1, 1.2, -0.3], axis=-1).mean()
    error_out = np.linalg.norm(out[60:, 0] - [0.1, 1.2, -0.3], axis=-1).mean()
    assert error_out < 0.5 * error_in


def test_smooth_points_does_not_smooth_across_a_long_gap():
    # A point that jumps 1 m during a long gap: each side must stay where it was, not blend.
    points = np.zeros((200, 1, 3))
    points[100:, 0, 0] = 1.0
    valid = np.ones((200, 1), dtype=bool)
    valid[80:120] = False
    out, _ = smooth_points(points, valid, 60.0, strength=1.0, max_gap_s=0.2)
    np.testing.assert_allclose(out[:80, 0, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(out[120:, 0, 0], 1.0, atol=1e-9)


def test_smooth_points_leaves_runs_shorter_than_the_padding_alone():
    rng = np.random.default_rng(7)
    points = rng.normal(size=(100, 1, 3))
    valid = np.zeros((100, 1), dtype=bool)
    valid[10:18] = True              # 8 frames, separated by long gaps
    valid[60:100] = True
    out, _ = smooth_points(points, valid, 60.0, strength=0.5, max_gap_s=0.1)
    np.testing.assert_array_equal(out[10:18], points[10:18])
    assert not np.allclose(out[60:], points[60:])


def test_strength_mappings_are_monotone_and_documented_values():
    assert offline_cutoff_hz(0.5) == pytest.approx(6.0)
    assert offline_cutoff_hz(1.0) == pytest.approx(2.0)
    strengths = np.linspace(0.05, 1.0, 20)
    assert np.all(np.diff([offline_cutoff_hz(s) for s in strengths]) < 0)
    params = np.array([online_parameters(s) for s in strengths])
    assert np.all(np.diff(params, axis=0) < 0)
