"""Six-point solver (issue 6): pelvis, head, both hands, both feet (position + orientation each) to
a full SMPL-24 Motion on a given skeleton. Analytic, numpy only, batched over frames.

Input targets are *joint-level* (a tracker's mounting already applied): ``pelvis`` (pelvis joint +
its global rotation), ``head`` (head joint), ``left_hand``/``right_hand`` (wrist joints),
``left_foot``/``right_foot`` (ankle joints), each ``(positions (T,3), rotations (T,3,3))``.

Method, all frames at once:

- **Pelvis**: rotation and translation straight from its target; the hips and spine1 follow rigidly.
- **Legs and arms**: analytic two-bone IK (law of cosines, :func:`_swivel_limb`) reaching the
  ankle/wrist target exactly when it is within reach (optionally a *soft* reach near full extension,
  ``SixPointOptions.soft_reach``; beyond reach the limb points straight at it). The one free
  parameter, the swivel of the knee/elbow about the root-to-end line, is chosen in closed form: the
  swivel phi maximising ``sum_i w_i (R_mid(phi) e_i) . (R_end e_i) + lambda * pole(phi) . p`` --
  the mid joint's frame (knee/shin, elbow/forearm: a pure hinge about its rest axis) as aligned as
  possible with the end target's frame (the knee points along the foot's forward direction; the
  elbow's swivel follows the wrist's orientation), blended with a body pole ``p`` for robustness
  (pelvis forward for knees, behind-and-below spine3 for elbows). Rotating the limb about the
  root-to-end axis by phi rotates R_mid rigidly, so the objective is ``A cos(phi) + B sin(phi) + C``
  and ``phi = atan2(B, A)``. Upper and mid joints get pure-hinge frames (bone direction + the
  bend-plane normal on the hinge axis, ``ik.DEFAULT_HINGE_AXES``); the ankle/wrist local rotation is
  whatever takes the mid joint's frame to the target's, so the end's global rotation is exact.
- **Spine** (spine1, spine2, spine3, neck, head): the head's rotation relative to the pelvis is
  split into a twist about the spine's axis and a swing, each distributed over the five joints with
  their own shares (the head turns mostly in the neck; the torso bends over the whole spine), or
  the prior's spine is taken (:func:`_spine_start`). The head position is then reached exactly in
  closed form (:func:`_solve_spine`): the start's bends are scaled together until the spine spans
  the spine1-to-head distance, and the whole spine turns about spine1 onto the head; the head keeps
  its exact global rotation (its local rotation takes the remainder).
- **Collars**: a share of the swing from the rest arm direction towards the hand (in spine3's
  frame): SMPL collars move little. **Hands** (22, 23) and **toes** (10, 11): identity locals.

Missing frames (NaN rows) are interpolated (positions linearly, rotations by normalised linear
quaternion interpolation) and held at the ends; a limb with no valid frame at all stays at rest;
the report says what was filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kinematics.filters import fill_gaps
from ..kinematics.ik import (DEFAULT_HINGE_AXES, _EYE, _LEVI_CIVITA_ROWS, _apply, _apply_t,
                             _axis_angle_matrix, _cross, _dot, _normalize, _skew)
from ..kinematics.motion import Motion
from ..kinematics.rotations import matrix_to_quat, quat_slerp, quat_to_matrix, rotation_between_vectors
from ..kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, Skeleton

J = JOINT_INDEX
TARGET_NAMES = ("pelvis", "head", "left_hand", "right_hand", "left_foot", "right_foot")
SPINE = (J["spine1"], J["spine2"], J["spine3"], J["neck"], J["head"])
_EPS = 1e-9


@dataclass
class SixPointOptions:
    """Tuning of :func:`solve_six_point`. Defaults: a coordinate search on a sixth of the corpus's
    *train* clips (every 5th frame) minimising MPJPE with exact targets."""

    # Shares of the head-relative-to-pelvis twist (about the pelvis Y axis) and swing over
    # spine1, spine2, spine3, neck, head (each sums to 1; the head's local takes any remainder).
    spine_twist_shares: tuple = (1 / 9, 1 / 9, 1 / 9, 1 / 3, 1 / 3)
    spine_swing_shares: tuple = (1 / 7, 1 / 7, 1 / 7, 2 / 7, 2 / 7)
    # Collars: share of the rest-arm-to-hand swing (cross-product form, spine3 frame) per axis.
    collar_shares: tuple = (0.0, 0.2, 0.0)
    # Swivel objective: weights of the mid frame's x, y, z axes aligned with the end target's,
    # and the weight of the body pole (pelvis forward for knees, behind/below for elbows).
    knee_axis_weights: tuple = (1.0, 0.0, 0.0)
    knee_pole_weight: float = 1.0
    elbow_axis_weights: tuple = (3.0, 0.0, 1.0)
    elbow_pole_weight: float = 1.0
    # Soft reach: beyond (1 - soft_reach) of the limb length the reach eases towards full length
    # (no knee/elbow snap at full extension; the end then falls a little short). 0 = exact IK.
    soft_reach: float = 0.0
    # With a prior pose (``solve_six_point(..., prior=)``): the weight of the prior's knee/elbow
    # direction in the swivel objective (it replaces the body pole; 20 was best of 4-1000 on the
    # validation split with the shipped six-point network).
    prior_pole_weight: float = 20.0
    # The prior is trusted fully where its pelvis is within the first angle (degrees) of the pelvis
    # target, not at all beyond the second (smoothly between): a network that has the one tracked
    # rotation it sees 30+ degrees wrong has the rest wrong too (lying on the floor: 175 degrees).
    prior_trust_deg: tuple = (15.0, 30.0)
    hinge_axes: dict = field(default_factory=lambda: dict(DEFAULT_HINGE_AXES))


# --------------------------------------------------------------------------------------------
# helpers

def _world_frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Frames (N, 3, 3) whose columns are ``primary`` normalised, the part of ``secondary`` normal
    to it normalised, and their cross product."""
    a, _ = _normalize(primary)
    b, _ = _normalize(secondary - _dot(secondary, a)[..., None] * a)
    return np.stack((a, b, _cross(a, b)), axis=-1)


def _rest_frame(rest_primary: np.ndarray, rest_secondary: np.ndarray) -> np.ndarray:
    """The transposed :func:`_world_frame` of rest vectors: ``_world_frame(p, s) @ _rest_frame(rp,
    rs)`` takes ``rp`` onto ``p`` and ``rs`` (made normal to it) onto ``s`` (made normal to ``p``)."""
    return np.swapaxes(_world_frame(rest_primary, rest_secondary), -1, -2)


def fill_target(pos: np.ndarray, rot: np.ndarray):
    """Interpolate a target's missing (non-finite) frames: positions linearly, rotations by
    normalised linear quaternion interpolation, held at the ends. Returns (pos, rot, n_filled,
    all_missing); pos and rot are None when no frame is valid."""
    valid = np.isfinite(pos).all(-1) & np.isfinite(rot).reshape(len(rot), -1).all(-1)
    n_missing = int((~valid).sum())
    if not valid.any():
        return None, None, n_missing, True
    if n_missing == 0:
        return pos, rot, 0, False
    pos, _ = fill_gaps(pos, valid)
    q = np.full((len(rot), 4), np.nan)
    q[valid] = matrix_to_quat(rot[valid])
    # Continuous signs over the valid frames, then linear interpolation + normalisation.
    qv = q[valid]
    flips = np.cumprod(np.where(np.sum(qv[1:] * qv[:-1], axis=-1) < 0, -1.0, 1.0))
    qv[1:] *= flips[:, None]
    q[valid] = qv
    q, _ = fill_gaps(q, valid)
    return pos, quat_to_matrix(q), n_missing, False


def _perpendicular(v: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Part of v normal to unit u, normalised, and its length."""
    return _normalize(v - _dot(v, u)[:, None] * u)


@dataclass
class _LimbRest:
    """What the rest pose fixes of two-bone limbs, one row per limb and frame: bone lengths (N,)
    and the rest frames (2, N, 3, 3) of the upper and lower bone (bone direction, hinge axis)."""

    l1: np.ndarray
    l2: np.ndarray
    frames: np.ndarray

    @classmethod
    def of(cls, upper_rest: np.ndarray, lower_rest: np.ndarray, hinge: np.ndarray) -> "_LimbRest":
        return cls(np.sqrt(_dot(upper_rest, upper_rest)), np.sqrt(_dot(lower_rest, lower_rest)),
                   np.stack((_rest_frame(upper_rest, hinge), _rest_frame(lower_rest, hinge))))


def _swivel_limb(root: np.ndarray, end: np.ndarray, end_rot: np.ndarray, rest: _LimbRest, axis_weights: np.ndarray,
                 pole: np.ndarray, pole_weight, soft: float):
    """Two-bone IK root -> mid -> end with the swivel picked in closed form (module docstring).
    Rows (N) may be different limbs; ``axis_weights`` (N, 3), ``pole_weight`` a number or (N,).

    Returns (upper global (N,3,3), mid global (N,3,3), unreachable mask (N,))."""
    l1, l2 = rest.l1, rest.l2
    full = l1 + l2
    u, reach = _normalize(end - root)
    unreachable = reach > full - 1e-9
    if soft > 0.0:
        start = (1.0 - soft) * full
        ease = soft * full
        eased = start + ease * (1.0 - np.exp(-(reach - start) / ease))
        reach_eff = np.where(reach > start, eased, reach)
    else:
        reach_eff = np.minimum(reach, full)
    target = root + u * reach_eff[:, None]
    # A start side: the body pole made normal to the root-to-end line (any normal if parallel).
    s0, strength = _perpendicular(pole, u)
    weak = strength < 1e-6
    if weak.any():
        helper = np.where(np.abs(u[weak, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        s0[weak] = _perpendicular(helper, u[weak])[0]
    # The limb bent towards s0 (law of cosines, the reach clipped to what the bones span): both bones
    # lie in the plane of u and s0, so its normal is their frames' second axis.
    span = np.clip(reach_eff, np.abs(l1 - l2) + 1e-6, full - 1e-6)
    cos_a = (l1 * l1 + span * span - l2 * l2) / (2.0 * l1 * span)
    upper_dir = cos_a[:, None] * u + np.sqrt(np.clip(1.0 - cos_a * cos_a, 0.0, 1.0))[:, None] * s0
    lower_dir, _ = _normalize(target - root - l1[:, None] * upper_dir)
    normal0 = _cross(s0, u)
    basis = np.empty((2,) + u.shape + (3,))      # columns: the bone's direction, the normal, their cross
    basis[0, :, :, 0] = upper_dir
    basis[1, :, :, 0] = lower_dir
    basis[..., 1] = normal0
    basis[..., 2] = _cross(basis[..., 0], normal0)
    frames = basis @ rest.frames
    upper_rot0, mid_rot0 = frames[0], frames[1]
    # Objective A cos(phi) + B sin(phi) + const over the swivel phi about u: with m the weighted
    # end frame times the mid frame's transpose, A = tr(m) - u.m u and B = -u.axial(m).
    m = (end_rot * axis_weights[:, None, :]) @ mid_rot0.transpose(0, 2, 1)
    a = np.einsum("tii->t", m) - _dot(u, _apply(m, u))
    b = -_dot(u, m.reshape(len(m), 9) @ _LEVI_CIVITA_ROWS.T)      # u . the axial vector of m
    us0 = _cross(u, s0)
    a = a + pole_weight * _dot(s0, pole)
    b = b + pole_weight * _dot(us0, pole)
    norm = np.maximum(np.hypot(a, b), 1e-300)
    cos, sin = np.where(norm > 1e-12, a / norm, 1.0), np.where(norm > 1e-12, b / norm, 0.0)
    # The swivel turns the whole limb about u: both bones' frames turn with it.
    turn = _axis_angle_matrix(u, cos, sin)
    return turn @ upper_rot0, turn @ mid_rot0, unreachable


def _collar_reach(collar_rot, collar_pos, wrist, shoulder_offset, arm_length):
    """Turn the collars (N,3,3) towards the wrist just enough that the shoulder comes within the
    arm's reach of it (so the wrist is hit exactly whenever any collar pose allows it).
    ``shoulder_offset`` (3,) or (N,3), ``arm_length`` a number or (N,)."""
    lc = np.sqrt(_dot(shoulder_offset, shoulder_offset))
    c, _ = _normalize(_apply(collar_rot, shoulder_offset))
    w, dist = _normalize(wrist - collar_pos)
    reach = arm_length
    cos_needed = np.clip((lc * lc + dist * dist - reach * reach) / np.maximum(2.0 * lc * dist, _EPS), -1.0, 1.0)
    cos_now = np.clip(_dot(c, w), -1.0, 1.0)
    short = cos_now < cos_needed
    if not short.any():
        return collar_rot
    axis, sin_now = _normalize(_cross(c[short], w[short]))
    turn = np.arctan2(sin_now, cos_now[short]) - np.arccos(cos_needed[short])
    out = collar_rot.copy()
    out[short] = _axis_angle_matrix(axis, np.cos(turn), np.sin(turn)) @ collar_rot[short]
    return out


def _twist_swing_y(rel: np.ndarray):
    """Twist angle about +Y (T,) and swing rotation vector (T,3) of rotations rel = swing @ twist."""
    q = matrix_to_quat(rel)
    w, y = q[:, 0], q[:, 2]
    twist_angle = 2.0 * np.arctan2(y, w)
    half = 0.5 * twist_angle
    # swing = q * conj(twist), twist = (cos h, 0, sin h, 0)
    c, s = np.cos(half), np.sin(half)
    sw = np.stack((q[:, 0] * c + q[:, 2] * s, q[:, 1] * c - q[:, 3] * s,
                   q[:, 2] * c - q[:, 0] * s, q[:, 3] * c + q[:, 1] * s), axis=-1)
    sign = np.where(sw[:, :1] < 0, -1.0, 1.0)
    sw = sw * sign
    sin_half = np.sqrt(_dot(sw[:, 1:], sw[:, 1:]))
    angle = 2.0 * np.arctan2(sin_half, sw[:, 0])
    k = np.where(sin_half < 1e-12, 2.0, angle / np.maximum(sin_half, 1e-300))
    return twist_angle, sw[:, 1:] * k[:, None]


def _rot_y(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(angle.shape + (3, 3))
    m[:, 0, 0] = c
    m[:, 0, 2] = s
    m[:, 1, 1] = 1.0
    m[:, 2, 0] = -s
    m[:, 2, 2] = c
    return m


# Spine: the start's bends scaled to the head's distance, then the whole spine turned onto the head.
_BEND_LIMIT = 0.5 * np.pi        # radians: the most the length fit bends any one joint
_WEAK_BEND = 0.05                # radians: a start bent less than this in all gets a forward flexion mode
_FLEXION = np.array((0.1, 0.0, 0.0)) / 3.0      # about each joint's parent +X (bending forwards)
_LENGTH_TOLERANCE = 1e-10        # metres
_CLOSE = 1e-4                    # metres: a Newton step from this close ends the length fit (its error squares)
_NEWTON_STEPS = 16               # a cap: most frames converge in 2-4


def _rotvec_matrix(v: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of rotation vectors (..., 3)."""
    angle = np.sqrt(_dot(v, v))
    return _axis_angle_matrix(v / np.maximum(angle, 1e-300)[..., None], np.cos(angle), np.sin(angle))


def _turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest rotations (N, 3, 3) taking unit vectors a (N, 3) onto unit b (N, 3):
    c I + [k]x + k k^T / (1 + c) with k = a x b, c = a . b."""
    k = _cross(a, b)
    c = _dot(a, b)
    out = k[:, :, None] * (k / np.maximum(1.0 + c, 1e-300)[:, None])[:, None, :]
    out += _skew(k)
    out += c[:, None, None] * _EYE
    opposite = c < -1.0 + 1e-9
    if opposite.any():      # half a turn about any axis normal to a
        out[opposite] = quat_to_matrix(rotation_between_vectors(a[opposite], b[opposite]))
    return out


def _spine_shares(pelvis_rot: np.ndarray, head_rot: np.ndarray, opts: SixPointOptions) -> np.ndarray:
    """Locals (4, T, 3, 3) of spine1..neck: their shares of the head's twist and swing."""
    twist, swing = _twist_swing_y(pelvis_rot.transpose(0, 2, 1) @ head_rot)
    twist_shares = np.asarray(opts.spine_twist_shares[:4], dtype=np.float64)[:, None]
    swing_shares = np.asarray(opts.spine_swing_shares[:4], dtype=np.float64)[:, None, None]
    return _rotvec_matrix(swing_shares * swing) @ _rot_y((twist_shares * twist).ravel()).reshape(4, -1, 3, 3)


def _spine_start(pelvis_rot, head_rot, opts: SixPointOptions, prior=None, trust=None) -> np.ndarray:
    """Locals (4, T, 3, 3) of spine1..neck to start from: the prior's (slerped towards the shares
    where ``trust`` < 1), else the shares."""
    if prior is None:
        return _spine_shares(pelvis_rot, head_rot, opts)
    chain = prior[:, SPINE[:4]]
    parents = np.concatenate((pelvis_rot[:, None], chain[:, :3]), axis=1)
    start = (parents.transpose(0, 1, 3, 2) @ chain).transpose(1, 0, 2, 3)
    faded = np.nonzero(trust < 1.0)[0] if trust is not None else ()
    if len(faded):
        shares = _spine_shares(pelvis_rot[faded], head_rot[faded], opts)
        q = quat_slerp(matrix_to_quat(shares), matrix_to_quat(start[:, faded]), trust[faded][None])
        start[:, faded] = quat_to_matrix(q)
    return start


def _spine_chord(modes: np.ndarray, straight: np.ndarray, offsets: np.ndarray, s: np.ndarray):
    """The spine1-to-head vector in spine1's frame (N, 3) with spine2, spine3 and the neck bent by
    ``s`` (N,) times their ``modes`` (3, N, 3) off their ``straight`` locals (3, N, 3, 3), and its
    derivative in s."""
    rot = _rotvec_matrix(modes * s[:, None]) @ straight
    rv = _apply(rot[2], offsets[4])    # the neck's bone to the head (its derivative: modes x it)
    dv = _cross(modes[2], rv)
    v = offsets[3] + rv
    for k in (1, 0):                   # spine3, spine2
        rv = _apply(rot[k], v)
        dv = _apply(rot[k], dv) + _cross(modes[k], rv)
        v = offsets[k + 1] + rv
    return v, dv


@dataclass
class _SpineGeometry:
    """A skeleton's spine: the offsets (5, 3) of spine1..head, their directions, the length from
    spine1 to the head when straight."""

    offsets: np.ndarray
    unit: np.ndarray
    length: float

    @classmethod
    def of(cls, skeleton: Skeleton) -> "_SpineGeometry":
        o = skeleton.offsets[list(SPINE)]
        norms = np.linalg.norm(o, axis=-1)
        return cls(o, o / norms[:, None], float(norms[1:].sum()))


def _solve_spine(pelvis_pos, pelvis_rot, head_pos, head_rot, spine: _SpineGeometry, start):
    """Spine1..head from the start locals (4, T, 3, 3) of spine1..neck, reaching the head target.

    Two exact steps (no Gauss-Newton on the head position: near a straight spine its error along
    the spine is second order in the bend, so it crawled or oscillated and a capped iteration left
    the head centimetres off its tracker):

    - *length*: the bends of spine2, spine3 and the neck (each the swing taking the joint's child bone
      off the line of its own bone) are scaled together by one factor until the spine1-to-head
      distance is the target's: a bracketed Newton solve in the squared factor, in which that
      distance is about linear even at a straight spine. A start too straight to bend gets a small
      forward flexion as its mode.
    - *direction*: the whole spine turns about spine1 onto the head by the shortest rotation, so the
      start's twist about that line is kept; the head keeps its exact global rotation.

    Exact wherever the head is within reach (a head farther than the spine's length gets a straight
    spine pointing at it). Returns locals (5, T, 3, 3), globals (5, T, 3, 3), positions (5, T, 3) of
    spine1..head and the head's residual distance (T,)."""
    T = len(pelvis_pos)
    o, unit, full = spine.offsets, spine.unit, spine.length
    locals_ = np.empty((5, T, 3, 3))
    locals_[:4] = start
    glob, pos = _spine_chain(pelvis_pos, pelvis_rot, start, o)
    if np.abs(head_pos - pos[4]).max(initial=0.0) < _LENGTH_TOLERANCE:
        # The start reaches the head already (a three-point prior, anchored on the head).
        return _spine_finish(locals_, glob, pos, head_pos, head_rot)
    # Bend of spine2, spine3, neck: the swing (parent frame) taking its bone's line onto its child's.
    child = np.einsum("ktij,kj->kti", start[1:], unit[2:])
    axis, sin = _normalize(_cross(unit[1:4, None], child))
    modes = axis * np.arctan2(sin, _dot(unit[1:4, None], child))[..., None]
    straight = _rotvec_matrix(-modes) @ start[1:]
    bend = np.sqrt(_dot(modes, modes))
    weak = 1.0 - bend.sum(axis=0) / _WEAK_BEND
    if (weak > 0.0).any():
        modes = modes + np.clip(weak, 0.0, 1.0)[:, None] * _FLEXION
        bend = np.sqrt(_dot(modes, modes))
    root = pos[0]
    to_head = head_pos - root
    reach = np.sqrt(_dot(to_head, to_head))
    # Length: f(sigma) = |chord(sqrt(sigma))| - reach, decreasing in sigma on [0, sigma_max]. The
    # squared chord of a slightly bent chain is about full_length^2 - sigma * bend term: the start's
    # chord then says where to begin.
    deficit = full * full - _dot(pos[4] - root, pos[4] - root)
    hi = (_BEND_LIMIT / np.maximum(bend.max(axis=0), 1e-12)) ** 2
    guess = np.where(deficit > 1e-4 * full * full, (full * full - reach * reach) / np.maximum(deficit, 1e-300), 1.0)
    sigma = np.where(reach < full, np.minimum(guess, hi), 0.0)
    lo = np.zeros(T)
    todo = np.nonzero(sigma > 0.0)[0]
    for _ in range(_NEWTON_STEPS):
        if not len(todo):
            break
        every = len(todo) == T       # (no gathering while every frame is still open)
        sig = sigma if every else sigma[todo]
        s = np.sqrt(sig)
        chord, d_chord = _spine_chord(modes if every else modes[:, todo],
                                      straight if every else straight[:, todo], o, s)
        length = np.sqrt(_dot(chord, chord))
        f = length - (reach if every else reach[todo])
        size = np.abs(f)
        low = np.where(f > 0.0, sig, lo if every else lo[todo])
        high = np.where(f < 0.0, sig, hi if every else hi[todo])
        slope = np.minimum(_dot(chord, d_chord) / (np.maximum(length, _EPS) * 2.0 * np.maximum(s, 1e-9)), -1e-12)
        step = sig - f / slope
        inside = (step > low) & (step < high)
        new = np.where(size < _LENGTH_TOLERANCE, sig, np.where(inside, step, 0.5 * (low + high)))
        if every:
            sigma, lo, hi = new, low, high
        else:
            sigma[todo], lo[todo], hi[todo] = new, low, high
        # Within _CLOSE the Newton step just taken lands far inside the tolerance (the error
        # squares): no need to look again.
        todo = todo[(size >= _LENGTH_TOLERANCE) & ((size >= _CLOSE) | ~inside)]
    locals_[1:4] = _rotvec_matrix(modes * np.sqrt(sigma)[:, None]) @ straight
    glob, pos = _spine_chain(pelvis_pos, pelvis_rot, locals_[:4], o)
    # Direction: the whole spine turns about spine1 onto the head.
    turn = _turn(_normalize(pos[4] - root)[0], _normalize(to_head)[0])
    glob = turn @ glob
    pos[1:] = root + np.einsum("tij,ktj->kti", turn, pos[1:] - root)
    locals_[0] = pelvis_rot.transpose(0, 2, 1) @ glob[0]
    return _spine_finish(locals_, glob, pos, head_pos, head_rot)


def _spine_chain(pelvis_pos, pelvis_rot, locals4, o):
    """Globals (4, T, 3, 3) of spine1..neck and positions (5, T, 3) of spine1..head, from the
    locals of spine1..neck and the spine offsets ``o`` (5, 3)."""
    glob = np.empty(locals4.shape)
    pos = np.empty((5,) + pelvis_pos.shape)
    parent = pelvis_rot
    pos[0] = pelvis_pos + _apply(pelvis_rot, o[0])
    for i in range(4):
        glob[i] = parent = parent @ locals4[i]
        pos[i + 1] = pos[i] + _apply(parent, o[i + 1])
    return glob, pos


def _spine_finish(locals_, glob4, pos, head_pos, head_rot):
    """The head's local rotation (it keeps its exact global one); (locals, globals, positions,
    head residual) as :func:`_solve_spine` returns them."""
    locals_[4] = glob4[3].transpose(0, 2, 1) @ head_rot
    glob = np.concatenate((glob4, head_rot[None]))
    gap = head_pos - pos[4]
    return locals_, glob, pos, np.sqrt(_dot(gap, gap))


def stack_targets(targets: dict, names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``targets`` ({name: (positions (T, 3), rotations (T, 3, 3))}, NaN where lost) as arrays in
    ``names`` order with gaps filled (:func:`fill_target`): positions (T, K, 3), rotations
    (T, K, 3, 3), valid (T, K) saying which samples were measured. A target with no valid frame
    raises ValueError naming it."""
    pos_out, rot_out, valid_out = [], [], []
    for name in names:
        pos, rot = (np.asarray(a, dtype=np.float64) for a in targets[name])
        valid = np.isfinite(pos).all(-1) & np.isfinite(rot).reshape(len(rot), -1).all(-1)
        pos, rot, _, all_missing = fill_target(pos, rot)
        if all_missing:
            raise ValueError(f"the {name} tracker has no valid frame")
        pos_out.append(pos)
        rot_out.append(rot)
        valid_out.append(valid)
    return np.stack(pos_out, axis=1), np.stack(rot_out, axis=1), np.stack(valid_out, axis=1)


# --------------------------------------------------------------------------------------------

def prior_trust(prior_pelvis: np.ndarray, pelvis_rot: np.ndarray, options: SixPointOptions) -> np.ndarray:
    """(T,) 1 where the prior's pelvis rotation is within ``prior_trust_deg[0]`` of the pelvis
    target, 0 beyond ``prior_trust_deg[1]``, smoothly between."""
    full, none = options.prior_trust_deg
    cos = 0.5 * (np.einsum("tij,tij->t", prior_pelvis, pelvis_rot) - 1.0)
    if cos.min(initial=1.0) >= np.cos(np.radians(full)):
        return np.ones(len(cos))
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    x = np.clip((none - angle) / max(none - full, 1e-9), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _blend(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Rotations (N, 3, 3) slerped from a to b by weight (N,)."""
    return quat_to_matrix(quat_slerp(matrix_to_quat(a), matrix_to_quat(b), weight))


_PARENT_ROWS = list(PARENTS[1:])
_LEAVES = [J["left_foot"], J["right_foot"], J["left_hand"], J["right_hand"]]   # toes and hands: identity locals
_ELBOW_POLE = np.array([0.0, -0.7071067811865476, -0.7071067811865476])         # behind and below, spine3's frame
# Two-bone limbs by target: root, mid and end joint.
_LIMBS = {f"{side}_{end}": tuple(J[f"{side}_{j}"] for j in joints) for side in ("left", "right")
          for end, joints in (("foot", ("hip", "knee", "ankle")), ("hand", ("shoulder", "elbow", "wrist")))}


class SixPointSolver:
    """The solve of :func:`solve_six_point` on gap-free targets for one skeleton and options; what
    depends on those alone is worked out once (the live tracker stream solves a frame at a time).

    ``solve(filled, prior=None)``: ``filled`` {name: (positions (T, 3), rotations (T, 3, 3))} with
    the pelvis and head -> (local rotation matrices (T, 24, 3, 3), report: ``head_residual`` (T,),
    ``unreachable`` {target: (T,) bool}, ``prior_trust`` (T,) or None)."""

    def __init__(self, skeleton: Skeleton, options: SixPointOptions | None = None):
        self.skeleton = skeleton
        self.opts = opts = options or SixPointOptions()
        offsets = skeleton.offsets
        rest = skeleton.rest_positions()
        hinge = {k: np.asarray(v, dtype=np.float64) for k, v in opts.hinge_axes.items()}
        self._limb = {}
        for name, (root, mid, end) in _LIMBS.items():
            leg = name.endswith("foot")
            self._limb[name] = (offsets[mid], offsets[end], hinge[JOINT_NAMES[mid]],
                                np.asarray(opts.knee_axis_weights if leg else opts.elbow_axis_weights,
                                           dtype=np.float64),
                                opts.knee_pole_weight if leg else opts.elbow_pole_weight)
        self._arm = {}
        for side in ("left", "right"):
            collar, (shoulder, elbow, wrist) = J[f"{side}_collar"], _LIMBS[f"{side}_hand"]
            rest_dir, _ = _normalize(rest[wrist] - rest[collar])
            length = np.linalg.norm(offsets[elbow]) + np.linalg.norm(offsets[wrist]) - 2e-6
            self._arm[side] = (collar, shoulder, rest_dir, length)
        self._rows: dict = {}
        self._spine = _SpineGeometry.of(skeleton)

    def _limb_rows(self, names: tuple, T: int):
        """Per-row rest data of the limbs ``names``, each repeated over T frames (cached)."""
        key = (names, T)
        if key not in self._rows:
            parts = [self._limb[n] for n in names]
            rows = [np.repeat(np.stack([p[k] for p in parts]), T, axis=0) for k in range(4)]
            self._rows[key] = (_LimbRest.of(rows[0], rows[1], rows[2]), rows[3])
        return self._rows[key]

    def _arm_rows(self, arms: tuple, T: int):
        """Shoulder offsets (A*T, 3) and arm lengths (A*T,) of ``arms``, each repeated over T frames (cached)."""
        key = ("arms", arms, T)
        if key not in self._rows:
            offsets = self.skeleton.offsets[[self._arm[side][1] for side in arms]]
            self._rows[key] = (np.repeat(offsets, T, axis=0), np.repeat([self._arm[side][3] for side in arms], T))
        return self._rows[key]

    def _collars(self, arms, filled, spine3_rot, spine3_pos, prior, trust, faded):
        """Collar globals (A*T, 3, 3) and shoulder positions (A*T, 3) of ``arms``: a share of the
        swing towards the hand (or the prior's collars, faded towards that where not trusted), then
        just enough turn for the arm to reach the hand."""
        T, offsets, opts = len(spine3_rot), self.skeleton.offsets, self.opts
        collars = [self._arm[side][0] for side in arms]
        hands = np.concatenate([filled[f"{side}_hand"][0] for side in arms])
        spine3_rows = np.concatenate([spine3_rot] * len(arms))
        collar_pos = np.concatenate([spine3_pos + _apply(spine3_rot, offsets[c]) for c in collars])
        if prior is None or len(faded):
            rest_dir = np.repeat(np.stack([self._arm[side][2] for side in arms]), T, axis=0)
            reach_dir, _ = _normalize(_apply_t(spine3_rows, hands - collar_pos))
            swing = _cross(rest_dir, reach_dir)
            rows = spine3_rows @ _rotvec_matrix(swing * np.asarray(opts.collar_shares, dtype=np.float64))
        if prior is not None:
            shares_rows = rows if len(faded) else None
            rows = np.concatenate([prior[:, c] for c in collars])
            if len(faded):
                part = np.concatenate([faded + i * T for i in range(len(arms))])
                rows[part] = _blend(shares_rows[part], rows[part], np.tile(trust[faded], len(arms)))
        shoulder_offsets, arm_lengths = self._arm_rows(tuple(arms), T)
        rows = _collar_reach(rows, collar_pos, hands, shoulder_offsets, arm_lengths)
        return rows, collar_pos + _apply(rows, shoulder_offsets)

    def solve(self, filled: dict, prior: np.ndarray | None = None):
        opts, offsets = self.opts, self.skeleton.offsets
        pelvis_pos, pelvis_rot = filled["pelvis"]
        head_pos, head_rot = filled["head"]
        T = len(pelvis_pos)
        trust, faded = None, ()
        if prior is not None:
            locals_ = np.empty((T, NUM_JOINTS, 3, 3))
            locals_[:, 1:] = prior[:, _PARENT_ROWS].transpose(0, 1, 3, 2) @ prior[:, 1:]
            locals_[:, _LEAVES] = _EYE              # as in the corpus
            trust = prior_trust(prior[:, 0], pelvis_rot, opts)
            faded = np.nonzero(trust < 1.0)[0]
        else:
            locals_ = np.broadcast_to(np.eye(3), (T, NUM_JOINTS, 3, 3)).copy()
        locals_[:, 0] = pelvis_rot
        report = {"prior_trust": trust, "unreachable": {}}

        # Spine to the head.
        start = _spine_start(pelvis_rot, head_rot, opts, prior, trust)
        spine_locals, spine_glob, spine_pos, report["head_residual"] = _solve_spine(
            pelvis_pos, pelvis_rot, head_pos, head_rot, self._spine, start)
        locals_[:, list(SPINE)] = spine_locals.transpose(1, 0, 2, 3)
        spine3_rot, spine3_pos = spine_glob[2], spine_pos[2]

        # Collars, both arms at once.
        arms = [side for side in ("left", "right") if f"{side}_hand" in filled]
        if arms:
            collar_rows, shoulder_pos = self._collars(arms, filled, spine3_rot, spine3_pos, prior, trust, faded)
            for i, side in enumerate(arms):
                locals_[:, self._arm[side][0]] = spine3_rot.transpose(0, 2, 1) @ collar_rows[i * T:(i + 1) * T]

        # Limbs (every tracked leg and arm in one batch): two-bone IK with the closed-form swivel.
        # The swivel's pole: the body's (pelvis forward for knees, behind and below spine3 for
        # elbows), or the prior's upper-limb direction (faded towards the body's where not trusted).
        names, parents, roots, poles = [], [], [], []
        hip_pole = pelvis_rot[:, :, 2]
        elbow_pole = _apply(spine3_rot, _ELBOW_POLE) if arms else None
        for name, (root, mid, _end) in _LIMBS.items():
            if name not in filled:
                continue
            leg = name.endswith("foot")
            if leg:
                parent, at = pelvis_rot, pelvis_pos + _apply(pelvis_rot, offsets[root])
            else:
                i = arms.index(name.split("_")[0])
                parent, at = collar_rows[i * T:(i + 1) * T], shoulder_pos[i * T:(i + 1) * T]
            body = self._limb[name][4] * (hip_pole if leg else elbow_pole)
            if prior is None:
                pole = body
            else:
                pole = opts.prior_pole_weight * _apply(prior[:, root], offsets[mid])
                if len(faded):
                    pole = trust[:, None] * pole + (1.0 - trust[:, None]) * body
            names.append(name)
            parents.append(parent)
            roots.append(at)
            poles.append(pole)
        if names:
            rest, weights = self._limb_rows(tuple(names), T)
            end_rot = np.concatenate([filled[n][1] for n in names])
            upper_rot, mid_rot, unreachable = _swivel_limb(
                np.concatenate(roots), np.concatenate([filled[n][0] for n in names]), end_rot, rest, weights,
                np.concatenate(poles), 1.0, opts.soft_reach)
            joints = np.array([_LIMBS[n] for n in names])          # (limbs, root/mid/end)
            chain = np.stack((np.concatenate(parents), upper_rot, mid_rot))
            local = chain.transpose(0, 1, 3, 2) @ np.stack((upper_rot, mid_rot, end_rot))
            locals_[:, joints.T.ravel()] = local.reshape(3 * len(names), T, 3, 3).transpose(1, 0, 2, 3)
            for i, name in enumerate(names):
                report["unreachable"][name] = unreachable[i * T:(i + 1) * T]
        return locals_, report


def solve_six_point(targets: dict, skeleton: Skeleton, fps: float, options: SixPointOptions | None = None,
                    prior: np.ndarray | None = None):
    """Full SMPL-24 Motion from six joint-level targets (module docstring). Returns (Motion, report).

    ``prior``: optional (T, 24, 3, 3) world rotations of a guessed pose (the tracker poser's): the
    spine starts from it instead of the twist/swing shares, the collars take its rotations (then
    just enough reach), the knees and elbows swivel towards its thigh/upper-arm directions
    (``prior_pole_weight``), and limbs without a target keep its rotations; where its pelvis is far
    from the pelvis target it fades into the closed-form defaults (``prior_trust_deg``). The targets
    are still reached exactly; the prior only decides what they leave open."""
    opts = options or SixPointOptions()
    report = {"filled_frames": {}, "missing_targets": [], "unreachable_frames": {}}
    filled = {}
    T = None
    for name in TARGET_NAMES:
        if name not in targets or targets[name] is None:
            report["missing_targets"].append(name)
            continue
        pos, rot = targets[name]
        pos = np.asarray(pos, dtype=np.float64)
        rot = np.asarray(rot, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or rot.shape != (len(pos), 3, 3):
            raise ValueError(f"target {name!r}: expected positions (T, 3) and rotations (T, 3, 3), "
                             f"got {pos.shape} and {rot.shape}")
        if T is None:
            T = len(pos)
        elif len(pos) != T:
            raise ValueError(f"target {name!r} has {len(pos)} frames, the others {T}")
        pos, rot, n_missing, all_missing = fill_target(pos, rot)
        report["filled_frames"][name] = n_missing
        if all_missing:
            report["missing_targets"].append(name)
            continue
        filled[name] = (pos, rot)
    for required in ("pelvis", "head"):
        if required not in filled:
            raise ValueError(f"the six-point solver needs the {required} target with at least one valid frame")
    if prior is not None:
        prior = np.asarray(prior, dtype=np.float64)
        if prior.shape != (T, NUM_JOINTS, 3, 3):
            raise ValueError(f"prior must be (T, {NUM_JOINTS}, 3, 3) world rotations for {T} frames, got {prior.shape}")
    locals_, pose_report = SixPointSolver(skeleton, opts).solve(filled, prior)
    report["head_residual_max_m"] = float(pose_report["head_residual"].max()) if T else 0.0
    report["unreachable_frames"] = {n: int(m.sum()) for n, m in pose_report["unreachable"].items()}
    if prior is not None:
        report["prior_faded_frames"] = int((pose_report["prior_trust"] < 1.0).sum())
    motion = Motion(fps, matrix_to_quat(locals_), filled["pelvis"][0].copy(), skeleton,
                    {"source": "six_point_trackers", "solver": "tracker_ik"})
    return motion, report
