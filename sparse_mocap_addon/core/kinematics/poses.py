"""Calibration poses and rotation averaging, shared by the IMU and tracker calibrations and the rig anatomy.

Errors are :class:`PoseError` (a ``ValueError``); each calibration re-raises it as its own error type,
so a user of the IMU or tracker calibration still catches that calibration's error.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .rotations import axis_angle_to_matrix, matrix_to_axis_angle, quat_to_matrix
from .skeleton import JOINT_INDEX, NUM_JOINTS

A_POSE_DEG = 45.0   # arms this far below horizontal in the A-pose

_POSE_WORDS = {"t": "'t' (T-pose)", "a": "'a' (A-pose)", "n": "'n' (arms down)"}
_ARMS_DOWN_DEG = {"t": 0.0, "a": A_POSE_DEG, "n": 90.0}


class PoseError(ValueError):
    """A calibration pose or a set of rotations that cannot be used; the message says why."""


def pose_rotations(pose, names=("t", "n")) -> tuple[str, np.ndarray]:
    """(name, (24, 3, 3) local rotations) of a calibration pose: one of ``names`` ("t", "a", "n")
    or given rotations ((24, 4) quaternions or (24, 3, 3) matrices: name "custom")."""
    if isinstance(pose, str):
        key = pose.strip().lower().replace("-", "").replace("_", "").replace(" ", "").removesuffix("pose")
        if key in names:
            local = np.broadcast_to(np.eye(3), (NUM_JOINTS, 3, 3)).copy()
            if _ARMS_DOWN_DEG[key]:
                angle = math.radians(_ARMS_DOWN_DEG[key])
                local[JOINT_INDEX["left_shoulder"]] = axis_angle_to_matrix(np.array([0.0, 0.0, -angle]))
                local[JOINT_INDEX["right_shoulder"]] = axis_angle_to_matrix(np.array([0.0, 0.0, angle]))
            return key, local
        expected = ", ".join(_POSE_WORDS[n] for n in names)
        raise PoseError(f"unknown calibration pose {pose!r}; expected {expected} or 24 local rotations.")
    arr = np.asarray(pose, dtype=np.float64)
    if arr.shape == (NUM_JOINTS, 4):
        norm = np.linalg.norm(arr, axis=-1)
        if not np.isfinite(arr).all() or np.any(np.abs(norm - 1.0) > 1e-3):
            raise PoseError("the calibration pose's quaternions must be finite unit (w, x, y, z) quaternions.")
        return "custom", quat_to_matrix(arr)
    if arr.shape == (NUM_JOINTS, 3, 3):
        check_rotation_stack(arr, "the calibration pose's rotation matrices")
        return "custom", arr.copy()
    raise PoseError(f"a calibration pose given as rotations must be (24, 4) quaternions or (24, 3, 3) "
                    f"matrices, got shape {arr.shape}.")


def calibration_window(fps: float, num_frames: int, start_s, duration_s) -> tuple[int, int]:
    """(first frame, frame count) of the held pose ``[start_s, start_s + duration_s)`` seconds from a
    recording's first frame; a PoseError (without the file name: the caller puts it in front) for a
    window that is not numbers, starts before 0, is empty or runs past the end."""
    for name, value in (("start", start_s), ("length", duration_s)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise PoseError(f"the calibration window's {name} must be a number of seconds, got {value!r}.")
    if start_s < 0 or duration_s <= 0:
        raise PoseError(f"the calibration window needs a start >= 0 s and a length > 0 s, got {start_s} s and "
                        f"{duration_s} s.")
    start, count = int(round(start_s * fps)), max(1, int(round(duration_s * fps)))
    if start + count > num_frames:
        raise PoseError(f"the calibration window {start_s:.2f}-{start_s + duration_s:.2f} s (frames {start}-"
                        f"{start + count - 1}) runs past the end of the recording ({num_frames} frames, "
                        f"{num_frames / fps:.2f} s).")
    return start, count


def check_rotation_stack(m: np.ndarray, what: str, tolerance: float = 1e-4) -> None:
    """A PoseError naming ``what`` unless every (..., 3, 3) matrix is a finite proper rotation."""
    if not np.isfinite(m).all():
        raise PoseError(f"{what} contain NaN or infinite values.")
    err = np.abs(np.swapaxes(m, -1, -2) @ m - np.eye(3)).max() if m.size else 0.0
    if err > tolerance or (m.size and np.linalg.det(m).min() < 0):
        raise PoseError(f"{what} are not proper rotation matrices (orthonormal, determinant +1).")


# --- rotation averaging -----------------------------------------------------------------------------

def project_to_rotation(m: np.ndarray) -> np.ndarray:
    """The nearest rotation (Frobenius norm) of each (..., 3, 3) matrix, by SVD with the sign fixed."""
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u = u.copy()
    u[..., :, 2] *= d[..., None]
    return u @ vt


def mean_rotation(rotations: np.ndarray, valid: np.ndarray | None = None, iterations: int = 3) -> np.ndarray:
    """Mean over axis 0 of (F, ..., 3, 3) rotations (rows where ``valid`` (F, ...) is False ignored).

    The chordal L2 mean (mean matrix projected onto SO(3)) refined by ``iterations`` Karcher
    steps ``R <- R exp(mean_t log(R^T R_t))``, which converge to the geodesic (Riemannian) mean.
    """
    r = np.asarray(rotations, dtype=np.float64)
    ok = np.isfinite(r).all(axis=(-2, -1)) if valid is None else (np.asarray(valid, bool)
                                                                  & np.isfinite(r).all(axis=(-2, -1)))
    count = ok.sum(axis=0)
    if np.any(count == 0):
        raise PoseError("cannot average rotations: no valid sample.")
    r = np.where(ok[..., None, None], r, 0.0)
    mean = project_to_rotation(r.sum(axis=0) / count[..., None, None])
    for _ in range(iterations):
        delta = matrix_to_axis_angle(np.swapaxes(mean, -1, -2)[None] @ np.where(ok[..., None, None], r, mean[None]))
        mean = mean @ axis_angle_to_matrix(delta.sum(axis=0) / count[..., None])
    return mean
