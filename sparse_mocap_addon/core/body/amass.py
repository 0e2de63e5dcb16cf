"""Betas out: a Motion as an AMASS-style ``.npz`` (``poses``, ``trans``, ``betas``, ``gender``,
``mocap_framerate``) that the SMPL family's tools open, and such a file back as a Motion.

Both directions need the user's model (:mod:`.smpl_model`): AMASS's ``trans`` is the offset added
to the posed model, which rotates about its own pelvis joint ``J0(betas)``, while a Motion's
translation is the pelvis's world position. The file's world is AMASS's (Z up, the body's forward
-Y when the root is at rest; ``up="y"`` keeps the core frame): with ``W`` the change of axes and
``R`` the root rotation, ``root = W R`` and ``trans = W p - J0``. ``poses`` holds axis-angle
rotations of every model joint (72 values for SMPL, 156 for SMPL+H, 165 for SMPL-X); the joints
beyond SMPL's 22 body joints are at rest, except SMPL's own hand joints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_open
from ..kinematics.motion import Motion
from ..kinematics.rotations import axis_angle_to_quat, quat_to_axis_angle, quat_to_matrix, matrix_to_quat
from .smpl_model import BodyModel, BodyModelError, skeleton_from_betas

# Core frame (Y up, +Z forward) to AMASS's Z-up world: x stays, y -> z, z -> -y.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
UPS = ("z", "y")


def body_model_metadata(model: BodyModel, betas) -> dict:
    """What a Motion keeps of its body in ``metadata["body_model"]``."""
    return {"kind": model.kind, "gender": model.gender, "betas": [float(b) for b in model.betas_vector(betas)]}


def _axes(up: str) -> np.ndarray:
    if up not in UPS:
        raise ValueError(f"up must be one of {', '.join(UPS)}, got {up!r}")
    return Y_UP_TO_Z_UP if up == "z" else np.eye(3)


def save_amass(motion: Motion, path, model: BodyModel, betas=None, up: str = "z") -> Path:
    """Write ``motion`` (on the body of ``betas``; default the Motion's ``metadata["body_model"]``
    betas) as an AMASS-style ``.npz``, atomically. Returns the path."""
    if betas is None:
        betas = motion.metadata.get("body_model", {}).get("betas")
        if betas is None:
            raise BodyModelError("the motion has no betas: give them, or fit them to its skeleton "
                                 "(core.body.shape_inverse)")
    betas = model.betas_vector(betas)
    W = _axes(up)
    T = motion.num_frames
    local = quat_to_matrix(motion.rotations)                                    # (T, 24, 3, 3)
    local[:, 0] = W @ local[:, 0]
    poses = np.zeros((T, model.num_joints, 3))
    poses[:, model.smpl24()] = quat_to_axis_angle(matrix_to_quat(local))
    pelvis = model.rest_joints(betas)[0]
    trans = motion.translation @ W.T - pelvis
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        np.savez(handle, poses=poses.reshape(T, -1), trans=trans, betas=betas, gender=np.array(model.gender),
                 mocap_framerate=np.array(float(motion.fps)), surface_model_type=np.array(model.kind))
    return path


def _array(data, key: str, where: str) -> np.ndarray:
    if key not in data.files:
        raise BodyModelError(f"{where}: not an AMASS-style motion (it lacks '{key}')")
    return np.asarray(data[key])


def load_amass(path, model: BodyModel, up: str = "z") -> Motion:
    """An AMASS-style ``.npz`` as a Motion on the body its betas describe (the user's ``model``
    gives the skeleton), in the core frame. Refused in one sentence when it is not one."""
    path = Path(path)
    where = str(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BodyModelError(f"{where}: not a readable .npz file ({exc})") from None
    with data:
        poses, trans = _array(data, "poses", where), _array(data, "trans", where)
        betas = _array(data, "betas", where).astype(np.float64).ravel()[:model.num_betas]
        rate = data["mocap_framerate"] if "mocap_framerate" in data.files else _array(data, "mocap_frame_rate", where)
        fps = float(rate)
    T = len(poses)
    if poses.ndim != 2 or poses.shape[1] % 3 or poses.shape[1] // 3 < 22 or trans.shape != (T, 3):
        raise BodyModelError(f"{where}: poses must be (frames, 3 x joints) and trans (frames, 3), got "
                             f"{poses.shape} and {trans.shape}")
    if not (np.all(np.isfinite(poses)) and np.all(np.isfinite(trans)) and 0.0 < fps <= 1000.0):
        raise BodyModelError(f"{where}: the poses, translations or frame rate ({fps:g}) are not plausible")
    joints = poses.reshape(T, -1, 3)
    available = min(joints.shape[1], model.num_joints)
    picked = [j for j in model.smpl24() if j < available]
    rotations = np.zeros((T, 24, 4))
    rotations[..., 0] = 1.0
    rotations[:, :len(picked)] = axis_angle_to_quat(joints[:, picked])
    W = _axes(up)
    root = quat_to_matrix(rotations[:, 0])
    rotations[:, 0] = matrix_to_quat(W.T @ root)
    translation = (trans + model.rest_joints(betas)[0]) @ W
    metadata = {"source": path.name, "body_model": body_model_metadata(model, betas)}
    return Motion(fps, rotations, translation, skeleton_from_betas(model, betas), metadata)
