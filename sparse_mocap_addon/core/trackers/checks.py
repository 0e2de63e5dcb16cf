"""Which tracker samples no pose of the wearer's skeleton can produce (issue 16), frame by frame.

The solvers reach whatever targets they are given: a tracker that slipped off, one that jumped
metres away for a frame, a recording calibrated for someone else, or a floor put at the wrong
height turn into a pose that looks like a reconstruction but is not one. :func:`check_targets`
says, per frame and tracker, which joint-level samples are impossible for the skeleton:

- **too_far_apart**: two tracked joints farther apart than the bones between them reach when
  stretched in one straight line (plus ``TargetChecks.slack``). This covers a hand beyond the arm's
  reach of the head or of the other hand. The tracker to blame is the one too far from the others;
  when that cannot be told (two trackers, or all three pairs), every sample of the frame is.
- **below_floor**: a tracked joint more than ``TargetChecks.floor_slack`` under the floor (y = 0).
- **lost**: a sample that is not finite (or whose rotation is not a rotation).

The pipelines treat rejected samples as lost (offline: interpolated from the good frames around
them; live: the tracker's last good sample is held) and flag the frame (:func:`failed_frames`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinematics.skeleton import PARENTS, Skeleton
from .recording import TRACKER_JOINTS

REASONS = ("lost", "too_far_apart", "below_floor")


@dataclass(frozen=True)
class TargetChecks:
    """Tolerances: measurements, mountings and tracking noise put joint-level targets a few
    centimetres off the skeleton's own joints."""

    slack: float = 0.10          # fraction of the stretched bone length between two joints
    slack_m: float = 0.05        # plus this many metres
    floor_slack: float = 0.25    # metres a joint may be under y = 0 (the corpus has wrists 19 cm under)


def _ancestors(joint: int) -> list[int]:
    out = [joint]
    while PARENTS[out[-1]] >= 0:
        out.append(PARENTS[out[-1]])
    return out


def stretched_length(skeleton: Skeleton, a: int, b: int) -> float:
    """The length of the bones on the tree path between joints ``a`` and ``b``: the farthest
    apart any pose can put them."""
    up_a, up_b = _ancestors(a), _ancestors(b)
    common = next(j for j in up_a if j in up_b)
    bones = up_a[:up_a.index(common)] + up_b[:up_b.index(common)]
    return float(np.linalg.norm(skeleton.offsets[bones], axis=-1).sum())


def pair_limits(names, skeleton: Skeleton, checks: TargetChecks = TargetChecks()) -> np.ndarray:
    """(K, K) the farthest apart the tracked joints of ``names`` may be (infinite on the diagonal)."""
    joints = [TRACKER_JOINTS[n] for n in names]
    out = np.full((len(joints), len(joints)), np.inf)
    for i, a in enumerate(joints):
        for j, b in enumerate(joints):
            if i != j:
                out[i, j] = (1.0 + checks.slack) * stretched_length(skeleton, a, b) + checks.slack_m
    return out


def check_targets(positions: np.ndarray, rotations: np.ndarray, names, skeleton: Skeleton,
                  checks: TargetChecks = TargetChecks(), limits: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """positions (T, K, 3), rotations (T, K, 3, 3) of the trackers ``names`` (joint level, core
    frame, floor at y = 0, NaN where lost) -> (ok (T, K) bool: the sample is possible, reasons
    {reason: (T, K) bool} for the rejected ones, ``REASONS``). ``limits``: :func:`pair_limits`
    of the same names, skeleton and checks, when already at hand (a live stream)."""
    positions = np.asarray(positions, dtype=np.float64)
    rotations = np.asarray(rotations, dtype=np.float64)
    T, K = positions.shape[:2]
    if limits is None:
        limits = pair_limits(names, skeleton, checks)
    # A rotation's columns are unit and orthogonal: |R^T R - I| small (a generous 1e-2); NaN fails.
    gram = np.einsum("tkji,tkjl->tkil", rotations, rotations) - np.eye(3)
    lost = ~(np.isfinite(positions).all(-1) & (np.abs(gram).max(axis=(-2, -1)) <= 1e-2))
    below = positions[..., 1] < -checks.floor_slack          # NaN compares False
    gaps = positions[:, :, None] - positions[:, None, :]
    far = np.sqrt(np.einsum("tijc,tijc->tij", gaps, gaps)) > limits
    if not (lost.any() or below.any() or far.any()):
        return ~lost, {"lost": lost, "too_far_apart": far[:, :, 0], "below_floor": below}
    far &= ~(lost[:, :, None] | lost[:, None, :])        # a lost sample is not blamed twice
    # Blame the tracker too far from every other usable one; where that leaves a bad pair
    # unexplained (two trackers, or every pair too far), the whole frame.
    usable = (~lost).sum(axis=1)
    far_count = far.sum(axis=2)
    blamed = (far_count > 0) & (far_count >= usable[:, None] - 1)
    unexplained = (far & ~blamed[:, :, None] & ~blamed[:, None, :]).any(axis=(1, 2))
    several = blamed.sum(axis=1) > 1
    blamed |= (unexplained | several)[:, None]
    too_far = blamed & ~lost
    below &= ~lost
    reasons = {"lost": lost, "too_far_apart": too_far, "below_floor": below}
    return ~(lost | too_far | below), reasons


def lost_frames(ok: np.ndarray, names, anchors) -> np.ndarray:
    """(T,) frames whose usable samples ``ok`` (T, K) cannot support a pose: an ``anchors``
    tracker (the one the pose hangs from: the head, the pelvis) or half of the trackers or more
    missing."""
    ok = np.asarray(ok, bool)
    anchor_columns = [k for k, n in enumerate(names) if n in anchors]
    missing = ~ok
    return missing[:, anchor_columns].any(axis=1) | (2 * missing.sum(axis=1) >= len(names))


__all__ = ["REASONS", "TargetChecks", "check_targets", "lost_frames", "pair_limits", "stretched_length"]
