"""The six-IMU poser network in numpy (issue 5): offline (whole sequence) and streaming (one frame
in, one pose out) APIs over the weights ``training/train_imu.py`` writes to ``assets/``.

The architecture is described in ``training/imu_model.py`` (its torch twin; the parity test keeps
the two within 1e-4): a leaf stage, a joint stage with foot-contact logits, and separate upper- and
lower-body pose stages, each Linear -> ReLU -> LSTM -> Linear, all causal; so the streaming output
equals the offline output frame for frame. Where ``OFFLINE_WEIGHT_FILES`` ships one, a bidirectional
variant of the same wiring (each stage also sees the future, so it cannot stream) serves offline
reconstruction by default (``pipelines/imu.ImuSolveOptions.offline_model``); a long input then runs
in chunks that each see ``OFFLINE_CONTEXT_FRAMES`` more on either side (:func:`chunk_bounds`).
Inputs are the 72 normalised IMU features of ``core/imu/synth.features`` (sensor order ``core/imu/recording.SIX_SENSORS``), the six validity flags and, for
the shape-aware model, the wearer's four measurements (:func:`shape_vector`).

Outputs (:class:`PoserOutput`): the 17 ``POSE_JOINTS`` root-relative global rotations as 6D, the
five leaf and 23 joint positions in the root frame (metres), the two foot-contact
probabilities and, from a model trained with ``--root-velocity``, the root's velocity in the root
frame (m/s; the root filter fuses it with the contact velocity). :func:`relative_globals` turns the 6D into all 24 root-relative rotations (feet,
hands and the pelvis get identity locals) and :func:`local_quaternions` into the Motion's local
rotations given the pelvis's world orientation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.body.measurements import BodyMeasurements, measure_skeleton, skeleton_from_measurements
from ..core.imu.recording import SIX_SENSORS
from ..core.kinematics.mirror import REFLECT_MATRIX, REFLECT_VEC
from ..core.kinematics.rotations import matrix_to_quat, sixd_to_matrix
from ..core.kinematics.skeleton import MIRROR, PARENTS, mirror_name
from .nn import RNNBlock, WeightError, load_state_dict

ASSETS = Path(__file__).resolve().parents[1] / "assets"
WEIGHT_FILES = {"full": "imu_poser.npz", "no_shape": "imu_poser_no_shape.npz", "baseline": "imu_poser_baseline.npz"}
KINDS = tuple(WEIGHT_FILES)
# Offline-only (bidirectional: each frame also sees the future) variants, where one is shipped.
OFFLINE_WEIGHT_FILES = {"full": "imu_poser_offline.npz"}

IMU_FEATURES = 72
SENSORS = 6
MEASUREMENTS = 4
LEAVES = 5
ACC_FEATURES = 18        # the first 18 features are the six normalised accelerations
UPPER_JOINTS = (3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19)   # spine, neck, collars, head, arms
LOWER_JOINTS = (1, 2, 4, 5, 7, 8)                           # hips, knees, ankles
POSE_JOINTS = tuple(sorted(UPPER_JOINTS + LOWER_JOINTS))    # the 17 joints the network rotates
SEX_CODES = {"male": 1.0, "female": -1.0, "neutral": 0.0}   # unknown sits halfway
LANES = 16                # offline, a long input runs as this many batched segments (nn LSTM lanes)
CHUNK_FRAMES = 18_000     # offline, a longer input runs in chunks of this many frames (5 min at 60 fps)
# A bidirectional model cannot carry its state from one chunk to the next (the reverse direction
# starts at the end): each chunk runs over this many more frames on either side, where the
# influence of the cut has died out (10 s at 60 fps; the models were trained on 200-frame windows).
OFFLINE_CONTEXT_FRAMES = 600


def chunk_bounds(frames: int, context: int = 0, size: int | None = None) -> list[tuple[int, int, int, int]]:
    """Consecutive chunks of ``size`` (default ``CHUNK_FRAMES``) frames covering ``frames``, each as
    (lo, hi, a, b): the chunk [a, b) is computed over [lo, hi), ``context`` more frames on either
    side where the input has them."""
    size = CHUNK_FRAMES if size is None else size
    return [(max(a - context, 0), min(a + size + context, frames), a, min(a + size, frames))
            for a in range(0, frames, size)]


def has_offline_model(kind: str = "full") -> bool:
    """Whether a bidirectional offline-only model is shipped for ``kind``."""
    return kind in OFFLINE_WEIGHT_FILES and (ASSETS / OFFLINE_WEIGHT_FILES[kind]).is_file()


def shape_vector(measurements) -> np.ndarray:
    """(4,) float64 network shape input: height, arm length, leg length (metres, as
    ``core/body/measurements.measure_skeleton`` measures the skeleton the measurements give) and a sex code.
    ``measurements``: a :class:`BodyMeasurements` or an array already in that layout."""
    if isinstance(measurements, BodyMeasurements):
        m = measure_skeleton(skeleton_from_measurements(measurements))
        sex = SEX_CODES[measurements.sex.strip().lower()]
        return np.array((m["height"], m["arm_length"], m["leg_length"], sex))
    vector = np.asarray(measurements, dtype=np.float64).reshape(-1)
    if vector.shape != (MEASUREMENTS,) or not np.isfinite(vector).all():
        raise ValueError(f"the shape input must be 4 finite numbers (height, arm, leg in metres, sex code), got {vector}")
    return vector


@dataclass
class PoserOutput:
    """Network outputs for T frames (or one frame without the T axis when streaming)."""

    pose_6d: np.ndarray            # (T, 17, 6) root-relative globals of POSE_JOINTS
    contact: np.ndarray | None     # (T, 2) left/right foot contact probability
    leaf: np.ndarray | None        # (T, 5, 3) wrists, ankles, head in the root frame (m)
    joints: np.ndarray | None      # (T, 23, 3) joints 1..23 in the root frame (m)
    root_velocity: np.ndarray | None = None   # (T, 3) the root's velocity in the root frame (m/s), where estimated

    FIELDS = ("pose_6d", "contact", "leaf", "joints", "root_velocity")

    def crop(self, start: int, stop: int) -> "PoserOutput":
        """Frames [start, stop) (views)."""
        return PoserOutput(*(None if getattr(self, f) is None else getattr(self, f)[start:stop] for f in self.FIELDS))

    @classmethod
    def join(cls, parts: list) -> "PoserOutput":
        """Consecutive outputs as one."""
        return cls(*(None if getattr(parts[0], f) is None else np.concatenate([getattr(p, f) for p in parts])
                     for f in cls.FIELDS))


class ImuPoser:
    """A loaded poser network. ``ImuPoser.load()`` reads the shipped full model."""

    def __init__(self, arrays, metadata: dict, source: str = "weights"):
        if metadata.get("architecture") != "imu_poser":
            raise WeightError(f"{source} is not an IMU poser weight file (architecture {metadata.get('architecture')!r})")
        self.metadata, self.source = metadata, source
        self.kind = metadata["kind"]
        hyper = metadata["hyperparameters"]
        if tuple(hyper["pose_joints"]) != POSE_JOINTS:
            raise WeightError(f"{source} rotates joints {hyper['pose_joints']}, this runtime expects {list(POSE_JOINTS)}")
        self.acc_clamp = float(hyper["acc_clamp"])
        layers = int(hyper["layers"])
        self.shape_mean = np.asarray(arrays["shape_mean"], dtype=np.float32)
        self.shape_std = np.asarray(arrays["shape_std"], dtype=np.float32)
        if self.kind == "baseline":
            self.blocks = {"pose": RNNBlock(arrays, "pose.", layers)}
        else:
            self.blocks = {name: RNNBlock(arrays, name + ".", layers) for name in ("leaf", "joints", "upper", "lower")}
            split = UPPER_JOINTS + LOWER_JOINTS
            self._pose_order = np.array([split.index(j) for j in POSE_JOINTS])
        directions = {block.rnn.bidirectional for block in self.blocks.values()}
        if len(directions) != 1:
            raise WeightError(f"{source} mixes causal and bidirectional stages; this runtime expects one or the other")
        self.bidirectional = directions.pop()
        # Frames a chunk of a long input needs on either side (:func:`chunk_bounds`).
        self.context = OFFLINE_CONTEXT_FRAMES if self.bidirectional else 0

    @classmethod
    def load(cls, path=None, kind: str = "full", offline: bool = False) -> "ImuPoser":
        """Weights from ``path``, or the shipped file of ``kind`` ("full", "no_shape", "baseline");
        ``offline``: its bidirectional offline-only variant (:func:`has_offline_model`)."""
        if path is None:
            if kind not in WEIGHT_FILES:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
            if offline and kind not in OFFLINE_WEIGHT_FILES:
                raise ValueError(f"no offline model is shipped for {kind}")
            path = ASSETS / (OFFLINE_WEIGHT_FILES[kind] if offline else WEIGHT_FILES[kind])
        arrays, metadata = load_state_dict(path)
        return cls(arrays, metadata, source=str(path))

    # --- inputs ---------------------------------------------------------------------------------

    def _inputs(self, imu, valid, measurements) -> np.ndarray:
        imu = np.asarray(imu, dtype=np.float32)
        if imu.shape[-1] != IMU_FEATURES:
            raise ValueError(f"IMU features must have {IMU_FEATURES} values per frame, got shape {imu.shape}")
        lead = imu.shape[:-1]
        valid = np.ones(lead + (SENSORS,), np.float32) if valid is None else np.asarray(valid, np.float32)
        if valid.shape != lead + (SENSORS,):
            raise ValueError(f"validity flags must be {lead + (SENSORS,)}, got {valid.shape}")
        acc = np.clip(imu[..., :ACC_FEATURES], -self.acc_clamp, self.acc_clamp)
        parts = [acc, imu[..., ACC_FEATURES:], valid]
        if self.kind == "full":
            shape = (shape_vector(measurements).astype(np.float32) - self.shape_mean) / self.shape_std
            parts.append(np.broadcast_to(shape, lead + (MEASUREMENTS,)))
        return np.concatenate(parts, axis=-1)

    # --- offline and streaming ------------------------------------------------------------------

    def run(self, imu, valid=None, measurements=None, progress=None, lanes: int | None = None,
            mirror: bool = False) -> PoserOutput:
        """Whole sequence: ``imu`` (T, 72), ``valid`` (T, 6) or None (all valid), ``measurements``
        (BodyMeasurements or the (4,) shape vector; ignored by the no-shape and baseline models);
        ``mirror``: also run the recording's mirror image and average (:func:`mirror_inputs`).

        A long input runs in ``lanes`` (default ``LANES``) batched segments (``nn.LSTM.forward``:
        the sequential result up to a 1e-5 tolerance on the recurrent state; ``lanes=1`` is the
        sequential run itself); ``progress(fraction)`` is called after each stage of the network.
        An input longer than ``CHUNK_FRAMES`` runs in chunks of that many frames (:meth:`chunked`
        for a causal model; with ``self.context`` frames on either side for a bidirectional one),
        so the network's working memory stays that of one chunk."""
        if mirror:
            first, second = (None, None) if progress is None else (lambda f: progress(0.5 * f),
                                                                   lambda f: progress(0.5 + 0.5 * f))
            out = self.run(imu, valid, measurements, first, lanes)
            return mirror_average(out, self.run(*mirror_inputs(imu, valid), measurements, second, lanes))
        if np.ndim(imu) == 2 and len(imu) > CHUNK_FRAMES:
            return self._run_in_chunks(imu, valid, measurements, progress, lanes)
        x = self._inputs(imu, valid, measurements)
        if x.ndim != 2:
            raise ValueError(f"run takes one sequence (T, {IMU_FEATURES}); got shape {np.shape(imu)}")
        lanes = LANES if lanes is None else lanes
        names = list(self.blocks)

        def call(name, value):
            out = self.blocks[name].forward(value, lanes=lanes)[0]
            if progress is not None:
                progress((names.index(name) + 1) / len(names))
            return out
        return self._forward(x, call)

    def _run_in_chunks(self, imu, valid, measurements, progress, lanes) -> PoserOutput:
        session, frames = self.chunked(measurements, lanes), len(imu)
        parts = []
        for lo, hi, a, b in chunk_bounds(frames, self.context):
            out = session.run(imu[lo:hi], None if valid is None else valid[lo:hi])
            parts.append(out.crop(a - lo, b - lo))
            if progress is not None:
                progress(b / frames)
        return PoserOutput.join(parts)

    def chunked(self, measurements=None, lanes: int | None = None, mirror: bool = False) -> "PoserChunks":
        """A long recording in consecutive chunks: ``.run(imu, valid)`` per chunk, the recurrent
        states carried from one chunk to the next (:class:`PoserChunks`); a bidirectional model
        carries nothing, and each chunk must come with ``self.context`` frames on either side.
        ``mirror``: each chunk's answer is averaged with the answer on its mirror image."""
        return PoserChunks(self, measurements, lanes, mirror)

    def stream(self, measurements=None) -> "PoserStream":
        """A streaming session: ``.step(imu_t, valid_t)`` per frame, state kept between calls."""
        if self.bidirectional:
            raise ValueError(f"{self.source} is an offline (bidirectional) model: it needs the future and cannot stream")
        return PoserStream(self, measurements)

    def _forward(self, x, call) -> PoserOutput:
        """The network's wiring on inputs (..., F); ``call(block name, input)`` runs one block."""
        lead = x.shape[:-1]
        if self.kind == "baseline":
            pose = call("pose", x)
            return PoserOutput(pose.reshape(lead + (len(POSE_JOINTS), 6)), None, None, None)
        leaf = call("leaf", x)
        joints_out = call("joints", np.concatenate((x, leaf), axis=-1))
        joints, logits = joints_out[..., :69], joints_out[..., 69:71]
        velocity = joints_out[..., 71:74] if joints_out.shape[-1] == 74 else None
        body_in = np.concatenate((x, joints), axis=-1)
        upper = call("upper", body_in)
        lower = call("lower", body_in)
        pose = np.concatenate((upper, lower), axis=-1).reshape(lead + (len(POSE_JOINTS), 6))[..., self._pose_order, :]
        contact = 1.0 / (1.0 + np.exp(-logits))
        return PoserOutput(pose, contact, leaf.reshape(lead + (LEAVES, 3)), joints.reshape(lead + (23, 3)), velocity)


class PoserChunks:
    """A sequence fed in consecutive chunks (``run(imu, valid)`` per chunk, in time order): each
    block's LSTM state at the end of a chunk starts the next, so the chunks' outputs joined are the
    whole sequence's :meth:`ImuPoser.run` (every block is causal), up to the lanes' tolerance on the
    recurrent state (``nn.LSTM.forward``), while only one chunk's activations are ever held.

    A bidirectional model carries no state: each chunk runs on its own, and the caller gives it
    ``poser.context`` frames of the recording on either side and keeps the middle
    (:func:`chunk_bounds`); the joined middles then match the whole sequence's run to the figure
    the tests measure.

    With ``mirror``, the recording's mirror image (:func:`mirror_inputs`) runs beside it with its
    own states, and each chunk's answer is the average of the two (:func:`mirror_average`)."""

    def __init__(self, poser: ImuPoser, measurements=None, lanes: int | None = None, mirror: bool = False):
        self.poser = poser
        self.measurements = shape_vector(measurements) if poser.kind == "full" else measurements
        self.lanes = LANES if lanes is None else lanes
        self.mirror = mirror
        self._states: dict = {}
        self._image_states: dict = {}

    def run(self, imu, valid=None) -> PoserOutput:
        """The next chunk: ``imu`` (n, 72), ``valid`` (n, 6) or None -> its :class:`PoserOutput`."""
        out = self._run(imu, valid, self._states)
        if not self.mirror:
            return out
        return mirror_average(out, self._run(*mirror_inputs(imu, valid), self._image_states))

    def _run(self, imu, valid, states: dict) -> PoserOutput:
        x = self.poser._inputs(imu, valid, self.measurements)
        if x.ndim != 2:
            raise ValueError(f"a chunk is one sequence (n, {IMU_FEATURES}); got shape {np.shape(imu)}")

        def call(name, value):
            out, state = self.poser.blocks[name].forward(value, states.get(name), lanes=self.lanes)
            if not self.poser.bidirectional:
                states[name] = state
            return out
        return self.poser._forward(x, call)


class PoserStream:
    """One frame in, one pose out; the recurrent states live here (one stream per wearer), in the
    preallocated buffers of one ``nn.RNNStream`` per block."""

    def __init__(self, poser: ImuPoser, measurements=None):
        self.poser = poser
        # The shape vector once (and any error at construction, not on the first frame).
        self.measurements = shape_vector(measurements) if poser.kind == "full" else measurements
        self._blocks = {name: block.stream() for name, block in poser.blocks.items()}

    def reset(self) -> None:
        for block in self._blocks.values():
            block.reset()

    def step(self, imu_t, valid_t=None) -> PoserOutput:
        x = self.poser._inputs(np.asarray(imu_t, np.float32).reshape(IMU_FEATURES), valid_t, self.measurements)
        # A block's output buffer is overwritten by its next step: copies (a few hundred floats).
        return self.poser._forward(x, lambda name, value: self._blocks[name].step(value).copy())


# --- test-time mirroring ----------------------------------------------------------------------------
# The left-right mirror image of a recording (the world and every body frame reflected in their
# x = 0 plane, S = diag(-1, 1, 1); left and right sensors swapped) is a recording of the mirrored
# motion: a sensor's rotation R becomes S R S, an acceleration a becomes S a, in the network's
# pelvis-relative features as in the world. The network's answer on it, mirrored back, is a second
# estimate of the same pose; averaging the two (a test-time ensemble) gains what a second network
# would, for the same weights and twice the time (``benchmarks/imu_accuracy.py``).

_S = REFLECT_VEC.astype(np.float32)
_SENSOR_MIRROR = [SIX_SENSORS.index(mirror_name(s)) for s in SIX_SENSORS]
_ACC_SIGN = np.tile(_S, SENSORS)
_ORI_SIGN = np.tile(REFLECT_MATRIX.reshape(-1), SENSORS).astype(np.float32)
_POSE_MIRROR = [POSE_JOINTS.index(int(MIRROR[j])) for j in POSE_JOINTS]
_SIXD_SIGN = np.concatenate((REFLECT_MATRIX[:, 0], REFLECT_MATRIX[:, 1]))   # the 6D (first two columns) of S R S
_LEAF_MIRROR = [1, 0, 3, 2, 4]                                   # left/right wrist, left/right ankle, head
_JOINT_MIRROR = [int(MIRROR[j]) - 1 for j in range(1, 24)]


def mirror_inputs(imu, valid=None):
    """The mirror image of the network's input: features (..., 72) and validity flags (..., 6) or
    None."""
    imu = np.asarray(imu, np.float32)
    lead = imu.shape[:-1]
    acc = (imu[..., :ACC_FEATURES] * _ACC_SIGN).reshape(lead + (SENSORS, 3))[..., _SENSOR_MIRROR, :]
    ori = (imu[..., ACC_FEATURES:] * _ORI_SIGN).reshape(lead + (SENSORS, 9))[..., _SENSOR_MIRROR, :]
    image = np.concatenate((acc.reshape(lead + (-1,)), ori.reshape(lead + (-1,))), axis=-1)
    return image, (None if valid is None else np.asarray(valid)[..., _SENSOR_MIRROR])


def mirror_average(out: PoserOutput, image: PoserOutput) -> PoserOutput:
    """``out`` with its body (pose, leaf and joint positions) averaged with ``image``'s (the answer
    on the mirror image) mirrored back. The contacts and the root velocity stay ``out``'s: averaged
    too, they added drift on the validation split (0.31 -> 0.34 m per 10 s) and turned the real
    example's walk sideways (``benchmarks/imu_real.py``: forward share 0.31 -> 0.23)."""
    back = {"pose_6d": lambda v: v[..., _POSE_MIRROR, :] * _SIXD_SIGN,
            "leaf": lambda v: v[..., _LEAF_MIRROR, :] * _S,
            "joints": lambda v: v[..., _JOINT_MIRROR, :] * _S}
    body = {f: None if getattr(out, f) is None else 0.5 * (getattr(out, f) + mirror(getattr(image, f)))
            for f, mirror in back.items()}
    return PoserOutput(contact=out.contact, root_velocity=out.root_velocity, **body)


# --- rotations -----------------------------------------------------------------------------------

def _global_sources() -> np.ndarray:
    """For each of the 24 joints, where its root-relative global comes from in ``[identity] +
    POSE_JOINTS``: itself when posed, else its nearest posed ancestor (0 = the identity)."""
    source = np.zeros(24, dtype=np.intp)
    for j in range(1, 24):
        source[j] = POSE_JOINTS.index(j) + 1 if j in POSE_JOINTS else source[PARENTS[j]]
    return source


_GLOBAL_SOURCES = _global_sources()


def relative_globals(pose_6d: np.ndarray) -> np.ndarray:
    """(..., 17, 6) network rotations -> (..., 24, 3, 3) root-relative globals: the pelvis is the
    identity and joints the network does not rotate (feet, wrists, hands) keep their parent's
    global rotation, i.e. an identity local rotation (TransPose's ``joint_set.ignored``)."""
    return globals_from_posed(sixd_to_matrix(pose_6d))


def globals_from_posed(posed: np.ndarray) -> np.ndarray:
    """:func:`relative_globals` from the posed joints' rotations as matrices (..., 17, 3, 3)."""
    eye = np.broadcast_to(np.eye(3), posed.shape[:-3] + (1, 3, 3))
    return np.concatenate((eye, posed), axis=-3)[..., _GLOBAL_SOURCES, :, :]


def world_root_velocity(root_orientation: np.ndarray, root_velocity: np.ndarray) -> np.ndarray:
    """The root-velocity head's estimate (..., 3), given in the root frame, in the world: turned by
    the pelvis's world orientation (..., 3, 3); one frame (the live stream) or many."""
    return (root_orientation @ root_velocity[..., None])[..., 0]


def local_matrices(root_orientation: np.ndarray, relative: np.ndarray) -> np.ndarray:
    """Local rotation matrices (T, 24, 3, 3) from the pelvis's world orientation (T, 3, 3) and the
    root-relative globals (T, 24, 3, 3) of :func:`relative_globals`."""
    parents = np.array(PARENTS[1:])
    local = np.empty_like(relative)
    local[:, 0] = root_orientation
    local[:, 1:] = np.swapaxes(relative[:, parents], -1, -2) @ relative[:, 1:]
    return local


def local_quaternions(root_orientation: np.ndarray, relative: np.ndarray) -> np.ndarray:
    """:func:`local_matrices` as the Motion's local rotations (T, 24, 4) wxyz."""
    return matrix_to_quat(local_matrices(root_orientation, relative))
