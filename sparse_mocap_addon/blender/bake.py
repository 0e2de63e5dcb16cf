"""Bake a core Motion into a new Action on an SMPL-topology armature.

Fast path only: per F-curve, ``keyframe_points.add(n)`` then ``foreach_set`` of the interleaved
(frame, value) pairs; never one key insertion call per frame and bone (much slower). One F-curve's
keys exist outside Blender at a time; a long take can be stored as sampled points instead of
keyframes (``keys="samples"``, :func:`keys_for`): a quarter of Blender's memory, the same playback.

Maths (all vectorised over frames and bones). With C the core->Blender change of basis, B_j a
bone's armature-space rest rotation and R_j the core local rotation of joint j, the pose-bone
quaternion is ``B_j^T (C R_j C^T) B_j``: SMPL rest frames are world-aligned, Blender's are the
bone's own, so the local rotation is conjugated into the bone's frame. The pelvis location is its
world displacement from the rest head, expressed in the pelvis bone's rest frame.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core.feet.stage import FeetOptions, feet_on_floor, same_body
from ..core.kinematics.motion import Motion
from ..core.kinematics.rotations import matrix_to_quat, quat_conjugate, quat_continuous, quat_product_matrices
from ..core.kinematics.skeleton import JOINT_NAMES
from . import compat
from .armature import rest_frames, skeleton_from_armature
from .coords import CORE_TO_BLENDER, core_to_blender_vectors

KEY_STORAGE = ("keyframes", "samples")
# From this many frames (10 minutes at 60 fps) a long take is best baked as samples (bake_motion's
# ``keys``): 99 F-curves of LINEAR keys cost about 7 KB a frame in Blender, samples about 1.6 KB.
LONG_TAKE_FRAMES = 36_000


def keys_for(frames: int) -> str:
    """The ``keys`` of :func:`bake_motion` for a take of ``frames``: samples past ``LONG_TAKE_FRAMES``."""
    return "samples" if frames > LONG_TAKE_FRAMES else "keyframes"


def bone_quaternion_maps(obj) -> np.ndarray:
    """(24, 4, 4) ``P_j`` with ``q_blender = P_j q_core``: the map :func:`pose_channels` applies.

    B^T C R C^T B = M^T R M with M = C^T B, a fixed rotation per bone. In quaternions that is
    conj(m) * q * m, a fixed linear map of q: one 4x4 matrix per bone for the whole motion.
    """
    rest_rot, _ = rest_frames(obj)
    to_bone = matrix_to_quat(np.swapaxes(CORE_TO_BLENDER, -1, -2) @ rest_rot)  # (24, 4)
    left, _ = quat_product_matrices(quat_conjugate(to_bone))
    _, right = quat_product_matrices(to_bone)
    return left @ right


def _bone_channels(motion: Motion, per_bone: np.ndarray, j: int) -> np.ndarray:
    """Bone ``j``'s pose quaternions (T, 4): its core rotations through ``per_bone[j]``, signs made
    continuous over time (each bone on its own, so one bone at a time gives the same numbers)."""
    return quat_continuous(motion.rotations[:, j] @ per_bone[j].T, axis=0)


def _pelvis_location(obj, motion: Motion) -> np.ndarray:
    """Pelvis locations (T, 3): the world displacement from the rest head in the pelvis's rest frame."""
    rest_rot, rest_head = rest_frames(obj)
    pelvis_world = core_to_blender_vectors(motion.translation)                   # (T, 3)
    return (pelvis_world - rest_head[0]) @ rest_rot[0]                           # B0^T (p - head)


def pose_channels(obj, motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone quaternions (T, 24, 4) and pelvis locations (T, 3) for ``motion`` on ``obj``."""
    per_bone = bone_quaternion_maps(obj)                                           # (24, 4, 4)
    quats = np.empty_like(motion.rotations)
    for j in range(len(per_bone)):  # 24 small matrix products over all frames (BLAS)
        quats[:, j] = _bone_channels(motion, per_bone, j)
    return quats, _pelvis_location(obj, motion)


def fit_to_armature(obj, motion: Motion, feet: FeetOptions | None = None) -> tuple[Motion, dict | None]:
    """``motion`` as it should be baked onto ``obj``: unchanged when the armature has the motion's
    skeleton, else moved onto the armature's body by the feet stage (root path fitted to its legs,
    contact feet planted on the floor; ``feet`` its options, default on with the floor found under
    the soles). Returns (motion, the stage's report or None when nothing had to move)."""
    skeleton = skeleton_from_armature(obj)
    if same_body(motion.skeleton, skeleton):
        return motion, None
    return feet_on_floor(motion, skeleton, feet)


def set_scene_timing(scene, fps: float, frames: int, frame_start: int) -> None:
    """The scene plays ``frames`` frames at ``fps`` (fractional rates through ``fps_base``) from
    ``frame_start``."""
    fps = float(fps)
    scene.render.fps = max(1, int(round(fps)))
    scene.render.fps_base = scene.render.fps / fps
    scene.frame_start = frame_start
    scene.frame_end = frame_start + frames - 1


def bake_motion(obj, motion: Motion, action_name: str | None = None, frame_start: int = 1,
                match_scene: bool = True, scene=None, progress=None, keys: str = "keyframes"):
    """Bake ``motion`` into a **new** Action assigned to ``obj``; returns the Action.

    The previously assigned action (if any) is kept: it gets a fake user so saving the file does not
    drop it. With ``match_scene`` the scene's frame rate and range are set to the motion's; otherwise
    keys are spaced so the motion keeps its real timing at the scene's frame rate.
    ``progress(fraction)`` is called as F-curves are written. ``keys``: "keyframes" (LINEAR keys, editable)
    or "samples" (sampled F-curve points, a quarter of the memory in Blender for a long take; the
    same playback and export; where the keys do not fall one frame apart, keyframes all the same).
    """
    if keys not in KEY_STORAGE:
        raise ValueError(f"keys must be one of {', '.join(KEY_STORAGE)}, got {keys!r}")
    per_bone = bone_quaternion_maps(obj)      # first: refuses a non-SMPL armature before any change
    channels = [(f'pose.bones["{name}"].rotation_quaternion', JOINT_NAMES[j], lambda j=j: _bone_channels(
        motion, per_bone, j)) for j, name in enumerate(JOINT_NAMES)]
    channels.append((f'pose.bones["{JOINT_NAMES[0]}"].location', JOINT_NAMES[0], lambda: _pelvis_location(obj, motion)))
    return bake_channels(obj, channels, motion.num_frames, motion.fps,
                         action_name or f"{obj.name}_{motion.metadata.get('source', 'motion')}",
                         frame_start, match_scene, scene, progress, keys)


def bake_channels(obj, channels, frames_count: int, fps: float, action_name: str, frame_start: int = 1,
                  match_scene: bool = True, scene=None, progress=None, keys: str = "keyframes"):
    """Key ``channels`` into a **new** Action assigned to ``obj`` (see :func:`bake_motion` for the
    options); returns it. ``channels``: (data path, group, values_of) with ``values_of()`` giving the
    (frames, components) array, called one channel at a time; quaternion channels' bones are put in
    QUATERNION rotation mode."""
    if keys not in KEY_STORAGE:
        raise ValueError(f"keys must be one of {', '.join(KEY_STORAGE)}, got {keys!r}")
    scene = scene or bpy.context.scene
    if match_scene:
        set_scene_timing(scene, fps, frames_count, frame_start)
    scene_fps = scene.render.fps / scene.render.fps_base
    frames = frame_start + np.arange(frames_count) * (scene_fps / fps)

    previous = obj.animation_data.action if obj.animation_data else None
    if previous is not None:
        previous.use_fake_user = True
    action = bpy.data.actions.new(action_name)
    action.use_fake_user = False
    fcurves = compat.assign_new_action(obj, action)

    for path, group, _ in channels:
        if path.endswith(".rotation_quaternion"):
            obj.pose.bones[group].rotation_mode = "QUATERNION"
    samples = keys == "samples" and np.allclose(frames, frame_start + np.arange(frames_count), rtol=0.0, atol=1e-4)
    # One F-curve's interleaved (frame, value) pairs at a time: a long take never holds all the
    # channels' keys outside Blender.
    coords = np.empty((frames_count, 2), dtype=np.float32)
    coords[:, 0] = frames
    interpolation = None if samples else np.full(frames_count, compat.LINEAR, dtype=np.int8)
    written, total = 0, sum(4 if path.endswith("quaternion") else 3 for path, _, _ in channels)
    for path, group, values_of in channels:
        values = values_of()
        for index in range(values.shape[1]):
            coords[:, 1] = values[:, index]
            write_fcurve(compat.new_fcurve(fcurves, path, index, group), coords, interpolation)
            if progress is not None and written % 8 == 0:
                progress(written / total)
            written += 1
    if progress is not None:
        progress(1.0)
    return action


def write_fcurve(fcurve, coords: np.ndarray, interpolation: np.ndarray | None) -> None:
    """``coords`` (n, 2) as the curve's LINEAR keys, or (``interpolation`` None; frames one apart)
    as its sampled points: 16 bytes a frame in Blender instead of a keyframe's 72, played and
    exported the same (Blender interpolates samples linearly), but not editable as keys."""
    fcurve.keyframe_points.add(len(coords))
    fcurve.keyframe_points.foreach_set("co", coords.ravel())
    if interpolation is None:
        start = int(round(coords[0, 0]))
        fcurve.convert_to_samples(start, start + len(coords))   # the end is exclusive
        return
    fcurve.keyframe_points.foreach_set("interpolation", interpolation)
    # No fcurve.update(): the keys are already in time order and LINEAR, so neither the sort
    # nor the Bezier handles it recomputes matter (it would cost ~1.4 ms per 10,000 keys).
