"""A simple default body mesh for a Skeleton: one ellipsoid per bone, rigidly skinned.

It exists so a character is visible without any licensed model file (no SMPL mesh is shipped).
Each segment (joint -> child joint, or leaf joint -> its tip) gets a closed ellipsoid whose long
axis runs along the segment and whose cross-section radii are fractions of the stature; every
vertex belongs to the bone of its segment with weight 1. Returned in the core frame.
"""

from __future__ import annotations

import numpy as np

from ..kinematics.skeleton import NUM_JOINTS, PARENTS, Skeleton

# Cross-section radii per bone as fractions of stature: (lateral, front-to-back).
# Rough adult girths (thigh ~ 55 cm, upper arm ~ 30 cm, waist ~ 80 cm at 1.75 m).
SEGMENT_RADII = {
    "pelvis": (0.090, 0.060), "spine1": (0.082, 0.056), "spine2": (0.085, 0.058), "spine3": (0.090, 0.058),
    "neck": (0.030, 0.032), "head": (0.052, 0.060),
    "left_collar": (0.030, 0.030), "left_shoulder": (0.027, 0.027), "left_elbow": (0.022, 0.022),
    "left_wrist": (0.022, 0.010), "left_hand": (0.018, 0.008),
    "left_hip": (0.046, 0.046), "left_knee": (0.031, 0.032), "left_ankle": (0.026, 0.030),
    "left_foot": (0.024, 0.012),
}
_RINGS = 8   # latitude bands of each ellipsoid
_SIDES = 12  # longitude segments


def segment_ends(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (24, 3) of each bone's segment in the rest pose.

    A bone runs from its joint to its child joint; joints with several children (pelvis, spine3) run
    to the midline child (spine1, neck); leaves run to their tip (top of head, finger tip, toe tip).
    """
    rest = skeleton.rest_positions()
    end = np.empty_like(rest)
    for j in range(NUM_JOINTS):
        kids = [c for c in range(NUM_JOINTS) if PARENTS[c] == j]
        if not kids:
            end[j] = rest[j] + skeleton.leaf_tip(j)
        else:
            midline = [c for c in kids if abs(skeleton.offsets[c][0]) < 1e-9 or len(kids) == 1]
            end[j] = rest[midline[0] if midline else kids[0]]
    return rest, end


def _radii(name: str, stature: float) -> tuple[float, float]:
    key = name.replace("right_", "left_")
    lateral, depth = SEGMENT_RADII.get(key, (0.03, 0.03))
    return lateral * stature, depth * stature


def body_mesh(skeleton: Skeleton):
    """Vertices (N, 3), quad/triangle faces (list of tuples), and the bone index (N,) of each vertex."""
    from ..kinematics.skeleton import JOINT_NAMES

    start, end = segment_ends(skeleton)
    stature = skeleton.stature()
    lat = np.linspace(0.0, np.pi, _RINGS + 1)[1:-1]            # without the poles
    lon = np.linspace(0.0, 2.0 * np.pi, _SIDES, endpoint=False)
    unit = np.stack(
        (np.outer(np.sin(lat), np.cos(lon)), np.outer(np.sin(lat), np.sin(lon)),
         np.repeat(np.cos(lat)[:, None], _SIDES, axis=1)), axis=-1
    ).reshape(-1, 3)                                          # (rings-1)*sides, z along the segment
    unit = np.vstack((unit, [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]))
    per = len(unit)
    top, bottom = per - 2, per - 1

    faces_one = []
    for r in range(_RINGS - 2):
        for s in range(_SIDES):
            a, b = r * _SIDES + s, r * _SIDES + (s + 1) % _SIDES
            faces_one.append((a, b, b + _SIDES, a + _SIDES))
    last = (_RINGS - 2) * _SIDES
    for s in range(_SIDES):
        faces_one.append((top, (s + 1) % _SIDES, s))
        faces_one.append((bottom, last + s, last + (s + 1) % _SIDES))

    vertices, faces, bones = [], [], []
    for j, name in enumerate(JOINT_NAMES):
        axis = end[j] - start[j]
        length = float(np.linalg.norm(axis))
        if length < 1e-6:
            continue
        along = axis / length
        # Lateral reference: the subject's left (+X) unless the segment runs sideways (arms).
        ref = np.array([1.0, 0.0, 0.0]) if abs(along[0]) < 0.7 else np.array([0.0, 0.0, 1.0])
        side = ref - along * (ref @ along)
        side /= np.linalg.norm(side)
        third = np.cross(along, side)
        r_lat, r_depth = _radii(name, stature)
        if abs(along[0]) >= 0.7:  # arm segments: side is front-back, third is up-down
            r_lat, r_depth = r_depth, r_lat
        # A little overlap so neighbouring segments join; short, wide torso segments are kept
        # at least as tall as they are deep so the trunk has no gaps.
        half = max(0.5 * length * 1.15, 0.9 * min(r_lat, r_depth))
        basis = np.stack((side * r_lat, third * r_depth, along * half), axis=0)
        centre = 0.5 * (start[j] + end[j])
        offset = len(vertices) * per
        vertices.append(centre + unit @ basis)
        faces.extend(tuple(i + offset for i in f) for f in faces_one)
        bones.append(np.full(per, j))
    return np.concatenate(vertices), faces, np.concatenate(bones)
