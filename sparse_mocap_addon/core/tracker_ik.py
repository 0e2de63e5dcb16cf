"""Six-point solver (issue 6): pelvis, head, both hands, both feet (position + orientation each) to
a full SMPL-24 Motion on a given skeleton. Analytic, numpy only, batched over frames.

Input targets are *joint-level* (a tracker's mounting already applied): ``pelvis`` (pelvis joint +
its global rotation), ``head`` (head joint), ``left_hand``/``right_hand`` (wrist joints),
``left_foot``/``right_foot`` (ankle joints), each ``(positions (T,3), rotations (T,3,3))``.

Method, all frames at once:

- **Pelvis**: rotation and translation straight from its target; the hips and spine1 follow rigidly.
- **Legs and arms**: analytic two-bone IK (``foot_lock.two_bone_ik``, law of cosines) reaching the
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
  the pelvis-to-head distance, and the whole spine turns about spine1 onto the head; the head keeps
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

from .filters import fill_gaps
from .ik import DEFAULT_HINGE_AXES, _apply, _apply_t, _axis_angle_matrix, _cross, _dot, _normalize
from .motion import Motion
from .rotations import (axis_angle_to_matrix, matrix_to_quat, quat_slerp, quat_to_matrix,
                        rotation_between_vectors)
from .skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, Skeleton

J = JOINT_INDEX
TARGET_NAMES = ("pelvis", "head", "left_hand", "right_hand", "left_foot", "right_foot")
SPINE = (J["spine1"], J["spine2"], J["spine3"], J["neck"], J["head"])
# The knee/elbow below each hip/shoulder (the prior's direction of that bone is the swivel's pole).
_CHILD = {J[f"{s}_{a}"]: J[f"{s}_{b}"] for s in ("left", "right") for a, b in (("hip", "knee"), ("shoulder", "elbow"))}
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

def _frames_from(primary: np.ndarray, secondary: np.ndarray, rest_primary: np.ndarray,
                 rest_secondary: np.ndarray) -> np.ndarray:
    """Rotations (N,3,3) taking unit ``rest_primary`` ((3,) or one per row (N,3)) exactly onto
    ``primary`` (N,3) and ``rest_secondary`` (made normal to it) onto ``secondary`` (made normal to
    ``primary``)."""
    a_r, _ = _normalize(rest_primary)
    b_r, _ = _normalize(rest_secondary - _dot(rest_secondary, a_r)[..., None] * a_r)
    rest = np.stack((a_r, b_r, _cross(a_r, b_r)), axis=-1)          # columns
    a, _ = _normalize(primary)
    b, _ = _normalize(secondary - _dot(secondary, a)[:, None] * a)
    world = np.stack((a, b, _cross(a, b)), axis=2)
    return world @ np.swapaxes(rest, -1, -2)


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


def _bend(root, u, side, reach, l1, l2):
    """Mid joint (N,3) of a two-bone chain from ``root`` towards unit ``u`` over ``reach``, bent
    towards the unit ``side`` normal to ``u`` (law of cosines, reach clipped to what the bones span)."""
    reach = np.clip(reach, np.abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6)
    cos = (l1 * l1 + reach * reach - l2 * l2) / (2.0 * l1 * reach)
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, 1.0))
    return root + np.reshape(l1, (-1, 1)) * (cos[:, None] * u + sin[:, None] * side)


def _swivel_limb(root: np.ndarray, end: np.ndarray, end_rot: np.ndarray, upper_rest: np.ndarray,
                 lower_rest: np.ndarray, hinge: np.ndarray, axis_weights, pole: np.ndarray,
                 pole_weight, soft: float):
    """Two-bone IK root -> mid -> end with the swivel picked in closed form (module docstring).
    Rows may be different limbs: the rest vectors, hinge axes and axis weights may be (3,) or one
    per row (N,3), ``pole_weight`` a number or (N,).

    Returns (upper global (N,3,3), mid global (N,3,3), mid position (N,3), reached end (N,3),
    unreachable mask (N,))."""
    l1 = np.sqrt(_dot(upper_rest, upper_rest))
    l2 = np.sqrt(_dot(lower_rest, lower_rest))
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
    mid0 = _bend(root, u, s0, reach_eff, l1, l2)
    lower0, _ = _normalize(target - mid0)
    normal0 = _cross(s0, u)
    mid_rot0 = _frames_from(lower0, normal0, lower_rest, hinge)
    # Objective A cos(phi) + B sin(phi) + const over the swivel phi about u.
    weights = np.broadcast_to(np.asarray(axis_weights, dtype=np.float64), u.shape)
    m = (end_rot * weights[:, None, :]) @ mid_rot0.transpose(0, 2, 1)
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    a = trace - _dot(u, _apply(m, u))
    b = (u[:, 2] * (m[:, 1, 0] - m[:, 0, 1]) + u[:, 1] * (m[:, 0, 2] - m[:, 2, 0])
         + u[:, 0] * (m[:, 2, 1] - m[:, 1, 2]))
    us0 = _cross(u, s0)
    a = a + pole_weight * _dot(s0, pole)
    b = b + pole_weight * _dot(us0, pole)
    norm = np.maximum(np.hypot(a, b), 1e-300)
    cos, sin = np.where(norm > 1e-12, a / norm, 1.0), np.where(norm > 1e-12, b / norm, 0.0)
    side = cos[:, None] * s0 + sin[:, None] * us0
    mid = _bend(root, u, side, reach_eff, l1, l2)
    upper, _ = _normalize(mid - root)
    lower, _ = _normalize(target - mid)
    normal = _cross(side, u)
    upper_rot = _frames_from(upper, normal, upper_rest, hinge)
    mid_rot = _frames_from(lower, normal, lower_rest, hinge)
    return upper_rot, mid_rot, mid, target, unreachable


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
_NEWTON_STEPS = 16               # a cap: most frames converge in 2-4


def _rotvec_matrix(v: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of rotation vectors (..., 3)."""
    flat = v.reshape(-1, 3)
    axis, angle = _normalize(flat)
    return _axis_angle_matrix(axis, np.cos(angle), np.sin(angle)).reshape(v.shape + (3,))


def _turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest rotations (N, 3, 3) taking unit vectors a (N, 3) onto unit b (N, 3)."""
    k = _cross(a, b)
    c = _dot(a, b)
    kx = np.zeros(a.shape + (3,))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx[:, 1, 0], kx[:, 2, 0], kx[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    out = np.eye(3) + kx + (kx @ kx) / np.maximum(1.0 + c, 1e-300)[:, None, None]
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
    v = np.broadcast_to(offsets[4], modes.shape[1:])
    dv = np.zeros(modes.shape[1:])
    for k in (2, 1, 0):                # neck, spine3, spine2
        rv = _apply(rot[k], v)
        dv = _apply(rot[k], dv) + _cross(modes[k], rv)
        v = offsets[k + 1] + rv
    return v, dv


def _solve_spine(pelvis_pos, pelvis_rot, head_pos, head_rot, offsets, start):
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
    o = offsets[list(SPINE)]
    unit = o / np.linalg.norm(o, axis=-1, keepdims=True)
    # Bend of spine2, spine3, neck: the swing (parent frame) taking its bone's line onto its child's.
    child = np.einsum("ktij,kj->kti", start[1:], unit[2:])
    axis, sin = _normalize(_cross(unit[1:4, None], child))
    modes = axis * np.arctan2(sin, _dot(unit[1:4, None], child))[..., None]
    straight = _rotvec_matrix(-modes) @ start[1:]
    bend = np.sqrt(_dot(modes, modes))
    weak = np.clip(1.0 - bend.sum(axis=0) / _WEAK_BEND, 0.0, 1.0)
    if weak.any():
        modes = modes + weak[:, None] * _FLEXION
        bend = np.sqrt(_dot(modes, modes))
    root = pelvis_pos + _apply(pelvis_rot, o[0])
    to_head = head_pos - root
    reach = np.sqrt(_dot(to_head, to_head))
    # Length: f(sigma) = |chord(sqrt(sigma))| - reach, decreasing in sigma on [0, sigma_max].
    hi = (_BEND_LIMIT / np.maximum(bend.max(axis=0), 1e-12)) ** 2
    sigma = np.where(reach < float(np.linalg.norm(o[1:], axis=-1).sum()), np.minimum(1.0, hi), 0.0)
    lo = np.zeros(T)
    todo = np.nonzero(sigma > 0.0)[0]
    for _ in range(_NEWTON_STEPS):
        if not len(todo):
            break
        sig = sigma[todo]
        s = np.sqrt(sig)
        chord, d_chord = _spine_chord(modes[:, todo], straight[:, todo], o, s)
        length = np.sqrt(_dot(chord, chord))
        f = length - reach[todo]
        open_ = np.abs(f) >= _LENGTH_TOLERANCE
        lo[todo] = np.where(f > 0.0, sig, lo[todo])
        hi[todo] = np.where(f < 0.0, sig, hi[todo])
        slope = _dot(chord, d_chord) / (np.maximum(length, _EPS) * 2.0 * np.maximum(s, 1e-9))
        step = sig - f / np.where(slope < -1e-12, slope, -1e-12)
        inside = (step > lo[todo]) & (step < hi[todo]) & (slope < -1e-12)
        sigma[todo] = np.where(open_, np.where(inside, step, 0.5 * (lo[todo] + hi[todo])), sig)
        todo = todo[open_]
    locals_ = np.empty((5, T, 3, 3))
    locals_[0] = start[0]
    locals_[1:4] = _rotvec_matrix(modes * np.sqrt(sigma)[:, None]) @ straight
    glob = np.empty((5, T, 3, 3))
    pos = np.empty((5, T, 3))
    parent = pelvis_rot
    pos[0] = root
    for i in range(4):
        glob[i] = parent @ locals_[i]
        pos[i + 1] = pos[i] + _apply(glob[i], o[i + 1])
        parent = glob[i]
    # Direction: the whole spine turns about spine1 onto the head.
    turn = _turn(_normalize(pos[4] - root)[0], _normalize(to_head)[0])
    glob[:4] = turn @ glob[:4]
    pos[1:] = root + np.einsum("tij,ktj->kti", turn, pos[1:] - root)
    locals_[0] = pelvis_rot.transpose(0, 2, 1) @ glob[0]
    locals_[4] = glob[3].transpose(0, 2, 1) @ head_rot
    glob[4] = head_rot
    residual = np.sqrt(_dot(head_pos - pos[4], head_pos - pos[4]))
    return locals_, glob, pos, residual


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
    cos = 0.5 * (np.einsum("tij,tij->t", prior_pelvis, pelvis_rot) - 1.0)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    full, none = options.prior_trust_deg
    x = np.clip((none - angle) / max(none - full, 1e-9), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _blend(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Rotations (N, 3, 3) slerped from a to b by weight (N,)."""
    return quat_to_matrix(quat_slerp(matrix_to_quat(a), matrix_to_quat(b), weight))


def solve_pose(filled: dict, skeleton: Skeleton, opts: SixPointOptions, prior: np.ndarray | None = None):
    """The solve of :func:`solve_six_point` on gap-free targets ({name: (positions (T, 3),
    rotations (T, 3, 3))}, pelvis and head required): local rotation matrices (T, 24, 3, 3) and a
    report (``head_residual`` (T,), ``unreachable`` {target: (T,) bool}, ``prior_trust`` (T,) or None).
    The live tracker stream calls it one frame at a time."""
    offsets = skeleton.offsets
    pelvis_pos, pelvis_rot = filled["pelvis"]
    T = len(pelvis_pos)
    trust = faded = None
    if prior is not None:
        locals_ = np.empty((T, NUM_JOINTS, 3, 3))
        locals_[:, 1:] = prior[:, list(PARENTS[1:])].transpose(0, 1, 3, 2) @ prior[:, 1:]
        # Toes and hands have no target: identity locals, as in the corpus.
        locals_[:, [J["left_foot"], J["right_foot"], J["left_hand"], J["right_hand"]]] = np.eye(3)
        trust = prior_trust(prior[:, 0], pelvis_rot, opts)
        faded = np.nonzero(trust < 1.0)[0]
    else:
        locals_ = np.broadcast_to(np.eye(3), (T, NUM_JOINTS, 3, 3)).copy()
    locals_[:, 0] = pelvis_rot
    report = {"prior_trust": trust, "unreachable": {}}

    # Spine to the head.
    head_pos, head_rot = filled["head"]
    start = _spine_start(pelvis_rot, head_rot, opts, prior, trust)
    spine_locals, spine_glob, spine_pos, report["head_residual"] = _solve_spine(
        pelvis_pos, pelvis_rot, head_pos, head_rot, offsets, start)
    locals_[:, list(SPINE)] = spine_locals.transpose(1, 0, 2, 3)
    spine3_rot, spine3_pos = spine_glob[2], spine_pos[2]
    hinge_axes = {k: np.asarray(v, dtype=np.float64) for k, v in opts.hinge_axes.items()}

    # Collars (both arms at once): a share of the reach (or the prior's), then just enough reach.
    arms = [side for side in ("left", "right") if f"{side}_hand" in filled]
    collar_rot = {}
    if arms:
        collars = [J[f"{side}_collar"] for side in arms]
        shoulders = [J[f"{side}_shoulder"] for side in arms]
        wrists = [J[f"{side}_wrist"] for side in arms]
        hands = np.concatenate([filled[f"{side}_hand"][0] for side in arms])
        spine3_rows = np.concatenate([spine3_rot] * len(arms))
        collar_pos = np.concatenate([spine3_pos + _apply(spine3_rot, offsets[c]) for c in collars])
        if prior is None or len(faded):
            rest = skeleton.rest_positions()
            rest_dir, _ = _normalize(rest[wrists] - rest[collars])
            reach_dir, _ = _normalize(_apply_t(spine3_rows, hands - collar_pos))
            swing = _cross(np.repeat(rest_dir, T, axis=0), reach_dir)
            rows = spine3_rows @ axis_angle_to_matrix(swing * np.asarray(opts.collar_shares, dtype=np.float64))
        if prior is not None:
            shares_rows = rows if len(faded) else None
            rows = np.concatenate([prior[:, c] for c in collars])
            if len(faded):
                part = np.concatenate([faded + i * T for i in range(len(arms))])
                rows[part] = _blend(shares_rows[part], rows[part], np.tile(trust[faded], len(arms)))
        arm_length = np.linalg.norm(offsets[[J[f"{side}_elbow"] for side in arms]], axis=-1) \
            + np.linalg.norm(offsets[wrists], axis=-1) - 2e-6
        rows = _collar_reach(rows, collar_pos, hands, np.repeat(offsets[shoulders], T, axis=0),
                             np.repeat(arm_length, T))
        shoulder_pos = collar_pos + _apply(rows, np.repeat(offsets[shoulders], T, axis=0))
        for i, side in enumerate(arms):
            collar_rot[side] = rows[i * T:(i + 1) * T]
            locals_[:, collars[i]] = spine3_rot.transpose(0, 2, 1) @ collar_rot[side]

    def pole_of(body_pole, body_weight, root):
        """The swivel's pole and its weight: the body pole, or the prior's upper-limb direction
        (faded towards the body pole where the prior is not trusted)."""
        if prior is None:
            return body_pole, body_weight
        prior_pole = _apply(prior[:, root], offsets[_CHILD[root]])
        if not len(faded):
            return prior_pole, opts.prior_pole_weight
        w = trust[:, None]
        return w * opts.prior_pole_weight * prior_pole + (1.0 - w) * body_weight * body_pole, 1.0

    # Limbs (every tracked leg and arm in one batch): two-bone IK with the closed-form swivel.
    limbs = []      # (target name, root joint, mid joint, end joint, parent rotation, root position, pole, weights)
    for side in ("left", "right"):
        if f"{side}_foot" in filled:
            hip, knee, ankle = J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]
            pole, pole_weight = pole_of(pelvis_rot[:, :, 2], opts.knee_pole_weight, hip)
            limbs.append((f"{side}_foot", hip, knee, ankle, pelvis_rot, pelvis_pos + _apply(pelvis_rot, offsets[hip]),
                          pole, pole_weight, opts.knee_axis_weights, f"{side}_knee"))
    for i, side in enumerate(arms):
        shoulder, elbow, wrist = J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"]
        # Body pole for the elbow: behind and below, in spine3's frame.
        pole, pole_weight = pole_of(_apply(spine3_rot, np.array([0.0, -0.7071067811865476, -0.7071067811865476])),
                                    opts.elbow_pole_weight, shoulder)
        limbs.append((f"{side}_hand", shoulder, elbow, wrist, collar_rot[side], shoulder_pos[i * T:(i + 1) * T],
                      pole, pole_weight, opts.elbow_axis_weights, f"{side}_elbow"))
    if limbs:
        def rows(values):
            return np.concatenate(values) if len(values) > 1 else values[0]

        def per_row(values):
            return np.repeat(np.asarray(values, dtype=np.float64), T, axis=0)

        upper_rot, mid_rot, _, _, unreachable = _swivel_limb(
            rows([limb[5] for limb in limbs]),
            rows([filled[limb[0]][0] for limb in limbs]), rows([filled[limb[0]][1] for limb in limbs]),
            per_row([offsets[limb[2]] for limb in limbs]), per_row([offsets[limb[3]] for limb in limbs]),
            per_row([hinge_axes[limb[9]] for limb in limbs]), per_row([limb[8] for limb in limbs]),
            rows([limb[6] for limb in limbs]), per_row([limb[7] for limb in limbs]), opts.soft_reach)
        for i, (name, root, mid, end, parent_rot, *_rest) in enumerate(limbs):
            part = slice(i * T, (i + 1) * T)
            locals_[:, root] = parent_rot.transpose(0, 2, 1) @ upper_rot[part]
            locals_[:, mid] = upper_rot[part].transpose(0, 2, 1) @ mid_rot[part]
            locals_[:, end] = mid_rot[part].transpose(0, 2, 1) @ filled[name][1]
            report["unreachable"][name] = unreachable[part]
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
    locals_, pose_report = solve_pose(filled, skeleton, opts, prior)
    report["head_residual_max_m"] = float(pose_report["head_residual"].max()) if T else 0.0
    report["unreachable_frames"] = {n: int(m.sum()) for n, m in pose_report["unreachable"].items()}
    if prior is not None:
        report["prior_faded_frames"] = int((pose_report["prior_trust"] < 1.0).sum())
    motion = Motion(fps, matrix_to_quat(locals_), filled["pelvis"][0].copy(), skeleton,
                    {"source": "six_point_trackers", "solver": "tracker_ik"})
    return motion, report
