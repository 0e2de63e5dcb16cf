"""The performer's skeleton from their landmark trajectories (PASE), blended with measurements.

Bones are rigid, so every frame where both ends of a bone are seen is one measurement of its
length. Per bone: the median over those frames after dropping outliers (more than 3 robust standard
deviations, 1.4826 x MAD, from the median), then the left and right sides pooled (people are close
to symmetric and landmark noise is larger than the asymmetry).

The rest directions come from a template body (T-pose, core frame), except where the landmarks
show the layout itself: the hip joints and spine1 around the pelvis, and the neck and collars around
spine3, measured in a body frame built from those points (median over frames, then mirrored so the
two sides agree).

With body measurements, each bone length is an inverse-variance blend of the landmark estimate
and the measurement skeleton. The landmark estimate's variance is its robust spread over
sqrt(frames / 10) (frames next to each other are not independent) plus a systematic term
(``LANDMARK_BIAS_M``: keypoint detectors place joint centres a centimetre or two off); the
measurement skeleton's is ``MEASURED_SD`` of the length for bones the user measured (arm and leg
segments, the breadths) and ``TABLE_SD`` for bones that only come from the proportion tables.
The weights are returned so a user can see how much each source counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..body.measurements import BodyMeasurements, default_measurements, skeleton_from_measurements
from ..kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, MIRROR, NUM_JOINTS, PARENTS, Skeleton

J = JOINT_INDEX
LANDMARK_BIAS_M = 0.015
MEASURED_SD = 0.03        # fraction of the length
TABLE_SD = 0.10
MIN_FRAMES = 5
# Bones whose length follows from a measurement the user enters (the child joint names them).
_MEASURED = {
    "arm_length": ("left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "leg_length": ("left_knee", "right_knee", "left_ankle", "right_ankle"),
    "shoulder_width": ("left_collar", "right_collar", "left_shoulder", "right_shoulder"),
    "hip_width": ("left_hip", "right_hip"),
}


@dataclass
class SkeletonEstimate:
    skeleton: Skeleton
    landmark_lengths: dict = field(default_factory=dict)     # bone (child joint name) -> metres or None
    landmark_frames: dict = field(default_factory=dict)      # bone -> frames used
    landmark_weights: dict = field(default_factory=dict)     # bone -> weight of the landmark estimate
    measurements: dict | None = None


def robust_length(lengths: np.ndarray) -> tuple[float, float, int]:
    """Median, robust SD and count of the finite lengths after 3-sigma (MAD) outlier rejection."""
    x = lengths[np.isfinite(lengths)]
    if len(x) == 0:
        return np.nan, np.nan, 0
    median = np.median(x)
    sd = 1.4826 * np.median(np.abs(x - median))
    if sd > 0:
        x = x[np.abs(x - median) <= 3.0 * sd]
        median = np.median(x)
        sd = 1.4826 * np.median(np.abs(x - median))
    return float(median), float(sd), int(len(x))


def bone_length_samples(positions: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, 24) length of the bone ending at each joint, NaN where an end is missing (root: NaN)."""
    lengths = np.full(valid.shape, np.nan)
    both = valid[:, 1:] & valid[:, PARENTS[1:]]
    seg = np.linalg.norm(positions[:, 1:] - positions[:, PARENTS[1:]], axis=-1)
    lengths[:, 1:] = np.where(both, seg, np.nan)
    return lengths


def _frame_layout(positions, valid, centre: int, left: int, right: int, up: int) -> dict | None:
    """Median offsets of (left, right, up) children from ``centre`` in a body frame (x: right->left,
    y: towards ``up`` made normal to x, z = x cross y), mirrored to agree, or None when unseen."""
    ok = valid[:, [centre, left, right, up]].all(axis=1)
    if ok.sum() < MIN_FRAMES:
        return None
    p = positions[ok]
    x = p[:, left] - p[:, right]
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = p[:, up] - p[:, centre]
    y -= np.sum(y * x, axis=-1, keepdims=True) * x
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    z = np.cross(x, y)
    frame = np.stack((x, y, z), axis=1)          # rows: body axes in the world
    local = {k: np.median(np.einsum("tij,tj->ti", frame, p[:, k] - p[:, centre]), axis=0) for k in (left, right, up)}
    mirrored = 0.5 * (local[left] + local[right] * np.array([-1.0, 1.0, 1.0]))
    local[left] = mirrored
    local[right] = mirrored * np.array([-1.0, 1.0, 1.0])
    local[up] = np.array([0.0, np.linalg.norm(local[up]), 0.0])
    return local


def skeleton_from_landmarks(positions: np.ndarray, valid: np.ndarray, measurements: BodyMeasurements | None = None,
                            sex: str = "neutral") -> SkeletonEstimate:
    """The personalised skeleton from SMPL-24 joint targets (T, 24, 3) and their ``valid`` mask."""
    positions = np.asarray(positions, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(positions).all(axis=-1)
    samples = bone_length_samples(positions, valid)
    stats = [robust_length(samples[:, j]) for j in range(NUM_JOINTS)]

    # Pool left and right: weighted by the frames each side was seen.
    lengths, frames, spread = {}, {}, {}
    for j in range(1, NUM_JOINTS):
        m = MIRROR[j]
        (a, sa, na), (b, sb, nb) = stats[j], stats[m]
        na = na if na >= MIN_FRAMES else 0
        nb = nb if nb >= MIN_FRAMES else 0
        if na + nb == 0:
            lengths[j], frames[j], spread[j] = None, 0, None
            continue
        lengths[j] = float((na * (a if na else 0.0) + nb * (b if nb else 0.0)) / (na + nb))
        spread[j] = float(np.sqrt((na * (sa if na else 0.0) ** 2 + nb * (sb if nb else 0.0) ** 2) / (na + nb)))
        frames[j] = na + nb

    if measurements is not None:
        template = skeleton_from_measurements(measurements)
    else:
        template = skeleton_from_measurements(default_measurements(sex, _stature_guess(lengths, sex)))
    offsets = template.offsets.copy()

    # Layout around the pelvis and spine3 where the landmarks show it.
    pelvis = _frame_layout(positions, valid, J["pelvis"], J["left_hip"], J["right_hip"], J["spine1"])
    if pelvis is not None:
        for k, v in pelvis.items():
            offsets[k] = v
    chest = _frame_layout(positions, valid, J["spine3"], J["left_collar"], J["right_collar"], J["neck"])
    if chest is not None:
        for k, v in chest.items():
            offsets[k] = v

    template_lengths = template.bone_lengths()
    weights = {}
    measured_children = set()
    if measurements is not None:
        for key, bones in _MEASURED.items():
            if getattr(measurements, key) is not None:
                measured_children.update(J[b] for b in bones)
    for j in range(1, NUM_JOINTS):
        name = JOINT_NAMES[j]
        if lengths[j] is None:
            weights[name] = 0.0
            continue
        if measurements is None:
            w = 1.0
        else:
            n_eff = max(frames[j] / 10.0, 1.0)
            var_landmark = spread[j] ** 2 / n_eff + LANDMARK_BIAS_M ** 2
            sd_fraction = MEASURED_SD if j in measured_children else TABLE_SD
            var_measured = (sd_fraction * template_lengths[j]) ** 2
            w = var_measured / (var_measured + var_landmark)
        weights[name] = float(w)
        length = w * lengths[j] + (1.0 - w) * template_lengths[j]
        norm = np.linalg.norm(offsets[j])
        if norm > 1e-9:
            offsets[j] *= length / norm

    skeleton = Skeleton(offsets, {k: v.copy() for k, v in template.leaf_tips.items()}, template.sole_height)
    _stand_on_floor(skeleton)
    return SkeletonEstimate(
        skeleton=skeleton,
        landmark_lengths={JOINT_NAMES[j]: lengths[j] for j in range(1, NUM_JOINTS)},
        landmark_frames={JOINT_NAMES[j]: frames[j] for j in range(1, NUM_JOINTS)},
        landmark_weights=weights,
        measurements=measurements.as_dict() if measurements is not None else None,
    )


def _stature_guess(lengths: dict, sex: str) -> float:
    """Stature of the template body from the landmark leg and trunk, or 1.75 m when unseen."""
    leg = [lengths.get(J[n]) for n in ("left_knee", "left_ankle")]
    trunk = [lengths.get(J[n]) for n in ("spine1", "spine2", "spine3", "neck")]
    if any(v is None for v in leg):
        return 1.75
    reference = skeleton_from_measurements(default_measurements(sex, 1.75)).bone_lengths()
    ratio = sum(leg) / (reference[J["left_knee"]] + reference[J["left_ankle"]])
    if all(v is not None for v in trunk):
        trunk_ratio = sum(trunk) / sum(reference[J[n]] for n in ("spine1", "spine2", "spine3", "neck"))
        ratio = 0.5 * (ratio + trunk_ratio)
    return float(np.clip(1.75 * ratio, 1.0, 2.3))


def _stand_on_floor(skeleton: Skeleton) -> None:
    """Put the pelvis height so the rest pose's soles touch y = 0 (the Skeleton root convention)."""
    rest = skeleton.rest_positions()
    lowest_ankle = min(rest[J["left_ankle"], 1], rest[J["right_ankle"], 1])
    skeleton.offsets[0] = (0.0, skeleton.offsets[0, 1] - (lowest_ankle - skeleton.sole_height), 0.0)
