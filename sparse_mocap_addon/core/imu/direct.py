"""Direct mode for dense lower-body IMU recordings (numpy only).

When every leg segment carries a sensor (pelvis, both upper legs, both lower legs; feet optional:
the x-io, Xsens MTw and Movella DOT recordings in the shared data are such sets), no network is
needed: a *calibrated* recording (:func:`~.imu_calibration.apply_calibration`, ``world == "core"``)
already holds each bone's global rotation ``G_j``, and the local rotations follow from the tree,
``L_j = G_parent(j)^T G_j``:

- pelvis (joint 0) = the pelvis sensor; hips (1, 2) = ``G_pelvis^T G_upper_leg``; knees (4, 5) =
  ``G_upper_leg^T G_lower_leg``; ankles (7, 8) = ``G_lower_leg^T G_foot`` when foot sensors exist,
  else identity (the foot rides the shank);
- everything else stays at rest relative to its parent (the upper body follows the pelvis).

Missing samples are bridged per sensor by slerp between its neighbouring valid samples (held at
the ends); ``report["dropped_samples"]`` counts them.

Root translation comes from :mod:`.imu_root`: :func:`~.imu_root.kinematic_contact` (the lower and
slower foot is planted, from the pose alone) and :func:`~.imu_root.root_translation` (the planted
foot's contact velocity fused with the pelvis sensor's free acceleration, the planted foot pulled
onto the floor y = 0). Finally no point of either sole (heel, ball, toe tip of
:func:`~.feet.foot_floor_points`) may be below the floor: the root is lifted where one would be.
"""

from __future__ import annotations

import numpy as np

from ..feet.soles import foot_floor_points
from .recording import ImuError, ImuRecording
from .root import RootOptions, kinematic_contact, lift_soles_above_floor, root_translation
from ..kinematics.motion import Motion
from ..kinematics.rotations import matrix_to_quat, quat_continuous, quat_slerp, quat_to_matrix
from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, Skeleton, forward_kinematics

__all__ = ["DENSE_LOWER_BODY", "FOOT_SENSORS", "is_dense_lower_body", "direct_motion", "knee_flexion_deg"]

DENSE_LOWER_BODY = ("pelvis", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg")
FOOT_SENSORS = ("left_foot", "right_foot")

# (sensor segment, joint it drives, the sensor segment of that joint's parent bone, or None for the root)
_CHAIN = (
    ("pelvis", JOINT_INDEX["pelvis"], None),
    ("left_upper_leg", JOINT_INDEX["left_hip"], "pelvis"),
    ("right_upper_leg", JOINT_INDEX["right_hip"], "pelvis"),
    ("left_lower_leg", JOINT_INDEX["left_knee"], "left_upper_leg"),
    ("right_lower_leg", JOINT_INDEX["right_knee"], "right_upper_leg"),
    ("left_foot", JOINT_INDEX["left_ankle"], "left_lower_leg"),
    ("right_foot", JOINT_INDEX["right_ankle"], "right_lower_leg"),
)


def is_dense_lower_body(sensors) -> bool:
    """True when ``sensors`` include the pelvis and both upper and lower legs (feet optional)."""
    names = set(str(s) for s in sensors)
    return all(s in names for s in DENSE_LOWER_BODY)


def _fill_gaps(orientation: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, 3, 3) with invalid frames slerped between the neighbouring valid ones (held at the ends)."""
    if valid.all():
        return orientation
    frames = np.arange(len(valid))
    good = np.flatnonzero(valid)
    q = quat_continuous(matrix_to_quat(orientation[good]), axis=0)
    after = np.clip(np.searchsorted(good, frames), 0, len(good) - 1)
    before = np.clip(after - 1, 0, len(good) - 1)
    before = np.where(good[after] == frames, after, before)
    span = good[after] - good[before]
    u = np.where(span > 0, (frames - good[before]) / np.maximum(span, 1), 0.0)
    u = np.where(frames < good[0], 0.0, np.where(frames > good[-1], 1.0, u))
    return quat_to_matrix(quat_slerp(q[before], q[after], u))


def knee_flexion_deg(local_knee: np.ndarray) -> np.ndarray:
    """Knee flexion (degrees, positive = bent, the shank swinging back) of (T, 3, 3) local knee
    rotations: the shank's direction in the thigh frame, in the thigh's sagittal (Y-Z) plane."""
    return np.degrees(np.arctan2(local_knee[..., 2, 1], local_knee[..., 1, 1]))


def direct_motion(recording: ImuRecording, skeleton: Skeleton, *, use_acceleration: bool = True,
                  options: RootOptions | None = None) -> tuple[Motion, dict]:
    """The Motion (at the recording's rate, on ``skeleton``) of a calibrated dense lower-body
    recording, and a report: sensors used, dropped samples bridged, knee flexion percentiles per
    side, foot contact fractions, the lowest sole point and the root's travel.

    ``use_acceleration``: fuse the pelvis sensor's free acceleration into the root translation
    (else contacts alone). ``options``: :class:`~.imu_root.RootOptions` (default: for ``skeleton``).
    """
    where = recording.source or "the recording"
    if recording.world != "core":
        raise ImuError(f"{where} is in the device world {recording.world!r}; direct mode needs bone orientations in "
                       "the core frame: calibrate it first (imu_calibration.calibrate + apply_calibration).")
    missing = [s for s in DENSE_LOWER_BODY if s not in recording.sensors]
    if missing:
        raise ImuError(f"{where}: direct mode needs a sensor on the pelvis and on every upper and lower leg; "
                       f"missing {', '.join(missing)} (the recording has {', '.join(recording.sensors)}).")
    T = recording.num_frames
    if T < 2:
        raise ImuError(f"{where} has {T} frame(s); direct mode needs at least 2.")
    fps = float(recording.fps)
    used = [s for s, _, _ in _CHAIN if s in recording.sensors]
    glob, dropped = {}, {}
    for s in used:
        k = recording.index(s)
        ok = recording.valid[:, k]
        if not ok.any():
            raise ImuError(f"{where}: sensor {s!r} has no valid sample; direct mode needs every leg sensor.")
        dropped[s] = int((~ok).sum())
        glob[s] = _fill_gaps(recording.orientation[:, k], ok)

    local = np.broadcast_to(np.eye(3), (T, NUM_JOINTS, 3, 3)).copy()
    for s, joint, parent in _CHAIN:
        if s not in glob:
            continue
        local[:, joint] = glob[s] if parent is None else np.swapaxes(glob[parent], -1, -2) @ glob[s]
    rotations = quat_continuous(matrix_to_quat(local), axis=0)

    # Root translation: contacts from the pose (pelvis at the origin, world oriented) and imu_root.
    relative, global_rot = forward_kinematics(rotations, np.zeros((T, 3)), skeleton)
    options = options or RootOptions.for_skeleton(skeleton)
    contact = kinematic_contact(relative, fps, options)
    pelvis_acc = recording.acceleration[:, recording.index("pelvis")] if use_acceleration else None
    translation = root_translation(relative, contact, fps, pelvis_acc, options)
    translation, lifted = lift_soles_above_floor(translation, relative, global_rot, skeleton)
    soles = foot_floor_points(relative, global_rot, skeleton)                      # (T, 2, 3, 3)

    flexion = {side: knee_flexion_deg(local[:, JOINT_INDEX[f"{side}_knee"]]) for side in ("left", "right")}
    travel = translation[-1] - translation[0]
    lowest = float((soles[..., 1] + translation[:, None, None, 1]).min())
    report = {
        "sensors_used": used,
        "sensors_unused": [s for s in recording.sensors if s not in used],
        "feet_from_sensors": all(s in glob for s in FOOT_SENSORS),
        "dropped_samples": int(sum(dropped.values())),
        "dropped_per_sensor": dropped,
        "knee_flexion_deg": {side: {"p5": float(np.percentile(f, 5)), "median": float(np.median(f)),
                                    "p95": float(np.percentile(f, 95)), "min": float(f.min()), "max": float(f.max())}
                             for side, f in flexion.items()},
        "contact_fraction": [float(v) for v in (contact > 0.5).mean(axis=0)],
        "translation": True,
        "root_from_acceleration": bool(use_acceleration),
        "frames_lifted_to_floor": int(lifted.sum()),
        "lowest_sole_m": lowest,
        "root_height_m": {"min": float(translation[:, 1].min()), "max": float(translation[:, 1].max())},
        "travel_m": float(np.hypot(travel[0], travel[2])),
        "travel_heading_deg": float(np.degrees(np.arctan2(travel[0], travel[2]))),
    }
    metadata = {"source": recording.source, "imu": {"mode": "direct", "sensors": used,
                                                    "feet_from_sensors": report["feet_from_sensors"]}}
    if "calibration" in recording.metadata:
        metadata["imu"]["calibration_pose"] = recording.metadata["calibration"].get("pose")
    return Motion(fps, rotations, translation, skeleton, metadata), report
