"""Landmarks to a Motion on the performer's skeleton: the whole clean-up and solve, in one call.

    orient (up axis)  ->  SMPL-24 targets + cues  ->  fill gaps and smooth  ->  skeleton (PASE,
    or the user's armature)  ->  analytic IK  ->  the feet stage (floor found, contact feet
    planted and on it: ``feet_stage.feet_on_floor``)  ->  Motion

Every stage is a function of its own module; this one only strings them together with the user's
choices (:class:`SolveOptions`) and gathers what each stage found into a report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..core.body.measurements import BodyMeasurements
from ..core.kinematics.filters import fill_gaps, smooth_points
from ..core.feet.stage import FeetOptions, feet_on_floor
from ..core.kinematics.ik import solve_ik
from ..core.landmarks.skeleton import skeleton_from_landmarks
from ..core.landmarks.targets import JointTargets, joint_targets
from ..core.landmarks.sequence import LandmarkError, LandmarkSequence, orient
from ..core.kinematics.motion import Motion
from ..core.kinematics.skeleton import JOINT_NAMES, NUM_JOINTS, Skeleton


@dataclass
class SolveOptions:
    """What a user chooses when solving landmarks.

    ``threshold``: confidence below which a point counts as missing. ``up_axis``: the file's up
    axis ("auto" works it out from the body). ``strength``: smoothing, 0 (gap filling only) to 1
    (heavy); ``filter_mode``: "offline" (zero-phase, no lag) or "online" (One Euro, causal).
    ``max_gap_s``: longer gaps are not smoothed across; they are bridged linearly afterwards.
    ``measurements``: blended into the landmark skeleton when given. ``skeleton``: solve onto this
    skeleton (e.g. an existing armature) instead of estimating one. ``feet``: the feet stage
    (the floor estimated from the soles, contact feet planted on it); ``True``/``False`` stand for
    the default options / off.
    """

    threshold: float = 0.5
    up_axis: str = "auto"
    strength: float = 0.5
    filter_mode: str = "offline"
    max_gap_s: float = 0.5
    measurements: BodyMeasurements | None = None
    sex: str = "neutral"
    skeleton: Skeleton | None = None
    feet: FeetOptions = field(default_factory=FeetOptions)

    def __post_init__(self):
        if isinstance(self.feet, bool):
            self.feet = FeetOptions(enabled=self.feet)

    def check(self) -> "SolveOptions":
        if not 0.0 <= self.threshold <= 1.0:
            raise LandmarkError(f"the confidence threshold must lie in [0, 1], got {self.threshold!r}.")
        if not 0.0 <= self.strength <= 1.0:
            raise LandmarkError(f"the filter strength must lie in [0, 1], got {self.strength!r}.")
        if self.filter_mode not in ("offline", "online"):
            raise LandmarkError(f"the filter mode must be 'offline' or 'online', got {self.filter_mode!r}.")
        return self


def clean_targets(targets: JointTargets, options: SolveOptions) -> tuple[np.ndarray, np.ndarray, dict, dict]:
    """Smoothed, gap-filled targets (T, 24, 3), their validity, smoothed cues and a report.

    Joints the layout never gives stay invalid (the IK keeps those bones at rest). Gaps longer than
    ``max_gap_s`` are not smoothed across; afterwards they are bridged by straight lines between
    the points around them (held at the ends of the take), since the IK needs every frame. The
    report lists those frames: a gap filler that knows how people move belongs there.
    """
    fps = targets.fps
    smoothed, filled = smooth_points(targets.positions, targets.valid, fps, options.strength,
                                     options.filter_mode, options.max_gap_s)
    observed = targets.valid.any(axis=0)
    # Long gaps: bridge them, and say where.
    still_missing = ~np.isfinite(smoothed).all(axis=-1) & observed[None, :]
    bridged, _ = fill_gaps(smoothed, ~still_missing & observed[None, :], None)
    positions = np.where(observed[None, :, None], bridged, np.nan)
    valid = np.isfinite(positions).all(axis=-1)
    cues = {}
    for name, points in targets.cues.items():
        ok = np.isfinite(points).all(axis=-1)
        if ok.any():
            cue, _ = smooth_points(points[:, None], ok[:, None], fps, options.strength, options.filter_mode,
                                   options.max_gap_s)
            cues[name] = cue[:, 0]
    bridged_frames = np.flatnonzero(still_missing.any(axis=1))
    report = {
        "frames": int(targets.num_frames),
        "observed_joints": [JOINT_NAMES[j] for j in range(NUM_JOINTS) if observed[j]],
        "missing_joints": [JOINT_NAMES[j] for j in range(NUM_JOINTS) if not observed[j]],
        "masked_fraction": float(1.0 - targets.valid[:, observed].mean()) if observed.any() else 1.0,
        "filled_points": int(filled[:, observed].sum()),
        "bridged_frames": bridged_frames.tolist()[:50],
        "bridged_frame_count": int(len(bridged_frames)),
        "cues": sorted(cues),
    }
    return positions, valid, cues, report


def solve_targets(targets: JointTargets, options: SolveOptions | None = None, source: str = "") -> tuple[Motion, dict]:
    """A Motion from SMPL-24 joint targets (see :func:`solve_landmarks`)."""
    options = (options or SolveOptions()).check()
    positions, valid, cues, report = clean_targets(targets, options)
    if not valid[:, 0].any():
        raise LandmarkError(f"{source or 'the landmarks'}: no frame has the hips and the trunk above the "
                            "confidence threshold, so there is nothing to solve; lower the threshold.")
    if options.skeleton is not None:
        skeleton = options.skeleton.copy()
        report["skeleton"] = {"source": "given"}
    else:
        estimate = skeleton_from_landmarks(positions, valid, options.measurements, options.sex)
        skeleton = estimate.skeleton
        report["skeleton"] = {
            "source": "landmarks" + (" + measurements" if options.measurements is not None else ""),
            "bone_lengths_m": {k: v for k, v in estimate.landmark_lengths.items()},
            "landmark_weights": estimate.landmark_weights,
            "stature_m": skeleton.stature(),
        }
    result = solve_ik(positions, skeleton, valid, cues)
    rotations, translation = result.rotations, result.translation
    if options.feet.enabled:
        # Landmarks come in the file's own space: by default the floor is found under the soles.
        solved = Motion(targets.fps, rotations, translation, skeleton)
        grounded, report["feet"] = feet_on_floor(solved, options=options.feet)
        rotations, translation = grounded.rotations, grounded.translation
    metadata = {
        "source": source,
        "solver": "landmarks",
        "options": {k: v for k, v in asdict(options).items() if k not in ("skeleton", "measurements")},
        "report": report,
    }
    if options.measurements is not None:
        metadata["measurements"] = options.measurements.as_dict()
    return Motion(targets.fps, rotations, translation, skeleton, metadata), report


def solve_landmarks(seq: LandmarkSequence, options: SolveOptions | None = None) -> tuple[Motion, dict]:
    """Landmarks (any layout, the file's axes) to a Motion on the performer's skeleton, and a report
    of what was found: observed and missing joints, masked and filled points, bridged frames, skeleton
    lengths and blend weights, ground shift and foot contact."""
    options = (options or SolveOptions()).check()
    seq = orient(seq, options.up_axis, options.threshold)
    targets = joint_targets(seq, options.threshold)
    motion, report = solve_targets(targets, options, seq.source)
    report["file_up_axis"] = seq.metadata.get("file_up_axis")
    report["layout"] = seq.layout
    return motion, report

