"""Motion of an arbitrary source rig (BVH, ASF/AMC, CMU exp-map, FBX), before retargeting.

Every reader produces the same "rest-identity" form, so the retargeter handles one thing:

- ``SourceSkeleton``: joint names, parents and ``offsets``: the position of each joint relative to
  its parent in the rig's *zero pose* (all local rotations identity), expressed in the file's world
  frame and units. The zero pose is whatever the file's offsets describe (a T-pose for CMU ASF and
  cgspeed BVH, an A-pose for some rigs, something odd for rigs exported from bone-local frames).
  End sites are ordinary joints flagged in ``end_site``.
- ``SourceMotion``: per-frame local rotations relative to that zero pose, ``(T, J, 4)`` wxyz, the
  root joint's world position ``(T, 3)``, and optionally animated local offsets for rigs with
  position channels below the root.

Rotations compose as in the core: ``global[j] = global[parent] * local[j]`` and
``position[j] = position[parent] + global[parent] (offset[j])``.

``up_axis`` ("Y" or "Z") and ``metres_per_unit`` say how to read the file's world frame; readers
fill them when the format says so and leave ``None`` when only the data can tell (the retargeter
then works it out from the rest pose and the body's size).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import plausible
from ..io.textio import FormatError
from ..kinematics.rotations import quat_multiply, quat_normalize, quat_rotate


# A mocap file that cannot be read: the readers' shared FormatError (io level), under the mocap name.
SourceFormatError = FormatError


@dataclass
class SourceSkeleton:
    names: tuple
    parents: np.ndarray
    offsets: np.ndarray
    end_site: np.ndarray = None

    def __post_init__(self):
        self.names = tuple(str(n) for n in self.names)
        self.parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        self.offsets = np.asarray(self.offsets, dtype=np.float64).reshape(-1, 3)
        n = len(self.names)
        if self.end_site is None:
            self.end_site = np.zeros(n, dtype=bool)
        self.end_site = np.asarray(self.end_site, dtype=bool).reshape(-1)
        if not (len(self.parents) == len(self.offsets) == len(self.end_site) == n):
            raise ValueError("SourceSkeleton: names, parents, offsets and end_site must have one entry per joint")
        if n == 0 or self.parents[0] != -1:
            raise ValueError("SourceSkeleton: joint 0 must be the root (parent -1)")
        if np.any(self.parents[1:] < 0) or np.any(self.parents[1:] >= np.arange(1, n)):
            raise ValueError("SourceSkeleton: every parent must come before its child")
        if len(set(self.names)) != n:
            raise ValueError("SourceSkeleton: joint names must be unique")

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def rest_positions(self) -> np.ndarray:
        """Joint positions (J, 3) of the zero pose, root at the origin plus its own offset."""
        pos = np.zeros((self.num_joints, 3))
        pos[0] = self.offsets[0]
        for j in range(1, self.num_joints):
            pos[j] = pos[self.parents[j]] + self.offsets[j]
        return pos

    def ancestors_closure(self, joints) -> np.ndarray:
        """Sorted indices of ``joints`` and all their ancestors (what FK needs to place them)."""
        keep = set()
        for j in joints:
            j = int(j)
            while j >= 0 and j not in keep:
                keep.add(j)
                j = int(self.parents[j])
        return np.array(sorted(keep), dtype=np.int64)


@dataclass
class SourceMotion:
    skeleton: SourceSkeleton
    fps: float
    rotations: np.ndarray            # (T, J, 4) local rotations relative to the zero pose
    root_position: np.ndarray        # (T, 3) world position of joint 0, file units
    local_offsets: np.ndarray = None  # (T, J, 3) animated offsets (position channels), or None
    up_axis: str = None              # "Y", "Z" or None (unknown)
    metres_per_unit: float = None    # None when the file does not say
    source: str = ""                 # file path or description, for messages and metadata
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.root_position = np.asarray(self.root_position, dtype=np.float64)
        n = self.skeleton.num_joints
        if self.rotations.ndim != 3 or self.rotations.shape[1:] != (n, 4):
            raise ValueError(f"SourceMotion: rotations must be (frames, {n}, 4), got {self.rotations.shape}")
        if self.root_position.shape != (len(self.rotations), 3):
            raise ValueError(f"SourceMotion: root_position must be ({len(self.rotations)}, 3), "
                             f"got {self.root_position.shape}")
        if self.local_offsets is not None:
            self.local_offsets = np.asarray(self.local_offsets, dtype=np.float64)
            if self.local_offsets.shape != (len(self.rotations), n, 3):
                raise ValueError(f"SourceMotion: local_offsets must be ({len(self.rotations)}, {n}, 3)")
        if self.up_axis is not None and self.up_axis not in ("Y", "Z"):
            raise ValueError(f"SourceMotion: up_axis must be 'Y', 'Z' or None, got {self.up_axis!r}")
        problem = self._implausible()
        if problem:
            raise SourceFormatError(f"{self.source or 'the motion'}: {problem}.")

    def _implausible(self) -> str | None:
        """What makes this no recording of a body (a frame rate of 1e9, a root 1e30 units away, a
        skeleton with no size), as one clause naming the frame, or None."""
        fps, why = plausible.frame_rate(self.fps)
        if why is not None:
            return f"{why}; expected the take's frames per second"
        for what, values in (("rotation", self.rotations), ("root position", self.root_position),
                             ("joint offset", self.local_offsets)):
            if values is not None and not np.isfinite(values).all():
                frame = int(np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))[0])
                return f"frame {frame}: a {what} is not a finite number"
        rest = self.skeleton.rest_positions()
        size = float(np.max(np.ptp(rest, axis=0))) if np.isfinite(rest).all() else float("nan")
        if not size > 0:
            return "the skeleton has no size (every joint offset is zero or not a number); expected a body"
        # Without a stated unit the body is taken to be of a person's size, whatever its unit. Speeds
        # are not checked: with the unit only guessed, a limit would refuse odd but real rigs.
        metres_per_unit = self.metres_per_unit or plausible.TYPICAL_STATURE_M / size
        return plausible.far_positions(self.root_position[:, None], lambda _: f"joint {self.skeleton.names[0]}",
                                       metres_per_unit)

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @classmethod
    def from_motion(cls, motion, source: str = "") -> "SourceMotion":
        """An SMPL-24 :class:`~.motion.Motion` seen as a source rig (joint names = SMPL names)."""
        from ..kinematics.skeleton import JOINT_NAMES, PARENTS

        skeleton = SourceSkeleton(JOINT_NAMES, PARENTS, motion.skeleton.offsets.copy())
        return cls(skeleton, motion.fps, motion.rotations, motion.translation, up_axis="Y",
                   metres_per_unit=1.0, source=source or str(motion.metadata.get("source", "")),
                   metadata=dict(motion.metadata))

    def global_transforms(self, joints=None):
        """World positions (T, J, 3) and global rotations (T, J, 4) by forward kinematics.

        With ``joints``, only those joints and their ancestors are computed (the rest stay NaN), which
        skips fingers, face and twist bones when only the body matters.
        """
        sk = self.skeleton
        todo = np.arange(sk.num_joints) if joints is None else sk.ancestors_closure(joints)
        T, n = self.num_frames, sk.num_joints
        positions = np.full((T, n, 3), np.nan)
        rotations = np.full((T, n, 4), np.nan)
        local = quat_normalize(self.rotations)
        for j in todo:
            p = sk.parents[j]
            if p < 0:
                rotations[:, j] = local[:, j]
                positions[:, j] = self.root_position
                continue
            offset = sk.offsets[j] if self.local_offsets is None else self.local_offsets[:, j]
            rotations[:, j] = quat_multiply(rotations[:, p], local[:, j])
            positions[:, j] = positions[:, p] + quat_rotate(rotations[:, p], np.broadcast_to(offset, (T, 3)))
        return positions, rotations
