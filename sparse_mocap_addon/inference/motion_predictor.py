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

from .nn import LayerNorm, Linear, gelu, load_state_dict

__all__ = ["dct_matrix", "MotionMLP", "load_motion_mlp", "ASSETS"]

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

    def __call__(self, x, residual):
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[1:] != (self.frames, self.in_features):
            raise ValueError(f"MotionMLP expects inputs (batch, {self.frames}, {self.in_features}), got {x.shape}")
        y = np.swapaxes(self.fc_in(np.matmul(self.dct, x)), 1, 2)           # (B, F, T)
        for time, norm, channel in zip(self.time, self.norm, self.channel):
            z = time(y)
            y = y + np.swapaxes(norm(np.swapaxes(z, 1, 2)), 1, 2)
            if channel is not None:
                channel_norm, channel_in, channel_out = channel
                c = gelu(channel_in(channel_norm(np.swapaxes(y, 1, 2))))
                y = y + np.swapaxes(channel_out(c), 1, 2)
        y = np.matmul(self.idct, self.fc_out(np.swapaxes(y, 1, 2)))
        return y + np.asarray(residual, dtype=self.dtype)


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
    from ..core.rotations import matrix_to_6d
    from .tracker_poser import heading_yaw, yaw_matrix

    n = np.arange(len(root))
    yaw = heading_yaw(root[n, reference])
    unturn = np.swapaxes(yaw_matrix(yaw), -1, -2)[:, None]              # (N, 1, 3, 3)
    origin = translation[n, reference] * np.array([1.0, 0.0, 1.0])
    position = (unturn @ (translation - origin[:, None])[..., None])[..., 0]
    return np.concatenate([position, matrix_to_6d(unturn @ root)], axis=-1), yaw, origin


def pose_features(rotations: np.ndarray, translation: np.ndarray, reference: np.ndarray):
    """Poses (N, W, 24, 4) + root path (N, W, 3) -> (features (N, W, 147), yaw, origin); see root_features."""
    from ..core.rotations import matrix_to_6d, quat_to_matrix

    root, yaw, origin = root_features(quat_to_matrix(rotations[:, :, 0]), translation, reference)
    local = matrix_to_6d(quat_to_matrix(rotations[:, :, 1:]))
    return np.concatenate([root, local.reshape(*local.shape[:2], -1)], axis=-1), yaw, origin


def pose_from_features(features: np.ndarray, yaw: np.ndarray, origin: np.ndarray):
    """Inverse of :func:`pose_features`: (N, W, 147) -> rotations (N, W, 24, 4), translation (N, W, 3)."""
    from ..core.rotations import matrix_to_quat, sixd_to_matrix
    from .tracker_poser import yaw_matrix

    features = np.asarray(features, dtype=np.float64)
    turn = yaw_matrix(yaw)[:, None]
    translation = (turn @ features[..., :3, None])[..., 0] + origin[:, None]
    root = turn @ sixd_to_matrix(features[..., 3:9])
    local = sixd_to_matrix(features[..., 9:].reshape(*features.shape[:2], 23, 6))
    rotations = matrix_to_quat(np.concatenate([root[:, :, None], local], axis=2))
    return rotations, translation


def interpolate_unknown(features: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(N, W, F) with (N, W) flags -> unknown frames linearly interpolated (held at the edges)."""
    from ..core.filters import fill_gaps

    values = np.where(known[..., None], features, np.nan)
    filled, _ = fill_gaps(np.swapaxes(values, 0, 1), np.swapaxes(known, 0, 1))
    return np.swapaxes(filled, 0, 1)


EXTRAPOLATION_FRAMES = 7.5        # model frames (0.25 s): how long a one-sided bridge keeps its speed


def bridge_unknown(features: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(N, W, F) with (N, W) flags -> every unknown run bridged so that speed, not only value, carries on.

    Between two known frames: a cubic Hermite curve with the known frames' own velocities at both
    ends (one-sided differences; zero where the frame before or after is itself unknown), which is
    what an animator's spline does and what linear interpolation gets wrong (it stops the motion
    dead at the seam and restarts it at a constant speed). A run with only one known side carries
    that side's velocity on, fading it out with a time constant of ``EXTRAPOLATION_FRAMES``.
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
    tau = EXTRAPOLATION_FRAMES
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
        # The longest hole the window can hold with some context left on each side.
        self.max_gap_seconds = (GAP_WINDOW - 2 * 8) / self.fps

    @classmethod
    def load(cls, path=GAP_WEIGHTS) -> "GapFiller":
        model, meta = load_motion_mlp(path, GAP_ARCHITECTURE)
        return cls(model, meta)

    def __call__(self, features: np.ndarray, known: np.ndarray) -> np.ndarray:
        """(N, W, 147) features (unknown frames' values ignored) + (N, W) flags -> (N, W, 147)."""
        x, base = network_input(features, known)
        return np.asarray(self.model(x, base), dtype=np.float64)

    def bridge_only(self, features: np.ndarray, known: np.ndarray) -> np.ndarray:
        """The network's starting point alone (for the benchmark's ablation)."""
        return bridge_unknown(features, known)


_SHIPPED: dict = {}


def shipped_gap_filler() -> GapFiller:
    """The committed gap filler, loaded once."""
    if "gap" not in _SHIPPED:
        _SHIPPED["gap"] = GapFiller.load()
    return _SHIPPED["gap"]


def _window_times(gap, num_frames: int, fps: float, model_fps: float) -> np.ndarray:
    """Source-frame coordinates (fractional) of the model window around one gap.

    Interior gaps sit in the middle of the window; a gap at the end of the take ends the window
    (the past predicts forward), a gap at the start begins it (the future predicts backward).
    """
    start, stop = gap
    step = fps / model_fps                               # source frames per model frame
    offsets = np.arange(GAP_WINDOW) * step
    if stop >= num_frames and start > 0:
        return (stop - 1) - offsets[::-1]
    if start == 0 and stop < num_frames:
        return offsets
    centre = 0.5 * (start + stop - 1)
    return centre + (offsets - offsets[-1] / 2)


def _sample(rotations, translation, missing, times):
    """Poses at fractional frames ``times`` (G, W): slerp/lerp between neighbours; a sample is known
    when both neighbours exist and are known."""
    from ..core.rotations import quat_slerp

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
    """``motion`` with every ``(start, stop)`` gap filled by the network; see ``gap_fill.fill_motion_gaps``.

    ``missing`` (T,) flags every frame not to be trusted as context, the gaps' frames and any others
    (e.g. gaps too long to fill); by default only the gaps' frames.

    Each gap gets a window of the model's frames around it (all gaps in one batch); the network's
    frames are sampled back at the gap's own frames; then the small mismatch the network leaves at
    the known frames on either side is removed, fading linearly across the gap, so the filled frames
    meet the recording exactly at both seams.
    """
    from ..core.motion import Motion
    from ..core.rotations import quat_conjugate, quat_continuous, quat_multiply, quat_slerp

    predictor = predictor or shipped_gap_filler()
    rotations = quat_continuous(motion.rotations, axis=0)
    translation = motion.translation
    T = motion.num_frames
    missing = np.zeros(T, dtype=bool) if missing is None else np.asarray(missing, dtype=bool).copy()
    for start, stop in gaps:
        missing[start:stop] = True
    times = np.stack([_window_times(g, T, motion.fps, predictor.fps) for g in gaps])      # (G, W)
    win_rot, win_trans, known = _sample(rotations, translation, missing, times)
    features, yaw, origin = pose_features(win_rot, win_trans, reference_frames(known))
    out_rot, out_trans = pose_from_features(predictor(features, known), yaw, origin)
    out_rot = quat_continuous(out_rot, axis=1)

    new_rot, new_trans = rotations.copy(), translation.copy()
    for g, (start, stop) in enumerate(gaps):
        frames = np.arange(start - 1, stop + 1)                      # the gap and its two neighbours
        position = np.interp(frames, times[g], np.arange(GAP_WINDOW))
        lo = np.clip(np.floor(position).astype(np.int64), 0, GAP_WINDOW - 2)
        w = np.clip(position - lo, 0.0, 1.0)
        rot = quat_slerp(out_rot[g, lo], out_rot[g, lo + 1], w[:, None])
        trans = out_trans[g, lo] + w[:, None] * (out_trans[g, lo + 1] - out_trans[g, lo])
        # Seam correction: the offset between the recording and the network at each known neighbour,
        # faded linearly to zero towards the other side.
        fade = (frames - frames[0]) / (frames[-1] - frames[0])
        weights = []
        if start > 0:
            weights.append((0, 1.0 - fade))
        if stop < T:
            weights.append((len(frames) - 1, fade))
        for seam, ramp in weights:
            frame = frames[seam]
            delta_r = quat_multiply(rotations[frame], quat_conjugate(rot[seam]))          # (24, 4)
            delta_t = translation[frame] - trans[seam]
            identity = np.broadcast_to(np.array([1.0, 0, 0, 0]), delta_r.shape)
            rot = quat_multiply(quat_slerp(identity[None], delta_r[None], ramp[:, None]), rot)
            trans = trans + ramp[:, None] * delta_t
        new_rot[start:stop] = rot[1:-1]
        new_trans[start:stop] = trans[1:-1]
    metadata = dict(motion.metadata)
    return Motion(motion.fps, new_rot, new_trans, motion.skeleton, metadata)
