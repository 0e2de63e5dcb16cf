"""SMPL-24 topology, the :class:`Skeleton` (rest offsets) and batched forward kinematics.

Core frame: right-handed, Y up, +Z the subject's forward, +X the subject's left. The rest pose is a
T-pose whose joint frames are all aligned with the world (as in SMPL), so a local rotation of
identity everywhere reproduces the rest pose.

Root convention: ``offsets[0]`` is the pelvis position in the rest pose with the soles on the floor
(y = 0) and the body centred on the origin; a Motion's ``translation`` is the pelvis *world
position* at each frame (not an increment on top of the rest offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .rotations import quat_to_matrix

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21], dtype=np.int64
)
NUM_JOINTS = 24
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

# Left/right partner of every joint (itself for the midline), used by mirroring and symmetry.
MIRROR = np.array([JOINT_INDEX[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")]
                   for n in JOINT_NAMES], dtype=np.int64)

# Leaf joints have no child joint; their bone's far end comes from ``Skeleton.leaf_tips``.
LEAVES = tuple(j for j in range(NUM_JOINTS) if j not in set(PARENTS[1:].tolist()))


def children(joint: int) -> list[int]:
    return [j for j in range(NUM_JOINTS) if PARENTS[j] == joint]


@dataclass
class Skeleton:
    """The 24 SMPL rest offsets (child minus parent, T-pose, metres, core frame).

    ``leaf_tips`` gives, for the leaf joints (head, feet, hands), the offset from the joint to the end
    of its segment (top of the head, toe tip, finger tip): it shapes bones and the body mesh and
    defines the stature. ``sole_height`` is how far the ankle joints sit above the floor.
    """

    offsets: np.ndarray
    leaf_tips: dict = field(default_factory=dict)
    sole_height: float = 0.0

    def __post_init__(self):
        self.offsets = np.asarray(self.offsets, dtype=np.float64).reshape(NUM_JOINTS, 3)
        if not np.all(np.isfinite(self.offsets)):
            raise ValueError("Skeleton offsets must be finite numbers (found NaN or infinity)")
        self.leaf_tips = {int(k): np.asarray(v, dtype=np.float64).reshape(3) for k, v in self.leaf_tips.items()}
        self.sole_height = float(self.sole_height)

    # -- geometry ----------------------------------------------------------------------------------

    def rest_positions(self) -> np.ndarray:
        """Absolute joint positions (24, 3) of the rest pose."""
        pos = np.zeros((NUM_JOINTS, 3))
        pos[0] = self.offsets[0]
        for j in range(1, NUM_JOINTS):
            pos[j] = pos[PARENTS[j]] + self.offsets[j]
        return pos

    def bone_lengths(self) -> np.ndarray:
        """Length of the offset to each joint from its parent (24,), 0 for the root."""
        lengths = np.linalg.norm(self.offsets, axis=-1)
        lengths[0] = 0.0
        return lengths

    def leaf_tip(self, joint: int) -> np.ndarray:
        """Offset from a leaf joint to its segment end, with a small default when unknown."""
        if joint in self.leaf_tips:
            return self.leaf_tips[joint]
        return self.offsets[joint] * 0.5

    def stature(self) -> float:
        """Standing height of the rest pose: floor to the top of the head."""
        pos = self.rest_positions()
        head = JOINT_INDEX["head"]
        top = pos[head, 1] + self.leaf_tip(head)[1]
        floor = min(pos[JOINT_INDEX["left_ankle"], 1], pos[JOINT_INDEX["right_ankle"], 1]) - self.sole_height
        return float(top - floor)

    # -- io ----------------------------------------------------------------------------------------

    def to_arrays(self, prefix: str = "skeleton_") -> dict:
        tips = np.zeros((NUM_JOINTS, 3))
        has_tip = np.zeros(NUM_JOINTS, dtype=bool)
        for j, v in self.leaf_tips.items():
            tips[j] = v
            has_tip[j] = True
        return {
            prefix + "offsets": self.offsets,
            prefix + "leaf_tips": tips,
            prefix + "has_leaf_tip": has_tip,
            prefix + "sole_height": np.float64(self.sole_height),
        }

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "skeleton_") -> "Skeleton":
        tips = np.asarray(arrays[prefix + "leaf_tips"])
        has_tip = np.asarray(arrays[prefix + "has_leaf_tip"])
        return cls(
            offsets=np.asarray(arrays[prefix + "offsets"]),
            leaf_tips={int(j): tips[j] for j in np.flatnonzero(has_tip)},
            sole_height=float(arrays[prefix + "sole_height"]),
        )

    def copy(self) -> "Skeleton":
        return Skeleton(self.offsets.copy(), {k: v.copy() for k, v in self.leaf_tips.items()}, self.sole_height)


def forward_kinematics(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton):
    """Batched FK for SMPL-24 poses.

    rotations: (T, 24, 4) local joint rotations (w, x, y, z) or (T, 24, 3, 3) matrices.
    translation: (T, 3) pelvis world positions.
    Returns (positions (T, 24, 3), global rotation matrices (T, 24, 3, 3)).

    The loop runs over the 24 joints (the tree), never over frames: every step is one batched
    matrix product over all T frames.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    local = rotations if rotations.shape[-2:] == (3, 3) else quat_to_matrix(rotations)
    if local.ndim != 4 or local.shape[1] != NUM_JOINTS:
        raise ValueError(f"rotations must be (T, 24, 4) or (T, 24, 3, 3), got {rotations.shape}")
    translation = np.asarray(translation, dtype=np.float64).reshape(-1, 3)
    frames = local.shape[0]
    if translation.shape[0] != frames:
        raise ValueError(f"translation has {translation.shape[0]} frames but rotations have {frames}")

    global_rot = np.empty_like(local)
    positions = np.empty((frames, NUM_JOINTS, 3))
    global_rot[:, 0] = local[:, 0]
    positions[:, 0] = translation
    offsets = skeleton.offsets
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        global_rot[:, j] = global_rot[:, p] @ local[:, j]
        positions[:, j] = positions[:, p] + global_rot[:, p] @ offsets[j]
    return positions, global_rot


def joint_positions(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Only the (T, 24, 3) joint positions of :func:`forward_kinematics`."""
    return forward_kinematics(rotations, translation, skeleton)[0]
