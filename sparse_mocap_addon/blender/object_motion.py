"""Objects' world matrices over many frames read straight from their F-curves, without stepping the
scene through the frames.

``scene.frame_set`` on every frame evaluates the whole scene (every armature, every skinned mesh) to
move a few empties: seconds for a take in a scene that holds a character. When nothing but their
own transform F-curves (and those of their parents) moves the objects, their world matrices follow
from the curves alone: :func:`world_matrices` computes them, batched over frames, as Blender does
(``matrix_world = parent world @ matrix_parent_inverse @ matrix_basis``, the basis from location,
rotation in the object's rotation mode, scale and their deltas). Objects moved by anything else
(constraints, drivers, NLA strips, a bone or vertex parent, a remapped time) give ``None``: the
caller then steps the scene: :func:`sample_by_stepping`, or :func:`sampled_world_matrices` for both
ways in one call.
"""

from __future__ import annotations

import numpy as np

from ..core.kinematics.rotations import axis_angle_to_matrix, euler_to_matrix, quat_normalize, quat_to_matrix
from . import compat

# The channels of matrix_basis: (data path, size).
_CHANNELS = (("location", 3), ("rotation_quaternion", 4), ("rotation_euler", 3), ("rotation_axis_angle", 4),
             ("scale", 3), ("delta_location", 3), ("delta_rotation_quaternion", 4), ("delta_rotation_euler", 3),
             ("delta_scale", 3))
_TRANSFORM_PATHS = {path for path, _ in _CHANNELS}


def _curves_only(obj) -> dict | None:
    """{(data_path, index): F-curve} of ``obj``'s action when only its action moves it (no
    constraints, rigid body, drivers, NLA, tweak mode, partial influence or muted transform curve)
    and its parent is an object (not a bone, vertices or a curve path); else None."""
    parent = obj.parent
    if len(obj.constraints) or obj.rigid_body is not None or \
            (parent is not None and (obj.parent_type != "OBJECT" or parent.type == "CURVE")):
        return None
    anim = obj.animation_data
    if anim is None:
        return {}
    if len(anim.drivers) or len(anim.nla_tracks) or anim.use_tweak_mode or anim.action_blend_type != "REPLACE" \
            or anim.action_influence != 1.0:
        return None
    curves = {(c.data_path, c.array_index): c for c in compat.action_fcurves(obj)}
    if any(c.mute for (path, _), c in curves.items() if path in _TRANSFORM_PATHS):
        return None
    return curves


def curve_values(curve, frames: np.ndarray) -> np.ndarray:
    """The F-curve's values at the integer ``frames``: its keys when every frame is keyed and no
    modifier changes the curve (a curve passes through its keys), else ``curve.evaluate`` per frame."""
    count = len(curve.keyframe_points)
    if count and not len(curve.modifiers):
        co = np.empty(2 * count, dtype=np.float32)
        curve.keyframe_points.foreach_get("co", co)
        keyed = co[0::2].astype(np.float64)
        at = np.searchsorted(keyed, frames)
        inside = at < count
        if inside.all() and np.array_equal(keyed[at], frames):
            return co[1::2][at].astype(np.float64)
    return np.array([curve.evaluate(float(f)) for f in frames])


def channel(obj, curves: dict, path: str, size: int, frames: np.ndarray) -> np.ndarray:
    """(F, size) values of ``obj``'s property ``path`` at ``frames``: its F-curves where it has them,
    else the property's value."""
    still = np.asarray(getattr(obj, path), dtype=np.float64).reshape(size)
    out = np.repeat(still[None], len(frames), axis=0)
    for i in range(size):
        curve = curves.get((path, i))
        if curve is not None:
            out[:, i] = curve_values(curve, frames)
    return out


def custom_property(obj, key: str, frames: np.ndarray) -> np.ndarray | None:
    """(F,) values of the number ``obj[key]`` at ``frames`` (its F-curve, else its value), or None
    when the object has no such property or something else than its action could drive it."""
    if key not in obj:
        return None
    curves = _curves_only(obj)
    if curves is None:
        return None
    curve = curves.get((f'["{key}"]', 0))
    return curve_values(curve, frames) if curve is not None else np.full(len(frames), float(obj[key]))


def _rotation(obj, curves: dict, frames: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotation of the basis: the delta rotation after the rotation, as Blender composes them."""
    mode = obj.rotation_mode
    if mode == "QUATERNION":
        turn = quat_to_matrix(quat_normalize(channel(obj, curves, "rotation_quaternion", 4, frames)))
        delta = quat_to_matrix(quat_normalize(channel(obj, curves, "delta_rotation_quaternion", 4, frames)))
    elif mode == "AXIS_ANGLE":
        angle_axis = channel(obj, curves, "rotation_axis_angle", 4, frames)
        axis = angle_axis[:, 1:] / np.maximum(np.linalg.norm(angle_axis[:, 1:], axis=1, keepdims=True), 1e-12)
        return axis_angle_to_matrix(axis * angle_axis[:, :1])
    else:
        # Blender keeps Euler angles as (x, y, z) whatever the order; euler_to_matrix takes them in
        # the order's letters.
        letters = ["XYZ".index(axis) for axis in mode]
        turn = euler_to_matrix(channel(obj, curves, "rotation_euler", 3, frames)[:, letters], mode)
        delta = euler_to_matrix(channel(obj, curves, "delta_rotation_euler", 3, frames)[:, letters], mode)
    return delta @ turn


def _basis(obj, curves: dict, frames: np.ndarray) -> np.ndarray:
    """(F, 4, 4) ``matrix_basis`` of ``obj`` at ``frames``."""
    scale = channel(obj, curves, "scale", 3, frames) * channel(obj, curves, "delta_scale", 3, frames)
    basis = np.zeros((len(frames), 4, 4))
    basis[:, :3, :3] = _rotation(obj, curves, frames) * scale[:, None, :]
    basis[:, :3, 3] = channel(obj, curves, "location", 3, frames) + channel(obj, curves, "delta_location", 3, frames)
    basis[:, 3, 3] = 1.0
    return basis


def world_matrices(objects, frames, scene) -> np.ndarray | None:
    """(F, K, 4, 4) world matrices of ``objects`` at the integer scene ``frames``, from their own and
    their parents' transform F-curves; None when anything else could move one of them (see the
    module docstring) or the scene remaps time."""
    if scene.render.frame_map_old != scene.render.frame_map_new:
        return None
    frames = np.asarray(frames, dtype=np.float64)
    cache: dict = {}

    def world(obj):
        key = obj.as_pointer()
        if key not in cache:
            curves = _curves_only(obj)
            up = np.eye(4) if obj.parent is None else world(obj.parent)
            cache[key] = None if curves is None or up is None else \
                up @ np.array(obj.matrix_parent_inverse) @ _basis(obj, curves, frames)
        return cache[key]

    worlds = [world(obj) for obj in objects]
    if any(w is None for w in worlds):
        return None
    return np.stack(worlds, axis=1)


def sample_by_stepping(objects, frames, scene, read, progress=None) -> list:
    """``read(objects)`` on each of ``frames``, the scene stepped to it (slow in a scene that holds
    characters: every frame evaluates everything); its current frame put back afterwards."""
    tick = progress or (lambda fraction: None)
    current = scene.frame_current, scene.frame_current_final - scene.frame_current
    samples = []
    try:
        for f, frame in enumerate(frames):
            scene.frame_set(int(frame))
            samples.append(read(objects))
            if f % 64 == 0:
                tick(f / len(frames))
    finally:
        scene.frame_set(current[0], subframe=current[1])
    return samples


def sampled_world_matrices(objects, frames, scene, progress=None) -> np.ndarray:
    """(F, K, 4, 4) world matrices of ``objects`` at the integer ``frames``: from their curves
    (:func:`world_matrices`) when only those move them, else by stepping the scene."""
    worlds = world_matrices(objects, frames, scene)
    if worlds is not None:
        return worlds
    read = lambda objs: [np.array(obj.matrix_world) for obj in objs]   # noqa: E731
    return np.array(sample_by_stepping(objects, frames, scene, read, progress), dtype=np.float64)
