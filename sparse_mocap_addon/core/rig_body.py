"""Body measurements of the performer behind a mocap rig, for a personalised target skeleton.

The corpus retargets every take onto the performer's own proportions (FIP-style models learn from
bodies of many sizes): arm and leg lengths are read off the rig's reference pose, the stature from
those and the head joint's height (each scaled by the table proportions of :mod:`.body`), and the
breadths from the shoulder and hip joint separations.

Units: ``metres_per_unit`` from the file when it says; otherwise the unit among metres, centimetres,
millimetres, inches and CMU units (1/0.45 inch) that gives an adult leg length, and failing that a
scale that makes the leg 0.85 m ("normalised").
"""

from __future__ import annotations

import numpy as np

from .body import (
    HIP_JOINTS_PER_BITROCHANTERIC, SHOULDER_JOINTS_PER_BIACROMIAL, BodyMeasurements, MeasurementError,
    default_measurements, measure_skeleton, skeleton_from_measurements,
)
from .joint_maps import JointMap
from .retarget import reference_pose
from .skeleton import JOINT_INDEX
from .source import SourceMotion

J = JOINT_INDEX
CANDIDATE_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "CMU unit": 0.0254 / 0.45}
ADULT_LEG_RANGE_M = (0.65, 1.10)
NORMALISED_LEG_M = 0.85


def _pair_mean(p, first, second):
    return float(np.mean([np.linalg.norm(p[first(s)] - p[second(s)]) for s in ("left", "right")]))


def guess_metres_per_unit(leg_length_units: float) -> tuple[float, str]:
    """(metres per unit, how it was chosen) from the leg length in file units."""
    lo, hi = ADULT_LEG_RANGE_M
    fits = [(abs(leg_length_units * mpu - NORMALISED_LEG_M), mpu, name)
            for name, mpu in CANDIDATE_UNITS.items() if lo <= leg_length_units * mpu <= hi]
    if fits:
        _, mpu, name = min(fits)
        return mpu, f"guessed: {name}"
    return NORMALISED_LEG_M / leg_length_units, "normalised: leg 0.85 m"


def rig_measurements(source: SourceMotion, joint_map: JointMap | None = None, metres_per_unit=None,
                     sex: str = "neutral", rest_reference="auto") -> tuple[BodyMeasurements, dict]:
    """(measurements, report) of the performer; implausible optional fields fall back to the tables."""
    return _measure(source, reference_pose(source, joint_map, rest_reference), metres_per_unit, sex)


def _measure(source: SourceMotion, reference, metres_per_unit, sex: str) -> tuple[BodyMeasurements, dict]:
    """:func:`rig_measurements` from an already chosen ``reference_pose`` result."""
    pose, label, _, resolved = reference
    p = {smpl: pose[rig] for smpl, rig in resolved.items()}
    leg = _pair_mean(p, lambda s: J[f"{s}_hip"], lambda s: J[f"{s}_knee"]) + \
        _pair_mean(p, lambda s: J[f"{s}_knee"], lambda s: J[f"{s}_ankle"])
    arm = _pair_mean(p, lambda s: J[f"{s}_shoulder"], lambda s: J[f"{s}_elbow"]) + \
        _pair_mean(p, lambda s: J[f"{s}_elbow"], lambda s: J[f"{s}_wrist"])
    mpu = metres_per_unit or source.metres_per_unit
    units = "from the file" if mpu else None
    if not mpu:
        mpu, units = guess_metres_per_unit(leg)

    # Stature: rigs disagree on where the head joint sits (Acclaim trunks are short), so take the
    # median of three estimates: from the leg, from the arm, and from the head joint's height above
    # the ankles, each scaled by the table proportion of the same quantity.
    table = skeleton_from_measurements(default_measurements(sex))
    table_size = measure_skeleton(table)
    rest = table.rest_positions()
    top = J["head"] if J["head"] in p else J["neck"]
    ankles = 0.5 * (p[J["left_ankle"]] + p[J["right_ankle"]])
    estimates = {
        "leg": leg * mpu * table.stature() / table_size["leg_length"],
        "arm": arm * mpu * table.stature() / table_size["arm_length"],
        "head": (p[top][1] - ankles[1]) * mpu * table.stature() / (rest[top, 1] - rest[J["left_ankle"], 1]),
    }
    height = float(np.median(list(estimates.values())))

    fields = {"arm_length": arm * mpu, "leg_length": leg * mpu}
    if J["left_shoulder"] in p:
        fields["shoulder_width"] = np.linalg.norm(p[J["left_shoulder"]] - p[J["right_shoulder"]]) * mpu \
            / SHOULDER_JOINTS_PER_BIACROMIAL
    fields["hip_width"] = np.linalg.norm(p[J["left_hip"]] - p[J["right_hip"]]) * mpu / HIP_JOINTS_PER_BITROCHANTERIC
    measurements = BodyMeasurements(height=float(height), sex=sex)
    measurements.validate()
    dropped = []
    for name, value in fields.items():
        trial = BodyMeasurements(**{**measurements.as_dict(), name: float(value)})
        try:
            trial.validate()
            measurements = trial
        except MeasurementError:
            dropped.append(name)
    report = {"reference": label, "metres_per_unit": mpu, "units": units,
              "measured": {k: float(v) for k, v in fields.items()}, "height": height,
              "height_estimates": {k: float(v) for k, v in estimates.items()},
              "dropped_as_implausible": dropped}
    return measurements, report


# Limb bones whose length is copied from the rig: with them the knees, ankles, balls of the feet,
# elbows and wrists of the SMPL body land where the performer's were, not only the bone directions.
# (The foot only when the rig has a real toe joint: an end site is the toe tip, not the ball.)
LIMB_BONES = tuple((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
                   for a, b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"), ("shoulder", "elbow"),
                                ("elbow", "wrist")))


def skeleton_from_rig(source: SourceMotion, joint_map: JointMap | None = None, metres_per_unit=None,
                      sex: str = "neutral", rest_reference="auto"):
    """(SMPL-24 Skeleton with the performer's proportions, report): the measurement skeleton of
    :func:`rig_measurements` with each limb bone set to the rig's own length (per side), and the
    bones leaving the pelvis and spine3 laid out as in the rig (:func:`_branches_from_rig`)."""
    reference = reference_pose(source, joint_map, rest_reference)
    measurements, report = _measure(source, reference, metres_per_unit, sex)
    skeleton = skeleton_from_measurements(measurements)
    pose, _, _, resolved = reference
    mpu = report["metres_per_unit"]
    for parent, child in LIMB_BONES:
        rig_joint = resolved.get(J[child])
        if rig_joint is None or source.skeleton.end_site[rig_joint]:
            continue
        length = np.linalg.norm(pose[resolved[J[child]]] - pose[resolved[J[parent]]]) * mpu
        offset = skeleton.offsets[J[child]]
        skeleton.offsets[J[child]] = offset * (length / np.linalg.norm(offset))
    report["measurements"] = measurements.as_dict()
    return skeleton, report
