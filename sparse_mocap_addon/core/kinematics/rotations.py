"""Vectorised rotation conversions (numpy only).

Conventions (see DESIGN.md):
- quaternions are (w, x, y, z), unit, shaped (..., 4);
- rotation matrices act on column vectors, shaped (..., 3, 3);
- axis-angle is a rotation vector (axis * angle in radians), shaped (..., 3);
- continuous 6D (Zhou et al., CVPR 2019) is the first two *columns* of the matrix, shaped (..., 6);
- Euler angles take an order string with Blender's meaning: "XYZ" is the matrix Rz @ Ry @ Rx
  (the X rotation is applied first, all about the parent's fixed axes).

Every function accepts any number of leading batch dimensions.
"""

from __future__ import annotations

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_EPS = 1e-12


# --- quaternions ---------------------------------------------------------------------------------

def quat_identity(shape=()) -> np.ndarray:
    q = np.zeros(tuple(np.atleast_1d(shape)) + (4,) if shape != () else (4,))
    q[..., 0] = 1.0
    return q


def quat_normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b first, then a)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def quat_canonical(q: np.ndarray) -> np.ndarray:
    """The same rotations with w >= 0 (q and -q are the same rotation)."""
    q = np.asarray(q, dtype=np.float64)
    return np.where(q[..., :1] < 0.0, -q, q)


def quat_angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians) between two rotations given as unit quaternions."""
    dot = np.abs(np.sum(quat_normalize(a) * quat_normalize(b), axis=-1))
    return 2.0 * np.arccos(np.clip(dot, -1.0, 1.0))


def quat_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along a time axis so consecutive quaternions are in the same hemisphere.

    Keeps F-curves free of sign jumps when baking (a sign flip is the same rotation but would be
    interpolated through a full turn).
    """
    q = np.moveaxis(np.array(q, dtype=np.float64, copy=True), axis, 0)
    if len(q) > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        flips = np.cumsum(dots < 0.0, axis=0) % 2
        q[1:] *= np.where(flips[..., None] == 1, -1.0, 1.0)
    return np.moveaxis(q, 0, axis)


def quat_slerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Spherical linear interpolation, shortest path, t broadcast against the batch."""
    a = quat_normalize(a)
    b = quat_normalize(b)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0.0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-6
    safe = np.where(small, 1.0, sin_theta)
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(small, t, np.sin(t * theta) / safe)
    return quat_normalize(wa * a + wb * b)


# --- quaternion <-> matrix -----------------------------------------------------------------------

def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = quat_normalize(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    m = np.stack(
        (
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ),
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def _quat_rows_map() -> tuple[np.ndarray, np.ndarray]:
    """The symmetric 4x4 matrix K whose row k is 4 q_k q (q = (w, x, y, z)) as a linear map of a
    rotation matrix's 9 entries: ``K.ravel() = m.ravel() @ A + C``. Its diagonal is 4 (w^2, x^2, y^2,
    z^2): (1 + trace, 1 + m00 - m11 - m22, ...); off the diagonal are the textbook formulas' other
    terms (4 w x = m21 - m12, 4 x y = m01 + m10, ...)."""
    a, c = np.zeros((9, 4, 4)), np.zeros((4, 4))
    diagonal = ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1))      # signs of m00, m11, m22
    for k, signs in enumerate(diagonal):
        a[(0, 4, 8), k, k] = signs
        c[k, k] = 1.0
    # (row, column): (entry, sign), (entry, sign) over m's row-major entries 0..8
    for (row, col), ((i, si), (j, sj)) in {(0, 1): ((7, 1), (5, -1)), (0, 2): ((2, 1), (6, -1)),
                                           (0, 3): ((3, 1), (1, -1)), (1, 2): ((1, 1), (3, 1)),
                                           (1, 3): ((2, 1), (6, 1)), (2, 3): ((5, 1), (7, 1))}.items():
        for entry, sign in ((i, si), (j, sj)):
            a[entry, row, col] = a[entry, col, row] = sign
    return a.reshape(9, 16), c.reshape(16)


_QUAT_ROWS, _QUAT_ROWS_CONST = _quat_rows_map()
_DIAGONAL = (0, 5, 10, 15)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrix to unit quaternion with w >= 0 (numerically stable branch per element).

    Of the four textbook formulas (the rows of K, :func:`_quat_rows_map`), each element uses the one
    with the largest denominator (the largest of K's diagonal: 1 + trace and the three 1 + 2 m_ii -
    trace), so no component comes from a near-zero square root. K is one matrix product for the
    whole batch (about twice as fast as per-component arrays on one frame's joints, and faster on
    long takes too).
    """
    m = np.asarray(m, dtype=np.float64)
    batch = m.shape[:-2]
    k = m.reshape(-1, 9) @ _QUAT_ROWS
    k += _QUAT_ROWS_CONST
    pick = np.argmax(k[:, _DIAGONAL], axis=1)
    q = k.reshape(-1, 4, 4)[np.arange(len(k)), pick]
    q *= np.where(q[:, :1] < 0.0, -1.0, 1.0) / np.sqrt(np.einsum("ij,ij->i", q, q))[:, None]
    return q.reshape(batch + (4,))


# --- axis-angle ----------------------------------------------------------------------------------

def axis_angle_to_quat(aa: np.ndarray) -> np.ndarray:
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle with its series for tiny angles, so zero rotation is exact.
    small = angle < 1e-8
    k = np.where(small, 0.5 - angle**2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate((np.cos(half), aa * k), axis=-1)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    q = quat_canonical(quat_normalize(q))
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    small = sin_half < 1e-8
    k = np.where(small, 2.0, angle / np.where(small, 1.0, sin_half))
    return q[..., 1:] * k


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    return quat_to_axis_angle(matrix_to_quat(m))


# --- continuous 6D -------------------------------------------------------------------------------

def matrix_to_6d(m: np.ndarray) -> np.ndarray:
    """First two columns, concatenated: (..., 6) = (r00, r10, r20, r01, r11, r21)."""
    m = np.asarray(m, dtype=np.float64)
    return np.concatenate((m[..., :, 0], m[..., :, 1]), axis=-1)


def sixd_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Gram-Schmidt back to a rotation matrix (works on non-orthonormal network outputs).

    Computed on contiguous component arrays (twice as fast as on (..., 3) vectors; the same numbers).
    """
    d6 = np.asarray(d6, dtype=np.float64)
    x1, y1, z1, x2, y2, z2 = np.ascontiguousarray(d6.reshape(-1, 6).T)
    norm = np.maximum(np.sqrt(x1 * x1 + y1 * y1 + z1 * z1), _EPS)
    x1, y1, z1 = x1 / norm, y1 / norm, z1 / norm
    dot = x1 * x2 + y1 * y2 + z1 * z2
    x2, y2, z2 = x2 - dot * x1, y2 - dot * y1, z2 - dot * z1
    norm = np.maximum(np.sqrt(x2 * x2 + y2 * y2 + z2 * z2), _EPS)
    x2 /= norm
    y2 /= norm
    z2 /= norm
    out = np.empty((9, len(norm)))        # row-major entries; the columns are b1, b2, b1 x b2
    out[0], out[3], out[6] = x1, y1, z1
    out[1], out[4], out[7] = x2, y2, z2
    np.multiply(y1, z2, out=out[2])
    out[2] -= z1 * y2
    np.multiply(z1, x2, out=out[5])
    out[5] -= x1 * z2
    np.multiply(x1, y2, out=out[8])
    out[8] -= y1 * x2
    return np.ascontiguousarray(out.T).reshape(d6.shape[:-1] + (3, 3))


def quat_to_6d(q: np.ndarray) -> np.ndarray:
    return matrix_to_6d(quat_to_matrix(q))


def sixd_to_quat(d6: np.ndarray) -> np.ndarray:
    return matrix_to_quat(sixd_to_matrix(d6))


# --- Euler ---------------------------------------------------------------------------------------

_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


def _check_order(order: str) -> str:
    order = order.upper()
    if order not in EULER_ORDERS:
        raise ValueError(f"Euler order {order!r} is not one of {', '.join(EULER_ORDERS)}")
    return order


def _axis_matrix(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == 0:
        rows = (one, zero, zero, zero, c, -s, zero, s, c)
    elif axis == 1:
        rows = (c, zero, s, zero, one, zero, -s, zero, c)
    else:
        rows = (c, -s, zero, s, c, zero, zero, zero, one)
    return np.stack(rows, axis=-1).reshape(angle.shape + (3, 3))


def euler_to_matrix(angles: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Euler angles (..., 3), given in the order of the letters, to matrices.

    ``order="XYZ"`` with angles (a, b, c) gives Rz(c) @ Ry(b) @ Rx(a): the first letter's rotation is
    applied to the vector first. This is Blender's ``rotation_mode`` meaning. A BVH channel list
    "Zrotation Xrotation Yrotation" is the matrix Rz @ Rx @ Ry, i.e. order "YXZ" with the angles
    re-ordered to (y, x, z).
    """
    order = _check_order(order)
    angles = np.asarray(angles, dtype=np.float64)
    m = _axis_matrix(_AXIS_INDEX[order[0]], angles[..., 0])
    for i in (1, 2):
        m = _axis_matrix(_AXIS_INDEX[order[i]], angles[..., i]) @ m
    return m


def matrix_to_euler(m: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Inverse of :func:`euler_to_matrix`; middle angle in [-pi/2, pi/2].

    The middle angle comes from atan2 (not arcsin) and the first angle from what is left once the
    other two are taken out, so the angles reproduce ``m`` to rounding error even at and near
    gimbal lock (where the split between first and last angle is arbitrary).
    """
    order = _check_order(order)
    m = np.asarray(m, dtype=np.float64)
    i, j, k = (_AXIS_INDEX[c] for c in order)
    # M = R_k(c) R_j(b) R_i(a). Parity tells the sign pattern of a Tait-Bryan decomposition.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    b = np.arctan2(-sign * m[..., k, i], np.hypot(m[..., i, i], m[..., j, i]))
    c = np.arctan2(sign * m[..., j, i], m[..., i, i])
    outer = euler_to_matrix(np.stack((np.zeros_like(b), b, c), axis=-1), order)
    rest = np.swapaxes(outer, -1, -2) @ m                   # = R_i(a)
    p, q = (i + 1) % 3, (i + 2) % 3
    a = np.arctan2(rest[..., q, p], rest[..., p, p])
    return np.stack((a, b, c), axis=-1)


def euler_to_quat(angles: np.ndarray, order: str = "XYZ") -> np.ndarray:
    return matrix_to_quat(euler_to_matrix(angles, order))


def quat_to_euler(q: np.ndarray, order: str = "XYZ") -> np.ndarray:
    return matrix_to_euler(quat_to_matrix(q), order)


# --- helpers -------------------------------------------------------------------------------------

def rotation_between_vectors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc unit quaternion turning direction a onto direction b (both (..., 3))."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), _EPS)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), _EPS)
    w = 1.0 + np.sum(a * b, axis=-1, keepdims=True)
    xyz = np.cross(a, b)
    # Opposite vectors: rotate half a turn about any axis perpendicular to a.
    opposite = w[..., 0] < 1e-9
    if np.any(opposite):
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        perp = np.cross(a, helper)
        perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
        xyz = np.where(opposite[..., None], perp, xyz)
        w = np.where(opposite[..., None], 0.0, w)
    return quat_normalize(np.concatenate((w, xyz), axis=-1))


def quat_product_matrices(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4x4 matrices L(q), R(q) with ``q * p == L(q) @ p`` and ``p * q == R(q) @ p``.

    Useful when the same quaternion multiplies a long batch: one small matrix product per item.
    """
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    left = np.stack((w, -x, -y, -z, x, w, -z, y, y, z, w, -x, z, -y, x, w), axis=-1)
    right = np.stack((w, -x, -y, -z, x, w, z, -y, y, -z, w, x, z, y, -x, w), axis=-1)
    shape = np.shape(w) + (4, 4)
    return left.reshape(shape), right.reshape(shape)
