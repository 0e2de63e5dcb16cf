"""An SMPL armature's action read back into a core Motion: the inverse of :func:`.bake.pose_channels`.

The pose channels are the 24 bones' ``rotation_quaternion`` and the pelvis ``location`` (what
:func:`.bake.bake_motion` keys). Their keys are read with ``foreach_get`` onto a grid of frames
from the first key to the last: whole scene frames, or the keys' own spacing when every key sits on
a finer grid (a 60 fps take baked in real time on a 30 fps scene is keyed every half frame). A
grid frame with a key on no pose channel is *unkeyed*: Blender plays it interpolated from the keys
around it; that is what a hole in a recording looks like once it is in Blender.

Values: a channel's own keys where it has them; on a keyed frame where one channel has no key of
its own, Blender's evaluation of that F-curve; on unkeyed frames a straight line between the keys
around them (a placeholder: gap filling replaces those frames). A channel without an F-curve keeps
the pose bone's current value.

Maths (vectorised over frames and bones), with ``P_j`` the fixed 4x4 map
:func:`.bake.pose_channels` applies to bone j's core quaternion (``q_blender = P_j q_core``, an
orthogonal matrix): ``q_core = P_j^T q_blender``; the pelvis location l gives the root
``C^T (head_0 + B_0 l)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.kinematics.motion import Motion
from ..core.kinematics.rotations import quat_normalize
from ..core.kinematics.skeleton import JOINT_NAMES
from . import compat
from .armature import is_smpl_armature, rest_frames, skeleton_from_armature
from .bake import bone_quaternion_maps
from .smpl_body import stored_body
from .coords import blender_to_core_vectors

# (data path, index) of every pose channel, in bake_motion's order: 24 x 4 quaternion components,
# then the pelvis location.
ROTATION_PATHS = [f'pose.bones["{name}"].rotation_quaternion' for name in JOINT_NAMES]
LOCATION_PATH = f'pose.bones["{JOINT_NAMES[0]}"].location'
POSE_CHANNELS = [(path, i) for path in ROTATION_PATHS for i in range(4)] + [(LOCATION_PATH, i) for i in range(3)]
_OTHER_ROTATIONS = ("rotation_euler", "rotation_axis_angle")
_ON_GRID = 1e-3        # frames: how close a key must be to a grid frame to count as on it


class ActionReadError(ValueError):
    """An action that cannot be read as an SMPL motion; the message says why in one sentence."""


@dataclass
class ActionMotion:
    """What :func:`read_action_motion` read."""

    motion: Motion                # every grid frame from the first key to the last
    keyed: np.ndarray             # (T,) bool: grid frames with a key on some pose channel
    frame_start: float            # the scene frame of the motion's first frame
    frame_step: float             # scene frames between motion frames (1, or the keys' finer spacing)
    action: "bpy.types.Action"

    @property
    def frame_end(self) -> float:
        return self.frame_start + (self.motion.num_frames - 1) * self.frame_step


def motion_from_pose_channels(obj, quats: np.ndarray, location: np.ndarray, fps: float, metadata=None) -> Motion:
    """The Motion whose :func:`.bake.pose_channels` on ``obj`` are ``quats`` (T, 24, 4) and the pelvis
    ``location`` (T, 3)."""
    rest_rot, rest_head = rest_frames(obj)
    rotations = np.einsum("tjk,jkl->tjl", quat_normalize(quats), bone_quaternion_maps(obj))   # q P (= P^T q)
    translation = blender_to_core_vectors(rest_head[0] + location @ rest_rot[0].T)
    return Motion(float(fps), rotations, translation, skeleton_from_armature(obj), dict(metadata or {}))


def _keys(curve) -> tuple[np.ndarray, np.ndarray]:
    co = np.empty(2 * len(curve.keyframe_points), dtype=np.float64)
    curve.keyframe_points.foreach_get("co", co)
    return co[0::2], co[1::2]


def _grid(frames: np.ndarray) -> tuple[float, float, int]:
    """(first frame, step, count) of the grid the key frames lie on: whole frames, or a finer
    spacing when every key sits on it."""
    start = float(frames.min())
    unique = np.unique(np.round(frames / _ON_GRID) * _ON_GRID)
    step = 1.0
    if len(unique) > 1:
        finest = float(np.diff(unique).min())
        offsets = (unique - start) / finest
        if finest < 1.0 - _ON_GRID and np.abs(offsets - np.rint(offsets)).max() * finest < _ON_GRID:
            step = finest
    count = int(np.rint((frames.max() - start) / step)) + 1
    return start, step, count


def _channel_values(curve, grid: np.ndarray, start: float, step: float, keyed: np.ndarray) -> np.ndarray:
    """One pose channel on the grid (module docstring: own keys, Blender's evaluation on frames
    keyed only on other channels, straight lines across unkeyed frames)."""
    frames, values = _keys(curve)
    order = np.argsort(frames, kind="stable")
    frames, values = frames[order], values[order]
    out = np.interp(grid, frames, values)
    index = np.rint((frames - start) / step).astype(np.int64)
    own = np.zeros(len(grid), dtype=bool)
    own[index] = True
    out[index] = values
    elsewhere = np.flatnonzero(keyed & ~own)
    if len(elsewhere):
        out[elsewhere] = [curve.evaluate(float(grid[i])) for i in elsewhere]
    return out


def read_action_motion(obj, scene=None) -> ActionMotion:
    """The active action of the SMPL armature ``obj`` as a Motion at the scene's frame rate (divided
    by the key spacing) and the mask of keyed frames (module docstring). Raises
    :class:`ActionReadError` for a non-SMPL object, no action, no pose keys, or rotations keyed
    other than as quaternions."""
    scene = scene or bpy.context.scene
    name = getattr(obj, "name", None)
    if not is_smpl_armature(obj):
        raise ActionReadError(f"'{name}' is not an SMPL armature: select one made by Sparse Mocap")
    action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        raise ActionReadError(f"armature '{name}' has no action: bake or import a motion first")
    curves = {(c.data_path, c.array_index): c for c in compat.action_fcurves(obj)}
    bones = {f'pose.bones["{bone}"]' for bone in JOINT_NAMES}
    other = sorted({path for path, _ in curves if path.endswith(_OTHER_ROTATIONS) and path.rsplit(".", 1)[0] in bones})
    if other:
        raise ActionReadError(f"action '{action.name}' keys {other[0]} and maybe more: only quaternion rotations "
                              "(as Sparse Mocap bakes them) can be read")
    pose_curves = [curves.get(channel) for channel in POSE_CHANNELS]
    keyed_curves = [c for c in pose_curves if c is not None and len(c.keyframe_points)]
    if not keyed_curves:
        raise ActionReadError(f"action '{action.name}' has no keys on the SMPL bones' rotations or the pelvis "
                              "location")

    key_frames = np.concatenate([_keys(c)[0] for c in keyed_curves])
    start, step, count = _grid(key_frames)
    grid = start + step * np.arange(count)
    keyed = np.zeros(count, dtype=bool)
    keyed[np.rint((key_frames - start) / step).astype(np.int64)] = True

    values = np.empty((count, len(POSE_CHANNELS)))
    for k, ((path, index), curve) in enumerate(zip(POSE_CHANNELS, pose_curves)):
        if curve is not None and len(curve.keyframe_points):
            values[:, k] = _channel_values(curve, grid, start, step, keyed)
        else:                                    # not animated: the pose bone's own value
            values[:, k] = obj.path_resolve(path)[index]
    quats = values[:, :-3].reshape(count, len(JOINT_NAMES), 4)
    fps = scene.render.fps / scene.render.fps_base / step
    metadata = {"source": action.name, "action": action.name}
    body = stored_body(obj)
    if body is not None:                       # an SMPL body of the user's model: its betas go along
        metadata["body_model"] = {key: body[key] for key in ("kind", "gender", "betas")}
    motion = motion_from_pose_channels(obj, quats, values[:, -3:], fps, metadata)
    return ActionMotion(motion, keyed, start, step, action)
