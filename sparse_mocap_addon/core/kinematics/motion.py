"""The ``Motion`` data model and its .npz file format.

A Motion is fps, local joint rotations (T, 24, 4) as unit (w, x, y, z) quaternions, pelvis world
positions (T, 3) in metres (core frame, Y up), the Skeleton they animate, and free-form metadata
(source, subject measurements, ...) stored as JSON.

Plausibility (``formats/plausible.py``): a Motion has a frame rate up to 1000 fps and a root within
10 km of the origin; a Motion file must also hold a person-sized skeleton (a stature in millimetres
is named as such) and a root that never jumps more than 5 m between frames faster than 100 m/s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_open
from ..io import plausible
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
        why = plausible.frame_rate(self.fps)[1]
        if why is not None:
            return why
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
        return plausible.far_positions(self.translation[:, None], _root_label)

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
        except Exception:  # zipfile/numpy raise many types for corrupt files, some with multi-line messages
            raise MotionFileError(f"{path}: {plausible.damaged_array_file('.npz Motion')}") from None
        missing = [k for k in ("fps", "rotations", "translation", "skeleton_offsets") if k not in arrays]
        if missing:
            raise MotionFileError(f"{path}: missing array(s) {', '.join(missing)}; expected a sparse_mocap Motion file")
        try:
            version = int(arrays.get("format_version", FORMAT_VERSION))
        except (TypeError, ValueError, OverflowError):
            raise MotionFileError(f"{path}: the format_version array is not a whole number") from None
        if version > FORMAT_VERSION:
            raise MotionFileError(f"{path}: format version {version} is newer than this reader ({FORMAT_VERSION})")
        for key in ("rotations", "translation", "skeleton_offsets"):
            if arrays[key].dtype.kind not in "iuf":
                raise MotionFileError(f"{path}: the {key} array holds {arrays[key].dtype} values; numbers are expected")
        if arrays["rotations"].ndim == 0 or len(arrays["rotations"]) == 0:
            raise MotionFileError(f"{path}: the motion has no frames")
        fps, why = plausible.frame_rate(arrays["fps"])
        if why is not None:
            raise MotionFileError(f"{path}: {why}; expected the motion's frames per second")
        try:
            skeleton = Skeleton.from_arrays(arrays)
            metadata = json.loads(str(arrays["metadata_json"])) if "metadata_json" in arrays else {}
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise MotionFileError(f"{path}: the skeleton or metadata arrays cannot be read ({_first_line(exc)})") from None
        why = plausible.stature_problem(skeleton.stature()) if np.isfinite(skeleton.offsets).all() else None
        if why is not None:
            raise MotionFileError(f"{path}: the skeleton is not a person's: {why}")
        try:
            motion = cls(fps, arrays["rotations"], arrays["translation"], skeleton, metadata)
        except ValueError as exc:
            raise MotionFileError(f"{path}: {exc}") from None
        # Speeds are checked at this edge only: synthetic motions made in code may jump on purpose.
        why = plausible.fast_steps(motion.translation[:, None], motion.fps, _root_label)
        if why is not None:
            raise MotionFileError(f"{path}: {why}")
        return motion


def _root_label(_) -> str:
    return "the root (pelvis) translation"


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 100 else text[:97] + "..."


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} cannot be saved as JSON")
