"""The motion predictor's numpy runtime (see ``training/motion_mlp.py`` for the network and why).

Two uses, one network design:

* **prediction** (the CMU-Mocap benchmark): 10 observed frames of joint positions -> the next 25.
* **gap filling** (the product): a window of SMPL-24 poses with some frames unknown -> those frames,
  given the frames before the gap (forward) and, offline, after it (backward).

numpy only; float32 like the training. Parity with torch is checked in tests/test_motion_predictor.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.kinematics.filters import fill_gaps
from ..core.kinematics.motion import Motion
from ..core.kinematics.rotations import (matrix_to_6d, matrix_to_quat, quat_continuous, quat_slerp, quat_to_matrix,
                                         sixd_to_matrix)
from .nn import LayerNorm, Linear, gelu, load_state_dict
from .tracker_poser import heading_yaw, yaw_matrix

__all__ = ["dct_matrix", "MotionMLP", "load_motion_mlp", "ASSETS", "GapFiller", "shipped_gap_filler", "predict_gaps",
           "bridge_unknown", "pose_features", "pose_from_features", "reference_frames", "network_input"]

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def dct_matrix(frames: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (frames, frames): ``coefficients = D @ signal``, ``signal = D.T @ coefficients``."""
    k = np.arange(frames)[:, None]
    i = np.arange(frames)[None, :]
    d = np.sqrt(2.0 / frames) * np.cos(np.pi * (i + 0.5) * k / frames)
    d[0] /= np.sqrt(2.0)
    return d


class MotionMLP:
    """numpy twin of ``training.motion_mlp.MotionMLP``: ``__call__(x (B, T, F_in), residual (B, T, F))``."""

    def __init__(self, arrays, *, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.dct = np.asarray(arrays["dct"], dtype=self.dtype)
        self.idct = np.asarray(arrays["idct"], dtype=self.dtype)
        self.fc_in = Linear(arrays, "fc_in.", dtype=dtype)
        self.fc_out = Linear(arrays, "fc_out.", dtype=dtype)
        count = len({k.split(".")[1] for k in arrays if k.startswith("blocks.")})
        self.time = [Linear(arrays, f"blocks.{b}.time.", dtype=dtype) for b in range(count)]
        self.norm = [LayerNorm(arrays, f"blocks.{b}.norm.", dtype=dtype) for b in range(count)]
        # Optional channel MLP per block (LayerNorm, Linear, GELU, Linear over the features).
        self.channel = [(LayerNorm(arrays, f"blocks.{b}.channel_norm.", dtype=dtype),
                         Linear(arrays, f"blocks.{b}.channel_in.", dtype=dtype),
                         Linear(arrays, f"blocks.{b}.channel_out.", dtype=dtype))
                        if f"blocks.{b}.channel_in.weight" in arrays else None for b in range(count)]
        self.frames = self.dct.shape[0]
        self.in_features = self.fc_in.in_features
        self.features = self.fc_out.out_features
        # The network runs frames-major, (B, T, F), throughout (torch's twin swaps to (B, F, T) for
        # the time Linears): a time Linear is then a left product W @ y plus its bias per frame,
        # and no array is ever swapped or copied for a layer.
        self._time = [(np.ascontiguousarray(t.weight_t.T), None if t.bias is None else t.bias[:, None])
                      for t in self.time]

    def __call__(self, x, residual):
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[1:] != (self.frames, self.in_features):
            raise ValueError(f"MotionMLP expects inputs (batch, {self.frames}, {self.in_features}), got {x.shape}")
        y = self.fc_in(np.matmul(self.dct, x))                               # (B, T, F)
        for (weight, bias), norm, channel in zip(self._time, self.norm, self.channel):
            z = np.matmul(weight, y)
            if bias is not None:
                z += bias
            y += norm(z)
            if channel is not None:
                channel_norm, channel_in, channel_out = channel
                y += channel_out(gelu(channel_in(channel_norm(y))))
        y = np.matmul(self.idct, self.fc_out(y))
        y += np.asarray(residual, dtype=self.dtype)
        return y


def load_motion_mlp(path, architecture: str, *, dtype=np.float32) -> tuple[MotionMLP, dict]:
    """A MotionMLP and its metadata from a weights file written by ``training/export_weights.export``."""
    arrays, meta = load_state_dict(path, architecture=architecture)
    return MotionMLP(arrays, dtype=dtype), meta


# ------------------------------------------------------------------------------------------------
# Gap filling: SMPL-24 poses in a window around the gap, at a fixed model rate.

GAP_FPS = 30.0            # the model's frame rate; motions at other rates are sampled at it
GAP_WINDOW = 64           # model frames (2.1 s): a 1 s gap keeps >= 17 frames of context on each side
GAP_FEATURES = 3 + 6 + 23 * 6      # root position, root orientation (6D), 23 local rotations (6D)
GAP_WEIGHTS = ASSETS / "gap_filler.npz"
GAP_ARCHITECTURE = "gap_motion_mlp"


def reference_frames(known: np.ndarray) -> np.ndarray:
    """(N,) the frame each window is expressed in: the last known frame before its first hole, or
    (a hole at the very start) its first known frame."""
    first_hole = np.argmin(known, axis=1)
    first_known = np.argmax(known, axis=1)
    return np.where(first_hole - 1 >= 0, first_hole - 1, first_known)


def root_features(root: np.ndarray, translation: np.ndarray, reference: np.ndarray):
    """Root rotations (N, W, 3, 3) + path (N, W, 3) -> (N, W, 9) in each window's own frame.

    The frame of window n is its frame ``reference[n]`` (a known one): origin under its root on the
    floor plane, axes turned by its heading (yaw), so the features do not depend on where in the
    world or which way the performer faces. Returns (features, yaw (N,), origin (N, 3)).
    """
    n = np.arange(len(root))
    yaw = heading_yaw(root[n, reference])
    unturn = np.swapaxes(yaw_matrix(yaw), -1, -2)[:, None]              # (N, 1, 3, 3)
    origin = translation[n, reference] * np.array([1.0, 0.0, 1.0])
    position = (unturn @ (translation - origin[:, None])[..., None])[..., 0]
    return np.concatenate([position, matrix_to_6d(unturn @ root)], axis=-1), yaw, origin


def pose_features(rotations: np.ndarray, translation: np.ndarray, reference: np.ndarray):
    """Poses (N, W, 24, 4) + root path (N, W, 3) -> (features (N, W, 147), yaw, origin); see root_features."""
    root, yaw, origin = root_features(quat_to_matrix(rotations[:, :, 0]), translation, reference)
    local = matrix_to_6d(quat_to_matrix(rotations[:, :, 1:]))
    return np.concatenate([root, local.reshape(*local.shape[:2], -1)], axis=-1), yaw, origin


def pose_from_features(features: np.ndarray, yaw: np.ndarray, origin: np.ndarray):
    """Inverse of :func:`pose_features`: (N, W, 147) -> rotations (N, W, 24, 4), translation (N, W, 3)."""
    features = np.asarray(features, dtype=np.float64)
    turn = yaw_matrix(yaw)[:, None]
    translation = (turn @ features[..., :3, None])[..., 0] + origin[:, None]
    root = turn @ sixd_to_matrix(features[..., 3:9])
    local = sixd_to_matrix(features[..., 9:].reshape(*features.shape[:2], 23, 6))
    rotations = matrix_to_quat(np.concatenate([root[:, :, None], local], axis=2))
    return rotations, translation


def interpolate_unknown(features: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(N, W, F) with (N, W) flags -> unknown frames linearly interpolated (held at the edges)."""
    values = np.where(known[..., None], features, np.nan)
    filled, _ = fill_gaps(np.swapaxes(values, 0, 1), np.swapaxes(known, 0, 1))
    return np.swapaxes(filled, 0, 1)


EXTRAPOLATION_FRAMES = 7.5        # model frames (0.25 s): how long a one-sided bridge keeps its speed


def bridge_unknown(features: np.ndarray, known: np.ndarray, fade_frames: float = EXTRAPOLATION_FRAMES) -> np.ndarray:
    """(N, W, F) with (N, W) flags -> every unknown run bridged so that speed, not only value, carries on.

    Between two known frames: a cubic Hermite curve with the known frames' own velocities at both
    ends (one-sided differences; zero where the frame before or after is itself unknown), which is
    what an animator's spline does and what linear interpolation gets wrong (it stops the motion
    dead at the seam and restarts it at a constant speed). A run with only one known side carries
    that side's velocity on, fading it out with a time constant of ``fade_frames`` (0.25 s at 30 fps).
    This is the network's starting point: it learns what the bridge still gets wrong.
    """
    features = np.asarray(features, dtype=np.float64)
    N, W, _ = features.shape
    frames = np.arange(W)
    prev = np.maximum.accumulate(np.where(known, frames, -1), axis=1)            # last known at or before
    nxt = np.minimum.accumulate(np.where(known, frames, W)[:, ::-1], axis=1)[:, ::-1]
    out = features.copy()
    row, col = np.nonzero(~known)
    p, n = prev[row, col], nxt[row, col]
    has_p, has_n = p >= 0, n < W
    p_c, n_c = np.clip(p, 0, W - 1), np.clip(n, 0, W - 1)
    x_p, x_n = features[row, p_c], features[row, n_c]

    def velocity(at, other):          # one-sided difference at a known frame, zero without a known neighbour
        ok = (other >= 0) & (other < W)
        ok &= known[row, np.clip(other, 0, W - 1)]
        diff = features[row, at] - features[row, np.clip(other, 0, W - 1)]
        return np.where(ok[:, None], diff, 0.0)

    v_p = velocity(p_c, p_c - 1)                 # x[p] - x[p - 1]
    v_n = -velocity(n_c, n_c + 1)                # x[n + 1] - x[n]
    both = has_p & has_n
    d = np.maximum(n - p, 1).astype(np.float64)
    t = ((col - p) / d)[:, None]
    h00, h10 = 2 * t ** 3 - 3 * t ** 2 + 1, t ** 3 - 2 * t ** 2 + t
    h01, h11 = -2 * t ** 3 + 3 * t ** 2, t ** 3 - t ** 2
    hermite = h00 * x_p + h10 * d[:, None] * v_p + h01 * x_n + h11 * d[:, None] * v_n
    tau = float(fade_frames)
    forward = x_p + v_p * (tau * (1 - np.exp(-(col - p) / tau)))[:, None]
    backward = x_n - v_n * (tau * (1 - np.exp(-(n - col) / tau)))[:, None]
    guess = np.where(both[:, None], hermite, np.where(has_p[:, None], forward, backward))
    fillable = has_p | has_n
    out[row[fillable], col[fillable]] = guess[fillable]
    return out


def network_input(features: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the gap network reads: the bridged features + the known flag, and its residual (the bridge)."""
    base = bridge_unknown(features, known)
    x = np.concatenate([base, known[..., None].astype(base.dtype)], axis=-1)
    return x, base


class GapFiller:
    """The shipped gap-filling network and what it needs around it (see ``predict_gaps``)."""

    def __init__(self, model: MotionMLP, meta: dict):
        if model.frames != GAP_WINDOW or model.features != GAP_FEATURES:
            raise ValueError(f"gap filler weights have {model.frames} frames x {model.features} features; "
                             f"this runtime expects {GAP_WINDOW} x {GAP_FEATURES}")
        self.model, self.meta = model, meta
        self.fps = float(meta.get("hyperparameters", {}).get("fps", GAP_FPS))

    @classmethod
    def load(cls, path=GAP_WEIGHTS) -> "GapFiller":
        model, meta = load_motion_mlp(path, GAP_ARCHITECTURE)
        return cls(model, meta)

    def __call__(self, features: np.ndarray, known: np.ndarray) -> np.ndarray:
        """(N, W, 147) features (unknown frames' values ignored) + (N, W) flags -> (N, W, 147)."""
        x, base = network_input(features, known)
        return np.asarray(self.model(x, base), dtype=np.float64)


class BridgeOnly(GapFiller):
    """The gap filler without its network: the bridge alone (the benchmark's ablation)."""

    def __call__(self, features: np.ndarray, known: np.ndarray) -> np.ndarray:
        return bridge_unknown(features, known)


_SHIPPED: dict = {}


def shipped_gap_filler() -> GapFiller:
    """The committed gap filler, loaded once."""
    if "gap" not in _SHIPPED:
        _SHIPPED["gap"] = GapFiller.load()
    return _SHIPPED["gap"]


def _anchor(gap, num_frames: int) -> int:
    """The known frame a gap's features are expressed in: the one before it, else the one after."""
    start, stop = gap
    return start - 1 if start > 0 else stop


def _window_times(gap, num_frames: int, fps: float, model_fps: float) -> np.ndarray:
    """Source-frame coordinates (fractional) of the model window around one gap.

    The window steps at the model's rate and passes exactly through the gap's anchor frame (so the
    network's frame of reference is a recorded frame). Interior gaps sit in the middle of the
    window; a gap at the end of the take ends it (the past predicts forward), a gap at the start
    begins it (the future predicts backward).
    """
    start, stop = gap
    step = fps / model_fps                               # source frames per model frame
    anchor = _anchor(gap, num_frames)
    if stop >= num_frames:                               # forward: the window ends on the last gap frame
        k = GAP_WINDOW - 1 - int(np.ceil((stop - 1 - anchor) / step - 1e-9))
    elif start == 0:                                     # backward: the window starts on frame 0 or before
        k = int(np.ceil(anchor / step - 1e-9))
    else:                                                # both sides: the gap in the middle
        k = int(round((GAP_WINDOW - 1) / 2 - (stop - anchor) / (2 * step)))
    return anchor + (np.arange(GAP_WINDOW) - k) * step


def _sample(rotations, translation, missing, times):
    """Poses at fractional frames ``times`` (G, W): slerp/lerp between neighbours; a sample is known
    when both neighbours exist and are known."""
    last = len(rotations) - 1
    inside = (times >= -1e-9) & (times <= last + 1e-9)
    clamped = np.clip(times, 0, last)
    lower = np.floor(clamped + 1e-9).astype(np.int64).clip(0, last)
    upper = np.minimum(lower + 1, last)
    weight = np.clip(clamped - lower, 0.0, 1.0)
    exact = weight < 1e-9
    known = inside & ~missing[lower] & (exact | ~missing[upper])
    rot = quat_slerp(rotations[lower], rotations[upper], weight[..., None])
    trans = translation[lower] + weight[..., None] * (translation[upper] - translation[lower])
    return rot, trans, known


def predict_gaps(motion, gaps, predictor: GapFiller | None = None, missing=None):
    """``motion`` with every ``(start, stop)`` gap filled; see ``gap_fill.fill_motion_gaps``.

    ``missing`` (T,) flags every frame not to be trusted as context, the gaps' frames and any others
    (e.g. gaps too long to fill); by default only the gaps' frames.

    Two layers, both in the gap's own frame of reference (its anchor: the known frame before it, or
    after it at the start of a take):

    1. the **bridge** (:func:`bridge_unknown`) at the motion's own rate, from the recorded frames
       right at the seams, so the fill leaves and joins the recording with its speed;
    2. the **network's correction** of the bridge, computed on a window of the model's rate around the
       gap (all gaps in one batch) and resampled to the gap's frames, minus its value at the seams
       (faded linearly across the gap), so that the seams stay exactly where the bridge put them.
    """
    predictor = predictor or shipped_gap_filler()
    rotations = quat_continuous(motion.rotations, axis=0)
    translation = motion.translation
    T, fps = motion.num_frames, motion.fps
    missing = np.zeros(T, dtype=bool) if missing is None else np.asarray(missing, dtype=bool).copy()
    for start, stop in gaps:
        missing[start:stop] = True

    # The network on windows at its own rate, each in its gap's frame of reference.
    times = np.stack([_window_times(g, T, fps, predictor.fps) for g in gaps])            # (G, W)
    win_rot, win_trans, known = _sample(rotations, translation, missing, times)
    anchors = np.array([_anchor(g, T) for g in gaps])
    reference = np.argmin(np.abs(times - anchors[:, None]), axis=1)       # the anchor is a window sample
    features, _, _ = pose_features(win_rot, win_trans, reference)
    correction = predictor(features, known) - bridge_unknown(features, known)

    new_rot, new_trans = rotations.copy(), translation.copy()
    for g, (start, stop) in enumerate(gaps):
        lo, hi = max(start - 2, 0), min(stop + 2, T)                       # the gap, two known frames each side
        frames = np.arange(lo, hi)
        local_known = ~missing[lo:hi]
        ref = np.array([anchors[g] - lo])
        feats, yaw, origin = pose_features(rotations[None, lo:hi], translation[None, lo:hi], ref)
        bridged = bridge_unknown(feats, local_known[None], EXTRAPOLATION_FRAMES * fps / predictor.fps)[0]
        # The correction at these frames, zero at the known frames on either side of the gap.
        position = np.interp(frames, times[g], np.arange(GAP_WINDOW))
        k = np.clip(np.floor(position).astype(np.int64), 0, GAP_WINDOW - 2)
        w = np.clip(position - k, 0.0, 1.0)[:, None]
        fix = (1 - w) * correction[g, k] + w * correction[g, k + 1]
        before, after = start - 1 - lo, stop - lo
        ramp = (frames - (start - 1)) / (stop - start + 1)
        if start > 0:
            fix -= np.clip(1 - ramp, 0, 1)[:, None] * fix[before]
        if stop < T:
            fix -= np.clip(ramp, 0, 1)[:, None] * fix[after]
        rot, trans = pose_from_features((bridged + fix)[None], yaw, origin)
        inside = slice(start - lo, stop - lo)
        new_rot[start:stop] = rot[0, inside]
        new_trans[start:stop] = trans[0, inside]
    return Motion(fps, new_rot, new_trans, motion.skeleton, dict(motion.metadata))
