"""Analytic inverse kinematics: SMPL-24 joint positions -> local joint rotations (SMPL-IKS style).

Joint positions fix every bone's *direction* but not its twist about its own axis, and nothing at
all about the leaves (head, feet, hands). The solver works down the tree, all frames at once:

- **Pelvis and spine3** (several children): the rotation that best carries the rest offsets of the
  children onto the observed ones, a weighted Procrustes (Kabsch) fit by SVD, with a faint pull
  towards the parent's frame so that a missing child never leaves it undetermined.
- **Every other joint with a child**: the shortest *swing* taking the rest bone onto the observed
  bone (measured from where forward kinematics has put the joint, so errors do not pile up down a
  chain), then a *twist* about the bone from the cues that exist:

  - hips and shoulders: the knee/elbow bend plane, with the bend forced into the joint's allowed
    direction (knees flex backwards, elbows forwards: the joint-limit awareness that removes the
    sign ambiguity of a plane);
  - hips with a nearly straight leg: where the foot points;
  - spine1/spine2: spread evenly between the pelvis and spine3;
  - neck: the nose or the ears; ankles: the toe line; wrists: the thumb or the index-pinky line;
  - where a cue is weak (a straight limb, a missing point), the twist is interpolated over time from
    the nearest frames where it was strong (the "previous frame" cue, done offline in both
    directions); with no cue at all the twist stays minimal (zero relative to the parent).
- **Leaves**: turned by their own cue points when there are any (head: head top and nose), else
  left at rest relative to their parent.

The root translation is the pelvis target. Everything is batched over frames; the loop is over the
24 joints only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .rotations import matrix_to_quat
from .skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, Skeleton, children

_EPS = 1e-9
J = JOINT_INDEX

# Joints whose rotation comes from a Procrustes fit over their children.
MULTI_CHILD = tuple(j for j in range(NUM_JOINTS) if len(children(j)) > 1)
# Bend limits: below this bend the plane of a limb is not trusted at all, above the second fully.
_BEND_UNTRUSTED_DEG = 8.0
_BEND_TRUSTED_DEG = 25.0
# A twist cue with less total weight than this is replaced by the interpolation over time.
_RELIABLE = 0.5
_PRIOR_WEIGHT = 1e-7   # pull of a Procrustes fit towards the parent's frame


@dataclass
class IKResult:
    rotations: np.ndarray          # (T, 24, 4) local rotations, wxyz
    translation: np.ndarray        # (T, 3) pelvis world position
    global_matrices: np.ndarray    # (T, 24, 3, 3)
    positions: np.ndarray          # (T, 24, 3) joint positions of the solution (forward kinematics)
    twist_reliability: dict = field(default_factory=dict)   # joint name -> (T,) total cue weight


# --------------------------------------------------------------------------------------------
# small batched helpers on (T, 3) vectors and (T, 3, 3) matrices

def _normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, _EPS), norm[..., 0]


def _apply(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """m (T,3,3) times v (T,3) or (3,)."""
    if v.ndim == 1:
        return m @ v
    return np.einsum("tij,tj->ti", m, v)


def _apply_t(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """m transposed times v."""
    return np.einsum("tji,tj->ti", m, v)


def _axis_angle_matrix(axis: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotations about unit axes (T,3) by angles given as cos/sin (T,): Rodrigues' formula."""
    x, y, z = axis[:, 0], axis[:, 1], axis[:, 2]
    c1 = 1.0 - cos
    m = np.empty(axis.shape[:1] + (3, 3))
    m[:, 0, 0] = cos + x * x * c1
    m[:, 0, 1] = x * y * c1 - z * sin
    m[:, 0, 2] = x * z * c1 + y * sin
    m[:, 1, 0] = y * x * c1 + z * sin
    m[:, 1, 1] = cos + y * y * c1
    m[:, 1, 2] = y * z * c1 - x * sin
    m[:, 2, 0] = z * x * c1 - y * sin
    m[:, 2, 1] = z * y * c1 + x * sin
    m[:, 2, 2] = cos + z * z * c1
    return m


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest rotation (T,3,3) taking unit a (3,) onto unit b (T,3)."""
    a = np.broadcast_to(a, b.shape)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.sum(a * b, axis=-1)
    # Parallel: any axis works (the angle is 0); opposite: a half turn about an axis normal to a.
    helper = np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    fallback = np.cross(a, helper)
    axis = np.where((sin < 1e-12)[:, None], fallback, axis)
    axis, _ = _normalize(axis)
    return _axis_angle_matrix(axis, cos, sin)


def _procrustes(rest: np.ndarray, observed: np.ndarray, weights: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Rotations R (T,3,3) minimising sum_k w_k |R rest_k - observed_k|^2 (+ a faint pull to prior).

    rest (K,3), observed (T,K,3), weights (T,K), prior (T,3,3).
    """
    h = np.einsum("tk,tki,kj->tij", weights, observed, rest) + _PRIOR_WEIGHT * prior
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u[:, :, 2] *= d[:, None]
    return u @ vt


def _twist_angle(axis: np.ndarray, current: np.ndarray, wanted: np.ndarray):
    """Signed angle about ``axis`` (T,3) turning ``current`` onto ``wanted`` (both projected normal to
    the axis), and the cue's strength: how far ``wanted`` stands off the axis (0..1)."""
    cur = current - np.sum(current * axis, axis=-1, keepdims=True) * axis
    want = wanted - np.sum(wanted * axis, axis=-1, keepdims=True) * axis
    cur, _ = _normalize(cur)
    want, strength = _normalize(want)
    angle = np.arctan2(np.sum(axis * np.cross(cur, want), axis=-1), np.sum(cur * want, axis=-1))
    return angle, np.clip(np.nan_to_num(strength), 0.0, 1.0)


def _fill_twist(cos: np.ndarray, sin: np.ndarray, weight: np.ndarray):
    """Where the cue weight is below ``_RELIABLE``, interpolate the twist over time from the reliable
    frames (blended by the weight); with no reliable frame the twist is zero."""
    reliable = weight >= _RELIABLE
    angle = np.arctan2(sin, cos)
    if reliable.all():
        return angle
    if not reliable.any():
        return np.where(weight > 0, angle * (weight / _RELIABLE), 0.0)
    frames = np.arange(len(weight))
    known = np.unwrap(angle[reliable])
    filled = np.interp(frames, frames[reliable], known)
    blend = np.clip(weight / _RELIABLE, 0.0, 1.0)
    # Blend on the circle: interpolate the unit vectors, not the raw angles.
    c = blend * cos / np.maximum(np.hypot(cos, sin), _EPS) + (1 - blend) * np.cos(filled)
    s = blend * sin / np.maximum(np.hypot(cos, sin), _EPS) + (1 - blend) * np.sin(filled)
    return np.arctan2(s, c)


def _bend_weight(upper: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit bend-plane normal upper x lower and how much to trust it (0 when nearly straight)."""
    normal, sin = _normalize(np.cross(upper, lower))
    bend = np.degrees(np.arcsin(np.clip(sin, 0.0, 1.0)))
    bend = np.where(np.sum(upper * lower, axis=-1) < 0, 180.0 - bend, bend)
    weight = np.clip((bend - _BEND_UNTRUSTED_DEG) / (_BEND_TRUSTED_DEG - _BEND_UNTRUSTED_DEG), 0.0, 1.0)
    return normal, weight


def _cue(cues: dict, name: str):
    if not cues or name not in cues:
        return None
    return np.asarray(cues[name], dtype=np.float64)


def _direction_cue(cues, tip: str, base: np.ndarray):
    """Unit vector base -> cue point, with weight 1 where the point exists, else 0."""
    point = _cue(cues, tip)
    if point is None:
        return None
    vec, length = _normalize(np.nan_to_num(point - base))
    ok = np.isfinite(point).all(axis=-1) & (length > 1e-6)
    return vec, ok.astype(np.float64)


def _line_cue(cues, start: str, end: str):
    a, b = _cue(cues, start), _cue(cues, end)
    if a is None or b is None:
        return None
    vec, length = _normalize(np.nan_to_num(b - a))
    ok = np.isfinite(a).all(axis=-1) & np.isfinite(b).all(axis=-1) & (length > 1e-6)
    return vec, ok.astype(np.float64)


# --------------------------------------------------------------------------------------------

def _twist_cues(j: int, targets: np.ndarray, globals_: np.ndarray, swing_global: np.ndarray, cues: dict,
                spine3_prelim: np.ndarray):
    """The cues for joint j's twist: a list of (local vector, wanted world vector (T,3), weight (T,))."""
    name = JOINT_NAMES_LOCAL[j]
    side = 1.0 if name.startswith("left") else -1.0
    out = []
    if name.endswith("_hip"):
        knee, ankle = J[name.replace("hip", "knee")], J[name.replace("hip", "ankle")]
        thigh, _ = _normalize(targets[:, knee] - targets[:, j])
        shin, _ = _normalize(targets[:, ankle] - targets[:, knee])
        normal, weight = _bend_weight(thigh, shin)
        out.append((np.array([1.0, 0.0, 0.0]), normal, weight))          # knees flex about +X
        foot = J[name.replace("hip", "foot")]
        toes, _ = _normalize(targets[:, foot] - targets[:, ankle])
        # With a straight leg, the foot's forward direction says where the leg faces.
        out.append((np.array([0.0, 0.0, 1.0]), toes, 0.5 * (1.0 - weight)))
    elif name.endswith("_shoulder"):
        elbow, wrist = J[name.replace("shoulder", "elbow")], J[name.replace("shoulder", "wrist")]
        upper, _ = _normalize(targets[:, elbow] - targets[:, j])
        fore, _ = _normalize(targets[:, wrist] - targets[:, elbow])
        normal, weight = _bend_weight(upper, fore)
        # Elbows flex forwards: about -Y for the left arm (along +X), +Y for the right.
        out.append((np.array([0.0, -side, 0.0]), normal, weight))
    elif name in ("spine1", "spine2"):
        share = 1.0 / 3.0 if name == "spine1" else 2.0 / 3.0
        left = (1.0 - share) * globals_[:, 0, :, 0] + share * spine3_prelim[:, :, 0]
        out.append((np.array([1.0, 0.0, 0.0]), _normalize(left)[0], np.ones(len(targets))))
    elif name == "neck":
        cue = _direction_cue(cues, "nose", targets[:, J["head"]])
        if cue is not None:
            out.append((np.array([0.0, 0.0, 1.0]), *cue))
        ears = _line_cue(cues, "right_ear", "left_ear")
        if ears is not None:
            out.append((np.array([1.0, 0.0, 0.0]), *ears))
    elif name.endswith("_ankle"):
        toes = _line_cue(cues, f"{name[:-6]}_big_toe", f"{name[:-6]}_small_toe")
        if toes is not None:
            out.append((np.array([side, 0.0, 0.0]), *toes))     # small toe is lateral
    elif name.endswith("_wrist"):
        prefix = name[:-6]
        thumb = _direction_cue(cues, f"{prefix}_thumb", targets[:, j])
        if thumb is not None:
            out.append((np.array([0.0, 0.0, 1.0]), *thumb))     # thumb forward in the T-pose
        knuckles = _line_cue(cues, f"{prefix}_pinky", f"{prefix}_index")
        if knuckles is not None:
            out.append((np.array([0.0, 0.0, 1.0]), *knuckles))
    return out


JOINT_NAMES_LOCAL = tuple(sorted(JOINT_INDEX, key=JOINT_INDEX.get))


def _leaf_rotation(j: int, targets: np.ndarray, parent_global: np.ndarray, cues: dict):
    """Global rotation of a leaf joint from its cue points, or None to keep it at rest."""
    if j != J["head"]:
        return None
    head = targets[:, j]
    up = _direction_cue(cues, "head_top", head)
    forward = _direction_cue(cues, "nose", head)
    if up is None and forward is None:
        return None
    rest = parent_global
    result = rest.copy()
    if up is not None:
        vec, ok = up
        swing = _swing(np.array([0.0, 1.0, 0.0]), _apply_t(rest, vec))
        turned = rest @ swing
        result = np.where(ok[:, None, None] > 0, turned, result)
    if forward is not None:
        vec, ok = forward
        axis = result[:, :, 1]
        angle, strength = _twist_angle(axis, result[:, :, 2], vec)
        angle = np.where(ok * strength > 0.2, angle, 0.0)
        result = _axis_angle_matrix(axis, np.cos(angle), np.sin(angle)) @ result
    return result


def solve_ik(targets: np.ndarray, skeleton: Skeleton, valid: np.ndarray | None = None,
             cues: dict | None = None) -> IKResult:
    """Local rotations that put the skeleton's joints on ``targets`` (T, 24, 3).

    ``valid`` (T, 24) marks target joints to use (default: every finite one); a bone whose child is
    not valid keeps its rest pose relative to its parent in that frame. ``cues`` maps extra landmark
    names ("nose", "head_top", "left_ear", "left_thumb", "left_index", "left_pinky",
    "left_big_toe", "left_small_toe", and the right ones) to (T, 3) world points (NaN where missing)
    that settle twists and the head. The pelvis target must be valid in every frame.
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 3 or targets.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"IK targets must have shape (frames, 24, 3), got {targets.shape}")
    finite = np.isfinite(targets).all(axis=-1)
    valid = finite if valid is None else (np.asarray(valid, dtype=bool) & finite)
    if not valid[:, 0].all():
        frame = int(np.flatnonzero(~valid[:, 0])[0])
        raise ValueError(f"IK needs the pelvis in every frame; it is missing at frame {frame} (fill gaps first)")
    cues = cues or {}
    T = len(targets)
    offsets = skeleton.offsets
    safe_targets = np.where(valid[..., None], targets, 0.0)

    globals_ = np.empty((T, NUM_JOINTS, 3, 3))
    positions = np.empty((T, NUM_JOINTS, 3))
    local = np.empty((T, NUM_JOINTS, 3, 3))
    reliability = {}
    identity = np.broadcast_to(np.eye(3), (T, 3, 3))
    positions[:, 0] = targets[:, 0]

    # A first estimate of spine3's frame from the targets alone: a twist reference for the spine.
    spine3_kids = children(J["spine3"])
    spine3_prelim = _procrustes(
        offsets[spine3_kids], safe_targets[:, spine3_kids] - safe_targets[:, J["spine3"], None],
        (valid[:, spine3_kids] & valid[:, J["spine3"], None]).astype(np.float64), identity)

    for j in range(NUM_JOINTS):
        parent = PARENTS[j]
        parent_global = identity if parent < 0 else globals_[:, parent]
        if j > 0:
            positions[:, j] = positions[:, parent] + _apply(parent_global, offsets[j])
        kids = children(j)
        if len(kids) > 1:
            observed = safe_targets[:, kids] - positions[:, j, None]
            weights = valid[:, kids].astype(np.float64)
            globals_[:, j] = _procrustes(offsets[kids], observed, weights, parent_global)
        elif len(kids) == 1:
            child = kids[0]
            rest_dir, _ = _normalize(offsets[child])
            wanted, length = _normalize(safe_targets[:, child] - positions[:, j])
            usable = valid[:, child] & (length > 1e-9)
            wanted_local = np.where(usable[:, None], _apply_t(parent_global, wanted), rest_dir)
            swing_global = parent_global @ _swing(rest_dir, wanted_local)
            cues_j = _twist_cues(j, safe_targets, globals_, swing_global, cues, spine3_prelim)
            if cues_j:
                axis = _apply(swing_global, rest_dir)
                cos_sum = np.zeros(T)
                sin_sum = np.zeros(T)
                weight_sum = np.zeros(T)
                for local_vec, wanted_vec, weight in cues_j:
                    angle, strength = _twist_angle(axis, _apply(swing_global, local_vec), wanted_vec)
                    w = weight * strength
                    cos_sum += w * np.cos(angle)
                    sin_sum += w * np.sin(angle)
                    weight_sum += w
                angle = _fill_twist(cos_sum, sin_sum, weight_sum)
                reliability[JOINT_NAMES_LOCAL[j]] = weight_sum
                globals_[:, j] = _axis_angle_matrix(axis, np.cos(angle), np.sin(angle)) @ swing_global
            else:
                globals_[:, j] = swing_global
        else:
            leaf = _leaf_rotation(j, safe_targets, parent_global, cues)
            globals_[:, j] = parent_global if leaf is None else leaf
        local[:, j] = globals_[:, j] if parent < 0 else np.einsum("tji,tjk->tik", parent_global, globals_[:, j])

    return IKResult(rotations=matrix_to_quat(local), translation=targets[:, 0].copy(), global_matrices=globals_,
                    positions=positions, twist_reliability=reliability)
