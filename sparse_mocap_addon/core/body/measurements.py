"""A personalised SMPL-24 :class:`~.skeleton.Skeleton` from a few body measurements.

The performer enters their height and, optionally, arm length, leg length, shoulder width and hip
width (metres). Whatever is left out comes from published proportions of the stature:

- P. de Leva (1996), "Adjustments to Zatsiorsky-Seluyanov's segment inertia parameters",
  Journal of Biomechanics 29(9):1223-1230, Table 1: sex-specific mean segment lengths
  (``DE_LEVA_1996_TABLE1_MM``);
- D. A. Winter, "Biomechanics and Motor Control of Human Movement" (Wiley), the segment-length
  figure after Drillis & Contini (1966), given as fractions of the stature H
  (``WINTER_DRILLIS_CONTINI``).

"neutral" is the mean of the male and female proportions.

Measurement definitions (what the user is asked to measure):

- ``height``: stature, floor to the top of the head (vertex), standing. Equals
  :meth:`Skeleton.stature` of the result.
- ``arm_length``: armpit (shoulder joint) to wrist, as the FIP paper measures it, i.e.
  |shoulder->elbow| + |elbow->wrist| of the rest skeleton.
- ``leg_length``: hip joint to ankle, |hip->knee| + |knee->ankle|.
- ``shoulder_width``: biacromial breadth, tape from acromion to acromion.
- ``hip_width``: bitrochanteric breadth, across the greater trochanters.

Breadths are taken over bony landmarks on the outside of the body, while the skeleton needs joint
*centre* separations. The conversion factors ``SHOULDER_JOINTS_PER_BIACROMIAL`` (0.80) and
``HIP_JOINTS_PER_BITROCHANTERIC`` (0.50) are approximations chosen by this project, not published
regressions: the glenohumeral centres lie roughly 4-5 cm medial of each acromion's lateral edge in an
adult (about 10 % of the breadth on each side), and the hip joint centres lie about 8 cm medial of
each greater trochanter's outer surface (femoral neck plus soft tissue); with Winter's proportions
these give about 36 cm between shoulder joints and 17 cm between hip joints for a 1.75 m adult,
close to common marker-based estimates (e.g. Bell et al.'s hip-centre rule of 0.72 x the inter-ASIS
distance). Entered breadths are reproduced exactly by :func:`measure_skeleton`, which applies the
inverse factors.

Rest pose: a T-pose with every joint frame aligned with the world (core frame: Y up, +Z forward,
+X the subject's left): legs straight down, arms straight out along +X (left) / -X (right), the spine
chain vertical, the SMPL "foot" joint (ball of the foot) forward of and below the ankle.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, Skeleton

SEXES = ("male", "female", "neutral")

# de Leva (1996), Table 1: stature and segment lengths in mm (male, female).
# upper_arm: shoulder joint centre - elbow joint centre; forearm: elbow - wrist joint centre;
# hand: wrist joint centre - 3rd metacarpale (WJC-MET3); thigh: hip joint centre - knee joint centre;
# shank: knee joint centre - lateral malleolus; foot: heel - tip of the longest toe;
# trunk: cervicale - mid-hip (CERV-MIDH); head: vertex - cervicale (VERT-CERV).
DE_LEVA_1996_TABLE1_MM = {
    "male": {
        "stature": 1741.0, "upper_arm": 281.7, "forearm": 268.9, "hand": 86.2, "thigh": 422.2,
        "shank": 434.0, "foot": 258.1, "trunk": 603.3, "head": 242.9,
    },
    "female": {
        "stature": 1735.0, "upper_arm": 275.1, "forearm": 264.3, "hand": 78.0, "thigh": 425.7,
        "shank": 433.5, "foot": 228.3, "trunk": 614.8, "head": 243.7,
    },
}

# Winter, Drillis & Contini (1966) figure: fractions of the stature H (not sex-specific).
WINTER_DRILLIS_CONTINI = {
    "ankle_height": 0.039,      # floor to ankle joint
    "biacromial": 0.259,        # shoulder width
    "bitrochanteric": 0.191,    # hip width
    "foot_length": 0.152,       # heel to toe tip (de Leva's sex-specific foot length is used instead)
    "foot_width": 0.055,        # not used by the joints; kept for body-shape consumers
    "hand_length": 0.108,       # wrist to finger tip
}

SHOULDER_JOINTS_PER_BIACROMIAL = 0.80   # shoulder joint-centre separation / biacromial breadth
HIP_JOINTS_PER_BITROCHANTERIC = 0.50    # hip joint-centre separation / bitrochanteric breadth

# Plausible ranges, as fractions of the height (height itself in metres).
HEIGHT_RANGE_M = (0.5, 2.5)
RATIO_RANGES = {
    "arm_length": (0.22, 0.42),
    "leg_length": (0.35, 0.60),
    "shoulder_width": (0.15, 0.35),
    "hip_width": (0.12, 0.30),
}

# Vertical layout above the hip joints (fractions of stature for a table-proportioned body). The
# trunk part (hip joints -> neck) and the head part (neck -> vertex) are rescaled to de Leva's
# trunk:head ratio and then together to exactly fill the height left above the hips.
_TRUNK_LAYOUT = (
    ("pelvis", 0.045),   # hip joints -> pelvis
    ("spine1", 0.060),
    ("spine2", 0.075),
    ("spine3", 0.030),
    ("neck", 0.120),
)
_HEAD_LAYOUT = (
    ("head", 0.050),     # neck -> head joint
    ("vertex", 0.090),   # head joint -> top of the head (leaf tip)
)
# Shoulder joints sit this fraction of the way from spine3 up to the neck (about 0.80 H for a
# table-proportioned body, just below Winter's acromion height of 0.818 H). The collar joint takes
# this share of the lateral distance and of the rise from spine3 to the shoulder.
_SHOULDER_RISE = 0.5
_COLLAR_LATERAL = 0.4
_COLLAR_RISE = 0.85
# Foot, along its length from the heel: ankle joint above 25 %, ball of the foot (SMPL "foot"
# joint, the metatarsophalangeal joints) at 73 %, 35 % of the ankle height above the floor; the toe
# tip lies on the floor. Approximations of adult foot geometry.
_ANKLE_ALONG_FOOT = 0.25
_BALL_ALONG_FOOT = 0.73
_BALL_HEIGHT_PER_ANKLE_HEIGHT = 0.35


class MeasurementError(ValueError):
    """A body measurement that cannot be used; the message names the field and the allowed range."""


@dataclass
class BodyMeasurements:
    """Body measurements in metres (the module docstring has the sources and the factors).

    - ``height``: stature, floor to the top of the head (0.5 to 2.5 m).
    - ``arm_length``: shoulder joint (armpit) to wrist, arm straight, as measured in FIP
      (0.22 to 0.42 x height).
    - ``leg_length``: hip joint to ankle, leg straight (0.35 to 0.60 x height).
    - ``sex``: "male", "female" or "neutral" (the mean of the two tables); picks the proportions.
    - ``shoulder_width``: biacromial breadth, acromion to acromion (0.15 to 0.35 x height).
    - ``hip_width``: bitrochanteric breadth (0.12 to 0.30 x height).

    ``None`` means "use the table proportion of the height" for the chosen ``sex``. Construction
    does not check anything; :meth:`validate` (called by :func:`skeleton_from_measurements`) does.
    """

    height: float
    arm_length: float | None = None
    leg_length: float | None = None
    sex: str = "neutral"
    shoulder_width: float | None = None
    hip_width: float | None = None

    def validate(self) -> "BodyMeasurements":
        """Raise :class:`MeasurementError` (one sentence naming the field and range) if implausible."""
        if not isinstance(self.sex, str) or self.sex.strip().lower() not in SEXES:
            raise MeasurementError(f"sex {self.sex!r} is not recognised: expected one of {', '.join(SEXES)}")
        lo, hi = HEIGHT_RANGE_M
        height = _check_number("height", self.height, f"{lo:.2f} to {hi:.2f} m")
        if not lo <= height <= hi:
            raise MeasurementError(f"height {_fmt(height)} m is implausible: expected {lo:.2f} to {hi:.2f} m")
        for name, (rlo, rhi) in RATIO_RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            allowed = f"{rlo * height:.2f} to {rhi * height:.2f} m ({rlo:.2f} to {rhi:.2f} x height)"
            value = _check_number(name, value, allowed)
            if not rlo * height <= value <= rhi * height:
                raise MeasurementError(
                    f"{name} {_fmt(value)} m is implausible for a height of {height:.2f} m: expected {allowed}"
                )
        return self

    def as_dict(self) -> dict:
        """Plain dict (for Motion metadata / JSON)."""
        return asdict(self)


def _fmt(value: float) -> str:
    text = f"{value:.2f}"
    return text if text not in ("0.00", "-0.00") else f"{value:.3g}"


def _check_number(name: str, value, allowed: str) -> float:
    """The value as a positive finite float, or a MeasurementError naming the field and range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MeasurementError(f"{name} {value!r} is not a number: expected a length in metres, {allowed}")
    value = float(value)
    if not math.isfinite(value):
        raise MeasurementError(f"{name} {value} is not a finite number: expected {allowed}")
    if value <= 0.0:
        raise MeasurementError(f"{name} {_fmt(value)} m must be a positive length: expected {allowed}")
    return value


def _proportions(sex: str) -> dict:
    """Segment lengths as fractions of the stature for 'male', 'female' or 'neutral' (their mean)."""
    sex = sex.strip().lower()
    if sex == "neutral":
        male, female = _proportions("male"), _proportions("female")
        return {k: 0.5 * (male[k] + female[k]) for k in male}
    if sex not in DE_LEVA_1996_TABLE1_MM:
        raise MeasurementError(f"sex {sex!r} is not recognised: expected one of {', '.join(SEXES)}")
    table = DE_LEVA_1996_TABLE1_MM[sex]
    props = {k: v / table["stature"] for k, v in table.items() if k != "stature"}
    props.update(WINTER_DRILLIS_CONTINI)
    return props


def default_measurements(sex: str = "neutral", height: float = 1.75) -> BodyMeasurements:
    """Measurements with every optional field filled in from the table proportions of ``height``."""
    BodyMeasurements(height=height, sex=sex).validate()
    p = _proportions(sex)
    height = float(height)
    return BodyMeasurements(
        height=height,
        arm_length=(p["upper_arm"] + p["forearm"]) * height,
        leg_length=(p["thigh"] + p["shank"]) * height,
        sex=sex.strip().lower(),
        shoulder_width=p["biacromial"] * height,
        hip_width=p["bitrochanteric"] * height,
    )


def skeleton_from_measurements(m: BodyMeasurements) -> Skeleton:
    """The T-pose SMPL-24 Skeleton of a body with these measurements.

    Reproduces ``height`` (stature), ``arm_length`` and ``leg_length`` exactly (to rounding) and the
    breadths through the joint-centre factors; the rest comes from the tables. Raises
    :class:`MeasurementError` for implausible input.
    """
    m.validate()
    p = _proportions(m.sex)
    H = float(m.height)
    arm = float(m.arm_length) if m.arm_length is not None else (p["upper_arm"] + p["forearm"]) * H
    leg = float(m.leg_length) if m.leg_length is not None else (p["thigh"] + p["shank"]) * H
    shoulder_width = float(m.shoulder_width) if m.shoulder_width is not None else p["biacromial"] * H
    hip_width = float(m.hip_width) if m.hip_width is not None else p["bitrochanteric"] * H

    upper_arm = arm * p["upper_arm"] / (p["upper_arm"] + p["forearm"])
    forearm = arm - upper_arm
    thigh = leg * p["thigh"] / (p["thigh"] + p["shank"])
    shank = leg - thigh
    hand = p["hand"] * H                                   # wrist -> SMPL hand joint (MET3)
    finger = max(p["hand_length"] * H - hand, 0.0)         # hand joint -> finger tip
    ankle_height = p["ankle_height"] * H
    foot_length = p["foot"] * H
    half_shoulders = 0.5 * SHOULDER_JOINTS_PER_BIACROMIAL * shoulder_width
    half_hips = 0.5 * HIP_JOINTS_PER_BITROCHANTERIC * hip_width

    # Everything above the hip joints: trunk and head parts in de Leva's ratio, filling the height.
    above_hips = H - ankle_height - leg
    trunk_share = p["trunk"] / (p["trunk"] + p["head"])
    trunk_total = sum(f for _, f in _TRUNK_LAYOUT)
    head_total = sum(f for _, f in _HEAD_LAYOUT)
    trunk = {k: f / trunk_total * trunk_share * above_hips for k, f in _TRUNK_LAYOUT}
    head = {k: f / head_total * (1.0 - trunk_share) * above_hips for k, f in _HEAD_LAYOUT}

    J = JOINT_INDEX
    off = np.zeros((NUM_JOINTS, 3))
    hip_y = ankle_height + leg
    off[J["pelvis"]] = (0.0, hip_y + trunk["pelvis"], 0.0)
    off[J["spine1"]] = (0.0, trunk["spine1"], 0.0)
    off[J["spine2"]] = (0.0, trunk["spine2"], 0.0)
    off[J["spine3"]] = (0.0, trunk["spine3"], 0.0)
    off[J["neck"]] = (0.0, trunk["neck"], 0.0)
    off[J["head"]] = (0.0, head["head"], 0.0)
    shoulder_rise = _SHOULDER_RISE * trunk["neck"]
    leaf_tips = {J["head"]: np.array((0.0, head["vertex"], 0.0))}
    ball_height = _BALL_HEIGHT_PER_ANKLE_HEIGHT * ankle_height
    for side, sign in (("left", 1.0), ("right", -1.0)):
        off[J[f"{side}_hip"]] = (sign * half_hips, -trunk["pelvis"], 0.0)
        off[J[f"{side}_knee"]] = (0.0, -thigh, 0.0)
        off[J[f"{side}_ankle"]] = (0.0, -shank, 0.0)
        off[J[f"{side}_foot"]] = (0.0, ball_height - ankle_height, (_BALL_ALONG_FOOT - _ANKLE_ALONG_FOOT) * foot_length)
        leaf_tips[J[f"{side}_foot"]] = np.array((0.0, -ball_height, (1.0 - _BALL_ALONG_FOOT) * foot_length))
        off[J[f"{side}_collar"]] = (sign * _COLLAR_LATERAL * half_shoulders, _COLLAR_RISE * shoulder_rise, 0.0)
        off[J[f"{side}_shoulder"]] = (sign * (1.0 - _COLLAR_LATERAL) * half_shoulders,
                                      (1.0 - _COLLAR_RISE) * shoulder_rise, 0.0)
        off[J[f"{side}_elbow"]] = (sign * upper_arm, 0.0, 0.0)
        off[J[f"{side}_wrist"]] = (sign * forearm, 0.0, 0.0)
        off[J[f"{side}_hand"]] = (sign * hand, 0.0, 0.0)
        leaf_tips[J[f"{side}_hand"]] = np.array((sign * finger, 0.0, 0.0))
    return Skeleton(offsets=off, leaf_tips=leaf_tips, sole_height=ankle_height)


def measure_skeleton(skeleton: Skeleton) -> dict:
    """The measurements of a skeleton, in the definitions of :class:`BodyMeasurements` (metres).

    Arm and leg lengths are the mean of the two sides; the breadths are the joint-centre
    separations divided by the joint-centre factors, so a skeleton from
    :func:`skeleton_from_measurements` gives its inputs back.
    """
    J = JOINT_INDEX
    lengths = skeleton.bone_lengths()
    rest = skeleton.rest_positions()

    def both(fmt):
        return 0.5 * sum(lengths[J[fmt.format(s)]] for s in ("left", "right"))

    return {
        "height": skeleton.stature(),
        "arm_length": float(both("{}_elbow") + both("{}_wrist")),
        "leg_length": float(both("{}_knee") + both("{}_ankle")),
        "shoulder_width": float(np.linalg.norm(rest[J["left_shoulder"]] - rest[J["right_shoulder"]])
                                / SHOULDER_JOINTS_PER_BIACROMIAL),
        "hip_width": float(np.linalg.norm(rest[J["left_hip"]] - rest[J["right_hip"]])
                           / HIP_JOINTS_PER_BITROCHANTERIC),
    }
