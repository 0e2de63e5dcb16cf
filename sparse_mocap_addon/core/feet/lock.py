"""Leg and body corrections for the feet stage (``core/feet/stage``): analytic two-bone leg IK that
puts an ankle on a target, the smooth whole-body height correction that brings contact feet to the
floor on average, and the easing weights of a contact mask.

- :func:`two_bone_ik`: the knee from the law of cosines, kept on its side of the hip-ankle line
  (or bent forwards when the leg is straight); also the tracker solver's limb IK;
- :func:`solve_leg` (:func:`solve_limb` for any two-bone limb, arms too): the leg's local
  rotations for a new ankle position, the ankle keeping its world orientation;
- :func:`body_height_correction`: moving the body a few centimetres is far less visible than
  bending a straight leg to reach the floor;
- :func:`ease_weights`: 1 in contact, ramping to 0 outside, so pins fade in and out.
"""

from __future__ import annotations

import numpy as np

from .contact import contact_runs
from ..kinematics.filters import fill_gaps, filtfilt_padlen, zero_phase_lowpass
from ..kinematics.rotations import matrix_to_quat
from ..kinematics.skeleton import JOINT_INDEX, PARENTS, Skeleton

J = JOINT_INDEX
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


def ease_weights(contact: np.ndarray, frames: int) -> np.ndarray:
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


def body_height_correction(lowest: np.ndarray, contact: np.ndarray, fps: float) -> np.ndarray:
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


def solve_leg(rotations: np.ndarray, positions: np.ndarray, globals_: np.ndarray, skeleton: Skeleton, side: str,
              target: np.ndarray, frames: np.ndarray | None = None, ankle_rotation: np.ndarray | None = None) -> None:
    """Re-solve one leg ("left"/"right") so its ankle reaches ``target`` (T, 3), in place on the local
    ``rotations`` (T, 24, 4), on the ``frames`` (T,) bool given (default all): :func:`solve_limb` with
    the knee kept on its side or bent towards the thigh's forward axis; the ankle keeps its world
    orientation, so the foot still points where it did, or takes ``ankle_rotation`` (T, 3, 3)."""
    joints = (J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"])
    solve_limb(rotations, positions, globals_, skeleton, joints, target, frames, ankle_rotation,
               pole=globals_[:, joints[0], :, 2])


def solve_limb(rotations: np.ndarray, positions: np.ndarray, globals_: np.ndarray, skeleton: Skeleton,
               joints: tuple, target: np.ndarray, frames: np.ndarray | None = None,
               end_rotation: np.ndarray | None = None, pole: np.ndarray | None = None) -> None:
    """Re-solve a two-bone limb ``joints`` = (root, middle, end) joint indices (hip, knee, ankle or
    shoulder, elbow, wrist) so its end reaches ``target`` (T, 3), in place on the local ``rotations``
    (T, 24, 4), on the ``frames`` (T,) bool given (default all). ``positions`` and ``globals_`` are
    the pose's FK (the limb's root where it stands, the middle joint on its side or bent towards
    ``pole`` (T, 3), :func:`two_bone_ik`); the end keeps its world orientation, or takes
    ``end_rotation`` (T, 3, 3) when given."""
    root, middle, end = joints
    lengths = skeleton.bone_lengths()
    if frames is not None:
        # Only the frames that change are worked out (each frame's limb is its own).
        frames = np.flatnonzero(frames)
        positions, globals_, target = positions[frames], globals_[frames], target[frames]
        end_rotation = None if end_rotation is None else end_rotation[frames]
        pole = None if pole is None else pole[frames]
    new_middle = two_bone_ik(positions[:, root], positions[:, middle], positions[:, end], target,
                             lengths[middle], lengths[end], pole=pole)
    old_upper = _unit(positions[:, middle] - positions[:, root])
    new_upper = _unit(new_middle - positions[:, root])
    old_lower = _unit(positions[:, end] - positions[:, middle])
    new_lower = _unit(target - new_middle)
    upper_turn = _rotation_between(old_upper, new_upper)
    root_global = upper_turn @ globals_[:, root]
    # The lower bone turns with the upper one first, then onto its new direction.
    lower_after_upper = np.einsum("tij,tj->ti", upper_turn, old_lower)
    middle_global = _rotation_between(lower_after_upper, new_lower) @ upper_turn @ globals_[:, middle]
    parent_global = globals_[:, PARENTS[root]]
    end_global = globals_[:, end] if end_rotation is None else end_rotation
    local = {
        root: np.einsum("tji,tjk->tik", parent_global, root_global),
        middle: np.einsum("tji,tjk->tik", root_global, middle_global),
        end: np.einsum("tji,tjk->tik", middle_global, end_global),
    }
    for joint, matrix in local.items():
        if frames is None:
            rotations[:, joint] = matrix_to_quat(matrix)
        else:
            rotations[frames, joint] = matrix_to_quat(matrix)
