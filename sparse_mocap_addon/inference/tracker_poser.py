"""The tracker poser network in numpy (issue 6): joint-level tracker targets + the wearer's skeleton
-> every joint's world rotation, the pelvis position and foot contact, offline and streaming.

Two models, one layout (``KINDS``): **three_point** (head + hands: the lower body and the torso
are *guessed* from how the head and hands move, AvatarPoser / HMD-Poser's problem) and
**six_point** (pelvis, head, hands, feet: the network only proposes what the trackers leave open:
how the spine bends between pelvis and head, where the elbows and knees point; the analytic solver
``core/trackers/six_point`` then reaches every target exactly, using the network's pose as its prior).

Inputs, per frame (:func:`tracker_features`), in the **heading frame** of the reference tracker
(head for three-point, pelvis for six-point): its position is the origin and its yaw (heading
about +Y, :func:`heading_yaw`) is removed, so the network sees the same numbers wherever the wearer
stands and whichever way they face. Per tracker (``PER_TRACKER`` = 14): position relative to the
reference (3), height above the floor (1), orientation as 6D (6), velocity (3, m/s, backward
difference), a validity flag (1); then the reference's yaw rate (rad/s) and the skeleton's
height, arm and leg length (``MEASUREMENTS``: the skeleton-aware input). The network standardises
them with the training set's mean and deviation (buffers in the weight file).

The network (``training/tracker_model.py`` is its torch twin; the parity test keeps them within
1e-4) is one ``RNNBlock`` (Linear -> ReLU -> 2-layer LSTM -> Linear), causal, so streaming equals
offline frame for frame. Where ``OFFLINE_WEIGHT_FILES`` ships one, a bidirectional variant (each
frame also sees the future, so it cannot stream) serves offline reconstruction.

Outputs (:class:`TrackerPoserOutput`): heading-frame global rotations of
``POSE_JOINTS`` (6D), the pelvis position relative to the reference (3) and two foot-contact
logits; :func:`decode` turns them into world rotations of all 24 joints, the world pelvis
position and contact probabilities.

Targets are *joint-level* (a tracker's mounting already applied: ``core/trackers/calibration``),
60 fps (``NETWORK_FPS``), core frame with the floor at y = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.body.measurements import measure_skeleton
from ..core.kinematics.mirror import REFLECT_MATRIX, REFLECT_VEC, mirror_skeleton
from ..core.kinematics.rotations import matrix_to_6d, sixd_to_matrix
from ..core.kinematics.skeleton import MIRROR, Skeleton, mirror_name
from ..core.trackers.recording import SIX_POINT, THREE_POINT
from .nn import RNNBlock, WeightError, load_state_dict, sigmoid

ASSETS = Path(__file__).resolve().parents[1] / "assets"
KINDS = {"three_point": THREE_POINT, "six_point": SIX_POINT}
WEIGHT_FILES = {"three_point": "tracker_three_point.npz", "six_point": "tracker_six_point.npz"}
# Offline-only (bidirectional: each frame also sees the future) variants, where one is shipped.
OFFLINE_WEIGHT_FILES = {"three_point": "tracker_three_point_offline.npz", "six_point": "tracker_six_point_offline.npz"}
REFERENCE = {"three_point": "head", "six_point": "pelvis"}
NETWORK_FPS = 60.0
PER_TRACKER = 14
MEASUREMENTS = 3
# Joints the network rotates: everything but the toes (10, 11) and the hands (22, 23), which keep
# their parent's global rotation (identity locals), as in the corpus.
POSE_JOINTS = tuple(j for j in range(22) if j not in (10, 11))
_GLOBAL_SOURCES = np.array([POSE_JOINTS.index({10: 7, 11: 8, 22: 20, 23: 21}.get(j, j)) for j in range(24)])
OUTPUTS = 6 * len(POSE_JOINTS) + 3 + 2
LANES = 8                 # offline, a long input runs as this many batched segments (nn LSTM lanes)
# Shortest lane of a causal model (nn ``MIN_LANE`` is 600): the corpus clips are mostly 200-700
# frames, which at 600 run one frame at a time; lanes of 240 frames run them 4-8 % faster (the
# re-run that joins a lane to the one before converges within a piece). The bidirectional offline
# model keeps 600: its reverse direction converges more slowly and shorter lanes cost it time.
CAUSAL_MIN_LANE = 240
# Mirror averaging runs the network on the targets and on their mirror image: shorter inputs go
# through as one batch of two sequences (each step's recurrent weights read once for both: 1.5-1.6
# times one run's time instead of 2 on clips of 300-1,800 frames); longer ones each in their lanes,
# which are faster there.
PAIRED_FRAMES = 2400


def input_size(kind: str) -> int:
    return len(KINDS[kind]) * PER_TRACKER + 1 + MEASUREMENTS


def heading_yaw(rotations: np.ndarray) -> np.ndarray:
    """Yaw (radians about +Y, 0 = facing +Z) of rotations (..., 3, 3) whose +Z is the wearer's
    forward. The forward axis is flattened onto the floor with the up axis's help, so a head
    looking straight down or up still has a heading: h = z_h - z_y * y_h (for a pure pitch this is
    forward with length cos + sin^2 > 0)."""
    z = rotations[..., :, 2]
    y = rotations[..., :, 1]
    hx = z[..., 0] - z[..., 1] * y[..., 0]
    hz = z[..., 2] - z[..., 1] * y[..., 2]
    return np.arctan2(hx, hz)


def yaw_matrix(yaw: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) about +Y by ``yaw`` (positive turns +Z towards +X)."""
    yaw = np.asarray(yaw, dtype=np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    m = np.zeros(yaw.shape + (3, 3))
    m[..., 0, 0] = c
    m[..., 0, 2] = s
    m[..., 1, 1] = 1.0
    m[..., 2, 0] = -s
    m[..., 2, 2] = c
    return m


def shape_measurements(skeleton: Skeleton) -> np.ndarray:
    """(3,) the skeleton's height, arm and leg length (metres, ``core/body/measurements.measure_skeleton``)."""
    m = measure_skeleton(skeleton)
    return np.array((m["height"], m["arm_length"], m["leg_length"]))


@dataclass
class FeatureState:
    """What the features of the next streamed frame need from the last one."""

    positions: np.ndarray      # (K, 3)
    yaw: float


def tracker_features(positions, rotations, valid, fps: float, kind: str, skeleton: Skeleton,
                     previous: FeatureState | None = None):
    """Network inputs of T frames (module docstring).

    positions (T, K, 3), rotations (T, K, 3, 3), valid (T, K) in ``KINDS[kind]`` order, gaps already
    filled (the flags say where); ``skeleton``: the wearer's Skeleton (or its precomputed
    :func:`shape_measurements`); ``previous``: the frame before the first (streaming), else the
    first frame's velocity is zero. Returns (features (T, F) float64, heading (T, 3, 3), origin
    (T, 3), state for the next call)."""
    positions = np.asarray(positions, dtype=np.float64)
    rotations = np.asarray(rotations, dtype=np.float64)
    T, K = positions.shape[:2]
    names = KINDS[kind]
    if K != len(names) or rotations.shape != (T, K, 3, 3):
        raise ValueError(f"the {kind} poser takes {len(names)} trackers ({', '.join(names)}): positions "
                         f"(T, {len(names)}, 3) and rotations (T, {len(names)}, 3, 3), got {positions.shape} "
                         f"and {rotations.shape}")
    ref = names.index(REFERENCE[kind])
    yaw = heading_yaw(rotations[:, ref])
    heading = yaw_matrix(yaw)
    heading_t = np.swapaxes(heading, -1, -2)
    origin = positions[:, ref]
    if previous is None:
        prev_pos = np.concatenate((positions[:1], positions[:-1]))
        prev_yaw = np.concatenate((yaw[:1], yaw[:-1]))
    else:
        prev_pos = np.concatenate((previous.positions[None], positions[:-1]))
        prev_yaw = np.concatenate(([previous.yaw], yaw[:-1]))
    rel = np.einsum("tij,tkj->tki", heading_t, positions - origin[:, None])
    vel = np.einsum("tij,tkj->tki", heading_t, positions - prev_pos) * fps
    orient = matrix_to_6d(heading_t[:, None] @ rotations)
    yaw_rate = (np.mod(yaw - prev_yaw + np.pi, 2.0 * np.pi) - np.pi) * fps
    shape = skeleton if isinstance(skeleton, np.ndarray) else shape_measurements(skeleton)
    per_tracker = np.concatenate((rel, positions[..., 1:2], orient, vel,
                                  np.asarray(valid, dtype=np.float64)[..., None]), axis=-1)
    features = np.empty((T, K * PER_TRACKER + 1 + MEASUREMENTS))
    features[:, :K * PER_TRACKER] = per_tracker.reshape(T, K * PER_TRACKER)
    features[:, K * PER_TRACKER] = yaw_rate
    features[:, K * PER_TRACKER + 1:] = shape
    state = FeatureState(positions[-1].copy(), float(yaw[-1])) if T else previous
    return features, heading, origin, state


@dataclass
class TrackerPoserOutput:
    """Decoded network outputs for T frames."""

    globals: np.ndarray        # (T, 24, 3, 3) world rotations of every joint
    pelvis: np.ndarray         # (T, 3) world pelvis position
    contact: np.ndarray        # (T, 2) left/right foot contact probability


def decode(raw: np.ndarray, heading: np.ndarray, origin: np.ndarray) -> TrackerPoserOutput:
    """Raw outputs (T, OUTPUTS) + the heading frames and origins of :func:`tracker_features`."""
    raw = np.asarray(raw, dtype=np.float64)
    T = len(raw)
    pose = sixd_to_matrix(raw[:, :6 * len(POSE_JOINTS)].reshape(T, len(POSE_JOINTS), 6))
    world = heading[:, None] @ pose
    pelvis = origin + np.einsum("tij,tj->ti", heading, raw[:, 6 * len(POSE_JOINTS):6 * len(POSE_JOINTS) + 3])
    return TrackerPoserOutput(world[:, _GLOBAL_SOURCES], pelvis, sigmoid(raw[:, -2:]))


class TrackerPoser:
    """A loaded tracker poser. ``TrackerPoser.load("three_point")`` reads the shipped model."""

    def __init__(self, arrays, metadata: dict, source: str = "weights"):
        if metadata.get("architecture") != "tracker_poser":
            raise WeightError(f"{source} is not a tracker poser weight file (architecture "
                              f"{metadata.get('architecture')!r})")
        self.metadata, self.source = metadata, source
        self.kind = metadata["kind"]
        if self.kind not in KINDS:
            raise WeightError(f"{source}: unknown tracker poser kind {self.kind!r}")
        hyper = metadata["hyperparameters"]
        if tuple(hyper["pose_joints"]) != POSE_JOINTS:
            raise WeightError(f"{source} rotates joints {hyper['pose_joints']}, this runtime expects {list(POSE_JOINTS)}")
        self.names = KINDS[self.kind]
        self.input_mean = np.asarray(arrays["input_mean"], dtype=np.float32)
        self.input_std = np.asarray(arrays["input_std"], dtype=np.float32)
        if self.input_mean.shape != (input_size(self.kind),):
            raise WeightError(f"{source} expects {self.input_mean.shape[0]} inputs, this runtime makes "
                              f"{input_size(self.kind)} for {self.kind}")
        self.block = RNNBlock(arrays, "net.", int(hyper["layers"]))
        self.bidirectional = bool(self.block.rnn.bidirectional)
        if not self.bidirectional:
            self.block.rnn.MIN_LANE = CAUSAL_MIN_LANE

    @classmethod
    def load(cls, kind: str = "three_point", path=None, offline: bool = False) -> "TrackerPoser":
        """Weights from ``path``, or the shipped file of ``kind`` ("three_point" or "six_point");
        ``offline``: its bidirectional offline-only variant (:func:`has_offline_model`)."""
        if path is None:
            if kind not in WEIGHT_FILES:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
            if offline and kind not in OFFLINE_WEIGHT_FILES:
                raise ValueError(f"no offline model is shipped for {kind}")
            path = ASSETS / (OFFLINE_WEIGHT_FILES[kind] if offline else WEIGHT_FILES[kind])
        arrays, metadata = load_state_dict(path)
        return cls(arrays, metadata, source=str(path))

    def _normalise(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, dtype=np.float32) - self.input_mean) / self.input_std

    def run(self, positions, rotations, valid, skeleton: Skeleton, fps: float = NETWORK_FPS,
            progress=None, lanes: int | None = None, mirror: bool = False) -> TrackerPoserOutput:
        """Whole sequence (arguments of :func:`tracker_features`, trackers in ``self.names`` order).
        A long input runs in ``lanes`` (default ``LANES``) batched segments (``nn.LSTM.forward``: the
        sequential result up to a 1e-5 tolerance on the recurrent state; ``lanes=1`` is the
        sequential run itself, a bidirectional model's included); ``progress(1.0)`` at the end.
        ``mirror``: the guess is averaged with the guess on the targets' mirror image
        (:func:`mirror_targets`, :func:`mirror_average`); below ``PAIRED_FRAMES`` the two run as
        one batch of two sequences."""
        inputs = [(positions, rotations, valid, skeleton)]
        if mirror:
            image_skeleton = mirror_skeleton(skeleton) if isinstance(skeleton, Skeleton) else skeleton
            inputs.append((*mirror_targets(positions, rotations, valid, self.names), image_skeleton))
        features, frames = [], []
        for pos, rot, ok, body in inputs:
            x, heading, origin, _ = tracker_features(pos, rot, ok, fps, self.kind, body)
            features.append(self._normalise(x))
            frames.append((heading, origin))
        lanes = LANES if lanes is None else lanes
        if mirror and len(positions) < PAIRED_FRAMES:
            raws = self.block.forward(np.stack(features))[0]
        else:
            raws = [self.block.forward(x, lanes=lanes)[0] for x in features]
        guesses = [decode(raw, heading, origin) for raw, (heading, origin) in zip(raws, frames)]
        if progress is not None:
            progress(1.0)
        return mirror_average(*guesses) if mirror else guesses[0]

    def stream(self, skeleton: Skeleton, fps: float = NETWORK_FPS) -> "TrackerPoserStream":
        if self.bidirectional:
            raise ValueError(f"{self.source} is an offline (bidirectional) model: it needs the future and cannot stream")
        return TrackerPoserStream(self, skeleton, fps)


# --- test-time mirroring ----------------------------------------------------------------------------
# The targets' left-right mirror image (the world reflected in its x = 0 plane, S = diag(-1, 1, 1):
# a position p becomes S p, a rotation R becomes S R S, left and right trackers swap, the skeleton
# is mirrored with them) is the mirrored motion's; the network's guess on it, mirrored back, is a
# second guess of the same pose, and the two are averaged (as ``inference/imu_poser`` does for the
# IMU network; ``benchmarks/tracker_accuracy.py`` shows what it buys).


def mirror_targets(positions, rotations, valid, names):
    """The mirror image of trackers ``names``' positions (T, K, 3), rotations (T, K, 3, 3) and
    validity (T, K)."""
    order = [list(names).index(mirror_name(n)) for n in names]
    return (np.asarray(positions)[:, order] * REFLECT_VEC, np.asarray(rotations)[:, order] * REFLECT_MATRIX,
            np.asarray(valid)[:, order])


def mirror_average(out: TrackerPoserOutput, image: TrackerPoserOutput) -> TrackerPoserOutput:
    """The mean of ``out`` and ``image`` (the guess on the mirror image) mirrored back: rotations
    averaged as 6D and re-orthonormalised, pelvis positions and contact probabilities averaged."""
    globals_ = sixd_to_matrix(0.5 * (matrix_to_6d(out.globals) + matrix_to_6d(image.globals[:, MIRROR] * REFLECT_MATRIX)))
    return TrackerPoserOutput(globals_, 0.5 * (out.pelvis + image.pelvis * REFLECT_VEC),
                              0.5 * (out.contact + image.contact[:, ::-1]))


def has_offline_model(kind: str) -> bool:
    """Whether a bidirectional offline-only model is shipped for ``kind``."""
    return kind in OFFLINE_WEIGHT_FILES and (ASSETS / OFFLINE_WEIGHT_FILES[kind]).is_file()


class TrackerPoserStream:
    """One frame in, one pose out; equal to :meth:`TrackerPoser.run` frame for frame. The network's
    state lives in the preallocated buffers of an ``nn.RNNStream``."""

    def __init__(self, poser: TrackerPoser, skeleton: Skeleton, fps: float):
        self.poser, self.fps = poser, float(fps)
        self.shape = shape_measurements(skeleton)
        self._net = poser.block.stream()
        self.features = None

    def step(self, positions, rotations, valid) -> TrackerPoserOutput:
        """positions (K, 3), rotations (K, 3, 3), valid (K,) -> an output with T = 1."""
        features, heading, origin, self.features = tracker_features(
            np.asarray(positions)[None], np.asarray(rotations)[None], np.asarray(valid)[None], self.fps,
            self.poser.kind, self.shape, self.features)
        y = self._net.step(self.poser._normalise(features[0]))
        return decode(y[None], heading, origin)
