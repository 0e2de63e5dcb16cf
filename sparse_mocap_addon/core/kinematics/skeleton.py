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


def mirror_name(name: str) -> str:
    """The left/right partner's name of a joint, sensor or tracker ("left_hand" <-> "right_hand";
    a midline name is its own)."""
    return name.replace("left_", "@").replace("right_", "left_").replace("@", "right_")


# Left/right partner of every joint (itself for the midline), used by mirroring and symmetry.
MIRROR = np.array([JOINT_INDEX[mirror_name(n)] for n in JOINT_NAMES], dtype=np.int64)

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


def _quat_to_matrix_joint_major(q: np.ndarray) -> np.ndarray:
    """(T, 24, 4) quaternions -> (24, 3, 3, T) matrices, frames last so every step is contiguous.

    Uses s = 2 / |q|^2, which equals normalising q first (same result as ``quat_to_matrix``).
    """
    w, x, y, z = np.ascontiguousarray(q.transpose(2, 1, 0))  # each (24, T)
    s = 2.0 / np.maximum(w * w + x * x + y * y + z * z, 1e-24)
    xs, ys, zs = x * s, y * s, z * s
    wx, wy, wz = w * xs, w * ys, w * zs
    xx, xy, xz = x * xs, x * ys, x * zs
    yy, yz, zz = y * ys, y * zs, z * zs
    m = np.empty((w.shape[0], 3, 3, w.shape[1]))
    m[:, 0, 0] = 1.0 - (yy + zz)
    m[:, 0, 1] = xy - wz
    m[:, 0, 2] = xz + wy
    m[:, 1, 0] = xy + wz
    m[:, 1, 1] = 1.0 - (xx + zz)
    m[:, 1, 2] = yz - wx
    m[:, 2, 0] = xz - wy
    m[:, 2, 1] = yz + wx
    m[:, 2, 2] = 1.0 - (xx + yy)
    return m


_FK_CHUNK = 1024  # frames per block: keeps the working set in cache (about 2x faster than 10k at once)


def forward_kinematics(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton, joints=None):
    """Batched FK for SMPL-24 poses.

    rotations: (T, 24, 4) local joint rotations (w, x, y, z) or (T, 24, 3, 3) matrices.
    translation: (T, 3) pelvis world positions.
    Returns (positions (T, 24, 3), global rotation matrices (T, 24, 3, 3)).

    The loop runs over the 24 joints (the tree), never over frames. Internally frames are processed
    in blocks of ``_FK_CHUNK`` laid out joint-major with frames last, (24, 3, 3, frames), so each
    3x3 product is a few contiguous multiply-adds over the whole block (about 4x faster than a
    stacked ``@`` per joint on 10,000-frame batches, see ``benchmarks/fk.py``); the results are
    returned in the usual (T, 24, ...) layout.

    ``joints`` (ascending joint indices, every joint's parent among them, e.g. ``LEG_JOINTS``):
    only those joints are computed (the same operations, so the same numbers as the full run);
    the other joints' rows are left zero. Stages that need only the feet skip the arms and head.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    is_matrix = rotations.ndim == 4 and rotations.shape[1:] == (NUM_JOINTS, 3, 3)
    is_quat = rotations.ndim == 3 and rotations.shape[1:] == (NUM_JOINTS, 4)
    if not (is_matrix or is_quat):
        raise ValueError(f"rotations must be (T, 24, 4) or (T, 24, 3, 3), got {rotations.shape}")
    frames = rotations.shape[0]
    translation = np.asarray(translation, dtype=np.float64)
    if translation.size != frames * 3 or (translation.ndim > 1 and translation.shape[-1] != 3):
        raise ValueError(f"translation must be ({frames}, 3) to match the rotations, got {translation.shape}")
    translation = translation.reshape(frames, 3)

    if joints is not None:
        return _forward_kinematics_subset(rotations, translation, skeleton, _joint_subset(joints), is_matrix)
    positions = np.empty((frames, NUM_JOINTS, 3))
    global_rot = np.empty((frames, NUM_JOINTS, 3, 3))
    for start in range(0, frames, _FK_CHUNK):
        block = slice(start, start + _FK_CHUNK)
        if is_matrix:
            local = np.ascontiguousarray(rotations[block].transpose(1, 2, 3, 0))  # (24, 3, 3, n)
        else:
            local = _quat_to_matrix_joint_major(rotations[block])
        pos, glob = _fk_joint_major(local, translation[block], skeleton.offsets)
        positions[block] = pos.transpose(2, 0, 1)
        global_rot[block] = glob.transpose(3, 0, 1, 2)
    return positions, global_rot


# Pelvis, hips, knees, ankles and feet: all that the feet (sole points, leg IK) need.
LEG_JOINTS = (0, 1, 2, 4, 5, 7, 8, 10, 11)


def _joint_subset(joints) -> tuple:
    joints = tuple(sorted({int(j) for j in joints}))
    if not joints or joints[0] != 0 or any(PARENTS[j] not in joints for j in joints[1:]):
        raise ValueError(f"joints must include the root and every listed joint's parent, got {joints}")
    return joints


def _forward_kinematics_subset(rotations, translation, skeleton, joints, is_matrix):
    """:func:`forward_kinematics` of ``joints`` alone (the rest stay zero)."""
    frames = rotations.shape[0]
    index = np.array(joints)
    positions = np.zeros((frames, NUM_JOINTS, 3))
    global_rot = np.zeros((frames, NUM_JOINTS, 3, 3))
    for start in range(0, frames, _FK_CHUNK):
        block = slice(start, start + _FK_CHUNK)
        n = len(rotations[block])
        local = np.empty((NUM_JOINTS, 3, 3, n))
        if is_matrix:
            local[index] = rotations[block][:, index].transpose(1, 2, 3, 0)
        else:
            local[index] = _quat_to_matrix_joint_major(rotations[block][:, index])
        pos, glob = _fk_joint_major(local, translation[block], skeleton.offsets, joints)
        positions[block, index] = pos[index].transpose(2, 0, 1)
        global_rot[block, index] = glob[index].transpose(3, 0, 1, 2)
    return positions, global_rot


def _fk_joint_major(local: np.ndarray, translation: np.ndarray, offsets: np.ndarray, joints=None):
    """FK on (24, 3, 3, n) local matrices; returns positions (24, 3, n) and globals (24, 3, 3, n)
    (only ``joints``, ascending with the root first, when given: the other rows are left unset)."""
    n = local.shape[-1]
    global_rot = np.empty_like(local)
    positions = np.empty((NUM_JOINTS, 3, n))
    global_rot[0] = local[0]
    positions[0] = translation.T
    tmp = np.empty((3, 3, n))
    for j in (range(1, NUM_JOINTS) if joints is None else joints[1:]):
        p = PARENTS[j]
        gp, lj, gj = global_rot[p], local[j], global_rot[j]
        # gj[i, l] = sum_k gp[i, k] * lj[k, l], vectorised over frames.
        np.multiply(gp[:, 0, None], lj[None, 0], out=gj)
        np.multiply(gp[:, 1, None], lj[None, 1], out=tmp)
        gj += tmp
        np.multiply(gp[:, 2, None], lj[None, 2], out=tmp)
        gj += tmp
        # positions[j] = positions[p] + gp @ offsets[j]
        o, pj = offsets[j], positions[j]
        np.multiply(gp[:, 0], o[0], out=pj)
        pj += positions[p]
        pj += gp[:, 1] * o[1]
        pj += gp[:, 2] * o[2]
    return positions, global_rot


def joint_positions(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Only the (T, 24, 3) joint positions of :func:`forward_kinematics`."""
    return forward_kinematics(rotations, translation, skeleton)[0]
