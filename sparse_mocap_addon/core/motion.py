"""The ``Motion`` data model and its .npz file format.

A Motion is fps, local joint rotations (T, 24, 4) as unit (w, x, y, z) quaternions, pelvis world
positions (T, 3) in metres (core frame, Y up), the Skeleton they animate, and free-form metadata
(source, subject measurements, ...) stored as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_open
from .rotations import quat_continuous, quat_normalize
from .skeleton import NUM_JOINTS, Skeleton, forward_kinematics

FORMAT_VERSION = 1


class MotionFileError(ValueError):
    """A Motion file that cannot be read; the message names the file and what was expected."""


@dataclass
class Motion:
    fps: float
    rotations: np.ndarray
    translation: np.ndarray
    skeleton: Skeleton
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.translation = np.asarray(self.translation, dtype=np.float64)
        problem = self._problem()
        if problem:
            raise ValueError(problem)
        self.rotations = quat_normalize(self.rotations)

    def _problem(self) -> str | None:
        if not (np.isfinite(self.fps) and self.fps > 0):
            return f"fps must be a positive number, got {self.fps!r}"
        if self.rotations.ndim != 3 or self.rotations.shape[1:] != (NUM_JOINTS, 4):
            return f"rotations must have shape (frames, 24, 4), got {self.rotations.shape}"
        if self.translation.shape != (self.rotations.shape[0], 3):
            return (f"translation must have shape ({self.rotations.shape[0]}, 3) to match the rotations, "
                    f"got {self.translation.shape}")
        for name, arr in (("rotations", self.rotations), ("translation", self.translation)):
            bad = ~np.isfinite(arr).reshape(len(arr), -1).all(axis=1)
            if bad.any():
                return f"{name} has NaN or infinite values at frame {int(np.flatnonzero(bad)[0])}"
        norms = np.linalg.norm(self.rotations, axis=-1)
        if np.any(norms < 1e-6):
            frame = int(np.flatnonzero((norms < 1e-6).any(axis=1))[0])
            return f"rotations has a zero-length quaternion at frame {frame}"
        return None

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def joint_positions(self) -> np.ndarray:
        return forward_kinematics(self.rotations, self.translation, self.skeleton)[0]

    def continuous(self) -> "Motion":
        """Same motion with quaternion signs made continuous over time (for baking/interpolation)."""
        return Motion(self.fps, quat_continuous(self.rotations, axis=0), self.translation.copy(),
                      self.skeleton, dict(self.metadata))

    # -- .npz io -----------------------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write atomically: a temporary file in the same folder, renamed over ``path`` at the end."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"{path}: Motion files must end in .npz")
        arrays = {
            "format_version": np.int64(FORMAT_VERSION),
            "fps": np.float64(self.fps),
            "rotations": self.rotations,
            "translation": self.translation,
            "metadata_json": np.array(json.dumps(self.metadata, default=_json_default)),
            **self.skeleton.to_arrays(),
        }
        with atomic_open(path) as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path) -> "Motion":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise MotionFileError(f"{path}: no such file") from None
        except Exception as exc:  # zipfile/numpy raise many types for corrupt files
            raise MotionFileError(f"{path}: not a readable .npz Motion file ({exc})") from None
        missing = [k for k in ("fps", "rotations", "translation", "skeleton_offsets") if k not in arrays]
        if missing:
            raise MotionFileError(f"{path}: missing array(s) {', '.join(missing)}; expected a sparse_mocap Motion file")
        version = int(arrays.get("format_version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise MotionFileError(f"{path}: format version {version} is newer than this reader ({FORMAT_VERSION})")
        try:
            skeleton = Skeleton.from_arrays(arrays)
            metadata = json.loads(str(arrays["metadata_json"])) if "metadata_json" in arrays else {}
            return cls(float(arrays["fps"]), arrays["rotations"], arrays["translation"], skeleton, metadata)
        except (ValueError, KeyError) as exc:
            raise MotionFileError(f"{path}: {exc}") from None


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} cannot be saved as JSON")
