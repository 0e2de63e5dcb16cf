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

from .rotations import matrix_to_quat, quat_to_axis_angle
from .skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, Skeleton, children

_EPS = 1e-9
J = JOINT_INDEX

# Joints whose rotation comes from a Procrustes fit over their children.
MULTI_CHILD = tuple(j for j in range(NUM_JOINTS) if len(children(j)) > 1)
# Bend limits: below this bend the plane of a limb is not trusted at all, above the second fully.
_BEND_UNTRUSTED_DEG = 8.0
_BEND_TRUSTED_DEG = 25.0
# Hinge axes of knees and elbows in their parent's frame (T-pose, core frame): knees flex about +X,
# elbows forwards, about -Y for the left arm (along +X) and +Y for the right. Rigs differ (CMU's
# Acclaim skeleton tilts the elbow axis 30 degrees); ``estimate_hinge_axes`` measures a Motion's.
DEFAULT_HINGE_AXES = {
    "left_knee": (1.0, 0.0, 0.0), "right_knee": (1.0, 0.0, 0.0),
    "left_elbow": (0.0, -1.0, 0.0), "right_elbow": (0.0, 1.0, 0.0),
}
# A twist cue with less total weight than this is replaced by the interpolation over time.
_RELIABLE = 0.5
_BLOCK = 8192           # frames per block of per-frame work
_PRIOR_WEIGHT = 1e-12  # pull of a Procrustes fit towards the parent's frame


@dataclass
class IKResult:
    rotations: np.ndarray          # (T, 24, 4) local rotations, wxyz
    translation: np.ndarray        # (T, 3) pelvis world position
    global_matrices: np.ndarray    # (T, 24, 3, 3)
    positions: np.ndarray          # (T, 24, 3) joint positions of the solution (forward kinematics)
    twist_reliability: dict = field(default_factory=dict)   # joint name -> (T,) total cue weight


# --------------------------------------------------------------------------------------------
# small batched helpers on (T, 3) vectors and (T, 3, 3) matrices

def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


_LEVI_CIVITA = np.zeros((3, 3, 3))
_LEVI_CIVITA[0, 1, 2] = _LEVI_CIVITA[1, 2, 0] = _LEVI_CIVITA[2, 0, 1] = 1.0
_LEVI_CIVITA[0, 2, 1] = _LEVI_CIVITA[2, 1, 0] = _LEVI_CIVITA[1, 0, 2] = -1.0
_LEVI_CIVITA_ROWS = _LEVI_CIVITA.reshape(3, 9)
_EYE = np.eye(3)
_EYE.flags.writeable = False


def _skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices (..., 3, 3) of vectors (..., 3): ``_skew(v) @ w == v x w``. One
    matrix product (the live streams solve one frame at a time, where each numpy call counts)."""
    return -(v @ _LEVI_CIVITA_ROWS).reshape(v.shape[:-1] + (3, 3))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of (T,3) vectors (np.cross is several times slower on short last axes). A few
    vectors (the live stream's one frame) in one einsum call, many component by component (the
    three-operand einsum is slow on long arrays); the same numbers either way."""
    if a.size <= 48 and b.size <= 48:
        return np.einsum("ijk,...j,...k->...i", _LEVI_CIVITA, a, b)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def _normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.sqrt(_dot(v, v))
    return v / np.maximum(norm, _EPS)[..., None], norm


def _apply(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """m (T,3,3) times v (T,3) or (3,)."""
    if v.ndim == 1:
        # One vector for every frame: a single matrix-vector product over the stacked rows.
        return (m.reshape(-1, 3) @ v).reshape(m.shape[:-1])
    return np.einsum("tij,tj->ti", m, v)


def _apply_t(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """m transposed times v."""
    return np.einsum("tji,tj->ti", m, v)


def _axis_angle_matrix(axis: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotations about unit axes (..., 3) by angles given as cos/sin (...): Rodrigues' formula,
    cos I + sin [axis]x + (1 - cos) axis axis^T (few numpy calls: the live streams solve one frame
    at a time)."""
    out = axis[..., :, None] * ((1.0 - cos)[..., None] * axis)[..., None, :]
    out += _skew(sin[..., None] * axis)
    out += cos[..., None, None] * _EYE
    return out


def _swing_quat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest rotation (T,4 wxyz) taking unit a (3,) onto unit b (T,3): the half-angle form
    (1 + a.b, a x b), normalised; opposite vectors get a half turn about an axis normal to a."""
    q = np.empty(b.shape[:-1] + (4,))
    q[:, 0] = 1.0 + b @ a
    q[:, 1:] = _cross(np.broadcast_to(a, b.shape), b)
    opposite = q[:, 0] < 1e-9
    if opposite.any():
        helper = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        perp = np.cross(a, helper)
        q[opposite] = np.concatenate(([0.0], perp / np.linalg.norm(perp)))
    return q / np.sqrt(_dot(q, q))[:, None]


def _quat_mul(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    pw, px, py, pz = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    qw, qx, qy, qz = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    out = np.empty(p.shape)
    out[:, 0] = pw * qw - px * qx - py * qy - pz * qz
    out[:, 1] = pw * qx + px * qw + py * qz - pz * qy
    out[:, 2] = pw * qy - px * qz + py * qw + pz * qx
    out[:, 3] = pw * qz + px * qy - py * qx + pz * qw
    return out


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    """(T,4) unit quaternions to (T,3,3) matrices."""
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    m = np.empty(q.shape[:1] + (3, 3))
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    m[:, 0, 0] = 1.0 - 2.0 * (yy + zz)
    m[:, 0, 1] = 2.0 * (xy - wz)
    m[:, 0, 2] = 2.0 * (xz + wy)
    m[:, 1, 0] = 2.0 * (xy + wz)
    m[:, 1, 1] = 1.0 - 2.0 * (xx + zz)
    m[:, 1, 2] = 2.0 * (yz - wx)
    m[:, 2, 0] = 2.0 * (xz - wy)
    m[:, 2, 1] = 2.0 * (yz + wx)
    m[:, 2, 2] = 1.0 - 2.0 * (xx + yy)
    return m


def _procrustes_svd(h: np.ndarray) -> np.ndarray:
    """The rotation maximising tr(R^T h) for each (3,3) h: Kabsch by SVD, reflections excluded."""
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    u[:, :, 2] *= d[:, None]
    return u @ vt


def _procrustes(rest: np.ndarray, observed: np.ndarray, weights: np.ndarray, prior) -> np.ndarray:
    """Rotations R (T,3,3) minimising sum_k w_k |R rest_k - observed_k|^2 (+ a faint pull to prior).

    rest (K,3), observed (T,K,3), weights (T,K), prior (T,3,3). Equivalent to an SVD (Kabsch) per
    frame, which is what frames that do not converge fall back to; the usual path is faster: an
    orthonormalised start from h = sum_k w_k observed_k rest_k^T (exact when the rest offsets are
    orthogonal, close otherwise) and Newton steps on SO(3) for max tr(R^T h):
    with M = R^T h, g = vee(M - M^T), A = tr(M) I - sym(M), the step is R <- R exp([A^-1 g]x).
    """
    h = (observed * weights[..., None]).transpose(0, 2, 1) @ rest + _PRIOR_WEIGHT * prior
    r = _gram_schmidt(h)
    converged = np.zeros(len(h), dtype=bool)
    for _ in range(_NEWTON_STEPS):
        m = r.transpose(0, 2, 1) @ h
        g = np.stack((m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]), axis=-1)
        a = -0.5 * (m + m.transpose(0, 2, 1))
        trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
        a[:, 0, 0] += trace
        a[:, 1, 1] += trace
        a[:, 2, 2] += trace
        step, definite = _solve_spd3(a, g)
        converged = definite & (np.sqrt(_dot(step, step)) < 1e-10)
        angle = np.sqrt(_dot(step, step))
        axis = step / np.maximum(angle, 1e-300)[:, None]
        r = r @ _axis_angle_matrix(axis, np.cos(angle), np.sin(angle))
    if not converged.all():
        bad = ~converged
        r[bad] = _procrustes_svd(h[bad])
    return r


_NEWTON_STEPS = 3


def _gram_schmidt(h: np.ndarray) -> np.ndarray:
    """A rotation from the first two columns of h (T,3,3): x along column 0, y the part of column 1
    normal to it, z = x cross y."""
    x, _ = _normalize(h[:, :, 0])
    y = h[:, :, 1] - _dot(h[:, :, 1], x)[:, None] * x
    y, _ = _normalize(y)
    r = np.empty(h.shape)
    r[:, :, 0] = x
    r[:, :, 1] = y
    r[:, :, 2] = _cross(x, y)
    return r


def _solve_spd3(a: np.ndarray, b: np.ndarray):
    """x = a^-1 b for symmetric (T,3,3) a by cofactors, and whether a is positive definite."""
    a00, a01, a02 = a[:, 0, 0], a[:, 0, 1], a[:, 0, 2]
    a11, a12, a22 = a[:, 1, 1], a[:, 1, 2], a[:, 2, 2]
    c00 = a11 * a22 - a12 * a12
    c01 = a02 * a12 - a01 * a22
    c02 = a01 * a12 - a02 * a11
    c11 = a00 * a22 - a02 * a02
    c12 = a01 * a02 - a00 * a12
    c22 = a00 * a11 - a01 * a01
    det = a00 * c00 + a01 * c01 + a02 * c02
    definite = (a00 > 0) & (c22 > 0) & (det > 1e-12 * np.abs(a00) ** 3)
    inv_det = 1.0 / np.where(definite, det, 1.0)
    x = np.empty(b.shape)
    x[:, 0] = (c00 * b[:, 0] + c01 * b[:, 1] + c02 * b[:, 2]) * inv_det
    x[:, 1] = (c01 * b[:, 0] + c11 * b[:, 1] + c12 * b[:, 2]) * inv_det
    x[:, 2] = (c02 * b[:, 0] + c12 * b[:, 1] + c22 * b[:, 2]) * inv_det
    return np.where(definite[:, None], x, 0.0), definite


def _twist_angle(axis: np.ndarray, current: np.ndarray, wanted: np.ndarray):
    """Signed angle about ``axis`` (T,3) turning ``current`` onto ``wanted`` (both projected normal to
    the axis), and the cue's strength: how far ``wanted`` stands off the axis (0..1)."""
    cur = current - _dot(current, axis)[:, None] * axis
    want = wanted - _dot(wanted, axis)[:, None] * axis
    cur, _ = _normalize(cur)
    want, strength = _normalize(want)
    angle = np.arctan2(_dot(axis, _cross(cur, want)), _dot(cur, want))
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
    normal, sin = _normalize(_cross(upper, lower))
    bend = np.degrees(np.arcsin(np.clip(sin, 0.0, 1.0)))
    bend = np.where(_dot(upper, lower) < 0, 180.0 - bend, bend)
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
    """Unit vector between two cue points, with weight 1 where both exist."""
    base = _cue(cues, start)
    return None if base is None else _direction_cue(cues, end, base)


# --------------------------------------------------------------------------------------------

def _twist_cues(j: int, targets: np.ndarray, globals_: np.ndarray, cues: dict, spine3_frame: np.ndarray,
                hinge_axes: dict, face_turns_neck: bool = True):
    """The cues for joint j's twist: a list of (local vector, wanted world vector (T,3), weight (T,)).

    ``targets`` (24, T, 3) and ``globals_`` (24, T, 3, 3) are joint-major."""
    name = JOINT_NAMES[j]
    side = 1.0 if name.startswith("left") else -1.0
    out = []
    if name.endswith("_hip") or name.endswith("_shoulder"):
        # The limb's bend plane: the knee or elbow flexes about its hinge axis, one way only.
        prefix = name.rsplit("_", 1)[0]
        middle, end = (("knee", "ankle") if name.endswith("_hip") else ("elbow", "wrist"))
        upper, _ = _normalize(targets[J[f"{prefix}_{middle}"]] - targets[j])
        lower, _ = _normalize(targets[J[f"{prefix}_{end}"]] - targets[J[f"{prefix}_{middle}"]])
        normal, weight = _bend_weight(upper, lower)
        out.append((hinge_axes[f"{prefix}_{middle}"], normal, weight))
        if middle == "knee":
            # With a straight leg, the foot's forward direction says where the leg faces.
            toes, _ = _normalize(targets[J[f"{prefix}_foot"]] - targets[J[f"{prefix}_ankle"]])
            out.append((np.array([0.0, 0.0, 1.0]), toes, 0.5 * (1.0 - weight)))
    elif name in ("spine1", "spine2"):
        share = 1.0 / 3.0 if name == "spine1" else 2.0 / 3.0
        left = (1.0 - share) * globals_[0][:, :, 0] + share * spine3_frame[:, :, 0]
        out.append((np.array([1.0, 0.0, 0.0]), _normalize(left)[0], np.ones(targets.shape[1])))
    elif name == "neck" and face_turns_neck:
        cue = _direction_cue(cues, "nose", targets[J["head"]])
        if cue is not None:
            out.append((np.array([0.0, 0.0, 1.0]), *cue))
        ears = _line_cue(cues, "right_ear", "left_ear")
        if ears is not None:
            out.append((np.array([1.0, 0.0, 0.0]), *ears))
    elif name.endswith("_ankle"):
        # The ankle flexes about its X axis, normal to the shin-foot plane; the foot always stands
        # well off the shin's line, so this plane is always trustworthy (no inversion assumed).
        knee, foot = J[name.replace("ankle", "knee")], J[name.replace("ankle", "foot")]
        shin, _ = _normalize(targets[j] - targets[knee])
        toes, _ = _normalize(targets[foot] - targets[j])
        normal, weight = _bend_weight(toes, shin)
        out.append((np.array([1.0, 0.0, 0.0]), normal, weight))
        line = _line_cue(cues, f"{name[:-6]}_big_toe", f"{name[:-6]}_small_toe")
        if line is not None:
            out.append((np.array([side, 0.0, 0.0]), *line))     # small toe is lateral
    elif name.endswith("_wrist"):
        # The forearm's roll shows only in points on the hand; the hand joint alone does not tell
        # (the bend of a wrist is not a reliable cue: mocap rigs bend it about all sorts of axes).
        prefix = name[:-6]
        thumb = _direction_cue(cues, f"{prefix}_thumb", targets[j])
        if thumb is not None:
            out.append((np.array([0.0, 0.0, 1.0]), *thumb))     # thumb forward in the T-pose
        knuckles = _line_cue(cues, f"{prefix}_pinky", f"{prefix}_index")
        if knuckles is not None:
            out.append((np.array([0.0, 0.0, 1.0]), *knuckles))
    return out



def estimate_hinge_axes(rotations: np.ndarray, min_angle_deg: float = 30.0) -> dict:
    """The knee and elbow flexion axes of a motion's convention: the mean rotation axis of the local
    rotations bent more than ``min_angle_deg``, signed like ``DEFAULT_HINGE_AXES`` (defaults where
    a joint never bends that far)."""
    axes = {}
    for name, default in DEFAULT_HINGE_AXES.items():
        aa = quat_to_axis_angle(np.asarray(rotations)[..., J[name], :]).reshape(-1, 3)
        angle = np.linalg.norm(aa, axis=-1)
        bent = angle > np.radians(min_angle_deg)
        if bent.sum() < 10:
            axes[name] = default
            continue
        unit = aa[bent] / angle[bent, None]
        unit *= np.sign(unit @ np.asarray(default))[:, None]
        mean = unit.mean(axis=0)
        axes[name] = tuple((mean / np.linalg.norm(mean)).tolist())
    return axes


def _leaf_rotation(j: int, targets: np.ndarray, parent_global: np.ndarray, cues: dict):
    """Global rotation of a leaf joint from its cue points, or None to keep it at rest."""
    if j != J["head"]:
        return None
    head = targets[j]
    up = _direction_cue(cues, "head_top", head)
    forward = _direction_cue(cues, "nose", head)
    if up is None and forward is None:
        return None
    rest = parent_global
    result = rest.copy()
    if up is not None:
        vec, ok = up
        turned = rest @ _quat_matrix(_swing_quat(np.array([0.0, 1.0, 0.0]), _apply_t(rest, vec)))
        result = np.where(ok[:, None, None] > 0, turned, result)
    if forward is not None:
        vec, ok = forward
        axis = result[:, :, 1]
        angle, strength = _twist_angle(axis, result[:, :, 2], vec)
        angle = np.where(ok * strength > 0.2, angle, 0.0)
        result = _axis_angle_matrix(axis, np.cos(angle), np.sin(angle)) @ result
    return result


def _blocks(frames: int) -> list[slice]:
    return [slice(start, min(start + _BLOCK, frames)) for start in range(0, frames, _BLOCK)]


def solve_ik(targets: np.ndarray, skeleton: Skeleton, valid: np.ndarray | None = None,
             cues: dict | None = None, hinge_axes: dict | None = None, face_turns_neck: bool = True) -> IKResult:
    """Local rotations that put the skeleton's joints on ``targets`` (T, 24, 3).

    ``valid`` (T, 24) marks target joints to use (default: every finite one); a bone whose child is
    not valid keeps its rest pose relative to its parent in that frame. ``cues`` maps extra landmark
    names ("nose", "head_top", "left_ear", "left_thumb", "left_index", "left_pinky",
    "left_big_toe", "left_small_toe", and the right ones) to (T, 3) world points (NaN where missing)
    that settle twists and the head. ``hinge_axes`` overrides ``DEFAULT_HINGE_AXES`` (the knee and
    elbow flexion axes of the armature's convention). With ``face_turns_neck=False`` the face cues
    (nose, ears) turn only the head, never the neck about its bone (the retargeter's convention: the
    neck's twist is then zero and the head joint carries where the face looks). The pelvis target
    must be valid in every frame.
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
    axes = dict(DEFAULT_HINGE_AXES, **(hinge_axes or {}))
    axes = {k: np.asarray(v, dtype=np.float64) / np.linalg.norm(v) for k, v in axes.items()}
    T = len(targets)
    offsets = skeleton.offsets
    # Joint-major storage: every per-joint slice is contiguous, which makes the batched 3x3
    # products several times faster than on (T, 24, 3, 3) views.
    tgt = np.ascontiguousarray(np.where(valid[..., None], targets, 0.0).transpose(1, 0, 2))
    ok = np.ascontiguousarray(valid.T)
    globals_ = np.empty((NUM_JOINTS, T, 3, 3))
    positions = np.empty((NUM_JOINTS, T, 3))
    rotations = np.empty((NUM_JOINTS, T, 4))
    global_quats = np.empty((NUM_JOINTS, T, 4))    # kept beside the matrices: cheaper to compose
    reliability = {}
    identity = np.broadcast_to(np.eye(3), (T, 3, 3))
    positions[0] = targets[:, 0]

    # Spine3's frame from the targets alone: its rotation, and the twist reference of the spine.
    spine3 = J["spine3"]
    spine3_kids = children(spine3)
    spine3_fit = np.empty((T, 3, 3))
    for sl in _blocks(T):
        spine3_fit[sl] = _procrustes(offsets[spine3_kids], (tgt[spine3_kids, sl] - tgt[spine3, sl]).transpose(1, 0, 2),
                                     (ok[spine3_kids, sl] & ok[spine3, sl]).T.astype(np.float64), identity[sl])

    # Per-frame work runs in blocks of frames so that its temporaries stay in the cache; only the
    # twist fill looks across frames, and it runs on whole joints between the two block passes.
    blocks = _blocks(T)
    for j in range(NUM_JOINTS):
        parent = PARENTS[j]
        parent_global = identity if parent < 0 else globals_[parent]
        kids = children(j)
        if len(kids) == 1:
            # Work in the parent's frame: local = twist(about the bone) * swing(rest bone -> bone).
            child = kids[0]
            rest_dir, _ = _normalize(offsets[child])
            bone = np.empty((T, 3))
            sums = None                      # twist cue sums: cos, sin, weight
            for sl in blocks:
                frame = parent_global[sl]
                if j > 0:
                    positions[j, sl] = positions[parent, sl] + _apply(frame, offsets[j])
                wanted, length = _normalize(tgt[child, sl] - positions[j, sl])
                usable = ok[child, sl] & (length > 1e-9)
                bone[sl] = np.where(usable[:, None], _apply_t(frame, wanted), rest_dir)
                rotations[j, sl] = _swing_quat(rest_dir, bone[sl])
                cues_j = _twist_cues(j, tgt[:, sl], globals_[:, sl], {k: v[sl] for k, v in cues.items()},
                                     spine3_fit[sl], axes, face_turns_neck)
                if not cues_j:
                    continue
                if sums is None:
                    sums = np.zeros((3, T))
                swing = _quat_matrix(rotations[j, sl])
                for local_vec, wanted_vec, weight in cues_j:
                    angle, strength = _twist_angle(bone[sl], _apply(swing, local_vec), _apply_t(frame, wanted_vec))
                    w = weight * strength
                    sums[0, sl] += w * np.cos(angle)
                    sums[1, sl] += w * np.sin(angle)
                    sums[2, sl] += w
            if sums is not None:
                half = 0.5 * _fill_twist(*sums)
                reliability[JOINT_NAMES[j]] = sums[2]
            for sl in blocks:
                q = rotations[j, sl]
                if sums is not None:
                    twist = np.concatenate((np.cos(half[sl])[:, None], np.sin(half[sl])[:, None] * bone[sl]), axis=1)
                    q = rotations[j, sl] = _quat_mul(twist, q)
                global_quats[j, sl] = q if parent < 0 else _quat_mul(global_quats[parent, sl], q)
                globals_[j, sl] = _quat_matrix(global_quats[j, sl])
            continue
        for sl in blocks:
            frame = parent_global[sl]
            if j > 0:
                positions[j, sl] = positions[parent, sl] + _apply(frame, offsets[j])
            if j == spine3:
                globals_[j, sl] = spine3_fit[sl]
            elif kids:
                observed = (tgt[kids, sl] - positions[j, sl]).transpose(1, 0, 2)
                globals_[j, sl] = _procrustes(offsets[kids], observed, ok[kids, sl].T.astype(np.float64), frame)
            else:
                leaf = _leaf_rotation(j, tgt[:, sl], frame, {k: v[sl] for k, v in cues.items()})
                if leaf is None:
                    globals_[j, sl] = frame
                    global_quats[j, sl] = global_quats[parent, sl]
                    rotations[j, sl] = (1.0, 0.0, 0.0, 0.0)
                    continue
                globals_[j, sl] = leaf
            global_quats[j, sl] = matrix_to_quat(globals_[j, sl])
            rotations[j, sl] = matrix_to_quat(globals_[j, sl] if parent < 0 else
                                              frame.transpose(0, 2, 1) @ globals_[j, sl])

    return IKResult(rotations=rotations.transpose(1, 0, 2), translation=targets[:, 0].copy(),
                    global_matrices=globals_.transpose(1, 0, 2, 3), positions=positions.transpose(1, 0, 2),
                    twist_reliability=reliability)
