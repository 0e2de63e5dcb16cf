"""Reading the side and the part out of a tool's name for a point or a sensor.

Landmark tools and IMU vendors write the same idea many ways: "RHip", "r_hip", "Right Hip",
"RightHip", "hip_r", "LTibia", "Left Lower Leg". :func:`side_and_key` splits camel case and any
separators, takes a side word at either end, and joins what is left into one lower-case key
("hip", "tibia", "lowerleg") for the caller's own table of parts.
"""

from __future__ import annotations

import re

SIDES = {"l": "left", "left": "left", "lt": "left", "r": "right", "right": "right", "rt": "right"}


def side_and_key(name, ignore=()) -> tuple[str | None, str | None]:
    """(side or None, key or None) of a name; tokens in ``ignore`` (e.g. "imu") are dropped."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name).strip())
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    tokens = [t for t in re.split(r"[^0-9a-z]+", text.lower()) if t and t not in ignore]
    if not tokens:
        return None, None
    side = None
    if len(tokens) > 1 and tokens[0] in SIDES:
        side, tokens = SIDES[tokens[0]], tokens[1:]
    elif len(tokens) > 1 and tokens[-1] in SIDES:
        side, tokens = SIDES[tokens[-1]], tokens[:-1]
    return side, "".join(tokens)
