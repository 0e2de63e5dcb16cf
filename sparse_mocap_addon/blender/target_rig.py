"""Read a character armature's rest pose into a core :class:`TargetRig` (names and maps live in core).

Positions and orientations come from the armature data (``bone.head_local``, ``tail_local``,
``matrix_local``): armature space, so the object's own transform is not part of the description.
They are turned into the core frame here, with the one conversion of :mod:`.coords`.
"""

from __future__ import annotations

import numpy as np

from ..core.mocap.target_rig import RigMap, TargetRig, describe_target_rig
from .coords import BLENDER_TO_CORE, blender_to_core_vectors


def target_rig_from_armature(obj, rig_map: RigMap | str | None = None) -> TargetRig:
    """The :class:`TargetRig` of an armature object; ``rig_map`` as for ``describe_target_rig``
    (detected from the bone names when None). Raises ``RigMapError`` (a ValueError) in one sentence."""
    if obj is None or obj.type != "ARMATURE":
        raise ValueError(f"'{getattr(obj, 'name', obj)}' is not an armature; pick the character's armature")
    bones = obj.data.bones
    names = [bone.name for bone in bones]
    index = {name: i for i, name in enumerate(names)}
    parents = [index[bone.parent.name] if bone.parent else -1 for bone in bones]
    heads = blender_to_core_vectors([tuple(bone.head_local) for bone in bones])
    tails = blender_to_core_vectors([tuple(bone.tail_local) for bone in bones])
    # A bone's axes (columns of matrix_local) stay the bone's own; only their coordinates change frame.
    rotations = np.array([np.array(bone.matrix_local.to_3x3()) for bone in bones]).reshape(-1, 3, 3)
    rotations = BLENDER_TO_CORE @ rotations
    return describe_target_rig(names, parents, heads, tails, rotations, rig_map, source=f"armature '{obj.name}'")
