"""Left-right mirroring of an SMPL-24 Motion (a data augmentation).

The reflection is x -> -x (the core frame's +X is the subject's left). A rotation R becomes
M R M with M = diag(-1, 1, 1), which for a quaternion (w, x, y, z) is (w, x, -y, -z); each joint then
takes its left/right partner's rotation (``skeleton.MIRROR``). The skeleton is mirrored too, so
an asymmetric body stays consistent with its motion.
"""

from __future__ import annotations

import numpy as np

from .motion import Motion
from .skeleton import MIRROR, Skeleton

_REFLECT_QUAT = np.array((1.0, 1.0, -1.0, -1.0))
# A vector v becomes REFLECT_VEC * v; a rotation matrix R becomes M R M, entry by entry R * REFLECT_MATRIX.
REFLECT_VEC = np.array((-1.0, 1.0, 1.0))
REFLECT_MATRIX = np.outer(REFLECT_VEC, REFLECT_VEC)


def mirror_skeleton(skeleton: Skeleton) -> Skeleton:
    offsets = skeleton.offsets[MIRROR] * REFLECT_VEC
    tips = {int(MIRROR[j]): tip * REFLECT_VEC for j, tip in skeleton.leaf_tips.items()}
    return Skeleton(offsets, tips, skeleton.sole_height)


def mirror_motion(motion: Motion) -> Motion:
    rotations = motion.rotations[:, MIRROR] * _REFLECT_QUAT
    translation = motion.translation * REFLECT_VEC
    metadata = dict(motion.metadata, mirrored=not motion.metadata.get("mirrored", False))
    return Motion(motion.fps, rotations, translation, mirror_skeleton(motion.skeleton), metadata)
