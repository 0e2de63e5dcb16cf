"""Feet on the ground: find the floor, stop sinking, and pin feet that are in contact.

After IK from landmarks, noise makes planted feet slide a few centimetres and the whole body float
or sink. This pass works on the solved motion:

1. the sole points (heel, ball, toe tip; ``feet.foot_floor_points``) give each foot's contact with
   the ground (``contact.detect_foot_contact``: low and slow), and the ground height
   (``contact.estimate_ground_height``); the root is shifted so the ground is y = 0;
2. the whole body is lowered or raised a little (smoothly) so the feet in contact reach the ground
   on average: far less visible than bending a straight leg to reach it;
3. for each run of frames with the ball of the foot down, the ball is pinned where it stood on
   average during the run, not below the ground (the foot may still roll about it), with a few
   frames of easing at both ends so nothing pops;
4. outside contact, a foot whose sole would dip below the ground is lifted onto it;
5. the leg is re-solved to the pinned ankle with an analytic two-bone IK (law of cosines, the knee
   kept on its side of the hip-ankle line, or bent forwards when straight), and the ankle keeps its
   world orientation.
"""

from __future__ import annotations

import numpy as np

from .contact import contact_runs, detect_foot_contact, estimate_ground_height
from .filters import fill_gaps, filtfilt_padlen, zero_phase_lowpass
from .feet import foot_floor_points
from .rotations import matrix_to_quat
from .skeleton import JOINT_INDEX, PARENTS, Skeleton, forward_kinematics

J = JOINT_INDEX
EASE_SECONDS = 0.1
BODY_SHIFT_CUTOFF_HZ = 1.0
POLE_PULL = 0.02   # share of the thigh: a knee nearer the hip-ankle line than this bends towards the pole
_EPS = 1e-9


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def _rotation_between(a, b):
    """World rotations (T,3,3) taking unit vectors a (T,3) onto b (T,3), shortest arc."""
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.sum(a * b, axis=-1)
    # Parallel vectors: no turn (any axis; the angle is zero).
    axis = np.where((sin < 1e-12)[:, None], [[1.0, 0.0, 0.0]], axis / np.maximum(sin, 1e-12)[:, None])
    x, y, z = axis.T
    c1 = 1.0 - cos
    return np.stack((
        cos + x * x * c1, x * y * c1 - z * sin, x * z * c1 + y * sin,
        y * x * c1 + z * sin, cos + y * y * c1, y * z * c1 - x * sin,
        z * x * c1 - y * sin, z * y * c1 + x * sin, cos + z * z * c1,
    ), axis=-1).reshape(-1, 3, 3)


def two_bone_ik(hip, knee, ankle, target, thigh_length, shin_length, pole=None):
    """New knee positions (T,3) putting the ankle on ``target`` (as near as the leg reaches).

    The knee stays on its side of the hip-target line while the leg is clearly bent; a nearly
    straight leg has no side to keep, so it bends towards ``pole`` (T,3; the direction the knee
    flexes towards, e.g. the thigh's forward axis), or forwards (+Z) when none is given.
    """
    to_target = target - hip
    reach = np.linalg.norm(to_target, axis=-1)
    reach = np.clip(reach, abs(thigh_length - shin_length) + 1e-6, thigh_length + shin_length - 1e-6)
    u = _unit(to_target)
    cos_hip = (thigh_length ** 2 + reach ** 2 - shin_length ** 2) / (2.0 * thigh_length * reach)
    sin_hip = np.sqrt(np.clip(1.0 - cos_hip ** 2, 0.0, 1.0))
    side = (knee - hip) - np.sum((knee - hip) * u, axis=-1, keepdims=True) * u
    if pole is None:
        pole = np.broadcast_to([0.0, 0.0, 1.0], u.shape)
    pole_side = _unit(pole - np.sum(pole * u, axis=-1, keepdims=True) * u)
    # A faint pull towards the pole: it decides only when the knee is (nearly) on the line, and the
    # knee's side changes continuously with the pose.
    side = _unit(side + POLE_PULL * thigh_length * pole_side)
    return hip + thigh_length * (cos_hip[:, None] * u + sin_hip[:, None] * side)


def _ease(contact: np.ndarray, frames: int) -> np.ndarray:
    """Weight 1 inside contact runs, ramping linearly to 0 over ``frames`` outside them."""
    weight = contact.astype(np.float64)
    if frames <= 0 or not contact.any():
        return weight
    idx = np.flatnonzero(contact)
    t = np.arange(len(contact))
    # Distance in frames to the nearest contact frame.
    pos = np.searchsorted(idx, t)
    left = np.abs(t - idx[np.clip(pos - 1, 0, len(idx) - 1)])
    right = np.abs(idx[np.clip(pos, 0, len(idx) - 1)] - t)
    distance = np.minimum(left, right)
    return np.clip(1.0 - distance / (frames + 1.0), 0.0, 1.0)


def _body_height_correction(lowest: np.ndarray, contact: np.ndarray, fps: float) -> np.ndarray:
    """(T,) vertical shift of the whole body that puts feet in contact on the ground on average.

    Moving the body a few centimetres is invisible, whereas raising or lowering a nearly straight
    leg's ankle by the same amount swings its knee by several times that. Per contact run the
    wanted shift is minus the run's median sole height; feet in contact together are averaged,
    frames without contact are interpolated, and the result is low-passed (zero phase) so the
    body never bobs.
    """
    wanted = np.full(contact.shape, np.nan)
    for foot, start, stop in contact_runs(contact):
        wanted[start:stop, foot] = -np.median(lowest[start:stop, foot])
    count = contact.sum(axis=1)
    known = count > 0
    shift = np.where(contact, wanted, 0.0).sum(axis=1) / np.maximum(count, 1)
    if not known.any():
        return np.zeros(len(lowest))
    shift, _ = fill_gaps(shift[:, None], known[:, None])
    shift = shift[:, 0]
    if len(shift) > 3 * filtfilt_padlen(2):
        shift = zero_phase_lowpass(shift, fps, BODY_SHIFT_CUTOFF_HZ)
    return shift


def ground_and_lock(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton, fps: float,
                    lock: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """(rotations, translation, report) with the ground at y = 0 and contact feet pinned."""
    rotations = np.array(rotations, dtype=np.float64, copy=True)
    translation = np.array(translation, dtype=np.float64, copy=True)
    positions, globals_ = forward_kinematics(rotations, translation, skeleton)
    soles = foot_floor_points(positions, globals_, skeleton)          # (T, 2, 3, 3)
    ground = estimate_ground_height(soles.reshape(len(soles), -1, 3), fps=fps)
    translation[:, 1] -= ground
    positions[..., 1] -= ground
    soles[..., 1] -= ground
    lowest = soles[..., 1].min(axis=2)                                   # (T, 2)
    # Each sole point (heel, ball, toe tip) is tracked on its own, so the heel-to-toe roll is not
    # mistaken for sliding. A foot touches when any point does; it is *planted* while the ball of
    # the foot is down, and then the ball is what stays put (pinning the ankle would drag the leg
    # back while the heel rises and the foot rolls over its toes).
    points = detect_foot_contact(soles.reshape(len(soles), 6, 3), fps, ground_height=0.0).reshape(len(soles), 2, 3)
    touching = points.any(axis=2)
    contact = points[:, :, 1]
    report = {"ground_shift_m": float(-ground), "contact_fraction": touching.mean(axis=0).tolist(),
              "planted_fraction": contact.mean(axis=0).tolist(), "pinned_runs": 0}
    if not lock:
        return rotations, translation, report

    body_shift = _body_height_correction(lowest, contact, fps)
    translation[:, 1] += body_shift
    positions[..., 1] += body_shift[:, None]
    soles[..., 1] += body_shift[:, None, None]
    report["body_height_correction_m"] = [float(body_shift.min()), float(body_shift.max())]

    ease = max(int(round(EASE_SECONDS * fps)), 1)
    lengths = skeleton.bone_lengths()
    for f, side in enumerate(("left", "right")):
        hip, knee, ankle = J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]
        target = positions[:, ankle].copy()
        # The sole points ride rigidly on the ankle's frame (the foot joint is a leaf at rest).
        sole_offsets = np.einsum("ji,kj->ki", globals_[0, ankle], soles[0, f] - positions[0, ankle])
        ankle_global = globals_[:, ankle]
        ball = np.einsum("tij,j->ti", ankle_global, sole_offsets[1])      # ankle -> ball sole point
        runs = [(start, stop) for foot, start, stop in contact_runs(contact) if foot == f]
        for start, stop in runs:
            # The ball of a planted foot stays where it stood on average (never below the ground;
            # not pulled down either, as the heel may be what touches); the foot may still turn
            # about it (the heel rises as it rolls), so the ankle follows its turn.
            pinned = (positions[start:stop, ankle] + ball[start:stop]).mean(axis=0)
            pinned[1] = max(pinned[1], 0.0)
            lo, hi = max(start - ease, 0), min(stop + ease, len(target))
            run_mask = np.zeros(len(target), dtype=bool)
            run_mask[start:stop] = True
            w = _ease(run_mask, ease)[lo:hi, None]
            target[lo:hi] = (1.0 - w) * target[lo:hi] + w * (pinned - ball[lo:hi])
        report["pinned_runs"] += len(runs)
        # No sinking anywhere: lift the ankle by any depth its sole would reach below the ground.
        sole_after = target[:, 1] + np.einsum("tij,kj->tki", ankle_global, sole_offsets)[..., 1].min(axis=1)
        target[:, 1] += np.maximum(-sole_after, 0.0)
        new_knee = two_bone_ik(positions[:, hip], positions[:, knee], positions[:, ankle], target,
                               lengths[knee], lengths[ankle], pole=globals_[:, hip, :, 2])
        old_thigh = _unit(positions[:, knee] - positions[:, hip])
        new_thigh = _unit(new_knee - positions[:, hip])
        old_shin = _unit(positions[:, ankle] - positions[:, knee])
        new_shin = _unit(target - new_knee)
        thigh_turn = _rotation_between(old_thigh, new_thigh)
        hip_global = thigh_turn @ globals_[:, hip]
        # The shin turns with the thigh first, then onto its new direction.
        shin_after_thigh = np.einsum("tij,tj->ti", thigh_turn, old_shin)
        knee_global = _rotation_between(shin_after_thigh, new_shin) @ thigh_turn @ globals_[:, knee]
        pelvis_global = globals_[:, PARENTS[hip]]
        local = {
            hip: np.einsum("tji,tjk->tik", pelvis_global, hip_global),
            knee: np.einsum("tji,tjk->tik", hip_global, knee_global),
            ankle: np.einsum("tji,tjk->tik", knee_global, ankle_global),
        }
        for joint, matrix in local.items():
            rotations[:, joint] = matrix_to_quat(matrix)
    return rotations, translation, dict(report, contact=touching)

