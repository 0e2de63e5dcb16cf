"""3D landmark sequences (MediaPipe, MotionBERT, AlphaPose, Pose2Sim, SMPL regressors) and their
layouts.

Every reader in ``formats/landmarks.py`` produces a :class:`LandmarkSequence`: ``points`` (T, K, 3)
in metres, ``confidence`` (T, K) in [0, 1] and the K landmark ``names`` in the canonical vocabulary
below, so the mapping onto SMPL-24 (``landmark_targets.py``) never needs to know which tool wrote
the file. A point that is missing, not finite or below the confidence threshold is *masked*: it is
never used as if it were measured.

Axes: readers keep the file's own axes (converted to metres). :func:`orient` then turns the
sequence into the core frame (right-handed, Y up) from the file's up axis, or works the up axis out
from the body ("auto"): the axis along which the head is farthest from the feet.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

# The canonical landmark names. Readers translate their tool's names into these; the SMPL-24 joint
# names are also accepted (layout "smpl24": a regressor's joints, used as they are).
CANONICAL_NAMES = (
    # face and head
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "head_top",        # vertex: Halpe-26 "head", Human3.6M "head", Pose2Sim "Head"
    "neck",            # base of the neck between the shoulders: Halpe/OpenPose/Pose2Sim "neck"
    "thorax",          # Human3.6M "thorax" (about the base of the neck)
    "spine",           # Human3.6M "spine" (mid-torso)
    "mid_hip",         # between the hip joints: Human3.6M root, Halpe-26 "hip"
    # limbs
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",    # tip of the toes (MediaPipe)
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
)

# Named layouts: the landmark order of array files (.npy, .npz, plain json lists), which carry no
# names. Human3.6M-17 is the order MotionBERT and VideoPose3D write; joint 9 ("neck/nose") lies at
# the chin, between the thorax and the nose, and is called "nose" here.
LAYOUTS = {
    "mediapipe33": (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
        "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
        "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
        "right_heel", "left_foot_index", "right_foot_index",
    ),
    "h36m17": (
        "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "nose", "head_top", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    "coco17": (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    "halpe26": (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "head_top", "neck", "mid_hip",
        "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel",
        "right_heel",
    ),
}
# SMPL-24 joint arrays use the SMPL joint names (see skeleton.JOINT_NAMES); filled in below to keep
# this module's import light.
SMPL_LAYOUT = "smpl24"
UP_AXES = ("auto", "+Y", "-Y", "+Z", "-Z", "+X", "-X")


class LandmarkError(ValueError):
    """A landmark file or sequence that cannot be used; the message names the file and the reason."""


@dataclass
class LandmarkSequence:
    """Landmark trajectories of one performer.

    ``points`` (T, K, 3) metres, NaN where a point is missing; ``confidence`` (T, K) in [0, 1],
    0 where a point is missing; ``names`` the K canonical names; ``layout`` a key of ``LAYOUTS``,
    ``"smpl24"``, or ``"named"`` for files whose header names the points (TRC, CSV, JSON with names);
    ``source`` the file it came from (for messages); ``up_axis`` the axis that points up in
    ``points`` ("+Y" once in the core frame), or None when not known yet.
    """

    names: tuple
    points: np.ndarray
    confidence: np.ndarray
    fps: float
    layout: str = "named"
    source: str = ""
    up_axis: str | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.names = tuple(str(n) for n in self.names)
        self.points = np.asarray(self.points, dtype=np.float64)
        self.confidence = np.asarray(self.confidence, dtype=np.float64)
        where = f"{self.source}: " if self.source else ""
        if self.points.ndim != 3 or self.points.shape[2] != 3:
            raise LandmarkError(f"{where}landmark points must have shape (frames, points, 3), got {self.points.shape}.")
        if self.points.shape[1] != len(self.names):
            raise LandmarkError(f"{where}{self.points.shape[1]} points per frame but {len(self.names)} names.")
        if self.confidence.shape != self.points.shape[:2]:
            raise LandmarkError(f"{where}confidence must have shape {self.points.shape[:2]}, got {self.confidence.shape}.")
        if len(set(self.names)) != len(self.names):
            raise LandmarkError(f"{where}landmark names must be unique.")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise LandmarkError(f"{where}the frame rate must be a positive number, got {self.fps!r}.")
        missing = ~np.isfinite(self.points).all(axis=-1)
        self.points[missing] = np.nan
        self.confidence = np.where(missing | ~np.isfinite(self.confidence), 0.0, np.clip(self.confidence, 0.0, 1.0))

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def valid(self, threshold: float = 0.5) -> np.ndarray:
        """(T, K) bool: the point exists and its confidence reaches ``threshold``."""
        return (self.confidence >= threshold) & np.isfinite(self.points).all(axis=-1)

    def masked_points(self, threshold: float = 0.5) -> np.ndarray:
        """``points`` with every point below the threshold set to NaN."""
        return np.where(self.valid(threshold)[..., None], self.points, np.nan)

    def with_points(self, points: np.ndarray, **changes) -> "LandmarkSequence":
        fields = dict(names=self.names, points=points, confidence=self.confidence.copy(), fps=self.fps,
                      layout=self.layout, source=self.source, up_axis=self.up_axis, metadata=dict(self.metadata))
        fields.update(changes)
        return LandmarkSequence(**fields)


def _up_rotation(up_axis: str) -> np.ndarray:
    """Proper rotation (3x3) taking the given up axis onto +Y (handedness kept)."""
    return {
        "+Y": np.eye(3),
        "-Y": np.diag([1.0, -1.0, -1.0]),                               # camera axes (y down, z ahead)
        "+Z": np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]]),       # Z up: y' = z, z' = -y
        "-Z": np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]),
        "+X": np.array([[0, 1.0, 0], [-1.0, 0, 0], [0, 0, 1.0]]),
        "-X": np.array([[0, -1.0, 0], [1.0, 0, 0], [0, 0, 1.0]]),
    }[up_axis]


_HEAD_POINTS = ("head_top", "nose", "left_ear", "right_ear", "neck", "thorax", "left_shoulder", "right_shoulder",
                "head")
_FOOT_POINTS = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot", "right_foot")


def guess_up_axis(seq: LandmarkSequence, threshold: float = 0.5) -> str:
    """The file axis that points from the feet to the head, from the median over confident frames."""
    pts = seq.masked_points(threshold)
    top = [seq.index(n) for n in _HEAD_POINTS if n in seq.names]
    bottom = [seq.index(n) for n in _FOOT_POINTS if n in seq.names]
    where = f"{seq.source}: " if seq.source else ""
    if not top or not bottom:
        raise LandmarkError(f"{where}cannot tell which way is up: the layout has no head or shoulder points "
                            "and no ankle points; choose the up axis.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # frames without a head or an ankle: NaN, dropped
        rise = np.nanmean(pts[:, top], axis=1) - np.nanmean(pts[:, bottom], axis=1)
    rise = rise[np.isfinite(rise).all(axis=1)]
    if len(rise) == 0:
        raise LandmarkError(f"{where}no frame has both a confident head and a confident ankle point, so the "
                            "up axis cannot be found; choose it, or lower the confidence threshold.")
    median = np.median(rise, axis=0)
    axis = int(np.argmax(np.abs(median)))
    return ("+" if median[axis] > 0 else "-") + "XYZ"[axis]


def orient(seq: LandmarkSequence, up_axis: str = "auto", threshold: float = 0.5) -> LandmarkSequence:
    """The sequence in the core frame (Y up). ``up_axis`` is the file's up axis or "auto"."""
    if up_axis not in UP_AXES:
        raise LandmarkError(f"up axis must be one of {', '.join(UP_AXES)}, got {up_axis!r}.")
    if up_axis == "auto":
        up_axis = seq.up_axis or guess_up_axis(seq, threshold)
    rotation = _up_rotation(up_axis)
    meta = dict(seq.metadata, file_up_axis=up_axis)
    return seq.with_points(seq.points @ rotation.T, up_axis="+Y", metadata=meta)
