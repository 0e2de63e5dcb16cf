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
  their own shares (the head turns mostly in the neck; the torso bends over the whole spine), which
  already gives the head its exact global rotation (the head's local rotation takes the remainder).
  The head position is then reached by a few damped Gauss-Newton steps on one extra bend
  (3-vector) spread over spine1..neck by ``spine_bend_shares``: the torso takes most of it, the
  neck little, so the trunk does not drift with every head movement.
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
from .ik import DEFAULT_HINGE_AXES, _apply, _apply_t, _axis_angle_matrix, _cross, _dot, _normalize, _solve_spd3
from .motion import Motion
from .rotations import axis_angle_to_matrix, matrix_to_quat, quat_to_matrix
from .skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, Skeleton

J = JOINT_INDEX
TARGET_NAMES = ("pelvis", "head", "left_hand", "right_hand", "left_foot", "right_foot")
SPINE = (J["spine1"], J["spine2"], J["spine3"], J["neck"], J["head"])
_EPS = 1e-9
_MAX_STEP = 0.25     # radians per joint and spine iteration


@dataclass
class SixPointOptions:
    """Tuning of :func:`solve_six_point`. Defaults: a coordinate search on a sixth of the corpus's
    *train* clips (every 5th frame) minimising MPJPE with exact targets."""

    # Shares of the head-relative-to-pelvis twist (about the pelvis Y axis) and swing over
    # spine1, spine2, spine3, neck, head (each sums to 1; the head's local takes any remainder).
    spine_twist_shares: tuple = (1 / 9, 1 / 9, 1 / 9, 1 / 3, 1 / 3)
    spine_swing_shares: tuple = (1 / 7, 1 / 7, 1 / 7, 2 / 7, 2 / 7)
    # Compliances of spine1, spine2, spine3, neck in the head-position correction (the step of
    # least weighted norm): the torso-drift weights.
    spine_bend_shares: tuple = (1.0, 1.0, 1.0, 0.03)
    spine_iterations: int = 30         # a cap: most frames converge in 4-6 (strongly bent spines take more)
    spine_tolerance: float = 1e-6        # metres: stop iterating once every frame's head is this close
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
    # validation split with the shipped six-point network), and the spine iterations.
    prior_pole_weight: float = 20.0
    prior_spine_iterations: int = 10
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


def _solve_spine(pelvis_pos, pelvis_rot, head_pos, head_rot, offsets, opts: SixPointOptions, prior=None):
    """Local rotations (5, T, 3, 3) of spine1, spine2, spine3, neck, head; globals (5, T, 3, 3);
    positions (5, T, 3); head position residual (T,). ``prior``: (T, 24, 3, 3) world rotations
    to start from instead of the twist/swing shares."""
    T = len(pelvis_pos)
    locals_ = np.empty((5, T, 3, 3))
    iterations = opts.spine_iterations
    if prior is None:
        twist, swing = _twist_swing_y(pelvis_rot.transpose(0, 2, 1) @ head_rot)
        for i, (ts, ss) in enumerate(zip(opts.spine_twist_shares, opts.spine_swing_shares)):
            locals_[i] = axis_angle_to_matrix(ss * swing) @ _rot_y(ts * twist)
    else:
        parent = pelvis_rot
        for i, j in enumerate(SPINE[:4]):
            locals_[i] = parent.transpose(0, 2, 1) @ prior[:, j]
            parent = prior[:, j]
        locals_[4] = parent.transpose(0, 2, 1) @ head_rot
        iterations = opts.prior_spine_iterations
    chain_len = float(sum(np.linalg.norm(offsets[j]) for j in SPINE[1:]))

    def chain(locals_):
        glob = np.empty((5, T, 3, 3))
        pos = np.empty((5, T, 3))
        parent_rot, parent_pos = pelvis_rot, pelvis_pos
        for i, j in enumerate(SPINE):
            pos[i] = parent_pos + _apply(parent_rot, offsets[j])
            glob[i] = parent_rot @ locals_[i]
            parent_rot, parent_pos = glob[i], pos[i]
        return glob, pos

    glob, pos = chain(locals_)
    compliance = np.asarray(opts.spine_bend_shares, dtype=np.float64)
    damping = (1e-6 * chain_len) ** 2
    for iteration in range(iterations):
        err = head_pos - pos[4]
        if np.abs(err).max() < opts.spine_tolerance:
            break       # every frame's head is reached: the rest of the iterations would do nothing
        # Each of spine1..neck may turn by its own world rotation vector delta_i (moving the head by
        # delta_i x r_i, r_i = head - p_i); the step of least weighted norm sum_i |delta_i|^2 / c_i
        # reaching the head: delta_i = c_i [r_i]x y with (sum_i c_i (|r_i|^2 I - r_i r_i^T)) y = err
        # (a 3x3 solve per frame; the compliances c_i are the torso-drift weights).
        levers = pos[4][None] - pos[:4]                                        # (4, T, 3)
        weighted = compliance[:, None, None] * levers
        normal = -np.einsum("itj,itk->tjk", weighted, levers)
        rr = np.einsum("itj,itj->t", weighted, levers)
        # Levenberg-style damping: the lever arms are nearly collinear along the spine, so the
        # error along the chain is reached only slowly (and never by a huge step).
        scale = (normal[:, 0, 0] + normal[:, 1, 1] + normal[:, 2, 2]) / 3.0 + rr
        normal[:, [0, 1, 2], [0, 1, 2]] += (rr + 1e-2 * 0.1 ** iteration * scale + damping)[:, None]
        y, _ = _solve_spd3(normal, err)
        parents = np.concatenate((pelvis_rot[None], glob[:3]))                  # (4, T, 3, 3)
        delta = _cross(weighted, y[None])
        angle = np.sqrt(_dot(delta, delta))
        # Joint by joint step limit, in the parent's frame.
        delta = np.einsum("itjk,itj->itk", parents, delta) * (
            np.minimum(angle, _MAX_STEP) / np.maximum(angle, 1e-300))[..., None]
        delta = delta.reshape(4 * T, 3)
        size = np.sqrt(_dot(delta, delta))
        axis = delta / np.maximum(size, 1e-300)[:, None]
        locals_[:4] = (_axis_angle_matrix(axis, np.cos(size), np.sin(size)).reshape(4, T, 3, 3) @ locals_[:4])
        # The head keeps its exact global rotation: its local takes the remainder.
        glob, pos = chain(locals_)
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

def solve_six_point(targets: dict, skeleton: Skeleton, fps: float, options: SixPointOptions | None = None,
                    prior: np.ndarray | None = None):
    """Full SMPL-24 Motion from six joint-level targets (module docstring). Returns (Motion, report).

    ``prior``: optional (T, 24, 3, 3) world rotations of a guessed pose (the tracker poser's): the
    spine starts from it instead of the twist/swing shares, the collars take its rotations (then
    just enough reach), the knees and elbows swivel towards its thigh/upper-arm directions
    (``prior_pole_weight``), and limbs without a target keep its rotations. The targets are still
    reached exactly; the prior only decides what they leave open."""
    opts = options or SixPointOptions()
    offsets = skeleton.offsets
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

    pelvis_pos, pelvis_rot = filled["pelvis"]
    if prior is not None:
        prior = np.asarray(prior, dtype=np.float64)
        if prior.shape != (T, NUM_JOINTS, 3, 3):
            raise ValueError(f"prior must be (T, {NUM_JOINTS}, 3, 3) world rotations for {T} frames, got {prior.shape}")
        locals_ = np.empty((T, NUM_JOINTS, 3, 3))
        locals_[:, 1:] = prior[:, list(PARENTS[1:])].transpose(0, 1, 3, 2) @ prior[:, 1:]
        # Toes and hands have no target: identity locals, as in the corpus.
        locals_[:, [J["left_foot"], J["right_foot"], J["left_hand"], J["right_hand"]]] = np.eye(3)
    else:
        locals_ = np.broadcast_to(np.eye(3), (T, NUM_JOINTS, 3, 3)).copy()
    glob = np.empty((T, NUM_JOINTS, 3, 3))
    locals_[:, 0] = pelvis_rot
    glob[:, 0] = pelvis_rot

    # Spine to the head.
    head_pos, head_rot = filled["head"]
    spine_locals, spine_glob, spine_pos, residual = _solve_spine(pelvis_pos, pelvis_rot, head_pos, head_rot,
                                                                 offsets, opts, prior)
    for i, j in enumerate(SPINE):
        locals_[:, j] = spine_locals[i]
        glob[:, j] = spine_glob[i]
    report["head_residual_max_m"] = float(residual.max()) if T else 0.0
    spine3_rot, spine3_pos = spine_glob[2], spine_pos[2]

    rest = skeleton.rest_positions()
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
        if prior is None:
            rest_dir, _ = _normalize(rest[wrists] - rest[collars])
            reach_dir, _ = _normalize(_apply_t(spine3_rows, hands - collar_pos))
            swing = _cross(np.repeat(rest_dir, T, axis=0), reach_dir)
            rows = spine3_rows @ axis_angle_to_matrix(swing * np.asarray(opts.collar_shares, dtype=np.float64))
        else:
            rows = np.concatenate([prior[:, c] for c in collars])
        arm_length = np.linalg.norm(offsets[[J[f"{side}_elbow"] for side in arms]], axis=-1) \
            + np.linalg.norm(offsets[wrists], axis=-1) - 2e-6
        rows = _collar_reach(rows, collar_pos, hands, np.repeat(offsets[shoulders], T, axis=0),
                             np.repeat(arm_length, T))
        shoulder_pos = collar_pos + _apply(rows, np.repeat(offsets[shoulders], T, axis=0))
        for i, side in enumerate(arms):
            collar_rot[side] = rows[i * T:(i + 1) * T]
            locals_[:, collars[i]] = spine3_rot.transpose(0, 2, 1) @ collar_rot[side]

    # Limbs (every tracked leg and arm in one batch): two-bone IK with the closed-form swivel.
    limbs = []      # (target name, root joint, mid joint, end joint, parent rotation, root position, pole, weights)
    for side in ("left", "right"):
        if f"{side}_foot" in filled:
            hip, knee, ankle = J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]
            if prior is None:
                pole, pole_weight = pelvis_rot[:, :, 2], opts.knee_pole_weight
            else:
                pole, pole_weight = _apply(prior[:, hip], offsets[knee]), opts.prior_pole_weight
            limbs.append((f"{side}_foot", hip, knee, ankle, pelvis_rot, pelvis_pos + _apply(pelvis_rot, offsets[hip]),
                          pole, pole_weight, opts.knee_axis_weights, f"{side}_knee"))
    for i, side in enumerate(arms):
        shoulder, elbow, wrist = J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"]
        if prior is None:
            # Body pole for the elbow: behind and below, in spine3's frame.
            pole = _apply(spine3_rot, np.array([0.0, -0.7071067811865476, -0.7071067811865476]))
            pole_weight = opts.elbow_pole_weight
        else:
            pole, pole_weight = _apply(prior[:, shoulder], offsets[elbow]), opts.prior_pole_weight
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
            report["unreachable_frames"][name] = int(unreachable[part].sum())

    motion = Motion(fps, matrix_to_quat(locals_), pelvis_pos.copy(), skeleton,
                    {"source": "six_point_trackers", "solver": "tracker_ik"})
    return motion, report
