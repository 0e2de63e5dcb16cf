"""Sensor labels to body segments: :func:`segment_name` and the order sensors are listed in."""

from __future__ import annotations

from ..recording import SEGMENT_JOINTS
from ...io.names import side_and_key


_SIDED_PARTS = {
    "upperleg": "upper_leg", "thigh": "upper_leg", "femur": "upper_leg", "upleg": "upper_leg",
    "lowerleg": "lower_leg", "shank": "lower_leg", "shin": "lower_leg", "tibia": "lower_leg",
    "calf": "lower_leg", "leg": "lower_leg",
    "foot": "foot", "calcn": "foot", "calcaneus": "foot",
    "upperarm": "upper_arm", "humerus": "upper_arm", "uparm": "upper_arm", "arm": "upper_arm",
    "forearm": "forearm", "lowerarm": "forearm", "radius": "forearm", "ulna": "forearm",
    "hand": "hand",
}
_MIDLINE = {
    "pelvis": "pelvis", "hips": "pelvis", "sacrum": "pelvis", "waist": "pelvis", "root": "pelvis",
    "head": "head", "chest": "chest", "torso": "chest", "trunk": "chest", "sternum": "chest",
    "thorax": "chest", "back": "chest", "spine": "chest",
}
_NOISE_TOKENS = {"imu", "sensor", "dot", "mtw"}


def segment_name(text: str) -> str | None:
    """The body segment (a key of ``SEGMENT_JOINTS``) a vendor's sensor label names, or None.

    Case, separators and camel case do not matter and the side may come first or last: "Left
    Lower Leg", "LTibia", "tibia_l_imu", "RFemur", "right-thigh" -> left_lower_leg, left_lower_leg,
    left_lower_leg, right_upper_leg, right_upper_leg; "pelvis", "Pelvis", "pelvis_imu" -> pelvis;
    "torso_imu" -> chest; "calcn_r_imu" -> right_foot.
    """
    side, key = side_and_key(text, ignore=_NOISE_TOKENS)
    if key is None:
        return None
    if side is None:
        return _MIDLINE.get(key)
    part = _SIDED_PARTS.get(key)
    return f"{side}_{part}" if part else None


def _sensor_order(names) -> list[int]:
    """Indices putting known segments in ``SEGMENT_JOINTS`` order first, then the rest by name."""
    known = list(SEGMENT_JOINTS)
    return sorted(range(len(names)), key=lambda i: (known.index(names[i]) if names[i] in known else len(known),
                                                    names[i]))
