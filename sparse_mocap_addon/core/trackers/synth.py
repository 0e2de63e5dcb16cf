"""Synthetic VR / positional trackers from a Motion (issue 6): device placements, clean device poses,
a tracker noise model, and the joint-level targets the solvers consume.

Numpy only, vectorised over frames and trackers (the optional smoothing filter is recurrent and
loops over frames).

The mounting relation (``core/trackers/recording.py``): a device at position ``p`` with orientation
``R_device`` (device-to-world) riding joint ``j`` satisfies

    joint = p + R_device @ mounting.offset          R_bone = R_device @ mounting.rotation

:func:`virtual_trackers` runs it backwards from forward kinematics,
``R_device = R_bone @ rotation^T`` and ``p = joint - R_device @ offset``, and :func:`joint_targets`
forwards, so the two are exact inverses (round trip to rounding, about 1e-15).

Device placements (:func:`default_mountings`)
---------------------------------------------
Everything is stated in the riding bone's rest frame, which in the SMPL T-pose is the world frame
(+X the subject's left, +Y up, +Z forward; arms out along +-X with the palms down and the thumbs
forward). Each placement is a device origin ``d`` relative to the joint and the device's own axes
``G`` (columns: device x, y, z in the bone frame), so ``R_device = R_bone @ G``,
``p = joint + R_bone @ d``, and the mounting is ``offset = -G^T d``, ``rotation = G^T``.

Device axes follow OpenXR (right-handed, +Y up, -Z the direction the device faces), the
convention OpenXR/SteamVR runtimes report device poses in; real pucks have vendor-specific axes,
which the tracker calibration (``core/trackers/calibration``) estimates anyway.

Lengths along a bone are fractions of that bone (they scale with the performer); distances out to
the skin and the device are fixed in metres (soft tissue and hardware do not scale with height);
the head placement, which has no bone to measure it along, scales with the stature
(``s = stature / 1.75 m``).

- **head** (headset, rides the head joint): the OpenXR view-space origin, the centre eye between
  the two eyes, 9 cm * s in front of and 6.5 cm * s above the SMPL head joint (which sits near the
  centre of the skull at about ear level; the eyes are 8-10 cm in front of it and 5-8 cm above it).
  Axes: the view space, +X the wearer's right, +Y up, -Z forward: ``G = diag(-1, 1, -1)``, turned
  with the head.
- **left_hand / right_hand** (controllers, ride the wrists): the OpenXR *grip* pose. The OpenXR
  specification (section "Standard pose identifiers", ``.../input/grip/pose``) defines its
  position as a fixed point within the controller that lines up with the palm centroid when held
  in a neutral position, centred in the controller's grip; its +X axis as the normal to the flat
  open palm, pointing *away from* the palm in the left hand and *into* the palm in the right
  hand (so +X points to the wearer's right for both hands when held in front); its -Z axis as the
  axis of the tube formed by the partially closed non-thumb fingers, running from the little
  finger to the thumb; +Y completes a right-handed frame (it points back along the hand towards
  the wrist). In the rest frame (palms down, thumbs forward): left hand ``x = -Y, y = -X, z = -Z``,
  right hand ``x = +Y, y = +X, z = -Z``. Position: half-way from the wrist to the SMPL hand joint
  (the third metacarpal head), i.e. over the palm centroid, and 3 cm on the palm side (-Y at rest):
  the palm surface plus the radius of the controller's handle. The tilt of a real grip (the
  knuckle line is oblique to the forearm) is not modelled: it is a constant rotation a calibration
  absorbs.
- **left_foot / right_foot** (pucks strapped on the laces, ride the ankles): 40 % of the way from
  the ankle to the ball of the foot (the SMPL foot joint), which is over the instep, and 3.5 cm
  above that line (the dorsum of the foot plus half the puck's height). The puck's face (-Z) looks
  along the outward normal of the instep, tilted 35 deg forward from vertical; +Y points down the
  instep towards the toes, +X to the subject's left.
- **pelvis** (puck on the belt, rides the pelvis joint): ``pelvis="back"`` (default, the usual
  place for a hip tracker: the hands do not occlude it and it does not press into the belly when
  bending) puts it 5 cm * s above the pelvis joint (belt line, about the iliac crests) and 12 cm
  behind it (sacrum, skin and half the puck); its face looks backwards, so its axes are the bone's
  (``G = I``). ``pelvis="front"``: 5 cm * s up and 13 cm in front (belt buckle over the abdomen),
  facing forward (``G = diag(-1, 1, -1)``).
- **left_elbow / right_elbow** (ride the elbow joint, whose bone is the forearm): 15 % of the way
  to the wrist, 4 cm out on the back of the forearm (+Y at rest), facing out; +Y of the device
  towards the elbow.
- **left_knee / right_knee** (ride the knee joint, whose bone is the shin): 15 % of the way to the
  ankle, 5 cm in front on the shin, facing forward; +Y of the device up the leg.

Noise (:class:`TrackerNoise`, :func:`corrupt_trackers`)
-------------------------------------------------------
See the class docstring for every magnitude and its source.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np

from ..kinematics.motion import Motion
from ..kinematics.rotations import (axis_angle_to_matrix, matrix_to_quat, quat_continuous, quat_normalize, quat_slerp,
                                    quat_to_matrix)
from ..kinematics.skeleton import JOINT_INDEX, Skeleton, forward_kinematics
from .recording import SIX_POINT, TRACKER_JOINTS, TrackerError, TrackerMounting, TrackerRecording

REFERENCE_STATURE = 1.75  # metres: the body the head and pelvis placements are stated for

PELVIS_SIDES = ("back", "front")

_HEAD_FORWARD = 0.09      # x stature / 1.75
_HEAD_UP = 0.065          # x stature / 1.75
_GRIP_ALONG_HAND = 0.5    # fraction wrist -> hand joint (third metacarpal head)
_GRIP_PALMWARD = 0.03     # m, palm surface + controller handle radius
_FOOT_ALONG = 0.40        # fraction ankle -> ball of the foot
_FOOT_UP = 0.035          # m, dorsum + half a puck
_INSTEP_TILT_DEG = 35.0   # instep normal, forward from vertical
_BELT_UP = 0.05           # x stature / 1.75
_BELT_BACK = 0.12         # m
_BELT_FRONT = 0.13        # m
_ELBOW_ALONG, _ELBOW_OUT = 0.15, 0.04
_KNEE_ALONG, _KNEE_OUT = 0.15, 0.05


# --- placements ----------------------------------------------------------------------------------

def _facing_frame(normal, up) -> np.ndarray:
    """Device axes (columns x, y, z) of a device whose face (-Z, OpenXR) looks along ``normal``,
    with +Y as close to ``up`` as the face allows; a proper rotation."""
    n = np.asarray(normal, dtype=np.float64)
    n = n / np.linalg.norm(n)
    z = -n
    u = np.asarray(up, dtype=np.float64)
    y = u - np.dot(u, z) * z
    y = y / np.linalg.norm(y)
    x = np.cross(y, z)
    return np.stack((x, y, z), axis=1)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    length = np.linalg.norm(v)
    if not length > 1e-9:
        raise TrackerError("the skeleton has a zero-length bone where a tracker is placed")
    return v / length


def _placement(skeleton: Skeleton, name: str, pelvis: str):
    """(d, G): device origin relative to the joint and device axes, both in the bone's rest frame."""
    J = JOINT_INDEX
    off = skeleton.offsets
    s = skeleton.stature() / REFERENCE_STATURE
    if not (np.isfinite(s) and s > 0):
        raise TrackerError(f"the skeleton's stature must be positive to place trackers, got {skeleton.stature()!r}")
    if name == "head":
        return np.array([0.0, _HEAD_UP * s, _HEAD_FORWARD * s]), np.diag([-1.0, 1.0, -1.0])
    if name in ("left_hand", "right_hand"):
        side = name.split("_")[0]
        d = _GRIP_ALONG_HAND * off[J[f"{side}_hand"]] + np.array([0.0, -_GRIP_PALMWARD, 0.0])
        if side == "left":
            G = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]).T
        else:
            G = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]).T
        return d, G
    if name in ("left_foot", "right_foot"):
        side = name.split("_")[0]
        d = _FOOT_ALONG * off[J[f"{side}_foot"]] + np.array([0.0, _FOOT_UP, 0.0])
        a = np.radians(_INSTEP_TILT_DEG)
        return d, _facing_frame((0.0, np.cos(a), np.sin(a)), (0.0, 0.0, 1.0))
    if name == "pelvis":
        if pelvis == "back":
            return np.array([0.0, _BELT_UP * s, -_BELT_BACK]), np.eye(3)
        return np.array([0.0, _BELT_UP * s, _BELT_FRONT]), np.diag([-1.0, 1.0, -1.0])
    if name in ("left_elbow", "right_elbow"):
        bone = off[J[f"{name.split('_')[0]}_wrist"]]
        d = _ELBOW_ALONG * bone + np.array([0.0, _ELBOW_OUT, 0.0])
        return d, _facing_frame((0.0, 1.0, 0.0), -_unit(bone))
    if name in ("left_knee", "right_knee"):
        bone = off[J[f"{name.split('_')[0]}_ankle"]]
        d = _KNEE_ALONG * bone + np.array([0.0, 0.0, _KNEE_OUT])
        return d, _facing_frame((0.0, 0.0, 1.0), -_unit(bone))
    raise TrackerError(f"unknown tracker name {name!r}; expected one of {', '.join(TRACKER_JOINTS)}")


def _check_names(names) -> tuple:
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise TrackerError("no tracker names given; expected some of " + ", ".join(TRACKER_JOINTS))
    unknown = [n for n in names if n not in TRACKER_JOINTS]
    if unknown:
        raise TrackerError(f"unknown tracker name(s) {', '.join(map(repr, unknown))}; expected "
                           f"{', '.join(TRACKER_JOINTS)}")
    if len(set(names)) != len(names):
        raise TrackerError(f"a tracker name appears twice in {names}")
    return names


def default_mountings(skeleton: Skeleton, names=SIX_POINT, pelvis: str = "back") -> dict:
    """``{name: TrackerMounting}``: realistic device placements on ``skeleton`` (module docstring).

    pelvis: ``"back"`` (default) or ``"front"``: where the belt puck sits.
    """
    names = _check_names(names)
    if pelvis not in PELVIS_SIDES:
        raise TrackerError(f"pelvis must be one of {', '.join(PELVIS_SIDES)}, got {pelvis!r}")
    out = {}
    for name in names:
        d, G = _placement(skeleton, name, pelvis)
        out[name] = TrackerMounting(offset=-(G.T @ d), rotation=G.T.copy())
    return out


def _mounting_arrays(mountings: dict, names) -> tuple[np.ndarray, np.ndarray]:
    missing = [n for n in names if n not in mountings]
    if missing:
        raise TrackerError(f"no mounting for tracker(s) {', '.join(map(repr, missing))} (mountings given for "
                           f"{', '.join(mountings) or 'none'})")
    offsets = np.stack([np.asarray(mountings[n].offset, dtype=np.float64).reshape(3) for n in names])
    rot = np.stack([np.asarray(mountings[n].rotation, dtype=np.float64).reshape(3, 3) for n in names])
    if not (np.isfinite(offsets).all() and np.isfinite(rot).all()):
        raise TrackerError("mountings must hold finite offsets and rotations")
    ortho = np.abs(np.swapaxes(rot, -1, -2) @ rot - np.eye(3)).max()
    if ortho > 1e-6 or np.any(np.linalg.det(rot) < 0):
        raise TrackerError("mounting rotations must be proper rotation matrices (orthonormal, determinant +1)")
    return offsets, rot


# --- clean devices and joint targets -------------------------------------------------------------

def virtual_trackers(motion: Motion, names=SIX_POINT, mountings: dict | None = None) -> TrackerRecording:
    """Clean device poses of ``names`` riding ``motion`` (at the motion's fps, core frame).

    mountings: ``{name: TrackerMounting}``; default :func:`default_mountings` of the motion's
    skeleton. ``R_device = R_bone @ rotation^T``, ``p = joint - R_device @ offset``.
    """
    names = _check_names(names)
    if mountings is None:
        mountings = default_mountings(motion.skeleton, names)
    offsets, rot = _mounting_arrays(mountings, names)
    joints = [TRACKER_JOINTS[n] for n in names]
    positions, rotations = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    bone = rotations[:, joints]                                               # (T, K, 3, 3)
    device = bone @ np.swapaxes(rot, -1, -2)[None]
    p = positions[:, joints] - np.einsum("tkij,kj->tki", device, offsets)
    q = quat_continuous(matrix_to_quat(device), axis=0)
    return TrackerRecording(
        names, p, q, float(motion.fps), source=str(motion.metadata.get("source", "")),
        metadata={"synthetic": True, "convention": "core",
                  "mountings": {n: {"offset": offsets[k].tolist(), "rotation": rot[k].tolist()}
                                for k, n in enumerate(names)}},
    )


def joint_targets(recording: TrackerRecording, mountings: dict) -> dict:
    """``{name: (positions (T, 3), rotations (T, 3, 3))}``: the joint each tracker rides and its
    bone's world orientation, ``joint = p + R_device @ offset``, ``R_bone = R_device @ rotation``.

    Missing samples (``valid`` False) come out as NaN. Exact inverse of :func:`virtual_trackers`.
    """
    names = recording.names
    offsets, rot = _mounting_arrays(mountings, names)
    device = quat_to_matrix(recording.orientations)                            # (T, K, 3, 3)
    pos = recording.positions + np.einsum("tkij,kj->tki", device, offsets)
    bone = device @ rot[None]
    lost = ~recording.valid
    if lost.any():
        pos = pos.copy()
        pos[lost] = np.nan
        bone[lost] = np.nan
    return {n: (pos[:, k], bone[:, k]) for k, n in enumerate(names)}


# --- noise ---------------------------------------------------------------------------------------

@dataclass
class TrackerNoise:
    """Magnitudes of the tracking errors :func:`corrupt_trackers` adds; every default is consumer VR
    tracking (SteamVR Lighthouse headsets, controllers and Vive Trackers; inside-out headsets and
    controllers such as Quest), as reported to an application at 60-120 Hz.

    position_jitter = 0.001 m: white noise per axis and sample while the device is still. Lighthouse
      static jitter is sub-millimetre with two base stations (O. Kreylos, "Lighthouse tracking
      examined", doc-ok.org, 2016; Niehorster, Li & Lappe 2017, i-Perception 8(3): sub-mm
      precision); Jost et al. 2019 (J. Biomech. 97:109379, HTC Vive on a robot arm) find
      0.6-0.7 mm mean error in translated distance. 1 mm per axis is the upper end of "static",
      covering inside-out systems and a single base station.
    jitter_per_speed = 0.002 s (metres of extra per-axis noise std per m/s of device speed): error
      grows with speed: Jost et al. 2019 measure 4 +- 3.4 mm for human movement; Kulozik &
      Jarrasse 2024 (arXiv 2409.01947, VIVE Ultimate Tracker, inside-out) 5 +- 4 mm with movement
      velocity among the main factors; Merker et al. 2023 (Sensors 23:7371, Vive Tracker 3.0 vs
      Vicon on a cycling athlete) 10-11 mm at knee and ankle at 80 rpm (ankle about 1.4 m/s),
      marker-offset error included.
      With this slope a hand at 1.5 m/s gets 4 mm per axis: "a few mm dynamic".
    orientation_noise_deg = 0.3: white orientation noise per axis and sample (rotation vector std,
      0.52 deg RMS angle): Jost et al. 2019 report 0.46 +- 0.46 deg mean error in angle rotated.
    mount_offset_m = 0.02, mount_deg = 5.0: a constant mounting error per tracker and take: the
      device sits ``dp`` (random direction, length uniform in [0, mount_offset_m], device frame)
      and ``dR`` (random axis, angle uniform in [0, mount_deg]) away from where the mounting used
      by the solver says: what is left after a T-pose calibration (mean 1 cm and 2.5 deg; the
      1-2 cm and 2-5 deg usually quoted; Sansone et al. 2021, Virtual Reality,
      doi:10.1007/s10055-021-00584-5, also find a random offset of several mm per acquisition).
    drop_rate = 0.01, drop_burst_s = (0.1, 0.5), drop_exempt = ("head",): 1 % of samples of every
      tracker but the exempt ones are lost, in bursts whose length is uniform in 0.1-0.5 s (a
      controller leaving the headset cameras' view or a foot/pelvis puck occluded from the base
      stations by the body; runtimes bridge only a short gap on the IMU before reporting the pose
      as untracked). At 60 fps that is one 0.3 s burst about every 30 s per tracker. The headset
      tracks itself (its cameras or many photodiodes) and is exempt by default. Lost samples are
      NaN with ``valid`` False. Burst starts are a Bernoulli process with probability
      ``-log(1 - drop_rate) / E[burst frames]`` per frame (started before the first frame too), so
      the expected lost fraction is ``drop_rate`` also where bursts overlap.
    latency_s = 0.0, smoothing_s = 0.0: optional. ``latency_s`` delays every pose by that much
      (fractional frames: linear interpolation of positions, slerp of orientations; the first
      sample is held). ``smoothing_s`` is the time constant of a one-pole low-pass (exponential
      moving average, normalised-lerp for orientations) as runtimes apply to tracker data; its
      group delay is about ``smoothing_s``. Runtimes predict headset poses to the display time, so
      the default is none; 10-30 ms is typical of un-predicted puck data.

    Not modelled: errors common to all devices (Bauer, Lienhart & Jost 2021, Sensors 21:1622:
    systematic offsets of centimetres and a 0.4 deg tilt of the tracking space): they move the
    whole body, not its pose, and the tracker calibration's floor / heading alignment removes them.

    Order: mounting error, then latency and smoothing of the true poses, then jitter and
    orientation noise (the jitter figures are what runtimes output, after their filters), then
    dropouts.
    """

    position_jitter: float = 0.001
    jitter_per_speed: float = 0.002
    orientation_noise_deg: float = 0.3
    mount_offset_m: float = 0.02
    mount_deg: float = 5.0
    drop_rate: float = 0.01
    drop_burst_s: tuple = (0.1, 0.5)
    drop_exempt: tuple = ("head",)
    latency_s: float = 0.0
    smoothing_s: float = 0.0

    def __post_init__(self):
        for name in ("position_jitter", "jitter_per_speed", "orientation_noise_deg", "mount_offset_m",
                     "mount_deg", "drop_rate", "latency_s", "smoothing_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not np.isfinite(float(value)) or float(value) < 0:
                raise ValueError(f"TrackerNoise.{name} must be a number >= 0, got {value!r}")
            setattr(self, name, float(value))
        if self.drop_rate >= 1.0:
            raise ValueError(f"TrackerNoise.drop_rate must be below 1, got {self.drop_rate!r}")
        try:
            lo, hi = (float(v) for v in self.drop_burst_s)
        except (TypeError, ValueError):
            raise ValueError(f"TrackerNoise.drop_burst_s must be (shortest, longest) seconds, "
                             f"got {self.drop_burst_s!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
            raise ValueError(f"TrackerNoise.drop_burst_s must be 0 < shortest <= longest seconds, "
                             f"got {self.drop_burst_s!r}")
        self.drop_burst_s = (lo, hi)
        exempt = (self.drop_exempt,) if isinstance(self.drop_exempt, str) else tuple(self.drop_exempt)
        unknown = [n for n in exempt if n not in TRACKER_JOINTS]
        if unknown:
            raise ValueError(f"TrackerNoise.drop_exempt has unknown tracker name(s) {', '.join(map(repr, unknown))}; "
                             f"expected {', '.join(TRACKER_JOINTS)}")
        self.drop_exempt = exempt

    @classmethod
    def clean(cls) -> "TrackerNoise":
        """No errors at all: :func:`corrupt_trackers` returns an unchanged copy."""
        return cls(position_jitter=0.0, jitter_per_speed=0.0, orientation_noise_deg=0.0, mount_offset_m=0.0,
                   mount_deg=0.0, drop_rate=0.0, latency_s=0.0, smoothing_s=0.0)


def corrupt_trackers(recording: TrackerRecording, noise: TrackerNoise | None = None, rng=None) -> TrackerRecording:
    """A new recording with ``noise``'s errors added (``recording`` is not modified).

    ``rng``: a numpy Generator or a seed; the same seed gives the same result. The per-take draws
    (mounting errors) go to ``metadata["corruption"]``. Samples already missing stay missing.
    """
    noise = TrackerNoise() if noise is None else noise
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    T, K = recording.positions.shape[:2]
    fps = recording.fps
    valid = recording.valid.copy()
    p = recording.positions.copy()
    q = recording.orientations.copy()
    R = quat_to_matrix(q)

    # Constant mounting error (device frame): p' = p + R dp, R' = R dR.
    dp = np.zeros((K, 3))
    dR = np.broadcast_to(np.eye(3), (K, 3, 3)).copy()
    if noise.mount_offset_m > 0:
        direction = _random_unit(rng, K)
        dp = direction * (noise.mount_offset_m * rng.uniform(size=(K, 1)))
        p = p + np.einsum("tkij,kj->tki", R, dp)
    if noise.mount_deg > 0:
        axis = _random_unit(rng, K)
        dR = axis_angle_to_matrix(axis * (np.radians(noise.mount_deg) * rng.uniform(size=(K, 1))))
        q = matrix_to_quat(R @ dR[None])

    if noise.latency_s > 0:
        p, q = _delay(p, q, noise.latency_s * fps)
    if noise.smoothing_s > 0:
        p, q = _smooth(p, q, valid, 1.0 - np.exp(-1.0 / (noise.smoothing_s * fps)))

    if noise.position_jitter > 0 or noise.jitter_per_speed > 0:
        std = np.full((T, K), noise.position_jitter)
        if noise.jitter_per_speed > 0 and T > 1:
            speed = np.linalg.norm(np.gradient(p, axis=0), axis=-1) * fps
            std = std + noise.jitter_per_speed * np.nan_to_num(speed, nan=0.0)
        p = p + rng.normal(size=(T, K, 3)) * std[..., None]
    if noise.orientation_noise_deg > 0:
        E = axis_angle_to_matrix(rng.normal(scale=np.radians(noise.orientation_noise_deg), size=(T, K, 3)))
        q = matrix_to_quat(quat_to_matrix(q) @ E)

    if noise.drop_rate > 0:
        lost = _dropouts(T, K, noise.drop_rate, noise.drop_burst_s, fps, rng)
        exempt = [k for k, n in enumerate(recording.names) if n in noise.drop_exempt]
        lost[:, exempt] = False
        valid &= ~lost

    q = quat_continuous(q, axis=0)
    p[~valid] = np.nan
    q[~valid] = np.nan
    metadata = copy.deepcopy(recording.metadata)
    metadata["corruption"] = {"noise": asdict(noise), "mount_offset_error": dp.tolist(),
                              "mount_rotation_error": dR.tolist()}
    return TrackerRecording(recording.names, p, q, fps, valid, recording.source, metadata)


def _random_unit(rng, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _delay(p: np.ndarray, q: np.ndarray, frames: float):
    """Poses ``frames`` (fractional) earlier: linear interpolation / slerp, the first sample held."""
    T = p.shape[0]
    t = np.clip(np.arange(T) - frames, 0.0, T - 1)
    i0 = np.floor(t).astype(np.int64)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (t - i0)[:, None]
    p_out = p[i0] * (1.0 - w[..., None]) + p[i1] * w[..., None]
    q_out = quat_slerp(q[i0], q[i1], np.broadcast_to(w, q.shape[:2]))
    return p_out, q_out


def _smooth(p: np.ndarray, q: np.ndarray, valid: np.ndarray, alpha: float):
    """One-pole low-pass along time (recurrent: loops over frames); missing samples keep the state."""
    p_out, q_out = p.copy(), q.copy()
    state_p, state_q = p[0].copy(), q[0].copy()
    have = valid[0].copy()
    for t in range(p.shape[0]):
        v = valid[t]
        fresh = v & ~have
        state_p[fresh], state_q[fresh] = p[t, fresh], q[t, fresh]
        have |= v
        step = v & ~fresh
        qt = np.where((np.sum(q[t] * state_q, axis=-1) < 0)[:, None], -q[t], q[t])
        state_p[step] += alpha * (p[t, step] - state_p[step])
        state_q[step] = quat_normalize(state_q[step] + alpha * (qt[step] - state_q[step]))
        p_out[t], q_out[t] = state_p, state_q
    return p_out, q_out


def _dropouts(T: int, K: int, rate: float, burst_s, fps: float, rng) -> np.ndarray:
    """(T, K) True where a sample is lost: bursts of uniform length in ``burst_s`` seconds (at least
    one frame), starting as a Bernoulli process (also before the first frame, so the lost fraction
    is ``rate`` everywhere)."""
    lo = max(1, int(round(burst_s[0] * fps)))
    hi = max(lo, int(round(burst_s[1] * fps)))
    mean = 0.5 * (lo + hi)
    start_p = -np.log1p(-rate) / mean
    span = T + hi
    starts = rng.uniform(size=(span, K)) < start_p
    t, k = np.nonzero(starts)
    lengths = rng.integers(lo, hi + 1, size=t.size)
    t = t - hi                                                  # starts from -hi .. T-1
    begin = np.clip(t, 0, T)
    end = np.clip(t + lengths, 0, T)
    edges = np.zeros((T + 1, K), dtype=np.int64)
    np.add.at(edges, (begin, k), 1)
    np.add.at(edges, (end, k), -1)
    return np.cumsum(edges[:-1], axis=0) > 0
