"""Tracker-to-body calibration from a held T-pose or A-pose (numpy only).

A tracker reports its device pose ``(p_k(t), R_k(t))`` (core axes after ``read_trackers``, but the
wearer may face any horizontal direction). Between that and the joint the solvers want stand:

- the **mounting** of each tracker (:class:`~.trackers.TrackerMounting`): ``offset`` ``o_k`` (device
  to joint, device frame) and ``rotation`` ``M_k`` (the bone in the device frame), so
  ``joint = p + R o`` and ``R_bone = R M``;
- the **heading alignment** ``A`` (one rotation about +Y for the recording) that turns the
  direction the wearer faced during calibration onto +Z (``heading_deg``: that direction in the
  recording, degrees counter-clockwise seen from above from +Z, i.e. 90 = +X).

The held pose
-------------
The wearer holds a known pose during ``[start_s, start_s + duration_s)``: ``"t"`` (the skeleton's
rest T-pose: arms out, palms down), ``"a"`` (the arms 45 deg down), ``"n"`` (arms down by the
sides), or 24 local rotations. Forward kinematics of the pose on the wearer's skeleton (pelvis at
its rest height, unrotated, so the soles are on y = 0 and the wearer faces +Z) gives each tracked
bone's rotation ``P_k`` and joint position ``J_k``. Over the window each tracker's position is
averaged and its orientation averaged properly on SO(3) (``poses.mean_rotation``: the
chordal mean refined by Karcher steps) to ``(pbar_k, Rbar_k)``. A tracker that moved more than
``max_motion_m`` from its mean position or turned more than ``max_motion_deg`` from its mean
orientation stops the calibration with one sentence (which tracker, how far, which frames).

With the alignment ``A`` and the body's position ``c`` (the pose is placed at ``J + c`` in the
aligned frame) known, the held pose gives every mounting exactly::

    A Rbar_k M_k = P_k              ->  M_k = Rbar_k^T A^T P_k
    A (pbar_k + Rbar_k o_k) = J_k + c  ->  o_k = Rbar_k^T (A^T (J_k + c) - pbar_k)

What the window cannot tell, and how it is chosen
-------------------------------------------------
Any heading and any body position reproduce the held pose exactly (the offsets and rotations
absorb them), but a wrong one makes each later joint wrong by ``R_k(t) Rbar_k^T`` times the
error: it is not a harmless rigid motion of the whole body. So ``A`` and ``c`` need one more piece
of knowledge, in this order:

1. ``known``: mountings known beforehand (``{"head": TrackerMounting(...)}``: how the headset sits
   on the head, measured once for a headset model). Each known tracker fixes the heading
   (``A = P_k (Rbar_k M_k)^T``, projected onto the nearest rotation about +Y) and the position
   (``c = A (pbar_k + Rbar_k o_k) - J_k``); several are averaged (circular mean, mean). This is
   exact: the synthetic round trip recovers every joint to ~1e-12.
2. ``heading="positions"`` (the default when nothing is known and the pose spreads the trackers
   over more than 20 cm horizontally, e.g. the hands in a T-pose): the trackers sit near their
   joints, so ``A`` and ``c`` minimise ``sum_k |A pbar_k - J_k - c|^2`` (the rotation about +Y in
   closed form: a 2-D Procrustes fit of the horizontal tracker layout onto the pose's joints).
   The offsets are then the residuals; a controller 5-10 cm from the wrist turns the heading by a
   few degrees.
3. ``heading="head"`` (the default otherwise): the headset's forward axis (local +Z after
   ``read_trackers``: Unity's, OpenXR's and Unreal's HMD forward all become +Z) points where the
   face points: the head's mounting rotation is taken as the identity for the heading, ``c`` is
   fitted as in 2.
4. ``heading=<degrees>`` or a facing vector (the direction the wearer faced in the recording):
   ``c`` is fitted as in 2.

Offsets longer than ``max_offset_m`` (default 0.5 m) are refused: a left and a right tracker
swapped, or a different pose held, is far more likely than a controller half a metre from the wrist.

Height
------
``estimate_height``: the headset sits at eye level, and standing eye height is about 0.93 of the
stature (adult anthropometric tables: 0.92-0.94), so ``height = (head_y - floor_y) / 0.93``
from the head tracker's mean height in the held pose; ``floor_y`` (default 0) is the floor in the
recording (0 for floor-level tracking origins: OpenXR STAGE / LOCAL_FLOOR, SteamVR standing).
Calibration reports it in ``height_m`` when there is a head tracker.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from ..kinematics.poses import PoseError, calibration_window, mean_rotation, pose_rotations
from ..kinematics.rotations import matrix_to_axis_angle, quat_to_matrix
from ..kinematics.skeleton import Skeleton, forward_kinematics
from .recording import TRACKER_JOINTS, TrackerError, TrackerMounting, TrackerRecording

__all__ = ["TrackerCalibration", "calibrate_trackers", "apply_mountings", "align_recording", "apply_calibration",
           "estimate_height", "calibration_pose", "DEFAULT_MAX_MOTION_M", "DEFAULT_MAX_MOTION_DEG", "MAX_OFFSET_M",
           "EYE_HEIGHT_RATIO"]

DEFAULT_MAX_MOTION_M = 0.05       # quiet standing sways the head 1-2 cm; held-out hands drift a little more
DEFAULT_MAX_MOTION_DEG = 10.0
MAX_OFFSET_M = 0.5
EYE_HEIGHT_RATIO = 0.93           # standing eye height / stature
MIN_SPREAD_M = 0.2                # horizontal spread of the tracked joints needed for the positional heading


@dataclass
class TrackerCalibration:
    """The result of :func:`calibrate_trackers` (see the module docstring)."""

    mountings: dict                     # name -> TrackerMounting
    alignment: np.ndarray               # (3, 3) rotation about +Y: recording frame -> wearer facing +Z
    heading_deg: float                  # where the wearer faced in the recording (ccw from above from +Z)
    body_position: np.ndarray           # c: the held pose's joints sit at J + c in the aligned frame
    pose: str
    method: str                         # "known", "positions", "head" or "given"
    frames: tuple                       # (first, last) frame of the window
    motion: dict = field(default_factory=dict)   # name -> (largest distance m, largest angle deg) in the window
    height_m: float | None = None
    metadata: dict = field(default_factory=dict)


def _ry(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _yaw_of(q: np.ndarray) -> float:
    """The angle of the rotation about +Y nearest (Frobenius) to the 3x3 rotation ``q``."""
    return math.atan2(q[0, 2] - q[2, 0], q[0, 0] + q[2, 2])


def calibration_pose(pose) -> tuple[str, np.ndarray]:
    """(name, (24, 3, 3) local rotations) of "t", "a" (arms 45 deg down), "n" or given rotations."""
    try:
        return pose_rotations(pose, names=("t", "a", "n"))
    except PoseError as exc:
        raise TrackerError(str(exc)) from None


def _where(recording: TrackerRecording) -> str:
    return recording.source or "tracker recording"


def _window(recording: TrackerRecording, start_s, duration_s) -> tuple[int, int]:
    try:
        return calibration_window(recording.fps, recording.num_frames, start_s, duration_s)
    except PoseError as exc:
        raise TrackerError(f"{_where(recording)}: {exc}") from None


def _held_poses(recording, start, count, max_motion_m, max_motion_deg):
    """Per tracker (mean position, mean rotation, (largest distance, largest angle)) over the window."""
    where = _where(recording)
    sl = slice(start, start + count)
    valid = recording.valid[sl]
    pos = recording.positions[sl]
    rot = quat_to_matrix(np.where(valid[..., None], recording.orientations[sl], np.array([1.0, 0.0, 0.0, 0.0])))
    means, motion = {}, {}
    for k, name in enumerate(recording.names):
        ok = valid[:, k]
        if ok.sum() < max(1, count // 2):
            raise TrackerError(f"{where}: the {name} tracker is missing in {int(count - ok.sum())} of the {count} "
                               f"calibration frames ({start}-{start + count - 1}); choose a window where it is "
                               "tracked.")
        p_mean = pos[ok, k].mean(axis=0)
        r_mean = mean_rotation(rot[:, k], ok)
        dist = np.where(ok, np.linalg.norm(pos[:, k] - p_mean, axis=-1), 0.0)
        angle = np.where(ok, np.degrees(np.linalg.norm(matrix_to_axis_angle(r_mean.T @ rot[:, k]), axis=-1)), 0.0)
        worst_d, worst_a = int(np.argmax(dist)), int(np.argmax(angle))
        if dist[worst_d] > max_motion_m:
            raise TrackerError(f"{where}: the wearer moved during the calibration window (frames {start}-"
                               f"{start + count - 1}): the {name} tracker moved {dist[worst_d]:.3f} m from its mean "
                               f"position (most at frame {start + worst_d}), more than {max_motion_m:g} m; hold the "
                               "pose still or choose another calibration window.")
        if angle[worst_a] > max_motion_deg:
            raise TrackerError(f"{where}: the wearer moved during the calibration window (frames {start}-"
                               f"{start + count - 1}): the {name} tracker turned {angle[worst_a]:.1f} deg from its "
                               f"mean orientation (most at frame {start + worst_a}), more than {max_motion_deg:g} "
                               "deg; hold the pose still or choose another calibration window.")
        means[name] = (p_mean, r_mean)
        motion[name] = (float(dist[worst_d]), float(angle[worst_a]))
    return means, motion


def estimate_height(recording: TrackerRecording, start_s: float = 0.0, duration_s: float = 1.0,
                    floor_y: float = 0.0) -> float:
    """Stature (m) from the head tracker's mean height over the window: ``(y - floor_y) / 0.93``."""
    start, count = _window(recording, start_s, duration_s)
    k = recording.index("head")
    ok = recording.valid[start:start + count, k]
    if not ok.any():
        raise TrackerError(f"{_where(recording)}: the head tracker is missing in every frame of the window.")
    y = float(recording.positions[start:start + count, k, 1][ok].mean())
    return (y - float(floor_y)) / EYE_HEIGHT_RATIO


def _facing_angle(heading, where) -> float:
    if isinstance(heading, numbers.Real) and not isinstance(heading, bool):
        if not math.isfinite(heading):
            raise TrackerError(f"{where}: the heading must be a finite number of degrees, got {heading!r}.")
        return math.radians(float(heading))
    f = np.asarray(heading, dtype=np.float64)
    if f.shape != (3,) or not np.isfinite(f).all() or math.hypot(f[0], f[2]) < 1e-9:
        raise TrackerError(f"{where}: the heading must be 'auto', 'positions', 'head', degrees or a facing vector "
                           f"with a horizontal part, got {heading!r}.")
    return math.atan2(f[0], f[2])


def calibrate_trackers(recording: TrackerRecording, skeleton: Skeleton, pose="t", start_s: float = 0.0,
                       duration_s: float = 1.0, known: dict | None = None, heading="auto",
                       max_motion_m: float = DEFAULT_MAX_MOTION_M, max_motion_deg: float = DEFAULT_MAX_MOTION_DEG,
                       max_offset_m: float = MAX_OFFSET_M, floor_y: float = 0.0) -> TrackerCalibration:
    """Mountings and heading alignment from a held pose (see the module docstring)."""
    where = _where(recording)
    pose_name, local = calibration_pose(pose)
    known = dict(known or {})
    for n in known:
        if n not in recording.names:
            raise TrackerError(f"{where}: a known mounting is given for {n!r}, which the recording does not have "
                               f"({', '.join(recording.names)}).")
    start, count = _window(recording, start_s, duration_s)
    means, motion = _held_poses(recording, start, count, max_motion_m, max_motion_deg)
    J, G = forward_kinematics(local[None], skeleton.offsets[:1], skeleton)
    J, G = J[0], G[0]
    names = recording.names
    joint = {n: TRACKER_JOINTS[n] for n in names}

    def fit_position(A):
        return np.mean([A @ means[n][0] - J[joint[n]] for n in names], axis=0)

    if known:
        yaws, cs = [], []
        for n, m in known.items():
            p_bar, r_bar = means[n]
            yaws.append(_yaw_of(G[joint[n]] @ (r_bar @ np.asarray(m.rotation)).T))
        theta = math.atan2(np.mean(np.sin(yaws)), np.mean(np.cos(yaws)))
        A = _ry(theta)
        for n, m in known.items():
            p_bar, r_bar = means[n]
            cs.append(A @ (p_bar + r_bar @ np.asarray(m.offset, dtype=np.float64)) - J[joint[n]])
        c = np.mean(cs, axis=0)
        method = "known"
    else:
        b = np.array([J[joint[n]][[0, 2]] for n in names])
        a = np.array([means[n][0][[0, 2]] for n in names])
        spread = math.sqrt(float(np.sum((b - b.mean(axis=0)) ** 2)))
        mode = heading if isinstance(heading, str) else "given"
        if mode != "given":
            mode = mode.strip().lower()
            if mode not in ("auto", "positions", "head"):
                raise TrackerError(f"{where}: the heading must be 'auto', 'positions', 'head', degrees or a facing "
                                   f"vector, "
                                   f"got {heading!r}.")
            if mode == "auto":
                mode = "positions" if spread >= MIN_SPREAD_M else "head"
        if mode == "positions":
            if spread < MIN_SPREAD_M:
                raise TrackerError(f"{where}: the trackers {', '.join(names)} are too close together in the held "
                                   f"{pose_name}-pose ({spread:.2f} m) to show which way the wearer faced; take "
                                   "the heading from the headset, give it in degrees, or give known mountings.")
            a0, b0 = a - a.mean(axis=0), b - b.mean(axis=0)
            C = float(np.sum(b0[:, 0] * a0[:, 0] + b0[:, 1] * a0[:, 1]))
            S = float(np.sum(b0[:, 0] * a0[:, 1] - b0[:, 1] * a0[:, 0]))
            A = _ry(math.atan2(S, C))
        elif mode == "head":
            if "head" not in names:
                raise TrackerError(f"{where}: without a head tracker (trackers: {', '.join(names)}) the heading must "
                                   "be given in degrees, as a facing vector, or by known mountings.")
            A = _ry(_yaw_of(G[joint["head"]] @ means["head"][1].T))
        else:
            A = _ry(-_facing_angle(heading, where))
        c = fit_position(A)
        method = mode

    mountings = {}
    for n in names:
        if n in known:
            m = known[n]
            mountings[n] = TrackerMounting(np.array(m.offset, dtype=np.float64), np.array(m.rotation, dtype=np.float64))
            continue
        p_bar, r_bar = means[n]
        j = joint[n]
        offset = r_bar.T @ (A.T @ (J[j] + c) - p_bar)
        length = float(np.linalg.norm(offset))
        if length > max_offset_m:
            raise TrackerError(f"{where}: the {n} tracker is {length:.2f} m from its joint in the held "
                               f"{pose_name}-pose, "
                               f"more than {max_offset_m:g} m; are a left and a right tracker swapped, or was another "
                               "pose held?")
        mountings[n] = TrackerMounting(offset, r_bar.T @ A.T @ G[j])
    heading_deg = float(math.degrees(-_yaw_of(A))) % 360.0
    height = None
    if "head" in names:
        height = (float(means["head"][0][1]) - float(floor_y)) / EYE_HEIGHT_RATIO
    return TrackerCalibration(mountings=mountings, alignment=A, heading_deg=heading_deg, body_position=c,
                              pose=pose_name, method=method, frames=(start, start + count - 1), motion=motion,
                              height_m=height, metadata={"floor_y": float(floor_y), "skeleton_stature": float(
                                  skeleton.stature())})


def apply_mountings(recording: TrackerRecording, mountings: dict | None = None) -> dict:
    """name -> (joint positions (T, 3), bone rotations (T, 3, 3)) of every mounted tracker (all of them,
    identity mountings, when ``mountings`` is None), in the recording's frame. Missing samples: NaN."""
    if mountings is None:
        mountings = {n: TrackerMounting() for n in recording.names}
    out = {}
    for name, m in mountings.items():
        k = recording.index(name)
        R = quat_to_matrix(recording.orientations[:, k])
        ok = recording.valid[:, k]
        joint = recording.positions[:, k] + R @ np.asarray(m.offset, dtype=np.float64)
        bone = R @ np.asarray(m.rotation, dtype=np.float64)
        out[name] = (np.where(ok[:, None], joint, np.nan), np.where(ok[:, None, None], bone, np.nan))
    return out


def align_recording(recording: TrackerRecording, calibration: TrackerCalibration) -> TrackerRecording:
    """The recording turned about +Y by the calibration's alignment (the wearer faces +Z)."""
    from ..kinematics.rotations import matrix_to_quat, quat_multiply

    A = np.asarray(calibration.alignment, dtype=np.float64)
    qa = matrix_to_quat(A)
    positions = recording.positions @ A.T
    orientations = quat_multiply(np.broadcast_to(qa, recording.orientations.shape), recording.orientations)
    meta = dict(recording.metadata)
    meta["heading_deg"] = calibration.heading_deg
    return TrackerRecording(recording.names, positions, orientations, recording.fps, recording.valid.copy(),
                            recording.source, meta)


def apply_calibration(recording: TrackerRecording, calibration: TrackerCalibration) -> dict:
    """:func:`apply_mountings` of the aligned recording: joint targets with the wearer facing +Z."""
    return apply_mountings(align_recording(recording, calibration), calibration.mountings)
