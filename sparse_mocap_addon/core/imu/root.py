"""Root (pelvis) translation from a root-relative pose, foot-contact probabilities and the pelvis
IMU's free acceleration (issue 5, item 4): offline, streaming, a pose-only contact guess, and the
10-s root drift metric.

Inputs (T frames, core frame: Y up, metres, seconds)
----------------------------------------------------
- ``relative_positions`` (T, 24, 3): SMPL-24 joint positions relative to the pelvis, *world
  oriented*: forward kinematics of the predicted root-relative pose on the wearer's skeleton (the
  one built from the body measurements, so the leg length sets the stride), rotated by the pelvis
  sensor's world orientation. Pelvis row = 0.
- ``contact_prob`` (T, 2): left, right foot contact probabilities in [0, 1].
- ``pelvis_acc`` (T, 3), optional: the pelvis sensor's free acceleration (gravity removed) in the
  world frame, m/s^2. NaN rows are dropped samples (the last valid one is held).

Method
------
1. **Contact velocity.** Each foot has two floor points, its ankle (SMPL joint 7/8) and ball (the
   SMPL foot joint 10/11). Their *elevations* are their heights minus their height above the floor
   when the foot is flat (``RootOptions.ankle_height`` / ``foot_height``). The foot pivots about
   the lower one (heel strike: the ankle; heel-off: the ball), so each foot's pivot velocity
   (relative to the pelvis) is the velocity of both points, weighted by a logistic of their
   elevation difference (weights of the *current* frame applied to each point's own displacement,
   so a change of pivot creates no velocity). A planted foot stays still in the world, so the root
   moves by minus that velocity: ``u_f = -(q_f(t) - q_f(t-1)) * fps`` (backward difference, causal).
   The feet are mixed with weights ``w_f`` = the contact probability mapped linearly from
   [``contact_low``, ``contact_high``] to [0, 1] (TransPose's ``prob_threshold`` (0.5, 0.9),
   Xinyu-Yi/TransPose ``net.py``); the measurement confidence is ``max(w_f)``.
2. **Fusion** (a Kalman filter per axis; state: the pelvis *sensor's* velocity ``v`` and the
   world-frame accelerometer bias ``b``). The sensor sits off the pelvis joint (10 cm up and back,
   ``sensor_offset`` in the hip frame of :func:`hip_frames`), so its velocity is the root's plus
   ``d/dt (F(t) offset)``; without this term the pelvis rotation of dancing or turning reads as
   metres per second of false root velocity. Predict ``v += (a - b) dt`` with ``|a|`` clipped to
   ``max_acc`` (a glitch or a first-frame jump cannot launch the root), process noise
   ``acc_noise`` and a bias random walk ``bias_walk``. Update with the contact velocity (plus the
   sensor term) whenever a foot is planted, measurement std ``contact_velocity_std /
   sqrt(confidence)``; an innovation beyond ``gate`` standard deviations (a foot wrongly called
   planted, a slipping foot) gets a Huber weight: its pull is bounded but never vanishes, so a wrong
   state is still brought back by steady contact. The acceleration carries the velocity through
   flight phases and contact changes; every stance re-estimates the bias, which is kept within
   ``bias_max`` per axis (a constrained filter: the estimate is projected back onto the physically
   possible range; without it, correlated contact-velocity errors, e.g. a foot wrongly called
   planted while the body rolls on the floor, push the bias to 1-2 m/s^2 and the next contact-less
   stretch integrates it into metres of drift). A contact-less run
   longer than ``flight_time`` is not a flight (climbing, sitting, hands on a rail): the velocity
   then decays, ``v *= exp(-dt / coast_time)``, which bounds the drift of a biased accelerometer.
   The covariance (hence the gain) depends only on the confidences, so it is shared by the axes.
   Without ``pelvis_acc`` ("contact only") the velocity is held by the contact alone and decays
   with ``coast_time`` as soon as no foot is planted.
3. **Position.** ``x_t = x_{t-1} + v_t dt``. Vertically the planted foot is also pulled onto the
   floor (``y = 0``): ``y += (1 - exp(-floor_rate dt)) * confidence * (y_target - y)`` with
   ``y_target`` the root height putting the planted feet's lower point on the floor, a first-order
   pull (time constant ``1 / floor_rate``) rather than a jump. Then no foot point may be below the
   floor: ``y >= max_j(height_j - rel_y_j)`` over the four foot points (when this lifts the root, a
   downward vertical velocity is zeroed, as TransPose's penetration removal does).
4. **Start.** Frame 0: ``x = z = 0``, the height that puts the lowest foot point on the floor, the
   velocity from nothing (uncertain, ``initial_velocity_std``) until the first contact update.

Everything per frame that is not recurrent (pivot weights, contact velocities, floor targets) is
vectorised over frames; the filter itself is a short scalar recurrence (about 10 us a frame).
:class:`RootTracker` runs the identical maths one frame at a time.

Drift metric (:func:`root_drift`): see its docstring.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS

# Floor points per side: (ankle, ball = SMPL foot joint), left then right.
FOOT_POINTS = ((JOINT_INDEX["left_ankle"], JOINT_INDEX["left_foot"]),
               (JOINT_INDEX["right_ankle"], JOINT_INDEX["right_foot"]))
_ANKLES = np.array([p[0] for p in FOOT_POINTS])
_BALLS = np.array([p[1] for p in FOOT_POINTS])
_HIPS = (JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"], JOINT_INDEX["spine1"])
# The joints the root translation, the contacts and the sole lift read (with their ancestors).
ROOT_JOINTS = (0, 1, 2, 3, 4, 5, 7, 8, 10, 11)


def hip_frames(relative_positions) -> np.ndarray:
    """(N, 3, 3) orthonormal frames fixed to the pelvis, from the pose alone (columns X, Y, Z):
    X from the right hip to the left hip, Y from the hips' midpoint towards spine1 (made orthogonal
    to X), Z = X x Y (forward). The three joints ride the pelvis bone, so this frame turns exactly
    with the pelvis."""
    rel = np.asarray(relative_positions, dtype=np.float64)
    left, right, spine = rel[:, _HIPS[0]], rel[:, _HIPS[1]], rel[:, _HIPS[2]]
    x = left - right
    x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    y = spine - 0.5 * (left + right)
    y -= np.sum(y * x, axis=-1, keepdims=True) * x
    y /= np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
    return np.stack((x, y, np.cross(x, y)), axis=-1)


@dataclass(frozen=True)
class RootOptions:
    """Settings of :func:`root_translation` / :class:`RootTracker` (units: m, s, m/s, m/s^2).

    ankle_height, foot_height: height of the ankle and SMPL foot (ball) joints above the floor when
      the foot is flat; defaults are those of the default 1.75 m body
      (``body.skeleton_from_measurements(default_measurements())``); :meth:`for_skeleton` takes
      them from the wearer's skeleton.
    pivot_sharpness: metres of elevation difference over which the pivot moves from the ankle to
      the ball (logistic scale).
    contact_low, contact_high: a contact probability at or below ``contact_low`` gives no weight,
      at or above ``contact_high`` full weight (linear in between).
    contact_velocity_std: std of the contact velocity at full confidence (foot roll, slip, pose
      noise).
    acc_noise: process noise of the acceleration prediction (m/s^2 per sqrt of a frame's worth:
      ``Q_v = (acc_noise dt)^2``): sensor noise, the sensor point's rotational acceleration, the
      smoothing of the free acceleration.
    bias_walk: random walk of the world-frame accelerometer bias (m/s^2/sqrt(s)); it is large
      enough to follow a sensor-frame bias turning with the wearer's heading.
    bias_std: prior std of the bias at the start.
    bias_max: bound of the bias estimate per axis (m/s^2); about three times ``bias_std``: a
      calibrated MEMS accelerometer's residual offset plus a tilt error's gravity leak stays well
      under it (``synth.CorruptionModel``: at most 0.1 per sensor axis). 0 leaves it unbounded.
    initial_velocity_std: prior std of the root velocity at the start (the first contact
      measurement then sets it).
    estimated_velocity_std: std of an estimated root velocity (``root_translation``'s
      ``estimated_velocity``, ``RootTracker.step``'s ``estimated_velocity_t``: the IMU network's),
      per frame.
    gate: innovations beyond this many standard deviations (3-D, normalised) are down-weighted.
    coast_time: time constant of the velocity decay while no foot is planted (at once without
      acceleration, after ``flight_time`` with it); coast_noise is the process noise (m/s^2) of the
      no-acceleration model.
    floor_rate: rate (1/s) at which a planted foot is pulled onto the floor.
    flight_time: with acceleration, contact-less runs up to this long are flights (carried by the
      acceleration alone).
    max_acc: accelerations are clipped to this magnitude (about 4 g).
    sensor_offset: the pelvis sensor's position relative to the pelvis joint, in the hip frame of
      :func:`hip_frames` (for the default body equal to the pelvis bone frame: 10 cm up, 10 cm back,
      ``synth.sensor_offsets``); :meth:`for_skeleton` converts a bone-frame offset.
    """

    ankle_height: float = 0.06825
    foot_height: float = 0.0238875
    pivot_sharpness: float = 0.01
    contact_low: float = 0.5
    contact_high: float = 0.9
    contact_velocity_std: float = 0.05
    acc_noise: float = 1.0
    bias_walk: float = 0.05
    bias_std: float = 0.1
    bias_max: float = 0.3
    initial_velocity_std: float = 2.0
    estimated_velocity_std: float = 0.15
    gate: float = 3.0
    coast_time: float = 0.5
    coast_noise: float = 5.0
    floor_rate: float = 8.0
    flight_time: float = 0.4
    max_acc: float = 40.0
    sensor_offset: tuple = (0.0, 0.1, -0.1)

    def __post_init__(self):
        offset = tuple(float(c) for c in np.asarray(self.sensor_offset, dtype=np.float64).reshape(-1))
        if len(offset) != 3 or not all(math.isfinite(c) for c in offset):
            raise ValueError(f"RootOptions.sensor_offset must be three finite numbers (metres), got {self.sensor_offset!r}")
        object.__setattr__(self, "sensor_offset", offset)
        for name, value in asdict(self).items():
            if name == "sensor_offset":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"RootOptions.{name} must be a finite number, got {value!r}")
            if name not in ("ankle_height", "foot_height") and value < 0:
                raise ValueError(f"RootOptions.{name} must be >= 0, got {value!r}")
        if not 0.0 <= self.contact_low < self.contact_high <= 1.0:
            raise ValueError(f"RootOptions needs 0 <= contact_low < contact_high <= 1, got "
                             f"{self.contact_low!r} and {self.contact_high!r}")
        for name in ("pivot_sharpness", "contact_velocity_std", "gate", "coast_time", "max_acc",
                     "estimated_velocity_std"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RootOptions.{name} must be > 0, got {getattr(self, name)!r}")

    @classmethod
    def for_skeleton(cls, skeleton, sensor_offset=None, **overrides) -> "RootOptions":
        """Options for the wearer's ``skeleton``: its ankle/ball heights (rest pose, soles on the
        floor) and the pelvis sensor's position in the hip frame; ``sensor_offset`` is that sensor's
        offset in the pelvis bone frame (default: ``synth.sensor_offsets``, 10 cm up and back)."""
        rest = skeleton.rest_positions()
        floor = min(rest[_ANKLES, 1]) - skeleton.sole_height
        if sensor_offset is None:
            from .synth import sensor_offsets
            sensor_offset = sensor_offsets(skeleton, [0])[0]
        frame = hip_frames((rest - rest[0])[None])[0]      # pelvis bone frame = world in the rest pose
        values = dict(ankle_height=float(np.mean(rest[_ANKLES, 1]) - floor),
                      foot_height=float(np.mean(rest[_BALLS, 1]) - floor),
                      sensor_offset=tuple((frame.T @ np.asarray(sensor_offset, dtype=np.float64)).tolist()))
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes) -> "RootOptions":
        return replace(self, **changes)


# --- input checks ---------------------------------------------------------------------------------

def _check_fps(fps) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(fps)) or float(fps) <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


def _check_positions(relative_positions, frames=None) -> np.ndarray:
    rel = np.asarray(relative_positions, dtype=np.float64)
    if rel.ndim != 3 or rel.shape[1:] != (NUM_JOINTS, 3) or (frames is not None and rel.shape[0] != frames):
        want = "(T, 24, 3)" if frames is None else f"({frames}, 24, 3)"
        raise ValueError(f"relative_positions must be shaped {want} (SMPL-24 joints relative to the pelvis), "
                         f"got {rel.shape}")
    if len(rel) == 0:
        raise ValueError("relative_positions has no frames")
    if not np.isfinite(rel).all():
        raise ValueError("relative_positions must be finite (found NaN or infinity)")
    return rel


def _check_contact(contact_prob, frames: int) -> np.ndarray:
    prob = np.asarray(contact_prob, dtype=np.float64)
    if prob.shape != (frames, 2):
        raise ValueError(f"contact_prob must be shaped ({frames}, 2) (left, right per frame), got {prob.shape}")
    if not np.isfinite(prob).all() or prob.min(initial=0.0) < 0 or prob.max(initial=0.0) > 1:
        raise ValueError("contact_prob must hold probabilities in [0, 1] (no NaN)")
    return prob


def _check_acc(pelvis_acc, frames: int) -> np.ndarray | None:
    if pelvis_acc is None:
        return None
    acc = np.asarray(pelvis_acc, dtype=np.float64)
    if acc.shape != (frames, 3):
        raise ValueError(f"pelvis_acc must be shaped ({frames}, 3) (world free acceleration, m/s^2), got {acc.shape}")
    if np.isinf(acc).any():
        raise ValueError("pelvis_acc must not contain infinity (NaN marks a dropped sample)")
    return acc


# --- per-frame measurements (vectorised) ----------------------------------------------------------

def _elevations(rel: np.ndarray, options: RootOptions) -> np.ndarray:
    """(N, 2 sides, 2 points) heights of ankle and ball above their flat-foot heights (root at y = 0)."""
    heights = np.array((options.ankle_height, options.foot_height))
    return rel[:, np.stack((_ANKLES, _BALLS), axis=1), 1] - heights


def _pivot_weights(elevation: np.ndarray, options: RootOptions) -> np.ndarray:
    """(N, 2, 2) weights of ankle and ball in each foot's pivot: the lower point dominates."""
    z = np.clip((elevation[..., 0] - elevation[..., 1]) / options.pivot_sharpness, -50.0, 50.0)
    ball = 1.0 / (1.0 + np.exp(-z))
    return np.stack((1.0 - ball, ball), axis=-1)


def _contact_weights(prob: np.ndarray, options: RootOptions) -> np.ndarray:
    return np.clip((prob - options.contact_low) / (options.contact_high - options.contact_low), 0.0, 1.0)


def _measurements(prev: np.ndarray, rel: np.ndarray, prob: np.ndarray, fps: float, options: RootOptions,
                  use_acc: bool):
    """Per frame (N leading): the contact velocity of the root (N, 3), the velocity of the pelvis
    sensor relative to the root (N, 3; zero without acceleration), the confidence (N,), the root
    height target (N,) and the floor bound (N,)."""
    idx = np.stack((_ANKLES, _BALLS), axis=1)                                  # (2, 2)
    elevation = _elevations(rel, options)
    pivot = _pivot_weights(elevation, options)                                 # (N, 2, 2)
    step = rel[:, idx] - prev[:, idx]                                          # (N, 2, 2, 3)
    foot_velocity = -fps * np.einsum("nfp,nfpc->nfc", pivot, step)             # (N, 2, 3)
    weight = _contact_weights(prob, options)                                   # (N, 2)
    total = weight.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    velocity = np.einsum("nf,nfc->nc", weight, foot_velocity) / safe[:, None]
    confidence = weight.max(axis=1)
    foot_low = elevation.min(axis=2)                                           # (N, 2)
    target = -np.einsum("nf,nf->n", weight, foot_low) / safe
    floor = -elevation.reshape(len(rel), 4).min(axis=1)
    if use_acc:
        offset = np.asarray(options.sensor_offset)
        sensor = fps * (hip_frames(rel) @ offset - hip_frames(prev) @ offset)
    else:
        sensor = np.zeros_like(velocity)
    return velocity, sensor, confidence, target, floor


# --- the recurrent filter -------------------------------------------------------------------------

class _Filter:
    """Scalar-float Kalman recurrence (module docstring, steps 2-3), shared by offline and streaming."""

    __slots__ = ("dt", "o", "use_acc", "v", "b", "x", "p00", "p01", "p11", "a_last", "pull", "airborne", "coast_decay")

    def __init__(self, fps: float, options: RootOptions, use_acc: bool):
        self.dt = 1.0 / fps
        self.o = options
        self.use_acc = use_acc
        self.v = [0.0, 0.0, 0.0]
        self.b = [0.0, 0.0, 0.0]
        self.x = None
        self.p00 = options.initial_velocity_std ** 2
        self.p01 = 0.0
        self.p11 = options.bias_std ** 2 if use_acc else 0.0
        self.a_last = (0.0, 0.0, 0.0)
        self.airborne = 0.0
        self.coast_decay = math.exp(-self.dt / options.coast_time)
        self.pull = 1.0 - math.exp(-options.floor_rate * self.dt)

    def start(self, floor: float):
        self.x = [0.0, float(floor), 0.0]
        return tuple(self.x)

    def step(self, acc, u, sensor, confidence: float, target: float, floor: float, estimated=None):
        """One frame (the live stream): :meth:`run` over a single frame; returns the root position."""
        return self.run((None, acc), (None, u), (None, sensor), (0.0, confidence), (0.0, target), (0.0, floor),
                        None if estimated is None else (None, estimated))[0]

    def run(self, accs, velocity, sensor, confidence, target, floor, estimated=None) -> list:
        """Frames 1.. of whole sequences (frame 0 is :meth:`start`'s): per frame, ``accs`` the
        pelvis acceleration (or None), ``velocity`` the root's contact velocity, ``sensor`` the
        pelvis sensor's velocity relative to the root (the state ``v`` is the *sensor's* world
        velocity, what the accelerometer integrates to), the contact ``confidence``, the planted
        foot's floor ``target`` and the ``floor`` no foot may go under; ``estimated`` (or None): a
        world root velocity estimated on every frame (the IMU network's), a second
        measurement with std ``estimated_velocity_std`` (and then a long contact-less run does
        not coast: the estimate carries it). Returns the root positions of those
        frames. The state and settings live in local variables: a method call and a dozen
        attribute look-ups per frame cost more than the arithmetic."""
        o, dt = self.o, self.dt
        use_acc, coast_decay, pull = self.use_acc, self.coast_decay, self.pull
        flight = o.flight_time if use_acc else 0.0
        max_acc, bound, gate = o.max_acc, o.bias_max, o.gate
        gate2, r_full = gate * gate, o.contact_velocity_std ** 2
        r_estimated = o.estimated_velocity_std ** 2
        two_dt, dt_dt, q_acc = 2.0 * dt, dt * dt, (o.acc_noise * dt) ** 2
        walk, q_coast = o.bias_walk ** 2 * dt, (o.coast_noise * dt) ** 2
        v0, v1, v2 = self.v
        b0, b1, b2 = self.b
        x0, x1, x2 = self.x
        p00, p01, p11 = self.p00, self.p01, self.p11
        a0, a1, a2 = self.a_last
        airborne = self.airborne
        sqrt = math.sqrt
        out = []
        append = out.append
        for t in range(1, len(confidence)):
            c, sen = confidence[t], sensor[t]
            s0, s1, s2 = sen[0], sen[1], sen[2]
            # Predict. A contact-less run longer than a flight is support by something else
            # (climbing, sitting, hands): the velocity then decays.
            airborne = airborne + dt if c <= 0.0 else 0.0
            # (An estimated velocity says what the velocity is: no coasting then.)
            decay = coast_decay if airborne > flight and estimated is None else 1.0
            if use_acc:
                acc = accs[t]
                if acc is not None and acc[0] == acc[0] and acc[1] == acc[1] and acc[2] == acc[2]:
                    norm = sqrt(acc[0] * acc[0] + acc[1] * acc[1] + acc[2] * acc[2])
                    scale = max_acc / norm if norm > max_acc else 1.0
                    a0, a1, a2 = acc[0] * scale, acc[1] * scale, acc[2] * scale
                v0 = decay * v0 + (a0 - b0) * dt
                v1 = decay * v1 + (a1 - b1) * dt
                v2 = decay * v2 + (a2 - b2) * dt
                p00 = p00 - two_dt * p01 + dt_dt * p11 + q_acc
                p01 = p01 - dt * p11
                p11 = p11 + walk
            else:
                v0 *= decay
                v1 *= decay
                v2 *= decay
                p00 = p00 * decay * decay + q_coast
                p01 = p11 = 0.0
            # Update with the contact velocity (when a foot is planted) and the estimated one.
            updates = ((velocity[t], r_full / c, True),) if c > 0.0 else ()
            if estimated is not None:
                updates += ((estimated[t], r_estimated, False),)
            for u, r, gated in updates:
                e0, e1, e2 = u[0] + s0 - v0, u[1] + s1 - v1, u[2] + s2 - v2
                s = p00 + r
                if gated:
                    d2 = (e0 * e0 + e1 * e1 + e2 * e2) / (3.0 * s)
                    if d2 > gate2:
                        # Huber weight: the correction stays bounded but never vanishes, so a wrong
                        # state (e.g. after an acceleration spike) is still pulled back by steady contact.
                        s = s * sqrt(d2) / gate
                k0, k1 = p00 / s, p01 / s
                v0 += k0 * e0
                b0 += k1 * e0
                v1 += k0 * e1
                b1 += k1 * e1
                v2 += k0 * e2
                b2 += k1 * e2
                if bound > 0.0:
                    b0 = min(max(b0, -bound), bound)
                    b1 = min(max(b1, -bound), bound)
                    b2 = min(max(b2, -bound), bound)
                p00, p01, p11 = (1.0 - k0) * p00, (1.0 - k0) * p01, p11 - k1 * p01
            # Position; the planted foot pulled onto the floor, no foot below it.
            x0 += (v0 - s0) * dt
            x1 += (v1 - s1) * dt
            x2 += (v2 - s2) * dt
            if c > 0.0:
                x1 += pull * c * (target[t] - x1)
            if x1 < floor[t]:
                x1 = floor[t]
                if v1 < 0.0:
                    v1 = 0.0
            append((x0, x1, x2))
        self.v, self.b, self.x = [v0, v1, v2], [b0, b1, b2], [x0, x1, x2]
        self.p00, self.p01, self.p11 = p00, p01, p11
        self.a_last, self.airborne = (a0, a1, a2), airborne
        return out


# --- public API -----------------------------------------------------------------------------------

ROOT_CHUNK_FRAMES = 20_000   # the offline filter's per-frame measurements are made this many frames at a time


def root_translation(relative_positions, contact_prob, fps, pelvis_acc=None, options: RootOptions = RootOptions(),
                     estimated_velocity=None) -> np.ndarray:
    """World root (pelvis) translation (T, 3) from a world-oriented root-relative pose (T, 24, 3),
    contact probabilities (T, 2) and optionally the pelvis free acceleration (T, 3); see the module
    docstring for the method. Without ``pelvis_acc`` the root follows the contact velocity alone.
    ``estimated_velocity`` (T, 3), optional: a world root velocity estimated on every frame (m/s;
    the IMU network's), fused as a second measurement (``RootOptions.estimated_velocity_std``).
    A long take runs ``ROOT_CHUNK_FRAMES`` at a time through the same filter (its state carried:
    the same numbers), so its per-frame Python values never exist for the whole take at once."""
    fps = _check_fps(fps)
    rel = _check_positions(relative_positions)
    T = len(rel)
    prob = _check_contact(contact_prob, T)
    acc = _check_acc(pelvis_acc, T)
    if not isinstance(options, RootOptions):
        raise TypeError(f"options must be RootOptions, got {type(options).__name__}")
    use_acc = acc is not None
    if estimated_velocity is not None:
        estimated_velocity = np.asarray(estimated_velocity, dtype=np.float64)
        if estimated_velocity.shape != (T, 3) or not np.isfinite(estimated_velocity).all():
            raise ValueError(f"estimated_velocity must be (T, 3) = ({T}, 3) finite values, got shape "
                             f"{estimated_velocity.shape}")
    f = _Filter(fps, options, use_acc)
    out = np.empty((T, 3))
    for start in range(0, T, ROOT_CHUNK_FRAMES):
        # Frames start-1 .. end-1: the filter's run reads each frame's predecessor, and skips the first.
        lo, end = max(start - 1, 0), min(start + ROOT_CHUNK_FRAMES, T)
        part = rel[lo:end]
        prev = np.concatenate((part[:1], part[:-1]))
        arrays = _measurements(prev, part, prob[lo:end], fps, options, use_acc)
        velocity, sensor, confidence, target, floor = (a.tolist() for a in arrays)
        accs = acc[lo:end].tolist() if use_acc else [None] * (end - lo)
        if start == 0:
            out[0] = f.start(floor[0])
        estimated = None if estimated_velocity is None else estimated_velocity[lo:end].tolist()
        out[lo + 1:end] = np.reshape(f.run(accs, velocity, sensor, confidence, target, floor, estimated), (-1, 3))
    return out


class RootTracker:
    """Streaming :func:`root_translation`: ``step`` takes one frame, returns the root (3,); the
    results equal the offline function's on the same frames.

    A frame is measured in plain float arithmetic (:meth:`_measure`, the same operations in the same
    order as the vectorised ``_measurements``), not with the (T, ...) array machinery on one frame,
    whose call overhead would dominate; the previous frame's foot points and sensor point are kept.
    """

    def __init__(self, fps, options: RootOptions = RootOptions()):
        self.fps = _check_fps(fps)
        if not isinstance(options, RootOptions):
            raise TypeError(f"options must be RootOptions, got {type(options).__name__}")
        self.options = options
        self._span = options.contact_high - options.contact_low
        self.reset()

    def reset(self):
        """Forget everything: the next frame is a new start."""
        self._prev = None           # previous frame's foot points [[ankle, ball] left, [ankle, ball] right]
        self._prev_sensor = None    # previous frame's pelvis sensor point relative to the root (hip frame @ offset)
        self._filter = None
        self._uses_acc = self._uses_estimate = None

    def step(self, relative_positions_t, contact_prob_t, pelvis_acc_t=None, estimated_velocity_t=None) -> np.ndarray:
        """The root (3,) after one more frame: its world-oriented root-relative pose (24, 3), contact
        probabilities (2,), optionally the pelvis free acceleration (3,) and a world root velocity
        estimated for this frame (3,) (``root_translation``'s ``estimated_velocity``, one frame;
        given on every frame or on none)."""
        rel = np.asarray(relative_positions_t, dtype=np.float64)
        if rel.shape != (NUM_JOINTS, 3):
            raise ValueError(f"relative_positions_t must be shaped (24, 3), got {rel.shape}")
        if not np.isfinite(rel).all():
            raise ValueError("relative_positions must be finite (found NaN or infinity)")
        prob = np.asarray(contact_prob_t, dtype=np.float64)
        if prob.size != 2:
            _check_contact(prob, 1)                                        # raises: the shape
        p_left, p_right = prob.reshape(2).tolist()
        if not (0.0 <= p_left <= 1.0 and 0.0 <= p_right <= 1.0):
            raise ValueError("contact_prob must hold probabilities in [0, 1] (no NaN)")
        acc = None
        if pelvis_acc_t is not None:
            acc = np.asarray(pelvis_acc_t, dtype=np.float64)
            if acc.shape != (3,):
                raise ValueError(f"pelvis_acc_t must be shaped (3,), got {acc.shape}")
            acc = acc.tolist()
            if math.isinf(acc[0]) or math.isinf(acc[1]) or math.isinf(acc[2]):
                raise ValueError("pelvis_acc must not contain infinity (NaN marks a dropped sample)")
        estimated = None
        if estimated_velocity_t is not None:
            estimated = np.asarray(estimated_velocity_t, dtype=np.float64)
            if estimated.shape != (3,) or not np.isfinite(estimated).all():
                raise ValueError(f"estimated_velocity_t must be 3 finite values, got {estimated!r}")
            estimated = estimated.tolist()
        if self._filter is None:
            self._uses_acc = acc is not None
            self._uses_estimate = estimated is not None
            self._filter = _Filter(self.fps, self.options, self._uses_acc)
        elif self._uses_acc != (acc is not None):
            raise ValueError("pelvis_acc_t must be given on every frame or on none (NaN marks a dropped sample)")
        elif self._uses_estimate != (estimated is not None):
            raise ValueError("estimated_velocity_t must be given on every frame or on none")
        rows = rel[_TRACKED_ROWS].tolist()
        feet = [[rows[3], rows[4]], [rows[5], rows[6]]]                    # [side][ankle, ball] (x, y, z)
        sensor_point = _sensor_point(rows[0], rows[1], rows[2], self.options.sensor_offset) if self._uses_acc else None
        if self._prev is None:
            out = self._filter.start(self._measure(feet, feet, p_left, p_right)[3])
        else:
            velocity, confidence, target, floor = self._measure(self._prev, feet, p_left, p_right)
            if sensor_point is None:
                sensor = (0.0, 0.0, 0.0)
            else:
                fps, last = self.fps, self._prev_sensor
                sensor = (fps * (sensor_point[0] - last[0]), fps * (sensor_point[1] - last[1]),
                          fps * (sensor_point[2] - last[2]))
            out = self._filter.step(acc, velocity, sensor, confidence, target, floor, estimated)
        self._prev, self._prev_sensor = feet, sensor_point
        return np.array(out)

    def _measure(self, prev, feet, p_left: float, p_right: float):
        """One frame of ``_measurements`` in floats, from the previous and current foot points: the
        root's contact velocity (3-tuple), the confidence, the root height target and the floor
        bound (the sensor term is done by ``step``)."""
        o, fps = self.options, self.fps
        elevations, velocities = [], []
        for side in (0, 1):
            (ankle, ball), (ankle0, ball0) = feet[side], prev[side]
            e_ankle, e_ball = ankle[1] - o.ankle_height, ball[1] - o.foot_height
            z = min(max((e_ankle - e_ball) / o.pivot_sharpness, -50.0), 50.0)
            w_ball = 1.0 / (1.0 + math.exp(-z))
            w_ankle = 1.0 - w_ball
            velocities.append(tuple(-fps * (w_ankle * (ankle[c] - ankle0[c]) + w_ball * (ball[c] - ball0[c]))
                                    for c in range(3)))
            elevations.append((e_ankle, e_ball))
        w_left = min(max((p_left - o.contact_low) / self._span, 0.0), 1.0)
        w_right = min(max((p_right - o.contact_low) / self._span, 0.0), 1.0)
        total = w_left + w_right
        safe = total if total > 0 else 1.0
        left, right = velocities
        velocity = tuple((w_left * left[c] + w_right * right[c]) / safe for c in range(3))
        (a_left, b_left), (a_right, b_right) = elevations
        target = -(w_left * min(a_left, b_left) + w_right * min(a_right, b_right)) / safe
        floor = -min(a_left, b_left, a_right, b_right)
        return velocity, max(w_left, w_right), target, floor


# Rows of a (24, 3) pose that RootTracker reads: the hip-frame joints, then left ankle, left ball,
# right ankle, right ball.
_TRACKED_ROWS = np.array(_HIPS + FOOT_POINTS[0] + FOOT_POINTS[1])


def _sensor_point(left, right, spine, offset) -> tuple:
    """``hip_frames`` of one frame applied to ``offset``, in floats (same operations, same order)."""
    x0, x1, x2 = left[0] - right[0], left[1] - right[1], left[2] - right[2]
    n = max(math.sqrt(x0 * x0 + x1 * x1 + x2 * x2), 1e-12)
    x0, x1, x2 = x0 / n, x1 / n, x2 / n
    y0 = spine[0] - 0.5 * (left[0] + right[0])
    y1 = spine[1] - 0.5 * (left[1] + right[1])
    y2 = spine[2] - 0.5 * (left[2] + right[2])
    d = y0 * x0 + y1 * x1 + y2 * x2
    y0, y1, y2 = y0 - d * x0, y1 - d * x1, y2 - d * x2
    n = max(math.sqrt(y0 * y0 + y1 * y1 + y2 * y2), 1e-12)
    y0, y1, y2 = y0 / n, y1 / n, y2 / n
    z0, z1, z2 = x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0
    o0, o1, o2 = offset
    return (x0 * o0 + y0 * o1 + z0 * o2, x1 * o0 + y1 * o1 + z1 * o2, x2 * o0 + y2 * o1 + z2 * o2)


def integrate_acceleration(pelvis_acc, fps, initial_velocity=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Naive double integration of the free acceleration (T, 3) from rest at the origin (the
    "acceleration only" baseline): ``v_t = v_{t-1} + a_t dt``, ``x_t = x_{t-1} + v_t dt``; a dropped
    (NaN) sample holds the previous valid one."""
    fps = _check_fps(fps)
    acc = np.asarray(pelvis_acc, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != 3 or len(acc) == 0:
        raise ValueError(f"pelvis_acc must be shaped (T, 3) with T >= 1, got {acc.shape}")
    ok = np.isfinite(acc).all(axis=1)
    last = np.maximum.accumulate(np.where(ok, np.arange(len(acc)), -1))
    acc = np.where((last >= 0)[:, None], acc[np.maximum(last, 0)], 0.0)
    acc[0] = 0.0
    velocity = np.asarray(initial_velocity, dtype=np.float64) + np.cumsum(acc, axis=0) / fps
    return np.cumsum(velocity, axis=0) / fps - velocity[0] / fps


def kinematic_contact(relative_positions, fps, options: RootOptions = RootOptions(),
                      height_gap: float = 0.04, speed_limit: float = 0.6) -> np.ndarray:
    """Contact probabilities (T, 2) from the pose alone, for recordings with no contact network
    (direct mode): the lower and slower foot is planted.

    Only quantities that do not depend on the unknown root motion are used: each foot's elevation
    (the lower of its ankle and ball elevations, see the module docstring) and the relative
    velocity of the two feet's pivots (smoothed over about 0.1 s, central differences, so this is
    an offline function). The lower foot is taken as planted (a walking body always stands on
    something; flight phases cannot be seen without the acceleration). The other foot is planted
    too when it is within ``height_gap`` (m) of the lower one *and* moves slower than
    ``speed_limit`` (m/s) relative to it: if the lower foot is still, that relative speed is the
    other foot's world speed. Both conditions are soft (logistic, scales ``height_gap / 4`` and
    ``speed_limit / 4``), so double support, heel-toe roll and standing give two planted feet, a
    swinging foot brushing the floor does not.
    """
    fps = _check_fps(fps)
    rel = _check_positions(relative_positions)
    elevation = _elevations(rel, options)                                      # (T, 2, 2)
    pivot = _pivot_weights(elevation, options)
    idx = np.stack((_ANKLES, _BALLS), axis=1)
    if len(rel) > 1:
        point_velocity = np.gradient(rel[:, idx], axis=0) * fps                # (T, 2, 2, 3)
    else:
        point_velocity = np.zeros((1, 2, 2, 3))
    foot_velocity = np.einsum("tfp,tfpc->tfc", pivot, point_velocity)
    half = max(1, int(round(0.05 * fps)))
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    padded = np.pad(foot_velocity[:, 0] - foot_velocity[:, 1], ((half, half), (0, 0)), mode="edge")
    relative = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(3)], axis=1)
    speed = np.linalg.norm(relative, axis=1)                                    # (T,)
    low = elevation.min(axis=2)                                                # (T, 2)
    gap = low - low.min(axis=1, keepdims=True)

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    near = sigmoid((height_gap - gap) / (height_gap / 4.0))
    slow = sigmoid((speed_limit - speed) / (speed_limit / 4.0))[:, None]
    lower = gap <= 0.0
    return np.where(lower, 1.0, near * slow)


def root_drift_errors(pred_translation, true_translation, fps, seconds: float = 10.0, stride_seconds: float = 1.0) -> np.ndarray:
    """Per-window drift (metres): for every window of ``seconds`` starting at 0, ``stride_seconds``,
    2 ``stride_seconds``, ... and ending inside the clip, the distance between the predicted and the
    true root displacement over the window, ``|(p[s+W]-p[s]) - (q[s+W]-q[s])|`` (3-D); empty when
    the clip is shorter than the window. Pool these over clips for a corpus figure."""
    fps = _check_fps(fps)
    pred = np.asarray(pred_translation, dtype=np.float64)
    true = np.asarray(true_translation, dtype=np.float64)
    if pred.ndim != 2 or pred.shape[1] != 3 or pred.shape != true.shape:
        raise ValueError(f"pred_translation and true_translation must both be shaped (T, 3), got {pred.shape} "
                         f"and {true.shape}")
    for name, value in (("seconds", seconds), ("stride_seconds", stride_seconds)):
        if isinstance(value, bool) or not math.isfinite(float(value)) or float(value) <= 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    window = max(1, int(round(float(seconds) * fps)))
    stride = max(1, int(round(float(stride_seconds) * fps)))
    starts = np.arange(0, len(pred) - window, stride)
    error = (pred[starts + window] - pred[starts]) - (true[starts + window] - true[starts])
    return np.linalg.norm(error, axis=1)


def root_drift(pred_translation, true_translation, fps, seconds: float = 10.0, stride_seconds: float = 1.0) -> float:
    """Root drift after ``seconds`` (metres): the mean over all windows of that length (one starting
    every ``stride_seconds``) of the distance between the predicted and the true root displacement
    across the window (:func:`root_drift_errors`). This is the cumulative distance error at
    ``seconds`` of TransPose's translation evaluation, with a fixed start grid; it ignores a constant
    offset (the start position is unknowable from IMUs) and measures how far the estimate wanders.
    Raises ValueError when the clip is not longer than one window."""
    errors = root_drift_errors(pred_translation, true_translation, fps, seconds, stride_seconds)
    if errors.size == 0:
        raise ValueError(f"root drift over {seconds} s needs a clip longer than that; this one has "
                         f"{len(np.asarray(pred_translation))} frames at {float(fps)} fps")
    return float(errors.mean())


def heading_velocity(translation, root_orientation, fps) -> np.ndarray:
    """(T, 2) the root's horizontal velocity (m/s) in its own heading frame: column 0 along the
    pelvis's forward (+Z turned about the vertical only), column 1 toward its left (+X). A check
    that needs no ground truth: a walk should travel mostly forward, and two-footed hops in place
    should not travel at all (``benchmarks/imu_real.py``)."""
    fps = _check_fps(fps)
    translation = np.asarray(translation, dtype=np.float64)
    forward = np.asarray(root_orientation, dtype=np.float64)[:, [0, 2], 2]     # the pelvis's +Z on the floor
    if translation.ndim != 2 or translation.shape[1] != 3 or forward.shape != (len(translation), 2):
        raise ValueError(f"translation must be (T, 3) and root_orientation (T, 3, 3) for the same T, got "
                         f"{translation.shape} and {np.shape(root_orientation)}")
    forward /= np.maximum(np.linalg.norm(forward, axis=1, keepdims=True), 1e-9)
    velocity = np.gradient(translation[:, [0, 2]], axis=0) * fps
    left = np.stack((forward[:, 1], -forward[:, 0]), axis=1)                 # +X when facing +Z
    return np.stack(((velocity * forward).sum(axis=1), (velocity * left).sum(axis=1)), axis=1)


def pose_inputs(motion):
    """Truth inputs from a Motion: world-oriented root-relative joints (T, 24, 3) and foot contact
    (T, 2) as 0/1 floats (``contact.detect_foot_contact`` on the heel, ball and toe points of
    ``feet.foot_floor_points``, a foot in contact when any of its points is, as the IMU dataset's
    ``contact`` target)."""
    from ..feet.contact import detect_foot_contact
    from ..feet.soles import foot_floor_points
    from ..kinematics.skeleton import forward_kinematics

    positions, global_rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    points = foot_floor_points(positions, global_rot, motion.skeleton)
    T = len(positions)
    contact = detect_foot_contact(points.reshape(T, 6, 3), motion.fps).reshape(T, 2, 3).any(axis=2)
    return positions - positions[:, :1], contact.astype(np.float64)


def sole_floor_roots(relative_positions, global_rotations, skeleton) -> np.ndarray:
    """(T,) the root height that puts the lowest sole point (heel, ball, toe of
    ``feet.foot_floor_points``) of each frame's pose on the floor (y = 0)."""
    from ..feet.soles import foot_floor_points
    soles = foot_floor_points(relative_positions, global_rotations, skeleton)       # (T, 2, 3, 3)
    return -soles[..., 1].min(axis=(1, 2))


def lift_to_floor_roots(translation, floor_roots) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``translation`` (T, 3) with its height raised to ``floor_roots`` (T,) where it is
    lower, and the (T,) bool mask of the frames raised."""
    out = np.array(translation, dtype=np.float64, copy=True)
    lifted = out[:, 1] < floor_roots
    out[:, 1] = np.maximum(out[:, 1], floor_roots)
    return out, lifted


def lift_soles_above_floor(translation, relative_positions, global_rotations, skeleton) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``translation`` (T, 3) raised, frame by frame, just enough that no sole point
    (heel, ball, toe of ``feet.foot_floor_points``) of the pose is below the floor (y = 0), and the
    (T,) bool mask of the frames that were raised. ``root_translation`` keeps the ankle and ball
    joints up; the heel and toe tips can still dip by a few centimetres when the foot is tilted.
    :class:`SoleLift` does the same one frame at a time (the live stream)."""
    return lift_to_floor_roots(translation, sole_floor_roots(relative_positions, global_rotations, skeleton))


class SoleLift:
    """:func:`lift_soles_above_floor` for one frame at a time (the live stream): the sole points'
    offsets in their segments are computed once for ``skeleton``, so a frame costs a few small array
    operations instead of the batched ``foot_floor_points``."""

    def __init__(self, skeleton):
        from ..feet.soles import foot_floor_points
        # The points of the identity pose at the origin are the points' offsets in their segments.
        local = foot_floor_points(np.zeros((1, NUM_JOINTS, 3)), np.broadcast_to(np.eye(3), (1, NUM_JOINTS, 3, 3)),
                                  skeleton)[0]                                    # (2 sides, 3 points, 3)
        self._joints = np.array([p for ankle, foot in FOOT_POINTS for p in (ankle, foot, foot)])   # heel, ball, toe
        self._local = local.reshape(6, 3)

    def floor_root(self, relative_positions_t, global_rotations_t) -> float:
        """The root height putting the lowest sole point of the pose ((24, 3) root-relative joints,
        (24, 3, 3) global rotations) on the floor."""
        j = self._joints
        heights = relative_positions_t[j, 1] + (global_rotations_t[j, 1] * self._local).sum(axis=1)
        return -float(heights.min())

    def lift(self, translation_t, relative_positions_t, global_rotations_t) -> tuple[np.ndarray, bool]:
        """A copy of ``translation_t`` (3,) raised just enough that no sole point is below the floor,
        and whether it was raised (one frame of :func:`lift_soles_above_floor`)."""
        out = np.array(translation_t, dtype=np.float64, copy=True)
        floor_root = self.floor_root(relative_positions_t, global_rotations_t)
        lifted = bool(out[1] < floor_root)
        out[1] = max(out[1], floor_root)
        return out, lifted
