"""Stature of a landmark sequence, and scaling it to a known height.

:func:`landmark_stature` estimates the performer's standing height from segments whose lengths do
not change with the pose, each the median over the frames where both ends are confident:

    S = (leg + trunk + head) / (1 - 0.039)

- ``leg``: hip -> knee + knee -> ankle, the mean of the two legs (one leg when only one is seen);
- ``trunk``: mid-hip (the ``mid_hip`` point, else the middle of the two hips) -> neck base;
- ``head``: neck base -> top of the head (``head_top``). The neck base is ``neck``, else
  ``thorax``, else the middle of the shoulders. Without a ``head_top`` the neck base is the middle
  of the shoulders and the head is a multiple of a shorter segment (``HEAD_PER_EARS`` x the distance
  to the middle of the ears, else ``HEAD_PER_NOSE`` x the distance to the nose). SMPL-24 joints
  use their neck joint as the neck base and ``HEAD_PER_SMPL_HEAD`` x neck -> head joint;
- the ankle joints sit ``ANKLE_HEIGHT_PER_STATURE`` = 0.039 of the stature above the floor
  (D. A. Winter, "Biomechanics and Motor Control of Human Movement", segment-length figure after
  Drillis & Contini 1966; the same value ``core/body/measurements.py`` uses).

Standing upright the segments are stacked end to end, so S is the floor-to-vertex height; for a
body built by ``body.skeleton_from_measurements`` it is exact. Bending the spine shortens the trunk
chord a little; the median over a take keeps that small.

The head fallbacks are approximations (the head part is about 18 % of the stature, so a 10 % error
in a factor moves S by about 2 %). Standing upright, Winter's figure puts the shoulders at 0.818 H
and the vertex at 1.0 H, i.e. 0.182 H of head above the middle of the shoulders. The ears lie
close to the vertical through the shoulders at about 0.925 H (just below eye level, 0.936 H):
0.182 / 0.107 = 1.7. The nose tip is about 0.1 H above the shoulders and 0.06 H in front of them
(0.117 H away): 0.182 / 0.117 = 1.55, which matches the Pose2Sim demo takes (1.5 between the
shoulders' middle -> Nose and -> Head). ``HEAD_PER_SMPL_HEAD`` (2.8) is this project's body model
(``body._HEAD_LAYOUT``: neck -> head joint 0.05 H, head joint -> vertex 0.09 H).
"""

from __future__ import annotations

import numpy as np

from .sequence import LandmarkError, LandmarkSequence

__all__ = ["landmark_stature", "scale_to_height", "ANKLE_HEIGHT_PER_STATURE"]

ANKLE_HEIGHT_PER_STATURE = 0.039
HEAD_PER_EARS = 1.7
HEAD_PER_NOSE = 1.55
HEAD_PER_SMPL_HEAD = 2.8


def _where(seq: LandmarkSequence) -> str:
    return f"{seq.source}: " if seq.source else ""


class _Points:
    """Named (T, 3) trajectories of a sequence, NaN where not confident; midpoints on request."""

    def __init__(self, seq: LandmarkSequence, threshold: float):
        self.names = seq.names
        self.points = seq.masked_points(threshold)

    def get(self, name: str):
        if name not in self.names:
            return None
        track = self.points[:, self.names.index(name)]
        return track if np.isfinite(track).all(axis=-1).any() else None

    def middle(self, a: str, b: str):
        """The middle of two points (NaN in frames where either is missing), or None."""
        pa, pb = self.get(a), self.get(b)
        if pa is None or pb is None:
            return None
        mid = 0.5 * (pa + pb)
        return mid if np.isfinite(mid).all(axis=-1).any() else None

    def first(self, *candidates):
        for candidate in candidates:
            track = self.middle(*candidate) if isinstance(candidate, tuple) else self.get(candidate)
            if track is not None:
                return track
        return None


def _median_length(a, b):
    """Median distance between two (T, 3) tracks over the frames where both exist, or None."""
    if a is None or b is None:
        return None
    lengths = np.linalg.norm(a - b, axis=-1)
    lengths = lengths[np.isfinite(lengths)]
    return float(np.median(lengths)) if len(lengths) else None


def _leg(p: _Points):
    legs = []
    for side in ("left", "right"):
        thigh = _median_length(p.get(f"{side}_hip"), p.get(f"{side}_knee"))
        shank = _median_length(p.get(f"{side}_knee"), p.get(f"{side}_ankle"))
        if thigh is not None and shank is not None:
            legs.append(thigh + shank)
    return float(np.mean(legs)) if legs else None


def _trunk_and_head(p: _Points):
    """(trunk, head) lengths, or None when the head or the neck base is never seen."""
    mid_hip = p.first("mid_hip", ("left_hip", "right_hip"))
    head_top = p.get("head_top")
    if head_top is not None:
        choices = [(p.first("neck", "thorax", ("left_shoulder", "right_shoulder")), head_top, 1.0)]
    else:
        shoulders = p.first(("left_shoulder", "right_shoulder"), "neck", "thorax")
        choices = [(shoulders, p.middle("left_ear", "right_ear"), HEAD_PER_EARS),
                   (shoulders, p.get("nose"), HEAD_PER_NOSE)]
        if "pelvis" in p.names:                 # SMPL-24 joints: neck joint -> head joint
            choices.insert(0, (p.get("neck"), p.get("head"), HEAD_PER_SMPL_HEAD))
    for neck, top, factor in choices:
        trunk, head = _median_length(mid_hip, neck), _median_length(neck, top)
        if trunk is not None and head is not None:
            return trunk, factor * head
    return None


def landmark_stature(seq: LandmarkSequence, threshold: float = 0.5) -> float:
    """The performer's standing height (in the sequence's units) from pose-independent segments.

    The formula and the sources are in the module docstring. Raises :class:`LandmarkError` when the
    legs, the trunk or the head are never seen with confidence ``threshold``.
    """
    p = _Points(seq, threshold)
    leg = _leg(p)
    if leg is None:
        raise LandmarkError(f"{_where(seq)}the stature cannot be estimated: no frame shows a hip, knee and "
                            f"ankle of the same leg with confidence {threshold:g} or more.")
    trunk_head = _trunk_and_head(p)
    if trunk_head is None:
        raise LandmarkError(f"{_where(seq)}the stature cannot be estimated: the hips, the neck or shoulders "
                            f"and the head (head top, ears or nose) are never seen together with confidence "
                            f"{threshold:g} or more.")
    trunk, head = trunk_head
    return (leg + trunk + head) / (1.0 - ANKLE_HEIGHT_PER_STATURE)


def scale_to_height(seq: LandmarkSequence, height: float, threshold: float = 0.5) -> LandmarkSequence:
    """The sequence scaled uniformly about the origin so that its :func:`landmark_stature` is
    ``height``. ``metadata["scale_to_height"]`` holds the factor applied (multiplied by any earlier
    one, so it is always the factor from the file's points), ``metadata["height"]`` the height."""
    height = float(height)
    if not (np.isfinite(height) and height > 0):
        raise LandmarkError(f"{_where(seq)}the height must be a positive length in metres, got {height!r}.")
    stature = landmark_stature(seq, threshold)
    if not stature > 0:
        raise LandmarkError(f"{_where(seq)}the landmarks have no size (estimated stature {stature:g}).")
    factor = height / stature
    metadata = dict(seq.metadata, height=height,
                    scale_to_height=factor * float(seq.metadata.get("scale_to_height", 1.0)))
    return seq.with_points(seq.points * factor, metadata=metadata)
