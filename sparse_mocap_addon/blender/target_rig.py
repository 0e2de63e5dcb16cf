"""Read a character armature's rest pose into a core :class:`TargetRig` (names and maps live in core).

Positions and orientations come from the armature data (``bone.head_local``, ``tail_local``,
``matrix_local``) seen through the object's rotation and scale, but not its location: an FBX
character imported Y-up in centimetres (the object turned 90 degrees and scaled 0.01) is read
standing, in metres, and a rig's floor is the plane through its object's origin. They are turned
into the core frame here, with the one conversion of :mod:`.coords`. Pose channels stay bone-local,
so only locations need the object's scale taken back out (:func:`object_rest_transform`).
"""

from __future__ import annotations

import numpy as np

from ..core.mocap.target_rig import RigMap, TargetRig, describe_target_rig
from .coords import BLENDER_TO_CORE, blender_to_core_vectors

# An object scaled more unevenly than this (relative) is refused: its bones' rest frames would shear.
UNIFORM_SCALE_TOLERANCE = 1e-4


def object_rest_transform(obj) -> tuple[np.ndarray, float]:
    """(rotation (3, 3), uniform scale) of the armature object in the world, Blender axes. Raises
    ValueError in one sentence when the object's scale differs between axes."""
    location, rotation, scale = obj.matrix_world.decompose()
    scale = np.array(scale, dtype=np.float64)
    if np.ptp(scale) > UNIFORM_SCALE_TOLERANCE * np.abs(scale).max() or scale.min() <= 0:
        raise ValueError(f"armature '{obj.name}' is scaled unevenly or mirrored ({', '.join(f'{s:g}' for s in scale)});"
                         " apply its scale (Object > Apply > Scale) first")
    return np.array(rotation.to_matrix(), dtype=np.float64), float(scale.mean())


def target_rig_from_armature(obj, rig_map: RigMap | str | None = None) -> TargetRig:
    """The :class:`TargetRig` of an armature object, as it stands in the world (see the module
    docstring); ``rig_map`` as for ``describe_target_rig`` (detected from the bone names when None).
    Raises ``RigMapError`` (a ValueError) in one sentence."""
    if obj is None or obj.type != "ARMATURE":
        raise ValueError(f"'{getattr(obj, 'name', obj)}' is not an armature; pick the character's armature")
    turn, scale = object_rest_transform(obj)
    bones = obj.data.bones
    names = [bone.name for bone in bones]
    index = {name: i for i, name in enumerate(names)}
    parents = [index[bone.parent.name] if bone.parent else -1 for bone in bones]
    placed = lambda points: blender_to_core_vectors(scale * np.asarray(points) @ turn.T)   # noqa: E731
    heads = placed([tuple(bone.head_local) for bone in bones])
    tails = placed([tuple(bone.tail_local) for bone in bones])
    # A bone's axes (columns of matrix_local) stay the bone's own; only their coordinates change frame.
    rotations = np.array([np.array(bone.matrix_local.to_3x3()) for bone in bones]).reshape(-1, 3, 3)
    rotations = BLENDER_TO_CORE @ turn @ rotations
    return describe_target_rig(names, parents, heads, tails, rotations, rig_map, source=f"armature '{obj.name}'")
