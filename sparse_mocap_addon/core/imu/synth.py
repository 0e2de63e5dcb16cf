"""Virtual body-worn IMUs: clean sensors from a Motion, a sensor corruption model, and the
root-relative normalisation of DIP / TransPose / FIP.

Everything is numpy only and vectorised over frames (and sensors).

Virtual sensors (:func:`virtual_imus`)
--------------------------------------
Each sensor rides one SMPL joint's bone (the six-sensor layout rides joints 18, 19, 4, 5, 15, 0:
forearms, lower legs, head, pelvis). Its **orientation** (sensor-to-world) is the bone's global
rotation times a fixed mounting rotation on the right, ``R_sensor = R_bone @ M`` (``M`` is the
sensor frame expressed in the bone frame; identity by default, so the sensor axes are the bone's,
which in the T-pose are the world axes). Its **position** is a point fixed on the limb,
``p = p_joint + R_bone @ offset`` (see :func:`sensor_offsets`), and its **free acceleration**
(world frame, gravity removed, m/s^2) is the second difference of that point as in TransPose's
``_syn_acc`` (Xinyu-Yi/TransPose ``preprocess.py``):

    a_t = (p_{t-n} + p_{t+n} - 2 p_t) / (n dt)^2        for n <= t < T - n   (n = ``acc_smoothing`` = 4)
    a_t = (p_{t-1} + p_{t+1} - 2 p_t) / dt^2            for the other frames 1 .. T-2
    a_0 = a_{T-1} = 0

The edge handling is TransPose's exactly (a one-frame second difference near the ends, zero on the
first and last frame), not a repetition of edge values, so the synthetic data has the statistics
the published models were trained on. TransPose hard-codes 60 fps (``* 3600``); here
``dt = 1 / motion.fps``.

Sensor placement (:func:`sensor_offsets`)
-----------------------------------------
TransPose/PIP place the six virtual sensors on SMPL mesh vertices 1961, 5424 (forearms, near the
wrist: DIP-IMU and SIP strap these sensors at the wrists), 1176, 4662 (lower legs below the knee;
several follow-up works label them the "knee" sensors), 411 (index next to 412, which SMPL landmark
tables use as the head top) and 3021 (next to 3022, tabled as the back at navel height). The SMPL
mesh is licence restricted and never used here, so the points are rebuilt from the skeleton, in
the riding bone's rest frame (= world axes in the T-pose, palms down as in SMPL):

- forearm: 80 % of the way from elbow to wrist, 2.5 cm out on the back (+Y) of the forearm;
- lower leg: 35 % of the way from knee to ankle (upper shin, where a strap holds on the calf),
  4 cm in front (+Z) on the shin;
- head: 80 % of the way from the head joint to the top of the head (about 12 cm above the head
  joint for a 1.75 m body), 2 cm behind the midline (a headband/cap sensor near vertex 411);
- pelvis: 10 cm above and 10 cm behind the pelvis joint: the sacrum / lower back at navel height,
  TIP's ``ROOT_COM_OFFSET = (0, 0.1, -0.1)`` for its synthetic root IMU.

Fractions scale with the performer's bones; surface distances are fixed (soft tissue does not
scale with height). Any other riding joint gets the middle of its bone (or the joint itself where
the bone has several children). ``offsets=`` overrides all of this.

Corruption (:class:`CorruptionModel`, :func:`corrupt`)
------------------------------------------------------
See the class docstring for every magnitude and why.

Normalisation (:func:`normalise`, :func:`features`)
--------------------------------------------------
TransPose ``utils.py`` (Xinyu-Yi/TransPose, ``normalize_and_concat``, ``acc_scale = 30`` in
``config.py``), the root sensor last (index 5). In words: the accelerations of the five other
sensors minus the root's, with the root's own acceleration appended unchanged, are multiplied as
row vectors by the root's orientation matrix and divided by ``acc_scale``; the orientations of the
five are left-multiplied by the root's transpose, the root's orientation is appended unchanged;
the input vector is the flattened (row-major) accelerations then the flattened orientations,
(T, 18 + 54) = (T, 72).

A row vector times ``R`` is ``(R^T a)^T``, so for a non-root sensor
``acc_i' = R_root^T (a_i - a_root) / 30`` and ``ori_i' = R_root^T R_i``; the root keeps its
*global* orientation, ``ori_root' = R_root``, and its acceleration is rotated into its own frame,
``acc_root' = R_root^T a_root / 30`` (not subtracted from itself). The scale is applied after the
rotation (the same thing, it is linear). Everything but ``ori_root'`` is unchanged by a rotation
of the whole world.

FIP's released inference code (bachongyou/FIP_inference ``evaluate.py``) differs in one place: it
subtracts the root from *every* sensor including itself, so its root acceleration is always zero
(``root_acc="zero"`` here); FIP also orders its sensors head first (DIP mask [0, 7, 8, 11, 12, 2]).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np

from .recording import GRAVITY, SEGMENT_JOINTS, SIX_SENSOR_JOINTS, SIX_SENSORS, ImuError, ImuRecording
from ..kinematics.motion import Motion
from ..kinematics.rotations import axis_angle_to_matrix
from ..kinematics.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS, Skeleton, forward_kinematics

# Placement of the six-sensor layout, per riding joint name:
# (fraction along the bone to the child joint / head top, surface offset in metres, rest frame).
_PLACEMENT = {
    "left_elbow": (0.80, (0.0, 0.025, 0.0)),
    "right_elbow": (0.80, (0.0, 0.025, 0.0)),
    "left_knee": (0.35, (0.0, 0.0, 0.04)),
    "right_knee": (0.35, (0.0, 0.0, 0.04)),
    "head": (0.80, (0.0, 0.0, -0.02)),
    "pelvis": (0.0, (0.0, 0.10, -0.10)),
}

_SEGMENT_OF_JOINT = {joint: name for name, joint in SEGMENT_JOINTS.items()}

ACC_SCALE = 30.0  # TransPose config.acc_scale


# --- virtual sensors -----------------------------------------------------------------------------

def sensor_offsets(skeleton: Skeleton, sensor_joints=SIX_SENSOR_JOINTS) -> np.ndarray:
    """(S, 3) sensor positions relative to their riding joint, in the bone's rest frame (metres).

    The six-sensor joints use the placements in the module docstring; any other joint gets the
    middle of its bone (the offset to its only child, or half its leaf tip), or the joint itself
    where the bone has several children.
    """
    joints = _check_joints(sensor_joints)
    out = np.zeros((len(joints), 3))
    for s, j in enumerate(joints):
        kids = [c for c in range(NUM_JOINTS) if PARENTS[c] == j]
        if len(kids) == 1:
            bone = skeleton.offsets[kids[0]]
        elif not kids:
            bone = skeleton.leaf_tip(j)
        else:
            bone = np.zeros(3)
        fraction, surface = _PLACEMENT.get(JOINT_NAMES[j], (0.5 if len(kids) <= 1 else 0.0, (0.0, 0.0, 0.0)))
        out[s] = fraction * bone + np.asarray(surface)
    return out


def finite_difference_acceleration(points: np.ndarray, fps: float, smoothing: int = 4) -> np.ndarray:
    """TransPose's synthetic acceleration of (T, ..., 3) point trajectories (see module docstring).

    Frames ``n .. T-n-1`` use the second difference over +-n frames; frames 1..n-1 and T-n..T-2 the
    one-frame second difference; the first and last frame are zero. Clips shorter than 2n+1 frames
    use the one-frame difference throughout (TransPose discards them).
    """
    p = np.asarray(points, dtype=np.float64)
    n = int(smoothing)
    if n < 1:
        raise ValueError(f"acceleration smoothing must be a whole number of frames >= 1, got {smoothing!r}")
    fps = float(fps)
    acc = np.zeros_like(p)
    T = p.shape[0]
    if T >= 3:
        acc[1:-1] = (p[:-2] + p[2:] - 2.0 * p[1:-1]) * fps**2
    if n > 1 and T > 2 * n:
        acc[n:-n] = (p[:-2 * n] + p[2 * n:] - 2.0 * p[n:-n]) * (fps / n) ** 2
    return acc


def virtual_imus(motion: Motion, sensor_joints=SIX_SENSOR_JOINTS, mounting=None, acc_smoothing: int = 4,
                 offsets=None) -> ImuRecording:
    """Clean synthetic IMUs riding ``sensor_joints`` of ``motion`` (at the motion's frame rate).

    mounting: optional (S, 3, 3) sensor-in-bone rotations (``R_sensor = R_bone @ mounting``).
    offsets: optional (S, 3) sensor points in the bone frame (default :func:`sensor_offsets`).
    Returns an :class:`ImuRecording` in the core world frame, free accelerations (no gravity).
    """
    joints = _check_joints(sensor_joints)
    S = len(joints)
    if offsets is None:
        offsets = sensor_offsets(motion.skeleton, joints)
    offsets = np.asarray(offsets, dtype=np.float64)
    if offsets.shape != (S, 3) or not np.isfinite(offsets).all():
        raise ValueError(f"offsets must be {S} finite points, shape ({S}, 3), got {offsets.shape}")

    positions, rotations = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    bone = rotations[:, joints]                                              # (T, S, 3, 3)
    points = positions[:, joints] + np.einsum("tsij,sj->tsi", bone, offsets)
    acceleration = finite_difference_acceleration(points, motion.fps, acc_smoothing)
    orientation = bone if mounting is None else bone @ _check_rotations(mounting, S, "mounting")[None]

    return ImuRecording(
        sensors=_sensor_names(joints), orientation=orientation, acceleration=acceleration,
        fps=float(motion.fps), world="core", source=str(motion.metadata.get("source", "")),
        metadata={"synthetic": True, "sensor_joints": list(joints), "offsets": offsets.tolist(),
                  "acc_smoothing": int(acc_smoothing)},
    )


def _check_joints(sensor_joints) -> list[int]:
    joints = [int(j) for j in np.asarray(sensor_joints).reshape(-1)]
    if not joints or any(j < 0 or j >= NUM_JOINTS for j in joints):
        raise ValueError(f"sensor joints must be SMPL joint indices 0..23, got {list(sensor_joints)!r}")
    return joints


def _sensor_names(joints) -> tuple:
    if tuple(joints) == tuple(SIX_SENSOR_JOINTS):
        return SIX_SENSORS
    names, seen = [], {}
    for j in joints:
        name = _SEGMENT_OF_JOINT.get(j, JOINT_NAMES[j])
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return tuple(names)


def _check_rotations(m, S: int, what: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.shape != (S, 3, 3):
        raise ValueError(f"{what} must be {S} rotation matrices, shape ({S}, 3, 3), got {m.shape}")
    ortho = np.abs(np.swapaxes(m, -1, -2) @ m - np.eye(3)).max() if S else 0.0
    if not np.isfinite(m).all() or ortho > 1e-6 or np.any(np.linalg.det(m) < 0):
        raise ValueError(f"{what} must hold proper rotation matrices (orthonormal, determinant +1)")
    return m


# --- corruption ----------------------------------------------------------------------------------

@dataclass
class CorruptionModel:
    """Magnitudes of the sensor errors :func:`corrupt` adds; every default is a typical consumer /
    prosumer MEMS IMU body-worn at 60 Hz (Xsens MTw/MTi class, Noitom/Movella DOT class).

    Orientation errors act on the world side, ``R' = E(t) @ R @ M_err`` with
    ``E(t) = Ry(heading(t)) @ exp(noise(t))``; the free acceleration a sensor fusion reports is
    ``R_est f + g`` (``f`` the specific force), so the same ``E`` rotates the gravity-inclusive
    acceleration: ``a' = E (a - g) + g + R' b(t) + w(t)`` with ``g = (0, -GRAVITY, 0)``: tilt noise
    leaks ``GRAVITY * angle`` into the horizontal axes (0.5 deg -> 0.086 m/s^2), heading error only
    turns ``a`` about the vertical, and a misaligned strap leaves the world-frame acceleration alone.

    acc_noise = 0.1 m/s^2: white noise per axis and sample. The accelerometer's own noise is far
      below that (MTx 0.004 m/s^2/sqrt(Hz), MTi-1 120 ug/sqrt(Hz): about 0.02 m/s^2 at 60 Hz); what
      dominates the reported free acceleration is strap / soft-tissue wobble and fusion jitter.
      Together with the gravity leak of ``ori_noise_deg`` the horizontal axes get about
      0.13 m/s^2 per sample. Check against real data: on the TransPose example recording
      (shared ``imu_real/transpose_example``) the robust scale of frame-to-frame differences of
      the head and pelvis free accelerations is 0.16-0.17 m/s^2 per axis, motion included, so
      an upper bound for the white part.
    acc_bias = 0.05 m/s^2: per-axis std of the bias at the start of a take (sensor frame,
      about 5 mg: calibrated MEMS residual offset plus a slow 0.3 deg tilt error's gravity leak).
    acc_bias_walk = 0.01 m/s^2/sqrt(s): random walk of that bias (temperature, slow tilt drift),
      0.08 m/s^2 after a minute if unbounded.
    acc_bias_max = 0.1 m/s^2: the walk is reflected at +-this bound per axis (fusion filters keep
      tilt bounded; 0.1 m/s^2 = 0.6 deg of tilt).
    ori_noise_deg = 0.5: white orientation noise per axis and sample (rotation vector std). Xsens
      MTi/MTx: static accuracy 0.5 deg roll/pitch, 1 deg heading, dynamic 2 deg RMS, repeatability
      0.2 deg; 0.5 deg per axis (0.87 deg RMS angle) sits between repeatability and dynamic accuracy.
    heading_drift_deg_per_min = 2.0: each sensor drifts in heading (about world up) at a constant
      rate drawn per take from N(0, this^2) deg/min: residual gyro bias (10 deg/h = 0.17 deg/min
      for an MTi-1) plus indoor magnetic disturbance gives "a few deg/min" on consumer suits.
    mounting_deg = 5.0: a fixed strap misalignment per sensor per take, sensor-in-bone (right
      side), random axis, angle uniform in [0, 5] deg: a strap put on by hand after calibration.
    drop_rate = 0.005, drop_burst = 3.0: 0.5 % of samples are lost, in bursts of geometric length
      with mean 3 frames (50 ms, a few lost radio packets); lost samples are NaN and valid False.
    """

    acc_noise: float = 0.1
    acc_bias: float = 0.05
    acc_bias_walk: float = 0.01
    acc_bias_max: float = 0.1
    ori_noise_deg: float = 0.5
    heading_drift_deg_per_min: float = 2.0
    mounting_deg: float = 5.0
    drop_rate: float = 0.005
    drop_burst: float = 3.0

    def __post_init__(self):
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not np.isfinite(float(value)) or float(value) < 0:
                raise ValueError(f"CorruptionModel.{name} must be a number >= 0, got {value!r}")
            setattr(self, name, float(value))
        if self.drop_rate >= 1.0:
            raise ValueError(f"CorruptionModel.drop_rate must be below 1, got {self.drop_rate!r}")
        if self.drop_rate > 0 and self.drop_burst < 1.0:
            raise ValueError(f"CorruptionModel.drop_burst must be >= 1 frame, got {self.drop_burst!r}")

    @classmethod
    def clean(cls) -> "CorruptionModel":
        """All magnitudes zero: :func:`corrupt` returns an unchanged copy."""
        return cls(**{name: 0.0 for name in asdict(cls())})


def corrupt(recording: ImuRecording, model: CorruptionModel | None = None, rng=None) -> ImuRecording:
    """A new recording with ``model``'s errors added (``recording`` is not modified).

    ``rng``: a numpy Generator (or a seed); the same seed gives the same result. The drawn
    per-take values (mounting errors, heading rates) are kept in ``metadata["corruption"]``.
    """
    model = CorruptionModel() if model is None else model
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if recording.world != "core":
        raise ImuError(f"{recording.source or 'recording'}: corruption needs the core world frame (Y up), "
                       f"got {recording.world!r}")
    T, S = recording.acceleration.shape[:2]
    dt = 1.0 / recording.fps
    R = recording.orientation.copy()
    a = recording.acceleration.copy()
    valid = recording.valid.copy()

    # Strap misalignment (sensor-in-bone, right side).
    mount = np.broadcast_to(np.eye(3), (S, 3, 3)).copy()
    if model.mounting_deg > 0:
        axis = rng.normal(size=(S, 3))
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        angle = np.radians(model.mounting_deg) * rng.uniform(size=(S, 1))
        mount = axis_angle_to_matrix(axis * angle)
        R = R @ mount[None]

    # World-side orientation error: white noise then heading drift about +Y.
    E = None
    if model.ori_noise_deg > 0:
        E = axis_angle_to_matrix(rng.normal(scale=np.radians(model.ori_noise_deg), size=(T, S, 3)))
    rate = np.zeros(S)
    if model.heading_drift_deg_per_min > 0:
        rate = rng.normal(scale=model.heading_drift_deg_per_min, size=S)           # deg / min
        heading = np.radians(rate)[None, :] / 60.0 * (np.arange(T) * dt)[:, None]  # (T, S) rad
        c, s = np.cos(heading), np.sin(heading)
        Ry = np.zeros((T, S, 3, 3))
        Ry[..., 0, 0], Ry[..., 0, 2], Ry[..., 1, 1], Ry[..., 2, 0], Ry[..., 2, 2] = c, s, 1.0, -s, c
        E = Ry if E is None else Ry @ E
    if E is not None:
        up = np.array([0.0, GRAVITY, 0.0])          # a - g with g = (0, -GRAVITY, 0)
        a = a + np.einsum("tsij,tsj->tsi", E - np.eye(3), a + up)
        R = E @ R

    # Accelerometer bias (sensor frame, reflected random walk) and white noise.
    if model.acc_bias > 0 or model.acc_bias_walk > 0:
        bias = np.zeros((T, S, 3))
        if model.acc_bias > 0:
            bias += rng.normal(scale=model.acc_bias, size=(1, S, 3))
        if model.acc_bias_walk > 0 and T > 1:
            steps = rng.normal(scale=model.acc_bias_walk * np.sqrt(dt), size=(T - 1, S, 3))
            bias[1:] += np.cumsum(steps, axis=0)
        if model.acc_bias_max > 0:
            bias = _reflect(bias, model.acc_bias_max)
        else:
            bias[:] = 0.0
        a = a + np.einsum("tsij,tsj->tsi", R, bias)
    if model.acc_noise > 0:
        a = a + rng.normal(scale=model.acc_noise, size=a.shape)

    if model.drop_rate > 0:
        valid &= ~_dropouts(T, S, model.drop_rate, model.drop_burst, rng)

    metadata = copy.deepcopy(recording.metadata)
    metadata["corruption"] = {"model": asdict(model), "mounting_error": mount.tolist(),
                              "heading_rate_deg_per_min": rate.tolist()}
    return ImuRecording(sensors=recording.sensors, orientation=R, acceleration=a, fps=recording.fps,
                        valid=valid, world=recording.world, source=recording.source, metadata=metadata)


def _reflect(x: np.ndarray, bound: float) -> np.ndarray:
    """Fold values into [-bound, bound] as a walk reflected at the bounds would be."""
    period = 4.0 * bound
    y = np.mod(x + bound, period)
    return np.where(y > 2.0 * bound, period - y, y) - bound


def _dropouts(T: int, S: int, rate: float, burst: float, rng) -> np.ndarray:
    """(T, S) True where a sample is lost: bursts start with probability rate/burst per frame and
    last a geometric number of frames with mean ``burst``."""
    starts = rng.uniform(size=(T, S)) < rate / burst
    t, s = np.nonzero(starts)
    lengths = rng.geometric(1.0 / burst, size=t.size)
    edges = np.zeros((T + 1, S), dtype=np.int64)
    np.add.at(edges, (t, s), 1)
    np.add.at(edges, (np.minimum(t + lengths, T), s), -1)
    return np.cumsum(edges[:-1], axis=0) > 0


# --- normalisation -------------------------------------------------------------------------------

def normalise(recording: ImuRecording, root=5, acc_scale: float = ACC_SCALE, root_acc: str = "rotated"):
    """Root-relative IMU values as TransPose's ``normalize_and_concat`` (see module docstring).

    root: the root sensor's index or name (the pelvis, last in the six-sensor layout).
    Returns ``acc`` (T, S, 3) and ``ori`` (T, S, 3, 3) in the recording's sensor order:
    ``acc_i = R_root^T (a_i - a_root) / acc_scale``, ``ori_i = R_root^T R_i`` for non-root sensors;
    the root keeps its global orientation and gets ``R_root^T a_root / acc_scale``
    (``root_acc="rotated"``, TransPose) or zero (``root_acc="zero"``, FIP's inference code).
    A lost root sample makes its whole frame NaN; a lost other sample only its own values.
    """
    S = len(recording.sensors)
    r = recording.index(root) if isinstance(root, str) else int(root)
    if not -S <= r < S:
        raise ValueError(f"root sensor index {root!r} is out of range for {S} sensors")
    return normalise_arrays(recording.orientation, recording.acceleration, r % S, acc_scale, root_acc)


def normalise_arrays(orientation: np.ndarray, acceleration: np.ndarray, root: int, acc_scale: float = ACC_SCALE,
                     root_acc: str = "rotated"):
    """:func:`normalise` on bare arrays, orientations (T, S, 3, 3) and accelerations (T, S, 3), with
    the root sensor's index (the live stream's frames, without building a recording each)."""
    if root_acc not in ("rotated", "zero"):
        raise ValueError(f"root_acc must be 'rotated' (TransPose) or 'zero' (FIP), got {root_acc!r}")
    r = root
    R_root = orientation[:, r]                                                # (T, 3, 3)
    a_root = acceleration[:, r]                                               # (T, 3)
    rel = acceleration - a_root[:, None]
    rel[:, r] = a_root if root_acc == "rotated" else 0.0
    acc = np.einsum("tji,tsj->tsi", R_root, rel) / float(acc_scale)
    ori = np.einsum("tji,tsjk->tsik", R_root, orientation)
    ori[:, r] = R_root
    return acc, ori


def features(recording: ImuRecording, root=5, acc_scale: float = ACC_SCALE, root_acc: str = "rotated") -> np.ndarray:
    """(T, 12 S) network input in TransPose's order: the S normalised accelerations (3 each), then
    the S normalised orientations (9 each, row-major), as torch's ``flatten(1)``; (T, 72) for six."""
    return feature_vectors(*normalise(recording, root, acc_scale, root_acc))


def feature_vectors(acc: np.ndarray, ori: np.ndarray) -> np.ndarray:
    """The normalised accelerations (T, S, 3) and orientations (T, S, 3, 3) as :func:`features` lays them out."""
    T = acc.shape[0]
    return np.concatenate((acc.reshape(T, -1), ori.reshape(T, -1)), axis=1)
