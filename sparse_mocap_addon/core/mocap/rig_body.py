"""Body measurements of the performer behind a mocap rig, for a personalised target skeleton.

The corpus retargets every take onto the performer's own proportions (FIP-style models learn from
bodies of many sizes): the limb lengths are the rig's own, the stature the median of estimates from
the leg, the arm and the trunk (each a length of the rig, scaled by the table proportions of
:mod:`.body`), the breadths from the shoulder and hip joint separations. The trunk's layout is the
tables' (where a rig puts its pelvis, spine and collar joints is a convention, not anatomy).

One performer, one body: :func:`performer_skeleton` (or :func:`performer_body` on already measured
takes) takes the median of every figure over all of a performer's takes, with the limbs left/right
symmetric unless the sides differ by more than ``ASYMMETRY_KEPT``.

Units: ``metres_per_unit`` from the file when it says; otherwise the unit among metres, centimetres,
millimetres, inches and CMU units (1/0.45 inch) that gives an adult leg length, and failing that a
scale that makes the leg 0.85 m ("normalised").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..body.measurements import (
    HIP_JOINTS_PER_BITROCHANTERIC, SHOULDER_JOINTS_PER_BIACROMIAL, BodyMeasurements, MeasurementError,
    default_measurements, measure_skeleton, skeleton_from_measurements,
)
from .joint_maps import JointMap
from .retarget import reference_pose
from .rig_anatomy import lowest_common_ancestor
from ..kinematics.skeleton import JOINT_INDEX, Skeleton
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


@dataclass
class TakeBody:
    """What one take says about its performer's body, in metres: the stature estimated three ways
    (``height_estimates``: from the leg, the arm and the trunk), the
    measurements the rig gives directly (``fields``), and the length of each limb bone the rig has
    (``limbs``: SMPL joint name at the bone's end -> metres)."""

    source: str
    metres_per_unit: float
    units: str
    reference: str
    height_estimates: dict
    fields: dict
    limbs: dict


def measure_take(source: SourceMotion, joint_map: JointMap | None = None, metres_per_unit=None,
                 rest_reference="auto") -> TakeBody:
    """The body figures of one take (see :class:`TakeBody`)."""
    pose, label, _, resolved = reference_pose(source, joint_map, rest_reference)
    p = {smpl: pose[rig] for smpl, rig in resolved.items()}
    leg = _pair_mean(p, lambda s: J[f"{s}_hip"], lambda s: J[f"{s}_knee"]) + \
        _pair_mean(p, lambda s: J[f"{s}_knee"], lambda s: J[f"{s}_ankle"])
    arm = _pair_mean(p, lambda s: J[f"{s}_shoulder"], lambda s: J[f"{s}_elbow"]) + \
        _pair_mean(p, lambda s: J[f"{s}_elbow"], lambda s: J[f"{s}_wrist"])
    mpu = metres_per_unit or source.metres_per_unit
    units = "from the file" if mpu else None
    if not mpu:
        mpu, units = guess_metres_per_unit(leg)

    # Stature: the median of three estimates, from the leg, from the arm and from the trunk (the
    # path from the hip joints' midpoint up the rig's chain to the head joint), each scaled by the
    # table proportion of the same length. All three are lengths of the rig, whatever its pose.
    table = skeleton_from_measurements(default_measurements("neutral"))
    table_size = measure_skeleton(table)
    estimates = {
        "leg": leg * mpu * table.stature() / table_size["leg_length"],
        "arm": arm * mpu * table.stature() / table_size["arm_length"],
        "trunk": _trunk_path(source, resolved, pose) * mpu * table.stature() / _table_trunk_path(table),
    }
    fields = {"arm_length": arm * mpu, "leg_length": leg * mpu}
    if J["left_shoulder"] in p:
        fields["shoulder_width"] = np.linalg.norm(p[J["left_shoulder"]] - p[J["right_shoulder"]]) * mpu \
            / SHOULDER_JOINTS_PER_BIACROMIAL
    fields["hip_width"] = np.linalg.norm(p[J["left_hip"]] - p[J["right_hip"]]) * mpu / HIP_JOINTS_PER_BITROCHANTERIC
    limbs = {}
    for parent, child in LIMB_BONES:
        rig_joint = resolved.get(J[child])
        if rig_joint is None or source.skeleton.end_site[rig_joint]:
            continue
        limbs[child] = float(np.linalg.norm(pose[resolved[J[child]]] - pose[resolved[J[parent]]]) * mpu)
    return TakeBody(source.source, float(mpu), units, label, {k: float(v) for k, v in estimates.items()},
                    {k: float(v) for k, v in fields.items()}, limbs)


def _trunk_path(source: SourceMotion, resolved: dict, pose: np.ndarray) -> float:
    """Length of the rig's chain from the midpoint of the hip joints to the head (or neck) joint."""
    parents = source.skeleton.parents
    hips = lowest_common_ancestor(parents, resolved[J["left_hip"]], resolved[J["right_hip"]])
    top = resolved.get(J["head"], resolved.get(J["neck"]))
    base = lowest_common_ancestor(parents, hips, top)
    chain = [top]
    while chain[-1] != base:
        chain.append(int(parents[chain[-1]]))
    points = pose[chain[::-1]]
    hip_mid = 0.5 * (pose[resolved[J["left_hip"]]] + pose[resolved[J["right_hip"]]])
    return float(np.linalg.norm(points[0] - hip_mid) + np.sum(np.linalg.norm(np.diff(points, axis=0), axis=-1)))


def _table_trunk_path(table: Skeleton) -> float:
    rest = table.rest_positions()
    chain = [J[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head")]
    hip_mid = 0.5 * (rest[J["left_hip"]] + rest[J["right_hip"]])
    return float(np.linalg.norm(rest[0] - hip_mid) + np.sum(np.linalg.norm(np.diff(rest[chain], axis=0), axis=-1)))


# Left and right limbs of one performer are taken to be equally long unless the data says
# otherwise: sides that differ by more than this share keep their own lengths.
ASYMMETRY_KEPT = 0.03


def performer_body(takes: list[TakeBody], sex: str = "neutral") -> tuple[Skeleton, dict]:
    """(SMPL-24 Skeleton, report) of one performer from what several takes say about them: every
    figure is the median over the takes, limbs left/right symmetric unless they differ by more than
    ``ASYMMETRY_KEPT``; the trunk, head and feet come from the tables for the stature. The report's
    ``measurements`` are those of the skeleton itself (its bones, as the Subject panel shows them).
    Implausible optional figures fall back to the tables and are listed."""
    if not takes:
        raise ValueError("performer_body needs at least one take")
    estimates = {k: float(np.median([t.height_estimates[k] for t in takes])) for k in takes[0].height_estimates}
    height = float(np.median(list(estimates.values())))
    fields = {k: float(np.median([t.fields[k] for t in takes if k in t.fields]))
              for k in ("arm_length", "leg_length", "shoulder_width", "hip_width") if any(k in t.fields for t in takes)}
    measurements = BodyMeasurements(height=height, sex=sex)
    measurements.validate()
    dropped = []
    for name, value in fields.items():
        trial = BodyMeasurements(**{**measurements.as_dict(), name: value})
        try:
            trial.validate()
            measurements = trial
        except MeasurementError:
            dropped.append(name)
    skeleton = skeleton_from_measurements(measurements)
    limbs = {}
    for name in {child for t in takes for child in t.limbs}:
        limbs[name] = float(np.median([t.limbs[name] for t in takes if name in t.limbs]))
    symmetric = []
    for _, child in LIMB_BONES:
        if not child.startswith("left_"):
            continue
        other = child.replace("left_", "right_")
        if child in limbs and other in limbs:
            mean = 0.5 * (limbs[child] + limbs[other])
            if abs(limbs[child] - limbs[other]) <= ASYMMETRY_KEPT * mean:
                limbs[child] = limbs[other] = mean
                symmetric.append(child[5:])
    for child, length in limbs.items():
        offset = skeleton.offsets[J[child]]
        skeleton.offsets[J[child]] = offset * (length / np.linalg.norm(offset))
    report = {"takes": len(takes), "reference": takes[0].reference, "metres_per_unit": takes[0].metres_per_unit,
              "units": takes[0].units, "measured": fields, "height": height, "height_estimates": estimates,
              "dropped_as_implausible": dropped, "symmetric_limbs": sorted(symmetric),
              "measurements": {**measurements.as_dict(), **measure_skeleton(skeleton)}}
    return skeleton, report


def skeleton_from_rig(source: SourceMotion, joint_map: JointMap | None = None, metres_per_unit=None,
                      sex: str = "neutral", rest_reference="auto"):
    """(SMPL-24 Skeleton with the performer's proportions, report) from one take: the measurement
    skeleton with each limb bone the rig's own length; the trunk's layout is anatomical (the
    tables'), never the rig's (where a rig puts its pelvis, spine and collar joints is a convention)."""
    return performer_body([measure_take(source, joint_map, metres_per_unit, rest_reference)], sex)


def performer_skeleton(sources, joint_map: JointMap | None = None, metres_per_unit=None,
                       sex: str = "neutral") -> tuple[Skeleton, dict]:
    """One skeleton for a performer from all of their takes (:func:`performer_body`)."""
    return performer_body([measure_take(s, joint_map, metres_per_unit) for s in sources], sex)


def rig_measurements(source: SourceMotion, joint_map: JointMap | None = None, metres_per_unit=None,
                     sex: str = "neutral", rest_reference="auto") -> tuple[BodyMeasurements, dict]:
    """(measurements of the performer's skeleton, report) from one take."""
    _, report = skeleton_from_rig(source, joint_map, metres_per_unit, sex, rest_reference)
    return BodyMeasurements(**report["measurements"]), report


# Limb bones whose length is copied from the rig: with them the knees, ankles, balls of the feet,
# elbows and wrists of the SMPL body land where the performer's were, not only the bone directions.
# (The foot only when the rig has a real toe joint: an end site is the toe tip, not the ball.)
LIMB_BONES = tuple((f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
                   for a, b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"), ("shoulder", "elbow"),
                                ("elbow", "wrist")))
