"""IMU calibration: from a held pose to bone orientations in the core frame (numpy only).

A real IMU reports its own orientation ``R_s(t)`` (sensor frame -> the device's earth frame, e.g.
Z-up ENU) and a free acceleration in that earth frame. Two unknowns stand between that and the
orientation of the bone it is strapped to, in the core frame (Y up, the wearer facing +Z):

- the **mounting** ``M_s`` (per sensor): how the sensor sits on its bone;
- the **world alignment** ``W`` (one for the recording): device world -> core world. It puts the
  device's up axis on +Y and turns the device's horizontal axes so that the direction the wearer
  faced during calibration becomes +Z (the *heading*).

Convention (the one :func:`apply_calibration` applies)::

    R_bone_core(t) = W @ R_s(t) @ M_s          a_core(t) = W @ a_device(t)

Calibration (:func:`calibrate`)
-------------------------------
The wearer holds a known pose for the window ``[start_s, start_s + duration_s)``: ``"t"`` (T-pose,
the skeleton's rest pose: every local rotation identity, arms out, palms down), ``"n"`` (arms down
by the sides, palms facing the thighs: the shoulders turned -90/+90 deg about Z), or any (24, 4)
local quaternions / (24, 3, 3) matrices. The pose gives each bone's core-frame rotation ``P_s``
(forward kinematics of the pose, pelvis unrotated: the wearer faces +Z). Per sensor the window's
orientations are averaged properly on SO(3): the chordal mean (the arithmetic mean of the
matrices projected onto the nearest rotation by SVD) refined by three Karcher (geodesic mean)
steps. With that mean ``Rbar_s`` and ``W`` known, ``W Rbar_s M_s = P_s`` gives

    M_s = Rbar_s^T W^T P_s.

Every sensor's largest angle away from its mean during the window is kept (``motion_deg``); above
``max_motion_deg`` (default 5 deg) the window was not still and calibration stops with one
sentence naming the sensor, the angle and the frames. The up axis comes from
``recording.metadata["up_axis"]`` ("+Y" for ``world == "core"``; the readers set "+Z" for the Xsens,
Movella and x-io earth frames, "-Z" for NED) or the ``up=`` argument; a device world with no known
up axis is refused.

The heading, and why it matters
-------------------------------
``W = [left; up; forward]`` (rows, in device coordinates: ``forward`` = the horizontal direction
the wearer faced, ``left = up x forward``). Any heading reproduces the calibration pose exactly,
so the window alone cannot tell it; but it changes every later frame. Write the sensor's motion
since calibration as ``D_s(t) = R_s(t) Rbar_s^T`` (device frame); then

    R_bone(t) = (W D_s(t) W^T) P_s.

With a heading wrong by ``d`` (``W' = Ry(d) W``), ``R'_bone(t) = Ry(d) R_bone(t) (P_s^T Ry(-d) P_s)``:
a harmless yaw of the whole body *times a mounting error* ``P_s^T Ry(-d) P_s`` (a turn by ``-d``
about the bone axis that was vertical in the calibration pose, conjugated by the pose). Local
joint rotations come out as the true ones conjugated by that error: a knee that flexes about the
wearer's left-right axis seems to flex about an axis ``d`` off it. In a T-pose the error is a twist
about each bone's vertical axis; in an N-pose the arms' vertical axis is their long axis, so the
same yaw error becomes a different mounting error on the arms than on the legs. The heading must
therefore be right for *any* calibration pose, and it is chosen like this (``heading=``):

- ``"auto"`` (default): ``"core"`` when the recording already is in the core frame (TransPose /
  DIP data: calibrated by the vendor with the wearer facing +Z), else ``"knees"`` when some leg has
  both an upper-leg and a lower-leg sensor, else an error asking for the heading.
- ``"knees"``: estimated from the sensors themselves, with one stated assumption: **the knee is a
  hinge that flexes about the wearer's left axis (+X in the core frame, positive angles; SMPL's
  knee flexion) and bends during the recording** (walking, a squat, a few knee bends). The knee's
  rotation since calibration, in device coordinates, is ``C(t) = D_thigh(t)^T D_shank(t)``; from
  the derivation above ``rotvec(C(t)) = alpha(t) W^T P_thigh e_x``: the flexion axis in the device
  world, independent of both mountings. The sum over the recording of the horizontal parts of
  ``rotvec(C(t))`` (flexion is one-sided, so the sum points along +axis; drift about the vertical
  drops out) gives the wearer's left direction, hence the facing direction. Both legs are
  estimated separately and combined (weighted circular mean); their disagreement is kept in
  ``metadata["heading"]["legs_deg"]``. At least ``MIN_KNEE_FLEXION_DEG`` of flexion is required,
  and legs more than ``MAX_LEG_DISAGREEMENT_DEG`` apart are refused (toe-out and soft tissue give
  5-25 deg; 180 deg means one leg's thigh and shank sensors are swapped). ``"left_knee"`` /
  ``"right_knee"`` use one leg only.
- a number: the direction the wearer faced, in degrees counter-clockwise seen from above from the
  device's reference axis: +X for Z-up and Z-down worlds (ENU: 0 = east, 90 = north; NWU: 0 =
  north, 90 = west; NED: 0 = north, 90 = west too, since "counter-clockwise from above" is measured
  towards ``up x X``), +Z for Y-up worlds (the core frame: 0 = +Z, the identity), +Y for X-up.
- a 3-vector: the facing direction in device coordinates (projected onto the horizontal).

:func:`apply_calibration` returns a recording with ``world == "core"``: bone orientations and
core-frame free accelerations, the sensors in the same order, named by their body segment.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .recording import SEGMENT_JOINTS, ImuError, ImuRecording
from ..kinematics.poses import (PoseError, calibration_window, check_rotation_stack, mean_rotation, pose_rotations,
                                project_to_rotation)
from ..kinematics.rotations import matrix_to_axis_angle
from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS

__all__ = ["ImuCalibration", "calibrate", "apply_calibration",
           "up_vector", "world_alignment", "CalibrationError", "DEFAULT_MAX_MOTION_DEG", "MIN_KNEE_FLEXION_DEG"]

FORMAT_VERSION = 1
DEFAULT_MAX_MOTION_DEG = 5.0     # larger than fusion noise at rest (about 1 deg), smaller than a real movement
MIN_KNEE_FLEXION_DEG = 20.0      # knee flexion (95th percentile) needed before the knees may set the heading
MAX_LEG_DISAGREEMENT_DEG = 60.0  # toe-out and soft tissue give 5-25 deg between the legs; 180 = a label swapped
_AXIS_NAMES = ("X", "Y", "Z")


class CalibrationError(ImuError):
    """Calibration that cannot be done; the message says which sensor or input and why."""


# --- poses ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _as_calibration_error():
    """The shared pose and averaging code's PoseError raised as this module's CalibrationError."""
    try:
        yield
    except PoseError as exc:
        raise CalibrationError(str(exc)) from None


def _global_rotations(local: np.ndarray) -> np.ndarray:
    """(24, 3, 3) global rotations of (24, 3, 3) local ones (root unrotated beyond local[0])."""
    out = np.empty_like(local)
    out[0] = local[0]
    for j in range(1, NUM_JOINTS):
        out[j] = out[PARENTS[j]] @ local[j]
    return out


def _angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (degrees) between rotations a and b (broadcast), via the quaternion (accurate near 0,
    where the arccos of the trace loses half the digits)."""
    rel = np.swapaxes(a, -1, -2) @ b
    return np.degrees(np.linalg.norm(matrix_to_axis_angle(rel), axis=-1))


# --- the device world --------------------------------------------------------------------------------

def up_vector(text) -> np.ndarray:
    """The unit axis vector of "+Z", "-Z", "Y", ... (an ImuError for anything else)."""
    t = str(text).strip().upper()
    if t[:1] not in "+-":
        t = "+" + t
    if len(t) != 2 or t[1] not in _AXIS_NAMES:
        raise CalibrationError(f"an up axis must be one of +X, -X, +Y, -Y, +Z, -Z, got {text!r}.")
    v = np.zeros(3)
    v[_AXIS_NAMES.index(t[1])] = 1.0 if t[0] == "+" else -1.0
    return v


def _reference_axes(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(r, s): the horizontal reference axis (the next axis after up's, cyclically: X for Z-up,
    Z for Y-up, Y for X-up) and ``s = up x r``, 90 deg counter-clockwise from r seen from above."""
    i = int(np.argmax(np.abs(up)))
    r = np.zeros(3)
    r[(i + 1) % 3] = 1.0
    return r, np.cross(up, r)


def world_alignment(up: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """``W`` (device -> core): rows ``up x facing`` (core +X, the wearer's left), ``up`` (+Y),
    ``facing`` (+Z). ``facing`` is made horizontal and unit here."""
    up = np.asarray(up, dtype=np.float64)
    f = np.asarray(facing, dtype=np.float64)
    f = f - (f @ up) * up
    f = f / np.linalg.norm(f)
    return np.stack([np.cross(up, f), up, f])


def _heading_facing(up: np.ndarray, heading_deg: float) -> np.ndarray:
    r, s = _reference_axes(up)
    h = math.radians(heading_deg)
    return math.cos(h) * r + math.sin(h) * s


def _heading_of(up: np.ndarray, facing: np.ndarray) -> float:
    r, s = _reference_axes(up)
    return math.degrees(math.atan2(float(facing @ s), float(facing @ r))) % 360.0


# --- the calibration -----------------------------------------------------------------------------------

@dataclass
class ImuCalibration:
    """Mountings and world alignment of one recording (see the module docstring).

    ``sensors``: the recording's sensor names; ``mounting`` (S, 3, 3) with
    ``R_bone_core = world @ R_sensor_device @ mounting[s]``; ``world`` (3, 3) device -> core;
    ``pose``: "t", "n" or "custom"; ``start_frame``/``frames``: the window; ``motion_deg`` (S,):
    each sensor's largest angle from its window mean (the stillness figure); ``metadata``: the
    device world, up axis, heading (method, degrees, per-leg estimates), segments, pose rotations.
    """

    sensors: tuple
    mounting: np.ndarray
    world: np.ndarray
    pose: str = "t"
    start_frame: int = 0
    frames: int = 0
    motion_deg: np.ndarray = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.sensors = tuple(str(s) for s in self.sensors)
        S = len(self.sensors)
        self.mounting = np.asarray(self.mounting, dtype=np.float64)
        self.world = np.asarray(self.world, dtype=np.float64)
        if self.mounting.shape != (S, 3, 3):
            raise CalibrationError(f"the calibration has {S} sensors but mountings of shape {self.mounting.shape}; "
                                   f"expected ({S}, 3, 3).")
        if self.world.shape != (3, 3):
            raise CalibrationError(f"the calibration's world alignment must be a 3x3 matrix, got {self.world.shape}.")
        with _as_calibration_error():
            check_rotation_stack(self.mounting, "the calibration's mountings")
            check_rotation_stack(self.world[None], "the calibration's world alignment")
        self.motion_deg = (np.zeros(S) if self.motion_deg is None
                           else np.asarray(self.motion_deg, dtype=np.float64).reshape(S))
        self.start_frame, self.frames, self.pose = int(self.start_frame), int(self.frames), str(self.pose)

    @property
    def segments(self) -> tuple:
        """The body segment each sensor rides (the sensor names when no mapping was given)."""
        return tuple(self.metadata.get("segments") or self.sensors)

    @property
    def heading_deg(self) -> float | None:
        return (self.metadata.get("heading") or {}).get("deg")

    def summary(self) -> str:
        """One line for a report: pose, window, heading and stillness."""
        h = self.metadata.get("heading") or {}
        fps = self.metadata.get("fps") or 0.0
        window = (f"{self.start_frame / fps:.2f}-{(self.start_frame + self.frames) / fps:.2f} s" if fps
                  else f"frames {self.start_frame}-{self.start_frame + self.frames - 1}")
        legs = h.get("legs_deg") or {}
        spread = f", legs {', '.join(f'{k} {v:.1f}' for k, v in legs.items())}" if len(legs) > 1 else ""
        worst = int(np.argmax(self.motion_deg)) if len(self.sensors) else 0
        return (f"{len(self.sensors)} sensors calibrated on the {self.pose}-pose held {window}; heading "
                f"{h.get('deg', 0.0):.1f} deg ({h.get('method', '?')}{spread}); still within "
                f"{self.motion_deg[worst]:.1f} deg ({self.sensors[worst]}).")

    def to_dict(self) -> dict:
        """A JSON-safe dict (plain lists, floats, strings) for files and Blender custom properties."""
        return {
            "format": "sparse_mocap IMU calibration", "version": FORMAT_VERSION,
            "sensors": list(self.sensors),
            "mounting": self.mounting.round(12).tolist(),
            "world": self.world.round(12).tolist(),
            "pose": self.pose, "start_frame": self.start_frame, "frames": self.frames,
            "motion_deg": [float(v) for v in self.motion_deg],
            "metadata": _json_safe(self.metadata),
        }

    @classmethod
    def from_dict(cls, data) -> "ImuCalibration":
        """The calibration :meth:`to_dict` wrote (also accepts its JSON text)."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise CalibrationError(f"the calibration is not valid JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise CalibrationError(f"a calibration must be a dict, got {type(data).__name__}.")
        missing = [k for k in ("sensors", "mounting", "world") if k not in data]
        if missing:
            raise CalibrationError(f"the calibration dict lacks {', '.join(missing)}.")
        version = data.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CalibrationError(f"the calibration has version {version!r}; this reader knows up to "
                                   f"{FORMAT_VERSION}.")
        try:
            mounting = np.asarray(data["mounting"], dtype=np.float64)
            world = np.asarray(data["world"], dtype=np.float64)
            motion = data.get("motion_deg")
            motion = None if motion is None else np.asarray(motion, dtype=np.float64)
        except (TypeError, ValueError):
            raise CalibrationError("the calibration's mounting, world and motion_deg must be numbers.") from None
        return cls(sensors=tuple(data["sensors"]), mounting=mounting, world=world, pose=data.get("pose", "t"),
                   start_frame=data.get("start_frame", 0), frames=data.get("frames", 0), motion_deg=motion,
                   metadata=dict(data.get("metadata") or {}))


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _segment_joint(name: str):
    if name in SEGMENT_JOINTS:
        return SEGMENT_JOINTS[name]
    return JOINT_INDEX.get(name)


def _where(recording: ImuRecording) -> str:
    return recording.source or "the recording"


def _resolve_up(recording: ImuRecording, up) -> tuple[np.ndarray, str]:
    if up is not None:
        vec = up_vector(up)
    elif recording.world == "core":
        vec = np.array([0.0, 1.0, 0.0])
    else:
        text = recording.metadata.get("up_axis")
        if not text:
            raise CalibrationError(f"{_where(recording)}: the device world {recording.world!r} has no known up axis "
                                   "(metadata['up_axis'] is missing); give the up axis (the device axis that points up, e.g. +Z).")
        vec = up_vector(text)
    label = ("+" if vec.sum() > 0 else "-") + _AXIS_NAMES[int(np.argmax(np.abs(vec)))]
    return vec, label


def _window(recording: ImuRecording, start_s, duration_s) -> tuple[int, int]:
    try:
        return calibration_window(float(recording.fps), recording.num_frames, start_s, duration_s)
    except PoseError as exc:
        raise CalibrationError(f"{_where(recording)}: {exc}") from None


def _knee_heading(R, valid, mean, up, pairs, targets, min_flexion_deg):
    """Heading (deg) from knee flexion, and the per-leg details; ``pairs`` [(leg, thigh i, shank i)]."""
    legs, per_leg = {}, {}
    for leg, a, b in pairs:
        ok = valid[:, a] & valid[:, b]
        if not ok.any():
            per_leg[leg] = "no frame with both sensors"
            continue
        da = R[ok, a] @ mean[a].T                     # motion since calibration, device frame
        db = R[ok, b] @ mean[b].T
        c = matrix_to_axis_angle(np.swapaxes(da, -1, -2) @ db)          # (n, 3) knee rotation vectors
        horizontal = c - np.outer(c @ up, up)
        total = horizontal.sum(axis=0)
        if np.linalg.norm(total) < 1e-12:
            per_leg[leg] = "the knee never bends"
            continue
        k = targets[leg]                               # the hinge (core +X of the thigh) in the pose
        r, s = _reference_axes(up)
        gamma = math.atan2(float(total @ s), float(total @ r))
        h = math.degrees(gamma - math.atan2(k[0], k[2])) % 360.0
        axis_dev = world_alignment(up, _heading_facing(up, h)).T @ k
        flexion = np.degrees(c @ (axis_dev / np.linalg.norm(axis_dev)))
        p95 = float(np.percentile(flexion, 95))
        consistency = float(np.linalg.norm(total) / np.linalg.norm(c, axis=-1).sum())
        detail = {"deg": h, "flexion_p95_deg": p95, "flexion_p5_deg": float(np.percentile(flexion, 5)),
                  "axis_consistency": consistency, "weight": float(np.linalg.norm(total))}
        if p95 < min_flexion_deg:
            per_leg[leg] = f"the knee bends at most {p95:.1f} deg (95th percentile), below {min_flexion_deg:g}"
            continue
        legs[leg] = detail
    if not legs:
        why = "; ".join(f"{leg}: {text}" for leg, text in per_leg.items())
        raise CalibrationError(f"cannot estimate the heading from the knees ({why}); record some walking or knee "
                               "bends, or give the heading in degrees (the direction the wearer faced).")
    if len(legs) == 2:
        gap = abs((legs["left"]["deg"] - legs["right"]["deg"] + 180.0) % 360.0 - 180.0)
        if gap > MAX_LEG_DISAGREEMENT_DEG:
            raise CalibrationError(
                f"the knees disagree on the heading: the left knee says {legs['left']['deg']:.1f} deg, the right "
                f"{legs['right']['deg']:.1f} deg ({gap:.0f} deg apart; near 180 means one leg's upper- and lower-leg "
                "sensors are swapped); check the sensor names, or take the heading from the left or the "
                "right knee alone, or give it in degrees.")
    vec = sum(d["weight"] * np.array([math.cos(math.radians(d["deg"])), math.sin(math.radians(d["deg"]))])
              for d in legs.values())
    heading = math.degrees(math.atan2(vec[1], vec[0])) % 360.0
    return heading, legs


def calibrate(recording: ImuRecording, pose="t", start_s: float = 0.0, duration_s: float = 2.0, heading="auto",
              *, segments: dict | None = None, up=None,
              max_motion_deg: float | None = DEFAULT_MAX_MOTION_DEG) -> ImuCalibration:
    """Mountings and the world alignment from a pose held during ``[start_s, start_s + duration_s)``.

    pose: "t", "n" or 24 local rotations ((24, 4) quaternions or (24, 3, 3)) in the core frame.
    heading: "auto", "knees", "core", degrees, or a facing 3-vector in device coordinates (module
    docstring). segments: {sensor name: body segment (a key of ``SEGMENT_JOINTS``) or SMPL joint
    name} for sensors whose names are not segments (e.g. serial numbers). up: the device world's up
    axis ("+Z", ...) when the recording's metadata does not say. max_motion_deg: the stillness
    limit (None: no check).
    """
    where = _where(recording)
    with _as_calibration_error():
        pose_name, local = pose_rotations(pose)
    segments = dict(segments or {})
    unknown = [s for s in segments if s not in recording.sensors]
    if unknown:
        raise CalibrationError(f"{where}: the sensor-to-segment names give sensor(s) {', '.join(map(repr, unknown))} "
                               f"that the recording does not have (it has {', '.join(recording.sensors)}).")
    seg_names = [segments.get(s, s) for s in recording.sensors]
    joints = [_segment_joint(n) for n in seg_names]
    for s, n, j in zip(recording.sensors, seg_names, joints):
        if j is None:
            raise CalibrationError(f"{where}: sensor {s!r} rides no known body segment ({n!r}); name the "
                                   f"segment it rides, one of {', '.join(SEGMENT_JOINTS)}.")
    if len(set(seg_names)) != len(seg_names):
        dup = next(n for n in seg_names if seg_names.count(n) > 1)
        raise CalibrationError(f"{where}: two sensors ride the segment {dup!r}; each segment takes one sensor.")
    up_vec, up_label = _resolve_up(recording, up)
    start, count = _window(recording, start_s, duration_s)
    fps = float(recording.fps)

    R = recording.orientation
    valid = recording.valid
    win_R, win_ok = R[start:start + count], valid[start:start + count]
    empty = np.flatnonzero(~win_ok.any(axis=0))
    if len(empty):
        raise CalibrationError(f"{where}: sensor {recording.sensors[empty[0]]!r} has no valid sample in the "
                               f"calibration window (frames {start}-{start + count - 1}); choose another window.")
    safe_R = np.where(win_ok[..., None, None], win_R, np.eye(3))
    mean = mean_rotation(safe_R, win_ok)                                  # (S, 3, 3)
    dev = np.where(win_ok, _angles_deg(mean[None], safe_R), 0.0)          # (F, S)
    motion = dev.max(axis=0)
    rms = np.sqrt((dev ** 2).sum(axis=0) / win_ok.sum(axis=0))
    if max_motion_deg is not None:
        worst = int(np.argmax(motion - max_motion_deg))
        if motion[worst] > max_motion_deg:
            # Name the frames that moved away from the pose held longest: the mean of the half of
            # the window closest to the plain mean (a plain mean is pulled towards the movement).
            ok_w = win_ok[:, worst]
            close = ok_w & (dev[:, worst] <= np.median(dev[ok_w, worst]))
            held = mean_rotation(safe_R[:, worst], close)
            away = np.where(ok_w, _angles_deg(held[None], safe_R[:, worst]), 0.0)
            moving = np.flatnonzero(away > max_motion_deg) + start
            if not len(moving):
                moving = np.flatnonzero(dev[:, worst] > max_motion_deg) + start
            raise CalibrationError(
                f"{where}: the wearer was not still during the calibration window {start / fps:.2f}-"
                f"{(start + count) / fps:.2f} s: sensor {recording.sensors[worst]!r} turned up to "
                f"{max(away.max(), motion[worst]):.1f} deg away from the pose it held (limit {max_motion_deg:g}) in "
                f"frames "
                f"{moving[0]}-{moving[-1]} ({moving[0] / fps:.2f}-{moving[-1] / fps:.2f} s); hold the pose still or "
                "choose another calibration window.")

    bones = _global_rotations(local)
    targets = bones[joints]                                               # P_s, (S, 3, 3)

    # The heading.
    method = heading if isinstance(heading, str) else None
    legs = {}
    if method is not None:
        method = method.strip().lower()
        if method == "auto":
            pairs = _leg_pairs(seg_names)
            method = "core" if recording.world == "core" else ("knees" if pairs else None)
            if method is None:
                raise CalibrationError(
                    f"{where}: cannot choose the heading of the device world {recording.world!r} by itself: no leg "
                    "has both an upper-leg and a lower-leg sensor; give the heading in degrees (the direction the "
                    "wearer faced, counter-clockwise from above from the device's reference axis) or a facing vector.")
        if method == "core":
            facing = _heading_facing(up_vec, 0.0) if recording.world == "core" else None
            if facing is None:
                raise CalibrationError(f"{where}: the heading 'core' needs a recording in the core frame, this one is in "
                                       f"{recording.world!r}.")
            heading_deg = 0.0
        elif method in ("knees", "left_knee", "right_knee"):
            pairs = [p for p in _leg_pairs(seg_names) if method == "knees" or method == f"{p[0]}_knee"]
            if not pairs:
                which = "the same leg" if method == "knees" else f"the {method.split('_')[0]} leg"
                raise CalibrationError(f"{where}: the heading {method!r} needs an upper-leg and a lower-leg sensor on "
                                       f"{which}; give the heading in degrees instead.")
            hinge = {leg: bones[JOINT_INDEX[f"{leg}_hip"]] @ np.array([1.0, 0.0, 0.0]) for leg, _, _ in pairs}
            for leg, vec in hinge.items():
                if math.hypot(vec[0], vec[2]) < 0.3:
                    raise CalibrationError(f"{where}: in this calibration pose the {leg} knee's hinge axis is nearly "
                                           "vertical, so the knees cannot give the heading; give the heading in degrees.")
            try:
                heading_deg, legs = _knee_heading(R, valid, mean, up_vec, pairs, hinge, MIN_KNEE_FLEXION_DEG)
            except CalibrationError as exc:
                raise CalibrationError(f"{where}: {exc}") from None
            facing = _heading_facing(up_vec, heading_deg)
        else:
            raise CalibrationError(f"the heading must be 'auto', 'knees', 'left_knee', 'right_knee', 'core', a number "
                                   f"of degrees or a facing vector, got {heading!r}.")
    else:
        arr = np.asarray(heading, dtype=np.float64) if not isinstance(heading, bool) else np.array(np.nan)
        if arr.shape == () and np.isfinite(arr):
            method, heading_deg = "given", float(arr) % 360.0
            facing = _heading_facing(up_vec, heading_deg)
        elif arr.shape == (3,) and np.isfinite(arr).all():
            horizontal = arr - (arr @ up_vec) * up_vec
            if np.linalg.norm(horizontal) < 1e-6 * max(1.0, float(np.linalg.norm(arr))):
                raise CalibrationError(f"the facing vector {arr.tolist()} points along the up axis {up_label}; it "
                                       "must have a horizontal part.")
            method, facing = "given", horizontal / np.linalg.norm(horizontal)
            heading_deg = _heading_of(up_vec, facing)
        else:
            raise CalibrationError(f"the heading must be 'auto', 'knees', 'core', a number of degrees or a facing "
                                   f"vector, got {heading!r}.")

    world = world_alignment(up_vec, facing)
    mounting = np.swapaxes(mean, -1, -2) @ world.T[None] @ targets        # M_s = Rbar^T W^T P_s
    mounting = project_to_rotation(mounting)
    metadata = {
        "device_world": recording.world, "up_axis": up_label, "fps": fps, "source": recording.source,
        "start_s": start / fps, "duration_s": count / fps, "max_motion_deg": max_motion_deg,
        "heading": {"method": method, "deg": heading_deg, "facing_device": facing.tolist(),
                    "legs_deg": {k: v["deg"] for k, v in legs.items()},
                    "legs": legs},
        "segments": seg_names, "joints": [int(j) for j in joints],
        "rms_deg": rms.tolist(),
        "pose_rotations": local.tolist(),
    }
    return ImuCalibration(sensors=recording.sensors, mounting=mounting, world=world, pose=pose_name,
                          start_frame=start, frames=count, motion_deg=motion, metadata=metadata)


def _leg_pairs(seg_names) -> list:
    pairs = []
    for leg in ("left", "right"):
        thigh, shank = f"{leg}_upper_leg", f"{leg}_lower_leg"
        names = list(seg_names)
        alias = {thigh: f"{leg}_hip", shank: f"{leg}_knee"}
        idx = []
        for seg in (thigh, shank):
            if seg in names:
                idx.append(names.index(seg))
            elif alias[seg] in names:
                idx.append(names.index(alias[seg]))
        if len(idx) == 2:
            pairs.append((leg, idx[0], idx[1]))
    return pairs


def apply_calibration(recording: ImuRecording, calibration: ImuCalibration) -> ImuRecording:
    """Bone orientations and free accelerations in the core frame (``world == "core"``).

    The recording's sensors keep their order and are renamed to the segments they ride; every
    one of them needs a mounting in ``calibration`` (matched by name). Missing samples stay missing.
    """
    where = _where(recording)
    device_world = calibration.metadata.get("device_world")
    if device_world is not None and device_world != recording.world:
        raise CalibrationError(f"{where}: the calibration was made for the world {device_world!r} but the recording "
                               f"is in {recording.world!r}; calibrate this recording (or one from the same device).")
    missing = [s for s in recording.sensors if s not in calibration.sensors]
    if missing:
        raise CalibrationError(f"{where}: the calibration has no mounting for sensor(s) "
                               f"{', '.join(map(repr, missing))} (it covers {', '.join(calibration.sensors)}).")
    order = [calibration.sensors.index(s) for s in recording.sensors]
    mounting = calibration.mounting[order]
    segments = [calibration.segments[k] for k in order]
    W = calibration.world
    orientation = np.einsum("ij,tsjk->tsik", W, recording.orientation) @ mounting[None]
    acceleration = recording.acceleration @ W.T
    meta = dict(recording.metadata)
    meta.update({"up_axis": "+Y", "device_world": recording.world, "device_sensors": list(recording.sensors),
                 "calibration": calibration.to_dict()})
    return ImuRecording(sensors=tuple(segments), orientation=orientation, acceleration=acceleration,
                        fps=recording.fps, valid=recording.valid.copy(), world="core", source=recording.source,
                        metadata=meta)
