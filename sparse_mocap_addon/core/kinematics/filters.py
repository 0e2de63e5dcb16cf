"""Temporal clean-up of joint and landmark tracks: gap filling, zero-phase low-pass, One Euro.

Two smoothing paths, chosen by when the data is available:

* offline (whole take known): a Butterworth low-pass run forward and backward (``filtfilt``).
  The two passes cancel each other's phase, so slow motion comes out with no lag at all and the
  magnitude response is the Butterworth one squared (maximally flat pass band, no ringing overshoot
  to speak of at order 2).  This is the usual choice in biomechanics for marker/landmark data.
* online (samples arrive one by one): the One Euro filter (Casiez et al., CHI 2012), a first-order
  low-pass whose cutoff rises with speed: heavy smoothing when a point is nearly still (where jitter
  is most visible) and little lag when it moves fast (where lag is most visible).

All arrays are (T, ...) with time on axis 0; channels are processed together, never frame by frame
in Python except inside the genuinely recurrent One Euro loop.
"""

from __future__ import annotations

import numpy as np

# ----------------------------------------------------------------------------------------------
# gap filling


def fill_gaps(values: np.ndarray, valid: np.ndarray | None = None, max_gap_frames: int | None = None):
    """Linear interpolation over time across invalid frames, per channel.

    ``values`` is (T, ...); ``valid`` is a bool mask of the same shape, or of ``values.shape[:-1]``
    (one flag per point of a (T, K, 3) array: a point is valid only with all coordinates finite);
    non-finite values count as invalid too.  Interior gaps are interpolated linearly between the
    valid frames around them; leading and trailing gaps hold the nearest valid value (extrapolating
    a trend from a few noisy frames does more harm than good).  A gap longer than ``max_gap_frames``
    (interior or at an edge) stays NaN: guessing half a second of motion is worse than admitting it
    is missing.  Channels with no valid frame stay NaN.

    Returns ``(filled, filled_mask)``: ``filled`` float64 (invalid samples NaN unless filled) and
    ``filled_mask`` (shape of ``valid``) True where a value was filled.  Fully vectorised: the
    previous/next valid frame of every sample comes from a running max/min of frame indices.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0:
        raise ValueError("fill_gaps needs an array with time on axis 0, got a scalar")
    finite = np.isfinite(values)
    per_point = False
    if valid is None:
        ok = finite
    else:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape == values.shape:
            ok = valid & finite
        elif values.ndim >= 2 and valid.shape == values.shape[:-1]:
            per_point = True
            ok = np.broadcast_to((valid & finite.all(axis=-1))[..., None], values.shape)
        else:
            raise ValueError(
                f"fill_gaps: the mask has shape {valid.shape}; expected {values.shape} or {values.shape[:-1]}")
    num_frames = values.shape[0]
    flat = values.reshape(num_frames, -1)
    ok_flat = ok.reshape(num_frames, -1)
    filled = np.where(ok_flat, flat, np.nan)
    filled_mask = np.zeros(flat.shape, dtype=bool)
    gappy = np.flatnonzero(~ok_flat.all(axis=0))           # only channels with something missing
    if gappy.size and num_frames:
        ok_g = ok_flat[:, gappy]
        frames = np.arange(num_frames, dtype=np.int32)[:, None]
        prev = np.maximum.accumulate(np.where(ok_g, frames, -1), axis=0)
        nxt = np.minimum.accumulate(np.where(ok_g, frames, num_frames)[::-1], axis=0)[::-1]
        row, col = np.nonzero(~ok_g)                           # the missing samples only
        p, n = prev[row, col].astype(np.int64), nxt[row, col].astype(np.int64)
        channel = gappy[col]
        has_prev, has_next = p >= 0, n < num_frames
        before = flat[np.maximum(p, 0), channel]
        after = flat[np.minimum(n, num_frames - 1), channel]
        both = has_prev & has_next
        weight = (row - p) / np.maximum(n - p, 1)
        guess = np.where(both, before + weight * (after - before), np.where(has_prev, before, after))
        # Length of the gap each sample sits in (at an edge: the frames up to the edge).
        gap = np.where(both, n - p - 1, np.where(has_prev, num_frames - 1 - p, n))
        fillable = has_prev | has_next
        if max_gap_frames is not None:
            fillable &= gap <= max_gap_frames
        filled[row[fillable], channel[fillable]] = guess[fillable]
        filled_mask[row[fillable], channel[fillable]] = True
    filled = filled.reshape(values.shape)
    filled_mask = filled_mask.reshape(values.shape)
    if per_point:
        filled_mask = filled_mask[..., 0]
    return filled, filled_mask


# ----------------------------------------------------------------------------------------------
# Butterworth + zero-phase filtering


def butterworth_coefficients(cutoff_hz: float, fps: float, order: int = 2):
    """Digital low-pass Butterworth ``(b, a)`` (a[0] = 1) by the bilinear transform.

    The analog cutoff is pre-warped (``2 fps tan(pi fc / fps)``) so that the digital filter has its
    -3 dB point exactly at ``cutoff_hz``; the zeros all sit at z = -1 (Nyquist), hence unit DC gain.
    Same design as ``scipy.signal.butter(order, cutoff_hz, fs=fps)``.  Order 1..8; like any
    transfer-function form, high orders at a very low ``cutoff_hz / fps`` (order 4+ below about
    1/200) lose precision: motion data needs order 2 (4 after the forward-backward pass).
    """
    order = int(order)
    if not 1 <= order <= 8:
        raise ValueError(f"Butterworth order must be 1..8, got {order}")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not (0.0 < cutoff_hz < 0.5 * fps):
        raise ValueError(f"cutoff must lie between 0 and half the frame rate ({0.5 * fps:g} Hz), got {cutoff_hz!r} Hz")
    k = np.arange(1, order + 1)
    prototype = np.exp(1j * np.pi * (2 * k + order - 1) / (2 * order))  # left half-plane poles
    fs2 = 2.0 * fps
    warped = fs2 * np.tan(np.pi * cutoff_hz / fps)
    poles_s = warped * prototype
    poles_z = (fs2 + poles_s) / (fs2 - poles_s)
    a = np.real(np.poly(poles_z))
    # Gain from the DC condition H(1) = sum(b) / sum(a) = 1: the same value as the bilinear gain
    # formula, and exact unit DC gain even where the polynomial coefficients are ill-conditioned.
    b = np.real(np.poly(-np.ones(order))) * (a.sum() / 2.0 ** order)
    return b, a


def _normalise(b, a):
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    if a[0] == 0:
        raise ValueError("the filter's a[0] must not be zero")
    n = max(len(a), len(b))
    b = np.pad(b, (0, n - len(b))) / a[0]
    a = np.pad(a, (0, n - len(a))) / a[0]
    return b, a


def _state_space(b, a):
    """Direct-form II transposed as x' = A x + B u, y = C x + D u (the state scipy's lfilter uses)."""
    d = len(a) - 1
    A = np.eye(d, k=1)
    A[:, 0] -= a[1:]
    B = b[1:] - a[1:] * b[0]
    return A, B, b[0]


def lfilter_zi(b, a) -> np.ndarray:
    """Steady-state DF-II-transposed state for a unit step input (as ``scipy.signal.lfilter_zi``)."""
    b, a = _normalise(b, a)
    if len(a) == 1:
        return np.zeros(0)
    A, B, _ = _state_space(b, a)
    return np.linalg.solve(np.eye(len(B)) - A, B)


_BLOCK = 64


def _block_operators(b, a, block):
    """Matrices that advance the filter by a whole block of ``block`` samples at once."""
    A, B, D = _state_space(b, a)
    d = len(B)
    powers = np.empty((block + 1, d, d))
    powers[0] = np.eye(d)
    for k in range(block):
        powers[k + 1] = A @ powers[k]
    observe = powers[:block, 0, :]                       # (L, d): output from the block's start state
    impulse = np.empty(block)
    impulse[0] = D
    impulse[1:] = observe[:-1] @ B                        # C A^(m-1) B
    lag = np.arange(block)[:, None] - np.arange(block)[None, :]
    toeplitz = np.where(lag >= 0, impulse[np.clip(lag, 0, None)], 0.0)  # (L, L) lower triangular
    drive = (powers[block - 1::-1] @ B).T                 # (d, L): A^(L-1-j) B
    return toeplitz, observe, drive, powers[block]


def _lfilter_2d(b, a, x, state):
    """Filter (T, N) columns with start state (d, N); exact DF-II-T maths, evaluated block-wise.

    The recursion is linear, so a block of L samples maps (start state, inputs) to (outputs, end
    state) through fixed matrices: the only sequential part is a (d x d) update per block, and the
    bulk is one batched matrix product, orders of magnitude faster than a Python loop over samples.
    """
    num, channels = x.shape
    if len(a) == 1:
        return b[0] * x
    block = min(_BLOCK, num)
    toeplitz, observe, drive, advance = _block_operators(b, a, block)
    blocks = -(-num // block)
    padded = np.zeros((blocks * block, channels))
    padded[:num] = x
    xb = padded.reshape(blocks, block, channels)
    injected = np.matmul(drive, xb)                       # (blocks, d, N)
    starts = np.empty((blocks, len(advance), channels))
    s = state
    for k in range(blocks):
        starts[k] = s
        s = advance @ s + injected[k]
    y = np.matmul(toeplitz, xb) + np.matmul(observe, starts)
    return y.reshape(blocks * block, channels)[:num]


def filtfilt(values: np.ndarray, b, a, axis: int = 0) -> np.ndarray:
    """Zero-phase forward-backward IIR filtering, same result as ``scipy.signal.filtfilt(b, a, x)``.

    Matches scipy's defaults: odd extension by ``3 * max(len(a), len(b))`` samples at each end and
    steady-state initial conditions (``lfilter_zi`` scaled by the first sample of each pass), so a
    constant or a straight line passes through untouched at the ends.  Shorter signals get a
    shorter extension (``T - 1``) instead of an error; signals of 1-2 samples are returned as is.
    NaN anywhere in a channel spoils that channel (IIR memory): fill or split gaps first.
    """
    values = np.asarray(values, dtype=np.float64)
    b, a = _normalise(b, a)
    x = np.moveaxis(values, axis, 0)
    num = x.shape[0]
    if num <= 2:
        return values.copy()
    shape = x.shape
    flat = x.reshape(num, -1)
    edge = min(3 * len(a), num - 1)
    ext = np.concatenate((2.0 * flat[:1] - flat[edge:0:-1], flat, 2.0 * flat[-1:] - flat[-2:-edge - 2:-1]))
    zi = lfilter_zi(b, a)[:, None]
    forward = _lfilter_2d(b, a, ext, zi * ext[0][None, :])
    backward = _lfilter_2d(b, a, forward[::-1], zi * forward[-1][None, :])
    out = backward[::-1][edge:edge + num]
    return np.moveaxis(out.reshape(shape), 0, axis)


def zero_phase_lowpass(values: np.ndarray, fps: float, cutoff_hz: float, order: int = 2, axis: int = 0) -> np.ndarray:
    """Butterworth low-pass of ``order`` at ``cutoff_hz`` run forward and backward (no lag offline).

    The effective response is the Butterworth one squared: -6 dB at ``cutoff_hz``, order doubled.
    """
    b, a = butterworth_coefficients(cutoff_hz, fps, order)
    return filtfilt(values, b, a, axis=axis)


def filtfilt_padlen(order: int = 2) -> int:
    """Samples of odd extension ``filtfilt`` uses for a Butterworth of ``order`` (scipy's default)."""
    return 3 * (int(order) + 1)


# ----------------------------------------------------------------------------------------------
# One Euro filter


class _OneEuroState:
    """Running state of the One Euro filter for an array of channels; one ``step`` per sample.

    Per channel, with time step dt and alpha(fc) = w / (1 + w), w = 2 pi fc dt (an exponential
    smoother with time constant 1 / (2 pi fc)): speed = (x - x_hat_prev) / dt smoothed with
    alpha(d_cutoff); cutoff = min_cutoff + beta |speed|; x_hat = x_hat_prev + alpha(cutoff) (x -
    x_hat_prev).  The first sample passes through unchanged with zero speed.  The speed is taken
    against the previous *filtered* value, as in the paper's pseudo-code.
    """

    def __init__(self, min_cutoff, beta, d_cutoff):
        if not (min_cutoff > 0 and d_cutoff > 0 and beta >= 0):
            raise ValueError("One Euro needs min_cutoff > 0, d_cutoff > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self):
        self.x_hat = None
        self._dt = None

    def _constants(self, dt):
        if dt != self._dt:
            if not (dt is not None and dt > 0):
                raise ValueError(f"One Euro needs a positive time step, got {dt!r}")
            w_d = 2.0 * np.pi * self.d_cutoff * dt
            a_d = w_d / (1.0 + w_d)
            self._k = (1.0 - a_d, a_d / dt, 2.0 * np.pi * dt * self.beta, 2.0 * np.pi * dt * self.min_cutoff)
            self._dt = dt
        return self._k

    def step(self, x, dt, out):
        """Filter sample ``x`` (array), writing the result into ``out`` (which becomes the state)."""
        if self.x_hat is None:
            out[...] = x
            self.x_hat = out
            self.dx_hat = np.zeros_like(out)
            self._error = np.empty_like(out)
            self._w = np.empty_like(out)
            self._w1 = np.empty_like(out)
            return out
        keep_speed, gain_speed, gain_beta, gain_min = self._constants(dt)
        error, w, w1, dx_hat = self._error, self._w, self._w1, self.dx_hat
        np.subtract(x, self.x_hat, out=error)
        np.multiply(dx_hat, keep_speed, out=dx_hat)           # dx_hat += a_d (error / dt - dx_hat)
        np.multiply(error, gain_speed, out=w)
        np.add(dx_hat, w, out=dx_hat)
        np.abs(dx_hat, out=w)                                  # w = 2 pi dt (min_cutoff + beta |dx_hat|)
        np.multiply(w, gain_beta, out=w)
        np.add(w, gain_min, out=w)
        np.add(w, 1.0, out=w1)                                 # alpha = w / (1 + w)
        np.divide(w, w1, out=w)
        np.multiply(error, w, out=error)
        np.add(self.x_hat, error, out=out)
        self.x_hat = out
        return out


class OneEuroFilter:
    """Streaming One Euro filter for live data: ``f(x, dt)`` returns the filtered sample.

    ``x`` is a scalar or an array of channels (same shape every call); ``dt`` the seconds since the
    previous sample (ignored on the first one).  ``at_time(x, t)`` takes absolute timestamps
    instead.  Same maths as ``one_euro``, which runs the same state on a whole take.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.007, d_cutoff: float = 1.0):
        self._state = _OneEuroState(min_cutoff, beta, d_cutoff)
        self._last_time = None

    def __call__(self, x, dt: float | None):
        x = np.asarray(x, dtype=np.float64)
        result = self._state.step(x, dt, np.empty_like(x))
        return result.copy() if result.ndim else float(result)

    def at_time(self, x, t: float):
        """Filter a sample stamped with absolute time ``t`` (seconds)."""
        dt = None if self._last_time is None else t - self._last_time
        self._last_time = t
        return self(x, dt)

    def reset(self):
        """Forget the past: the next sample passes through unchanged."""
        self._state.reset()
        self._last_time = None


def one_euro(values: np.ndarray, fps: float, min_cutoff: float = 1.0, beta: float = 0.007, d_cutoff: float = 1.0) -> np.ndarray:
    """One Euro filter run causally along axis 0 on every channel at once (constant ``1 / fps`` step).

    Causal, so it lags (about ``1 / (2 pi cutoff)`` seconds, small when moving fast): the filter for
    frames that arrive live.  For a recorded take prefer ``zero_phase_lowpass`` (no lag).  ``beta``
    is in Hz per (input unit / s): the defaults (Casiez et al.) suit pixel-like units; for metres see
    ``online_parameters``.  Each channel is filtered on its own; NaN spoils the rest of a channel.
    """
    values = np.asarray(values, dtype=np.float64)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    flat = values.reshape(len(values), -1)        # rows stay writable views even for 1-D input
    out = np.empty_like(flat)
    state = _OneEuroState(min_cutoff, beta, d_cutoff)
    dt = 1.0 / fps
    for t in range(len(flat)):
        state.step(flat[t], dt, out[t])
    return out.reshape(values.shape)


# ----------------------------------------------------------------------------------------------
# landmark clean-up used by the product


def offline_cutoff_hz(strength: float) -> float:
    """Butterworth cutoff for a smoothing ``strength`` in (0, 1]: ``18 * 9**-strength`` Hz.

    Geometric, so equal steps of the slider are equal ratios of cutoff: 0.5 gives 6 Hz (the usual
    choice for whole-body human motion), 1.0 gives 2 Hz (slow, heavily smoothed), near 0 about
    18 Hz (only sensor noise removed).  Capped at 0.4 fps by ``smooth_points``.
    """
    return 18.0 * 9.0 ** (-float(strength))


def online_parameters(strength: float) -> tuple[float, float]:
    """One Euro ``(min_cutoff Hz, beta Hz per m/s)`` for a ``strength`` in (0, 1], positions in metres.

    ``min_cutoff = 4 * 16**-strength`` (4 Hz -> 1 Hz at 0.5 -> 0.25 Hz at 1) is the smoothing a still
    point gets, where jitter shows most; ``beta = 100 * 10**-strength`` (100 -> 32 -> 10) opens the
    cutoff with speed: at 0.5 a limb moving at 1 m/s is filtered at about 33 Hz, i.e. about 5 ms
    of lag.  Chosen on synthetic 4-10 mm landmark noise: at 0.5 a still point's jitter drops to
    about 40 %, while a point moving at 1.5 m/s trails by about 1 cm.
    """
    s = float(strength)
    return 4.0 * 16.0 ** (-s), 100.0 * 10.0 ** (-s)


def _finite_runs(ok: np.ndarray):
    """(start, stop) of the True runs of a 1-D bool array."""
    edges = np.diff(np.concatenate(([0], ok.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def smooth_points(points: np.ndarray, valid: np.ndarray | None, fps: float, strength: float = 0.5,
                  mode: str = "offline", max_gap_s: float = 0.5):
    """Landmark clean-up: fill short gaps, then low-pass each unbroken run of every point.

    ``points`` (T, K, 3) metres, ``valid`` (T, K) bool (None: finite points are valid).  Gaps up to
    ``max_gap_s`` are filled linearly (``fill_gaps``); longer ones stay NaN and the filter never
    runs across them, because bridging them would invent motion.  ``strength`` in [0, 1]: 0 fills
    gaps only; otherwise ``mode="offline"`` is a zero-phase Butterworth of order 2 at
    ``offline_cutoff_hz(strength)`` (no lag; needs the whole take) and ``mode="online"`` the causal
    One Euro filter with ``online_parameters(strength)`` (low lag live).  Offline runs no longer
    than the filter's padding (9 frames) are returned unfiltered.

    Returns ``(smoothed, filled_mask)`` with ``filled_mask`` (T, K) True where a gap was filled.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[2] != 3:
        raise ValueError(f"smooth_points expects points shaped (T, K, 3), got {points.shape}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength!r}")
    if mode not in ("offline", "online"):
        raise ValueError(f"mode must be 'offline' or 'online', got {mode!r}")
    if valid is None:
        valid = np.isfinite(points).all(axis=-1)
    max_gap = int(round(max_gap_s * fps)) if max_gap_s is not None else None
    filled, filled_mask = fill_gaps(points, valid, max_gap)
    if strength == 0.0 or len(points) < 3:
        return filled, filled_mask
    ok = np.isfinite(filled).all(axis=-1)                        # (T, K)
    if mode == "offline":
        cutoff = min(offline_cutoff_hz(strength), 0.4 * fps)
        b, a = butterworth_coefficients(cutoff, fps, 2)
        shortest = filtfilt_padlen(2) + 1
        def run_filter(chunk):
            return filtfilt(chunk, b, a) if len(chunk) >= shortest else chunk
    else:
        min_cutoff, beta = online_parameters(strength)
        def run_filter(chunk):
            return one_euro(chunk, fps, min_cutoff, beta, 1.0)
    # Points whose valid runs coincide are filtered together (the common case: one run for all).
    groups: dict[tuple, list[int]] = {}
    for k in range(points.shape[1]):
        groups.setdefault(tuple(_finite_runs(ok[:, k])), []).append(k)
    smoothed = filled.copy()
    for runs, members in groups.items():
        columns = slice(None) if len(members) == points.shape[1] else members
        for start, stop in runs:
            smoothed[start:stop, columns] = run_filter(filled[start:stop, columns])
    return smoothed, filled_mask
