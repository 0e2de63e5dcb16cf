"""A procedurally generated walk, made by this project (no external motion file, nothing licensed).

:func:`demo_motion` gives a looping straight walk along +Z for any Skeleton: hip/knee/ankle/toe
flexion from smooth periodic curves shaped like textbook sagittal-plane gait kinematics, pelvis
rotation, obliquity and sway, counter-rotating spine, counter-swinging arms with elbow bend. The
pelvis height and the forward travel are not scripted: both come from forward kinematics, so the
lowest foot point touches the floor (y = 0) in every frame and the stance foot does not slide.
Everything is vectorised over frames.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .measurements import default_measurements, measure_skeleton, skeleton_from_measurements
from ..kinematics.motion import Motion
from ..kinematics.rotations import axis_angle_to_quat, quat_identity, quat_multiply
from ..feet.soles import foot_floor_points
from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, Skeleton, forward_kinematics

DEMO_SOURCE = "sparse_mocap demo walk"

# Joint angles in degrees sampled at 0 %, 10 %, ..., 90 % of the gait cycle of the *left* leg
# (0 % = left heel strike; the right leg runs half a cycle later), interpolated trigonometrically
# so the curves are smooth and periodic. Shapes follow the usual sagittal-plane gait curves
# (e.g. Winter's normal-gait averages), rounded and hand-tuned so the swing foot clears the floor
# and the landing foot touches down near 0 % and 50 %. "Hip flexion" here is the thigh angle from
# the vertical: the pelvic tilt is undone at the hips.
_HIP_FLEXION = (22, 18, 8, -3, -12, -18, -13, 6, 20, 24)
_KNEE_FLEXION = (5, 18, 14, 8, 6, 18, 42, 63, 55, 25)
_ANKLE_DORSIFLEXION = (0, -5, 3, 7, 10, 2, -15, 0, 5, 3)
_TOE_EXTENSION = (0, 0, 0, 0, 5, 18, 22, 5, 0, 0)

_CYCLE_SECONDS = 1.1          # one full gait cycle (two steps) for a 0.86 m leg
_REFERENCE_LEG = 0.86         # cycle time scales with sqrt(leg length) (equal Froude number)


def _periodic(samples, phase: np.ndarray) -> np.ndarray:
    """Trigonometric interpolation through equally spaced samples of one period, in radians."""
    samples = np.radians(np.asarray(samples, dtype=np.float64))
    n = len(samples)
    coeffs = np.fft.rfft(samples) / n
    k = np.arange(len(coeffs))
    weight = np.where((k == 0) | ((n % 2 == 0) & (k == n // 2)), 1.0, 2.0)
    angles = 2.0 * np.pi * np.multiply.outer(phase, k)
    return np.cos(angles) @ (weight * coeffs.real) - np.sin(angles) @ (weight * coeffs.imag)


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Quaternions (T, 4) for rotations by ``angle`` (T,) about a core axis (0 = X, 1 = Y, 2 = Z)."""
    aa = np.zeros(np.shape(angle) + (3,))
    aa[..., axis] = angle
    return axis_angle_to_quat(aa)


def demo_motion(skeleton: Skeleton | None = None, seconds: float = 4.0, fps: float = 60.0) -> Motion:
    """A natural-looking walk forward along +Z, ``seconds`` long at ``fps``, on ``skeleton``.

    Default skeleton: :func:`~.body.skeleton_from_measurements` of
    :func:`~.body.default_measurements` (neutral, 1.75 m).
    """
    if skeleton is None:
        skeleton = skeleton_from_measurements(default_measurements())
    for name, value in (("seconds", seconds), ("fps", fps)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    seconds, fps = float(seconds), float(fps)

    frames = max(1, int(round(seconds * fps)))
    measured = measure_skeleton(skeleton)
    leg = measured["leg_length"]
    cycle = _CYCLE_SECONDS * math.sqrt(max(leg, 0.1) / _REFERENCE_LEG)
    phase = (np.arange(frames) / fps / cycle) % 1.0

    J = JOINT_INDEX
    rot = quat_identity((frames, NUM_JOINTS))
    two_pi = 2.0 * np.pi

    # Pelvis: rotation towards the forward leg, drop on the swing side, a little forward tilt.
    pelvis_yaw = -np.radians(4.0) * np.cos(two_pi * phase)
    obliquity = np.radians(3.0) * np.cos(two_pi * (phase - 0.15))
    rot[:, J["pelvis"]] = quat_multiply(_rot(1, pelvis_yaw),
                                        quat_multiply(_rot(2, obliquity), _rot(0, np.full(frames, np.radians(4.0)))))

    # Legs: flexion about X (hip/ankle/toe flexion is a negative X rotation in the core frame, the
    # knee's a positive one); the hips undo the pelvis obliquity so the legs stay vertical.
    for side, shift in (("left", 0.0), ("right", 0.5)):
        p = (phase - shift) % 1.0
        hip = quat_multiply(_rot(2, -obliquity), _rot(0, -_periodic(_HIP_FLEXION, p)))
        rot[:, J[f"{side}_hip"]] = quat_multiply(_rot(0, np.full(frames, -np.radians(4.0))), hip)
        rot[:, J[f"{side}_knee"]] = _rot(0, _periodic(_KNEE_FLEXION, p))
        rot[:, J[f"{side}_ankle"]] = _rot(0, -_periodic(_ANKLE_DORSIFLEXION, p))
        rot[:, J[f"{side}_foot"]] = _rot(0, -_periodic(_TOE_EXTENSION, p))

    # Spine: counter-rotate the pelvis (the thorax turns the other way), keep the trunk upright
    # apart from a 3 degree forward lean (4 degrees of pelvic tilt minus 1 in the spine).
    for name in ("spine1", "spine2", "spine3"):
        yaw = -1.8 / 3.0 * pelvis_yaw
        bend = -obliquity / 3.0
        pitch = np.radians(-1.0 / 3.0) + np.radians(0.8 / 3.0) * np.cos(2.0 * two_pi * phase)
        rot[:, J[name]] = quat_multiply(_rot(1, yaw), quat_multiply(_rot(2, bend), _rot(0, pitch)))
    # Head level and looking ahead: undo half the thorax yaw each and the forward lean.
    thorax_yaw = -0.8 * pelvis_yaw
    rot[:, J["neck"]] = quat_multiply(_rot(1, -0.5 * thorax_yaw), _rot(0, np.full(frames, -np.radians(2.0))))
    rot[:, J["head"]] = quat_multiply(_rot(1, -0.5 * thorax_yaw), _rot(0, np.full(frames, -np.radians(1.0))))

    # Arms: down by the sides (collar + shoulder about Z), swinging opposite to the same-side leg,
    # elbows more bent on the forward swing.
    for side, sign, shift in (("left", 1.0, 0.5), ("right", -1.0, 0.0)):
        p = (phase - shift) % 1.0
        swing = np.radians(3.0) + np.radians(15.0) * np.cos(two_pi * p)   # positive = forward
        rot[:, J[f"{side}_collar"]] = _rot(2, np.full(frames, -sign * np.radians(5.0)))
        rot[:, J[f"{side}_shoulder"]] = quat_multiply(_rot(0, -swing), _rot(2, np.full(frames, -sign * np.radians(75.0))))
        elbow = np.radians(18.0) + np.radians(8.0) * np.cos(two_pi * p)
        rot[:, J[f"{side}_elbow"]] = _rot(1, -sign * elbow)
        rot[:, J[f"{side}_wrist"]] = _rot(1, -sign * np.radians(8.0) * np.ones(frames))

    # Root: lateral sway over the stance leg; height and forward travel from FK.
    translation = np.zeros((frames, 3))
    translation[:, 0] = 0.02 * (leg / _REFERENCE_LEG) * np.cos(two_pi * (phase - 0.3))
    positions, global_rot = forward_kinematics(rot, translation, skeleton)
    points = foot_floor_points(positions, global_rot, skeleton).reshape(frames, 6, 3)
    lowest = np.argmin(points[..., 1], axis=1)                       # the point carrying the body
    translation[:, 1] = -points[np.arange(frames), lowest, 1]
    if frames > 1:
        # The contact point stays put on the floor: the body moves by minus its relative motion.
        idx = np.arange(frames - 1)
        step = points[idx + 1, lowest[:-1], 2] - points[idx, lowest[:-1], 2]
        translation[1:, 2] = np.cumsum(-step)

    duration = frames / fps
    speed = float(translation[-1, 2] - translation[0, 2]) / max(duration - 1.0 / fps, 1.0 / fps)
    metadata = {
        "source": DEMO_SOURCE,
        "generator": "sparse_mocap_addon.core.body.demo.demo_motion",
        "description": "procedural straight walk along +Z, made by the sparse_mocap project",
        "cycle_seconds": cycle,
        "mean_speed_m_per_s": speed,
        "subject_measurements": measured,
    }
    return Motion(fps=float(fps), rotations=rot, translation=translation, skeleton=skeleton, metadata=metadata)
