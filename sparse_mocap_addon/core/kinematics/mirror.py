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
_REFLECT_VEC = np.array((-1.0, 1.0, 1.0))


def mirror_skeleton(skeleton: Skeleton) -> Skeleton:
    offsets = skeleton.offsets[MIRROR] * _REFLECT_VEC
    tips = {int(MIRROR[j]): tip * _REFLECT_VEC for j, tip in skeleton.leaf_tips.items()}
    return Skeleton(offsets, tips, skeleton.sole_height)


def mirror_motion(motion: Motion) -> Motion:
    rotations = motion.rotations[:, MIRROR] * _REFLECT_QUAT
    translation = motion.translation * _REFLECT_VEC
    metadata = dict(motion.metadata, mirrored=not motion.metadata.get("mirrored", False))
    return Motion(motion.fps, rotations, translation, mirror_skeleton(motion.skeleton), metadata)
