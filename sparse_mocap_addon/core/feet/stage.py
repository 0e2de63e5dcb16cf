"""The feet stage: the last step of every path that makes a motion, on whatever body it goes onto.

:func:`feet_on_floor` takes a Motion (on its own skeleton) and, optionally, a target skeleton (another
body), and returns the motion on the target body with its contact feet planted and on the floor:

1. **contacts on the source**: each sole point (heel, ball, toe tip; ``feet.foot_floor_points``) is
   in contact while it is low and slow (``contact.detect_foot_contact``), the floor at y = 0 when the
   caller knows it (``FeetOptions.floor = "zero"``), else estimated from the soles
   (``contact.estimate_ground_height``). A caller that knows more contacts (a network's) adds them.
   The planted motion keeps them in its metadata (``feet.contacts``): moving it onto another body
   later (Bake Motion File) plants those too, beside any its planted feet now show.
2. **onto the target body**: the local rotations are kept; the root path (horizontal and vertical,
   about the first frame's position on the floor) is scaled by the ratio of the two bodies' rest
   pelvis heights above the floor, so the pelvis height fits the new legs and the stride fits it.
3. **body height**: a smooth vertical shift of the whole body that puts the contact feet on the
   floor on average (``foot_lock.body_height_correction``), then lowered (at most
   ``MAX_REACH_DROP_M``) where a planted foot would be out of the leg's reach (a smooth upper
   envelope of the needed drop, so it never bobs).
4. **ankle targets**: a foot in contact turns about its anchor, the lowest of its contact points
   (the heel at heel strike, the ball as the heel rises, the toe tip at toe-off), which stays where
   it touched down (``_anchor_segments``, ``_pinned_offsets``); its heading is held while it stands
   on two or more points (up to ``MAX_YAW_HOLD_RAD``); its lowest sole point is on the floor; no
   foot ever has a sole point below it (a smooth bump lifts a foot sweeping through it). Pins ease
   in before a contact and out after it (smoothstep) so nothing pops.
5. **legs**: analytic two-bone IK to the ankle targets (``foot_lock.solve_leg``), the ankle keeping
   its world orientation (turned by the held heading); a sole a leg could not lift still under the
   floor lifts the whole body, smoothly.

With the same body and ``floor = "zero"`` a motion whose feet already stand still on the floor
comes back unchanged. ``FeetOptions(enabled=False)`` gives the raw result: the rotations and the root
path as they are, on the target skeleton (on a shorter body the feet then float, on a taller one
they sink: what baking did before this stage).

The report (:func:`feet_summary` makes one clause of it) says what changed: root scale, body shift
range, contact runs pinned, frames lifted out of the floor and the worst depth fixed.
:func:`feet_metrics` gives the three figures of issue 15 for any motion and contact mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contact import contact_runs, detect_foot_contact, estimate_ground_height
from .soles import foot_floor_points
from .lock import body_height_correction, ease_weights, solve_leg
from .metrics import foot_below_floor_max_cm, foot_float_in_contact_max_cm, foot_skate_cm_per_s
from ..kinematics.motion import Motion
from ..kinematics.skeleton import JOINT_INDEX, LEG_JOINTS, Skeleton, forward_kinematics

SIDES = ("left", "right")
# The forward kinematics and leg solves run this many frames at a time (a long take's per-frame
# rotation matrices are never all held at once).
CHUNK_FRAMES = 20_000
ANKLES = (JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"])
HIPS = (JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"])
KNEES = (JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"])
FLOORS = ("estimate", "zero")
# A per-foot contact mask marks the foot's points within this of its lowest point as touching.
FOOT_MASK_BAND_M = 0.02
# The body is lowered for a planted target only when that is further from the hip than the leg
# is long, by more than this (a straight leg standing on its target is left alone).
REACH_SLACK_M = 1e-7
SAME_BODY_TOLERANCE_M = 1e-6
# Frames whose soles were deeper than this below the floor count as lifted in the report.
LIFT_REPORT_M = 1e-3
# Among the sole points in contact the lowest anchors the foot; another one takes over when it is
# lower by this much (no flicker on a flat foot).
ANCHOR_SWITCH_M = 0.005
# Half-width of the smoothing of a lift out of the floor (seconds).
LIFT_SMOOTHING_S = 0.03
# A pin holds a foot at most this far from where the motion has it (further: the foot slides).
MAX_PIN_OFFSET_M = 0.25
# The body comes down at most this much to let a leg reach its planted foot.
MAX_REACH_DROP_M = 0.10
# Soles still deeper than this under the floor after the legs are solved lift the whole body.
LAST_RESORT_M = 0.002
# A pin's correction fades out after the contact no faster than this.
RELEASE_SPEED_M_S = 0.5
# A foot on two or more sole points keeps its heading, up to this turn; its release speed.
MAX_YAW_HOLD_RAD = np.radians(30.0)
RELEASE_YAW_RAD_S = np.radians(180.0)


@dataclass
class FeetOptions:
    """How :func:`feet_on_floor` treats the feet.

    - ``enabled``: False gives the raw result (rotations and root path as they are, on the target
      skeleton), at no cost: no kinematics or contacts are worked out (the report has no
      ``contact_fraction`` then).
    - ``floor``: "estimate" (from the soles of the source) or "zero" (the caller knows y = 0 is the
      floor: trackers and IMU reconstructions, Motion files).
    - ``pin``: planted sole points stay put (no sliding); off keeps only the heights right.
    - ``body_shift``: a smooth vertical shift of the whole body first (much less visible than
      bending a straight leg to reach the floor), lowered further where a planted foot is out of
      the leg's reach; off, only the legs move (the trunk, head and hands stay exactly where they
      are, e.g. on their trackers).
    - ``height_threshold`` / ``speed_threshold``: a sole point is in contact when lower than this
      above the floor (m) and slower than this (m/s) (``contact.detect_foot_contact``).
    - ``ease_s``: seconds over which a pin fades in before a contact and out after it.
    """

    enabled: bool = True
    floor: str = "estimate"
    pin: bool = True
    body_shift: bool = True
    height_threshold: float = 0.05
    speed_threshold: float = 0.25
    ease_s: float = 0.1

    def validate(self) -> "FeetOptions":
        if self.floor not in FLOORS:
            raise ValueError(f"floor must be one of {', '.join(FLOORS)}, got {self.floor!r}")
        for name in ("height_threshold", "speed_threshold"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (np.isfinite(self.ease_s) and self.ease_s >= 0):
            raise ValueError(f"ease_s must be zero or a positive number of seconds, got {self.ease_s!r}")
        return self


def pelvis_height(skeleton: Skeleton) -> float:
    """Rest height of the pelvis above the floor (the soles), in metres: the legs' length."""
    rest = skeleton.rest_positions()
    floor = rest[list(ANKLES), 1].min() - skeleton.sole_height
    return float(rest[0, 1] - floor)


def same_body(a: Skeleton, b: Skeleton) -> bool:
    return (np.allclose(a.offsets, b.offsets, atol=SAME_BODY_TOLERANCE_M)
            and abs(a.sole_height - b.sole_height) <= SAME_BODY_TOLERANCE_M)


def sole_points(motion: Motion) -> np.ndarray:
    """(T, 2 feet, 3 points (heel, ball, toe tip), 3) sole points of a motion on its skeleton."""
    return _leg_pose(motion.rotations, motion.translation, motion.skeleton)[1]


def _frame_chunks(frames: int):
    return [(a, min(a + CHUNK_FRAMES, frames)) for a in range(0, frames, CHUNK_FRAMES)]


def _leg_pose(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """The legs' joint positions (T, 24, 3; ``LEG_JOINTS``, the others zero) and sole points
    (T, 2, 3, 3), by forward kinematics ``CHUNK_FRAMES`` at a time: the legs' global rotations
    (T, 24, 3, 3) are never held for a whole long take."""
    T = len(rotations)
    positions, soles = np.zeros((T, 24, 3)), np.empty((T, 2, 3, 3))
    for a, b in _frame_chunks(T):
        positions[a:b], globals_ = forward_kinematics(rotations[a:b], translation[a:b], skeleton, joints=LEG_JOINTS)
        soles[a:b] = foot_floor_points(positions[a:b], globals_, skeleton)
    return positions, soles


def _solve_legs(rotations, lifted, body: Skeleton, side: str, target, moves, turn) -> None:
    """``foot_lock.solve_leg`` on the ``moves`` frames, ``CHUNK_FRAMES`` of them at a time, with the
    legs' global rotations worked out for those frames only (global rotations do not depend on the
    root path or the body, and a leg's do not depend on the other leg's, so they are the pose's)."""
    f = SIDES.index(side)
    frames = np.flatnonzero(moves)
    for a, b in _frame_chunks(len(frames)):
        index = frames[a:b]
        part = rotations[index]
        _, globals_ = forward_kinematics(part, np.zeros((len(index), 3)), body, joints=LEG_JOINTS)
        ankle_rotation = None if turn is None else turn[index] @ globals_[:, ANKLES[f]]
        solve_leg(part, lifted[index], globals_, body, side, target[index], ankle_rotation=ankle_rotation)
        rotations[index] = part


def detect_sole_contacts(soles: np.ndarray, fps: float, ground: float | None = 0.0,
                         options: FeetOptions | None = None) -> np.ndarray:
    """(T, 2, 3) contact per sole point (low and slow) of sole points (T, 2, 3, 3); ``ground``:
    the floor height, None estimates it."""
    options = options or FeetOptions()
    T = len(soles)
    return detect_foot_contact(soles.reshape(T, 6, 3), fps, ground_height=ground,
                               height_threshold=options.height_threshold,
                               speed_threshold=options.speed_threshold).reshape(T, 2, 3)


def motion_contacts(motion: Motion, floor: str = "zero", options: FeetOptions | None = None) -> np.ndarray:
    """Contact per sole point (T, 2, 3) of ``motion`` (e.g. a ground truth), the floor at y = 0
    ("zero") or estimated ("estimate")."""
    soles = sole_points(motion)
    ground = 0.0 if floor == "zero" else estimate_ground_height(soles.reshape(len(soles), 6, 3), fps=motion.fps)
    return detect_sole_contacts(soles, motion.fps, ground, options)


def feet_metrics(motion: Motion, contact: np.ndarray) -> dict:
    """The three figures of issue 15 for ``motion`` (floor at y = 0) with ``contact`` (T, 2, 3) per
    sole point, from the source or the truth: deepest sole point below the floor, highest contact
    foot above it, skating of sole points in contact (see ``core/feet/metrics``)."""
    soles = sole_points(motion)
    return {"foot_below_floor_max_cm": foot_below_floor_max_cm(soles),
            "foot_float_in_contact_max_cm": foot_float_in_contact_max_cm(soles, contact, motion.fps),
            "foot_skate_cm_per_s": foot_skate_cm_per_s(soles, contact, motion.fps)}


def _point_contacts(contact, soles: np.ndarray, ground: float) -> np.ndarray:
    """A given contact mask as (T, 2, 3) per sole point: a per-point mask as it is; a per-foot one
    (T, 2; probabilities above 0.5 count) marks the foot's points near its lowest one."""
    contact = np.asarray(contact)
    T = len(soles)
    if contact.shape == (T, 2, 3):
        return contact.astype(bool)
    if contact.shape != (T, 2):
        raise ValueError(f"the contact mask must be (T, 2) per foot or (T, 2, 3) per sole point for {T} "
                         f"frames, got {contact.shape}")
    feet = contact > 0.5 if contact.dtype != bool else contact
    height = soles[..., 1] - ground
    near = height <= height.min(axis=2, keepdims=True) + FOOT_MASK_BAND_M
    return feet[:, :, None] & near


def _close_short_gaps(points: np.ndarray, frames: int) -> np.ndarray:
    """Contact per sole point (T, 2, 3) with breaks of up to ``frames`` frames inside a contact
    closed: a planted point that noise lifts over a threshold for a moment is still planted (a
    new pin a few frames later would let it creep)."""
    T = len(points)
    flat = points.reshape(T, -1)
    gaps = ~flat
    # Runs of no contact that have contact on both sides and are short.
    closed = flat.copy()
    for k, start, stop in contact_runs(gaps):
        if start > 0 and stop < T and stop - start <= frames:
            closed[start:stop, k] = True
    return closed.reshape(points.shape)


def _root_on_target(translation: np.ndarray, ground: float, scale: float) -> np.ndarray:
    """The root path on the floor at y = 0, scaled about the first frame's spot on the floor."""
    out = np.array(translation, dtype=np.float64, copy=True)
    out[:, 1] -= ground
    if scale != 1.0 and len(out):
        origin = out[0, [0, 2]].copy()
        out[:, [0, 2]] = origin + scale * (out[:, [0, 2]] - origin)
        out[:, 1] *= scale
    return out


def _smooth_upper_envelope(values: np.ndarray, half: int) -> np.ndarray:
    """A smooth curve >= ``values`` (T,) everywhere: a running max over 2 ``half`` frames, then two
    running means of ``half`` frames (each mean of a running max of the same half-width is at
    least the value at its centre)."""
    if half <= 0 or not values.any():
        return values
    T = len(values)
    padded = np.pad(values, 2 * half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 4 * half + 1)
    out = windows.max(axis=1)                                        # (T,)
    for _ in range(2):
        padded = np.pad(out, half, mode="edge")
        out = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).mean(axis=1)
    return out[:T]


def _reach_drop(hip: np.ndarray, target: np.ndarray, reach: float) -> np.ndarray:
    """(T,) how far the hip must come down (>= 0) for ``target`` to be within ``reach`` of it."""
    v = target - hip
    vy = v[:, 1]
    dist2 = np.einsum("ti,ti->t", v, v)
    disc = vy * vy - dist2 + reach * reach
    # Lowering the hip by h: |v + h y|^2 = reach^2, the smaller root; beyond any vertical fix
    # (the target too far sideways) the hip comes down to the target's height.
    drop = np.where(disc >= 0, -vy - np.sqrt(np.maximum(disc, 0.0)), -vy)
    return np.where(dist2 > (reach + REACH_SLACK_M) ** 2, np.maximum(drop, 0.0), 0.0)


def _anchor_segments(points: np.ndarray, heights: np.ndarray) -> list[tuple[int, int, int]]:
    """``(anchor, start, stop)`` segments of one foot: while some of its sole points are in contact
    (``points`` (T, 3)), the anchor is the lowest of them (the point the foot pivots about: the heel
    at heel strike, the ball as the heel rises, the toe tip at toe-off); the anchor changes only
    when another contact point is lower by ``ANCHOR_SWITCH_M`` or it leaves the contact; -1 while
    none is."""
    lowest = np.where(points.any(axis=1), np.argmin(np.where(points, heights, np.inf), axis=1), -1)
    anchor = lowest.copy()
    # Hysteresis (recurrent, so a loop, but over plain lists and only frames with a choice).
    choice = np.flatnonzero(points.sum(axis=1) >= 2).tolist()
    if choice:
        in_contact, height, low = points.tolist(), heights.tolist(), lowest.tolist()
        current, last = -1, -2
        for t in choice:
            if t != last + 1:
                current = low[t - 1] if t > 0 else -1        # the anchor of the single-point frame before
            if current < 0 or not in_contact[t][current] or height[t][current] > height[t][low[t]] + ANCHOR_SWITCH_M:
                current = low[t]
            anchor[t], last = current, t
    cuts = np.flatnonzero(np.diff(anchor)) + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [len(anchor)]))
    return [(int(anchor[a]), int(a), int(b)) for a, b in zip(starts, stops)]


def _smoothstep(x):
    """0 -> 1 with zero slope at both ends (a blend that starts and ends without a kink)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _fade(value, frames: int, count: int):
    """``value`` (array) fading smoothly to zero over ``frames`` frames, for ``count`` frames."""
    # _smoothstep of positive x (np.minimum for np.clip: the same values, a cheaper call; this runs
    # once per contact release).
    x = np.minimum(np.arange(1, count + 1) / (frames + 1.0), 1.0)
    ramp = 1.0 - x * x * (3.0 - 2.0 * x)
    return np.multiply.outer(ramp, value)


def _held_yaw(heading: np.ndarray, held: np.ndarray, ease: int, fps: float) -> np.ndarray:
    """(T,) yaw correction (radians, about the vertical) that keeps a foot's heading still while
    ``held`` (two or more of its sole points in contact: it cannot turn without sliding), clamped
    to ``MAX_YAW_HOLD_RAD`` (a foot turning further pivots); it starts from where it is and fades
    out afterwards over ``ease`` frames, or longer when large (at most ``RELEASE_YAW_RAD_S``)."""
    T = len(heading)
    yaw = np.zeros(T)
    cuts = np.flatnonzero(np.diff(held.astype(np.int8))) + 1
    for start, stop in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [T]))):
        before = yaw[start - 1] if start > 0 else 0.0
        if held[start]:
            turn = np.unwrap(heading[start:stop]) - heading[start]
            yaw[start:stop] = np.clip(before - turn, -MAX_YAW_HOLD_RAD, MAX_YAW_HOLD_RAD)
        elif start > 0:
            frames = max(ease, int(np.ceil(abs(before) / RELEASE_YAW_RAD_S * fps)))
            yaw[start:stop] = _fade(np.float64(before), frames, stop - start)
    return yaw


def _at_most(vectors: np.ndarray, length: float) -> np.ndarray:
    """``vectors`` (..., n) shortened to at most ``length``."""
    # np.linalg.norm's own arithmetic along an axis, without its checks (this runs per contact).
    norm = np.sqrt(np.add.reduce(vectors * vectors, axis=-1, keepdims=True))
    return vectors * np.minimum(1.0, length / np.maximum(norm, 1e-12))


def _pinned_offsets(ankle_xz: np.ndarray, offsets_xz: np.ndarray, segments, ease: int, fps: float) -> np.ndarray:
    """(T, 2) horizontal ankle correction of one foot that keeps its anchor point still.

    A contact segment pins its anchor where the corrected foot has it on the segment's first frame,
    so the correction is continuous when the anchor changes (heel to ball to toe tip) and when a
    contact starts; after a contact it fades out over ``ease`` frames, or longer when it is large
    (at most ``RELEASE_SPEED_M_S``). A pin never pulls the foot further than ``MAX_PIN_OFFSET_M``
    from where the motion has it: a "contact" that travels further is a foot that moves (a wrong
    contact, or a drifting reconstruction), and it slides along with it.
    """
    T = len(ankle_xz)
    delta = np.zeros((T, 2))
    previous = -1
    for anchor, start, stop in segments:
        before = delta[start - 1] if start > 0 else np.zeros(2)
        if anchor >= 0:
            spot = ankle_xz[start] + offsets_xz[start, anchor] + before
            delta[start:stop] = _at_most(spot - ankle_xz[start:stop] - offsets_xz[start:stop, anchor],
                                         MAX_PIN_OFFSET_M)
            if previous < 0 and start > 0 and ease > 0:
                # A contact starting: the pin eases in over the frames before it (the foot settles
                # rather than stopping dead, and a contact found a frame late still holds).
                lo = max(start - ease, 0)
                w = _smoothstep((np.arange(lo, start) - (start - ease - 1)) / (ease + 1.0))
                pinned = spot - ankle_xz[lo:start] - offsets_xz[lo:start, anchor]
                delta[lo:start] += w[:, None] * (pinned - delta[lo:start])
        elif start > 0:
            # np.linalg.norm of a vector is sqrt(x.dot(x)): the same number, without its checks.
            frames = max(ease, int(np.ceil(np.sqrt(before.dot(before)) / RELEASE_SPEED_M_S * fps)))
            delta[start:stop] = _fade(before, frames, stop - start)
        previous = anchor
    return delta


def _zero_where_kept(values: np.ndarray, edit: np.ndarray) -> np.ndarray:
    """``values`` (T, ...) of a correction, made zero on the frames kept as they are (``edit`` 0):
    on each run of edited frames the straight line between the values on the kept frames around it
    is taken off, so the correction meets the kept frames without a jump and whatever the two ends
    disagree by is spread over the run (a pinned foot that must end where the kept frames have it
    creeps there rather than snapping at the end)."""
    kept = edit <= 0.0
    if not kept.any():
        return values
    out = np.where(kept.reshape((-1,) + (1,) * (values.ndim - 1)), 0.0, values)
    for _, start, stop in contact_runs(~kept):
        before = values[start - 1] if start > 0 else None
        after = values[stop] if stop < len(values) else None
        if before is None and after is None:
            continue
        before = after if before is None else before
        after = before if after is None else after
        w = (np.arange(start, stop) - start + 1.0) / (stop - start + 1.0)
        out[start:stop] = values[start:stop] - (before + np.multiply.outer(w, after - before))
    return out


def _yaw_matrices(yaw: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations by ``yaw`` about +Y."""
    c, s = np.cos(yaw), np.sin(yaw)
    out = np.zeros((len(yaw), 3, 3))
    out[:, 0, 0], out[:, 0, 2], out[:, 1, 1], out[:, 2, 0], out[:, 2, 2] = c, s, 1.0, -s, c
    return out


def _turned(turn: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``einsum("tij,tpj->tpi", turn, offsets)`` for yaw turns (``_yaw_matrices``), with einsum's
    sums in its order (the zero terms add exactly nothing) at a third of its cost."""
    c, s = turn[:, 0, 0, None], turn[:, 0, 2, None]
    x, y, z = offsets[..., 0], offsets[..., 1], offsets[..., 2]
    out = np.empty_like(offsets)
    out[..., 0] = c * x + 0.0 * y + s * z
    out[..., 1] = 0.0 * x + y + 0.0 * z
    out[..., 2] = -s * x + 0.0 * y + c * z
    return out


def _foot_targets(ankle: np.ndarray, offsets: np.ndarray, points: np.ndarray, foot_weight: np.ndarray,
                  ease: int, fps: float, pin: bool, edit: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Ankle targets (T, 3) of one foot and the yaw turn (T, 3, 3) of its world orientation (None
    when it keeps the motion's).

    ``ankle`` (T, 3) as the motion has it; ``offsets`` (T, 3 points, 3) sole points minus ankle in
    world axes; ``points`` (T, 3) contact per sole point; ``foot_weight`` (T,) eased contact of the
    foot; ``edit`` (T,) how much of the floor correction each frame takes (0: the frame is kept as
    it is; the pins meet the kept frames through ``_zero_where_kept``). Pinned: the foot's heading
    is held while it stands on two or more points, and its anchor point (``_anchor_segments``)
    stays still; a contact foot has its lowest sole point on the floor; no sole point of an edited
    frame ever goes below it.
    """
    target = ankle.copy()
    turn = None
    if pin and points.any():
        toe_from_heel = offsets[:, 2, [0, 2]] - offsets[:, 0, [0, 2]]
        heading = np.arctan2(toe_from_heel[:, 0], toe_from_heel[:, 1])
        yaw = _zero_where_kept(_held_yaw(heading, points.sum(axis=1) >= 2, ease, fps), edit)
        if np.any(yaw != 0.0):
            turn = _yaw_matrices(yaw)
            offsets = _turned(turn, offsets)
        segments = _anchor_segments(points, ankle[:, None, 1] + offsets[..., 1])
        pinned = _pinned_offsets(ankle[:, [0, 2]], offsets[..., [0, 2]], segments, ease, fps)
        target[:, [0, 2]] += _zero_where_kept(pinned, edit)
    on_floor = -offsets[..., 1].min(axis=1)          # ankle height putting the lowest sole point on y = 0
    target[:, 1] = ankle[:, 1] + edit * foot_weight * (on_floor - ankle[:, 1])
    # Never below the floor: a foot sweeping through it is lifted over a smooth bump (at least as
    # high as needed), not frame by frame; the bump stays out of the contacts.
    needed = np.maximum(on_floor - target[:, 1], 0.0)
    bump = _smooth_upper_envelope(needed, max(int(round(LIFT_SMOOTHING_S * fps)), 1)) * (1.0 - foot_weight)
    target[:, 1] += edit * np.maximum(needed, bump)
    return target, turn


def feet_on_floor(motion: Motion, target: Skeleton | None = None, options: FeetOptions | None = None,
                  contact=None, editable=None) -> tuple[Motion, dict]:
    """``motion`` on ``target`` (default: its own skeleton) with the feet planted and on the floor;
    returns (Motion, report). See the module docstring. ``contact``: contacts known better than the
    motion's soles show them (e.g. a network's), (T, 2, 3) per sole point or (T, 2) per foot, added
    to those found low and slow. ``editable`` (T,) bool: only these frames may change (e.g. the
    frames a gap filler made), joining the frames kept as they are without a jump (the floor
    correction ramps in over half of ``ease_s``, the pins meet the kept feet); only on the motion's
    own body."""
    options = (options or FeetOptions()).validate()
    source = motion.skeleton
    body = source if target is None else target
    moved = not same_body(source, body)
    if editable is not None:
        editable = np.asarray(editable, dtype=bool)
        if editable.shape != (motion.num_frames,):
            raise ValueError(f"the editable-frame mask has shape {editable.shape}; expected one flag per frame "
                             f"({motion.num_frames},)")
        if moved:
            raise ValueError("editable frames need the motion's own body: a motion moved onto another body "
                             "changes on every frame")
    scale = pelvis_height(body) / pelvis_height(source) if moved else 1.0
    T, fps = motion.num_frames, motion.fps
    report = {"enabled": bool(options.enabled), "floor": "given" if options.floor == "zero" else "estimated",
              "moved_onto_body": bool(moved), "root_scale": float(scale),
              "stature_m": float(body.stature()), "source_stature_m": float(source.stature())}

    if not options.enabled:
        # Raw: the rotations and the root path as they are (nothing to find: no contacts, no floor).
        report.update(ground_shift_m=0.0, root_scale=1.0)
        metadata = dict(motion.metadata, feet=_json_safe(report))
        return Motion(fps, motion.rotations.copy(), motion.translation.copy(), body.copy(), metadata), report
    # The legs alone (the same numbers as the whole skeleton's FK): all that the stage reads.
    positions, source_soles = _leg_pose(motion.rotations, motion.translation, source)    # (T, 2, 3, 3) soles
    ground = 0.0
    if options.floor == "estimate" and T:
        ground = estimate_ground_height(source_soles.reshape(T, 6, 3), fps=fps)
    points = detect_sole_contacts(source_soles, fps, ground, options)
    known = stored_contacts(motion)
    if known is not None:
        points |= known
    if contact is not None:
        points |= _point_contacts(contact, source_soles, ground)
    points = _close_short_gaps(points, max(int(round(options.ease_s * fps)), 1))
    feet = points.any(axis=2)                                                            # (T, 2)
    report.update(ground_shift_m=float(-ground), contact_fraction=[float(v) for v in feet.mean(axis=0)]
                  if T else [0.0, 0.0])

    rotations = motion.rotations.copy()
    if T == 0:
        report.update(ground_shift_m=0.0, root_scale=scale)
        metadata = dict(motion.metadata, feet=_json_safe(report))
        return Motion(fps, rotations, _root_on_target(motion.translation, ground, scale), body.copy(),
                      metadata), report
    translation = _root_on_target(motion.translation, ground, scale)

    if moved or ground != 0.0:
        positions, soles = _leg_pose(rotations, translation, body)
    else:
        soles = source_soles        # the same body at the same place: the same pose

    ease = max(int(round(options.ease_s * fps)), 0)
    # Edited frames join the kept ones over half the easing (a short gap is still corrected whole).
    edit = np.ones(T) if editable is None else _edit_weights(editable, (ease + 1) // 2)
    shift = np.zeros(T)
    if options.body_shift:
        shift = edit * body_height_correction(soles[..., 1].min(axis=2), feet, fps)
    foot_weight = _smoothstep(np.stack([ease_weights(feet[:, f], ease) for f in range(2)], axis=1))  # (T, 2)
    lengths = body.bone_lengths()
    reach = [lengths[KNEES[f]] + lengths[ANKLES[f]] for f in range(2)]

    def targets_for(shift):
        lifted = positions + np.array([0.0, 1.0, 0.0]) * shift[:, None, None]
        moved_soles = soles + np.array([0.0, 1.0, 0.0]) * shift[:, None, None, None]
        out = []
        for f in range(2):
            offsets = moved_soles[:, f] - lifted[:, ANKLES[f], None]
            out.append(_foot_targets(lifted[:, ANKLES[f]], offsets, points[:, f], foot_weight[:, f], ease, fps,
                                     options.pin, edit))
        return lifted, out

    lifted, feet_targets = targets_for(shift)
    # Planted feet the leg cannot reach from where the hips are: lower the body (smoothly).
    need = np.zeros(T)
    for f in range(2):
        drop = _reach_drop(lifted[:, HIPS[f]], feet_targets[f][0], reach[f])
        need = np.maximum(need, np.where((foot_weight[:, f] > 0) & (edit > 0), drop, 0.0))
    if need.any() and options.body_shift:
        shift = shift - edit * _smooth_upper_envelope(np.minimum(need, MAX_REACH_DROP_M), max(ease, 1))
        lifted, feet_targets = targets_for(shift)
    translation[:, 1] += shift

    for f, side in enumerate(SIDES):
        target, turn = feet_targets[f]
        # Frames whose foot stays put keep their leg exactly.
        moves = np.linalg.norm(target - lifted[:, ANKLES[f]], axis=-1) > 1e-7
        if turn is not None:
            moves |= np.abs(turn - np.eye(3)).max(axis=(1, 2)) > 1e-9
        if moves.any():
            _solve_legs(rotations, lifted, body, side, target, moves, turn)
    del positions, lifted, feet_targets         # a long take's per-frame arrays, no longer read

    floor_left = 0.0
    if editable is not None:
        # The frames kept as they are stand on the motion's own floor: so do the edited ones.
        floor_left = ground
        translation[:, 1] += ground
        report["ground_shift_m"] = 0.0
        report["edited_frames"] = int(editable.sum())
    out = Motion(fps, rotations, translation, body.copy(), dict(motion.metadata))
    del rotations                               # the Motion holds its own (normalised) copy
    after = sole_points(out) - np.array([0.0, floor_left, 0.0])
    # Last resort, where a leg could not reach its target: the whole body up, smoothly, by any
    # depth a sole is still below the floor.
    depth = np.maximum(-after[..., 1].min(axis=(1, 2)), 0.0) * edit
    if options.body_shift and depth.max() > LAST_RESORT_M:
        lift = _smooth_upper_envelope(np.where(depth > LAST_RESORT_M, depth, 0.0), max(ease, 1)) * (edit > 0)
        out.translation[:, 1] += lift           # the root path alone: the rotations stay as they are
        shift = shift + lift
        after = sole_points(out) - np.array([0.0, floor_left, 0.0])
    # What changed, counted where the stage could change things.
    edited = np.ones(T, dtype=bool) if editable is None else editable
    runs = [(f, a, b) for f, a, b in contact_runs(feet) if edited[a:b].any()]
    report.update(
        body_shift_m=[float(shift[edited].min()), float(shift[edited].max())] if edited.any() else [0.0, 0.0],
        contact_runs=len(runs),
        pinned=bool(options.pin),
        frames_lifted=int((soles[edited][..., 1].min(axis=(1, 2)) < -LIFT_REPORT_M).sum()),
        worst_depth_before_cm=foot_below_floor_max_cm(soles[edited]) if edited.any() else 0.0,
        worst_depth_after_cm=foot_below_floor_max_cm(after[edited]) if edited.any() else 0.0,
    )
    # Kept with the motion: a later pass (baking onto another body) plants these contacts too.
    out.metadata["feet"] = dict(_json_safe(report), contacts=_contacts_record(points))
    return out, report


def _edit_weights(editable: np.ndarray, ease: int) -> np.ndarray:
    """(T,) share of the correction each frame takes: 0 off the ``editable`` frames, ramping up to 1
    over ``ease`` frames inside them (so they join the frames kept as they are)."""
    frames = np.arange(len(editable))
    kept = np.flatnonzero(~editable)
    if kept.size == 0:
        return np.ones(len(editable))
    pos = np.searchsorted(kept, frames)
    distance = np.minimum(np.abs(frames - kept[np.clip(pos - 1, 0, kept.size - 1)]),
                          np.abs(kept[np.clip(pos, 0, kept.size - 1)] - frames))
    return np.where(editable, np.clip(distance / (ease + 1.0), 0.0, 1.0) if ease > 0 else 1.0, 0.0)


def stored_contacts(motion: Motion) -> np.ndarray | None:
    """The contacts (T, 2, 3) an earlier pass of the stage found on this motion and kept in its
    metadata (``feet.contacts``: runs per sole point), or None (none kept, or the motion has since
    been resampled or cut)."""
    kept = (motion.metadata.get("feet") or {}).get("contacts")
    if not isinstance(kept, dict) or kept.get("frames") != motion.num_frames:
        return None
    points = np.zeros((motion.num_frames, 6), dtype=bool)
    for k, start, stop in kept.get("runs", []):
        points[int(start):int(stop), int(k)] = True
    return points.reshape(motion.num_frames, 2, 3)


def _contacts_record(points: np.ndarray) -> dict:
    """Contacts (T, 2, 3) as JSON-safe runs per sole point (``stored_contacts`` reads them back)."""
    return {"frames": int(len(points)), "runs": [list(r) for r in contact_runs(points.reshape(len(points), 6))]}


def _json_safe(report: dict) -> dict:
    return {k: v for k, v in report.items() if not isinstance(v, np.ndarray)}


def feet_summary(report: dict | None) -> str:
    """One clause for an operator's report, e.g. "feet on the floor: moved onto a 1.64 m body (root
    path x0.91), body 3.1 cm lower, 24 contacts pinned, 130 frames lifted out of the floor (by up
    to 6.9 cm)"; "feet left as they were (raw)" when off; "" without a report."""
    if not report:
        return ""
    if not report.get("enabled", True):
        if report.get("moved_onto_body"):
            return (f"feet left raw: the root path of a {report['source_stature_m']:.2f} m body kept on a "
                    f"{report['stature_m']:.2f} m one")
        return "feet left raw"
    parts = []
    if report.get("moved_onto_body"):
        parts.append(f"moved onto a {report['stature_m']:.2f} m body (root path x{report['root_scale']:.2f})")
    ground = report.get("ground_shift_m", 0.0)
    if report.get("floor") == "estimated" and abs(ground) >= 0.005:
        parts.append(f"floor found {100 * abs(ground):.1f} cm {'below' if ground > 0 else 'above'} y = 0")
    low, high = report.get("body_shift_m", (0.0, 0.0))
    if max(abs(low), abs(high)) >= 0.005:
        parts.append(f"body shifted {100 * low:+.1f} to {100 * high:+.1f} cm")
    runs, lifted = report.get("contact_runs", 0), report.get("frames_lifted", 0)
    if report.get("pinned") and runs:
        parts.append(f"{runs} foot contact{'s' if runs != 1 else ''} pinned")
    if lifted:
        depth = report.get("worst_depth_before_cm", 0.0)
        parts.append(f"{lifted} frame{'s' if lifted != 1 else ''} lifted out of the floor"
                     + (f" (up to {depth:.1f} cm)" if depth >= 0.1 else ""))
    return "feet on the floor: " + (", ".join(parts) if parts else "nothing to change")


__all__ = ["FeetOptions", "feet_on_floor", "feet_summary", "feet_metrics", "motion_contacts", "sole_points",
           "detect_sole_contacts", "pelvis_height", "same_body"]
