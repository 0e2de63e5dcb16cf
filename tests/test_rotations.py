"""Rotation conversions: round trips over random batches, special cases, hand-built references."""

import numpy as np
import pytest

from sparse_mocap_addon.core.kinematics import rotations as R

BATCHES = ((), (7,), (5, 24))


def _rng(seed=0):
    return np.random.default_rng(seed)


def _random_quats(shape, seed=0):
    return R.quat_normalize(_rng(seed).normal(size=tuple(shape) + (4,)))


def _same_rotation(a, b, atol=1e-9):
    """Quaternions equal up to sign."""
    dots = np.abs(np.sum(R.quat_normalize(a) * R.quat_normalize(b), axis=-1))
    np.testing.assert_allclose(dots, 1.0, atol=atol)


def _is_rotation(m):
    eye = np.broadcast_to(np.eye(3), m.shape)
    np.testing.assert_allclose(np.swapaxes(m, -1, -2) @ m, eye, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# --- quaternions ---------------------------------------------------------------------------------

def test_quat_identity_shapes():
    np.testing.assert_array_equal(R.quat_identity(), [1, 0, 0, 0])
    q = R.quat_identity((5, 24))
    assert q.shape == (5, 24, 4)
    np.testing.assert_array_equal(q[..., 0], 1.0)
    np.testing.assert_array_equal(q[..., 1:], 0.0)
    assert R.quat_identity(3).shape == (3, 4)


@pytest.mark.parametrize("shape", BATCHES)
def test_quat_matrix_round_trip(shape):
    q = _random_quats(shape)
    m = R.quat_to_matrix(q)
    assert m.shape == tuple(shape) + (3, 3)
    _is_rotation(m)
    back = R.matrix_to_quat(m)
    assert back.shape == q.shape
    assert np.all(back[..., 0] >= 0.0)
    _same_rotation(back, q, atol=1e-12)
    np.testing.assert_allclose(R.quat_to_matrix(back), m, atol=1e-12)


def test_matrix_to_quat_all_branches():
    # Half turns about each axis and near-half turns pick the x/y/z branches of the conversion.
    for axis in np.eye(3):
        for angle in (np.pi, np.pi - 1e-7, 3.0, 0.0, 1e-9):
            q = R.axis_angle_to_quat(axis * angle)
            _same_rotation(R.matrix_to_quat(R.quat_to_matrix(q)), q, atol=1e-12)
    m = np.diag([1.0, -1.0, -1.0])
    np.testing.assert_allclose(np.abs(R.matrix_to_quat(m)), [0, 1, 0, 0], atol=1e-12)


def test_quat_to_matrix_normalises():
    q = _random_quats((10,))
    np.testing.assert_allclose(R.quat_to_matrix(3.7 * q), R.quat_to_matrix(q), atol=1e-12)


@pytest.mark.parametrize("shape", BATCHES)
def test_quat_multiply_matches_matrix_product_and_rotate(shape):
    a, b = _random_quats(shape, 1), _random_quats(shape, 2)
    ab = R.quat_multiply(a, b)
    np.testing.assert_allclose(R.quat_to_matrix(ab), R.quat_to_matrix(a) @ R.quat_to_matrix(b), atol=1e-12)
    v = _rng(3).normal(size=tuple(shape) + (3,))
    np.testing.assert_allclose(R.quat_rotate(a, v), (R.quat_to_matrix(a) @ v[..., None])[..., 0], atol=1e-12)
    # Conjugate is the inverse.
    ident = R.quat_multiply(a, R.quat_conjugate(a))
    np.testing.assert_allclose(ident, np.broadcast_to([1.0, 0, 0, 0], ident.shape), atol=1e-12)


def test_quat_canonical_and_angle_between():
    q = _random_quats((50,))
    c = R.quat_canonical(q)
    assert np.all(c[:, 0] >= 0.0)
    _same_rotation(c, q, atol=1e-15)
    np.testing.assert_allclose(R.quat_angle_between(q, -q), 0.0, atol=1e-6)
    a = R.axis_angle_to_quat(np.array([0.0, 0.3, 0.0]))
    b = R.axis_angle_to_quat(np.array([0.0, -0.5, 0.0]))
    assert R.quat_angle_between(a, b) == pytest.approx(0.8)


def test_quat_continuous_removes_sign_jumps():
    rng = _rng(4)
    # A smooth path of rotations, with random sign flips: (T, J) batch, time on axis 0.
    t = np.linspace(0.0, 3.0, 100)[:, None, None]
    axes = rng.normal(size=(1, 24, 3))
    q = R.axis_angle_to_quat(axes / np.linalg.norm(axes, axis=-1, keepdims=True) * t * 2.0)
    flips = rng.choice([-1.0, 1.0], size=q.shape[:2] + (1,))
    noisy = q * flips
    fixed = R.quat_continuous(noisy, axis=0)
    _same_rotation(fixed, noisy, atol=1e-15)
    assert np.all(np.sum(fixed[1:] * fixed[:-1], axis=-1) > 0.0)
    # Same along another axis; input not modified.
    before = noisy.copy()
    fixed_t = R.quat_continuous(np.swapaxes(noisy, 0, 1), axis=1)
    np.testing.assert_allclose(np.swapaxes(fixed_t, 0, 1), fixed)
    np.testing.assert_array_equal(noisy, before)
    # A single frame passes through.
    np.testing.assert_array_equal(R.quat_continuous(noisy[:1]), noisy[:1])


@pytest.mark.parametrize("shape", BATCHES)
def test_slerp_endpoints_and_midpoint(shape):
    a, b = _random_quats(shape, 5), _random_quats(shape, 6)
    _same_rotation(R.quat_slerp(a, b, 0.0), a, atol=1e-12)
    _same_rotation(R.quat_slerp(a, b, 1.0), b, atol=1e-12)
    mid = R.quat_slerp(a, b, 0.5)
    np.testing.assert_allclose(R.quat_angle_between(a, mid), 0.5 * R.quat_angle_between(a, b), atol=1e-7)
    np.testing.assert_allclose(R.quat_angle_between(mid, b), 0.5 * R.quat_angle_between(a, b), atol=1e-7)
    # Shortest path: -b gives the same interpolation.
    _same_rotation(R.quat_slerp(a, -b, 0.3), R.quat_slerp(a, b, 0.3), atol=1e-12)


def test_slerp_nearly_equal_and_broadcast_t():
    a = _random_quats((3,))
    b = R.quat_multiply(a, R.axis_angle_to_quat(np.full((3, 3), 1e-9)))
    out = R.quat_slerp(a, b, 0.5)
    assert np.all(np.isfinite(out))
    _same_rotation(out, a, atol=1e-12)
    ts = np.linspace(0.0, 1.0, 11)
    path = R.quat_slerp(a[0], R.quat_canonical(_random_quats((1,), 9)[0]), ts)
    assert path.shape == (11, 4)
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1.0, atol=1e-12)


# --- axis-angle ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", BATCHES)
def test_axis_angle_round_trip(shape):
    rng = _rng(7)
    axis = rng.normal(size=tuple(shape) + (3,))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.uniform(0.0, np.pi - 1e-3, size=tuple(shape) + (1,))
    aa = axis * angle
    q = R.axis_angle_to_quat(aa)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(R.quat_to_axis_angle(q), aa, atol=1e-10)
    np.testing.assert_allclose(R.matrix_to_axis_angle(R.axis_angle_to_matrix(aa)), aa, atol=1e-8)
    # quaternion -> axis-angle -> quaternion for random rotations (canonical sign)
    q = _random_quats(shape, 8)
    _same_rotation(R.axis_angle_to_quat(R.quat_to_axis_angle(q)), q, atol=1e-12)


@pytest.mark.parametrize("angle", (0.0, 1e-14, 1e-10, 1e-8, 1e-7, 1e-5, 1e-3))
def test_axis_angle_tiny_angles(angle):
    axis = np.array([0.3, -0.5, 0.8])
    axis /= np.linalg.norm(axis)
    aa = axis * angle
    q = R.axis_angle_to_quat(aa)
    assert np.all(np.isfinite(q))
    np.testing.assert_allclose(np.linalg.norm(q), 1.0, atol=1e-15)
    np.testing.assert_allclose(q[1:], 0.5 * aa, rtol=1e-6, atol=1e-20)
    np.testing.assert_allclose(R.quat_to_axis_angle(q), aa, rtol=1e-6, atol=1e-20)
    m = R.axis_angle_to_matrix(aa)
    skew = np.array([[0.0, -aa[2], aa[1]], [aa[2], 0.0, -aa[0]], [-aa[1], aa[0], 0.0]])
    np.testing.assert_allclose(m, np.eye(3) + skew, atol=max(angle**2, 1e-15))  # first order
    np.testing.assert_array_equal(R.axis_angle_to_quat(np.zeros(3)), [1.0, 0.0, 0.0, 0.0])


def test_axis_angle_half_turn():
    aa = np.array([0.0, 0.0, np.pi])
    m = R.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(m, np.diag([-1.0, -1.0, 1.0]), atol=1e-12)
    back = R.matrix_to_axis_angle(m)
    assert np.linalg.norm(back) == pytest.approx(np.pi)
    np.testing.assert_allclose(R.axis_angle_to_matrix(back), m, atol=1e-12)


def test_axis_angle_known_values():
    # +90 degrees about Z turns +X into +Y (right-handed).
    m = R.axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(m @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(R.axis_angle_to_quat(np.array([np.pi / 2, 0, 0])),
                               [np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0], atol=1e-12)


# --- 6D ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", BATCHES)
def test_6d_round_trip(shape):
    q = _random_quats(shape, 10)
    m = R.quat_to_matrix(q)
    d6 = R.matrix_to_6d(m)
    assert d6.shape == tuple(shape) + (6,)
    np.testing.assert_allclose(d6[..., :3], m[..., :, 0])
    np.testing.assert_allclose(d6[..., 3:], m[..., :, 1])
    np.testing.assert_allclose(R.sixd_to_matrix(d6), m, atol=1e-12)
    _same_rotation(R.sixd_to_quat(R.quat_to_6d(q)), q, atol=1e-12)


def test_6d_gram_schmidt_on_noisy_input():
    rng = _rng(11)
    d6 = rng.normal(size=(5, 24, 6))
    m = R.sixd_to_matrix(d6)
    _is_rotation(m)
    # The first column keeps the direction of the first 3-vector.
    a1 = d6[..., :3] / np.linalg.norm(d6[..., :3], axis=-1, keepdims=True)
    np.testing.assert_allclose(m[..., :, 0], a1, atol=1e-12)


# --- Euler ---------------------------------------------------------------------------------------

def test_euler_xyz_is_rz_ry_rx():
    rng = _rng(12)
    for a, b, c in rng.uniform(-np.pi, np.pi, size=(20, 3)):
        expected = _rz(c) @ _ry(b) @ _rx(a)
        np.testing.assert_allclose(R.euler_to_matrix(np.array([a, b, c]), "XYZ"), expected, atol=1e-12)


def test_every_order_matches_hand_built_product():
    single = {"X": _rx, "Y": _ry, "Z": _rz}
    angles = np.array([0.3, -0.7, 1.1])
    for order in R.EULER_ORDERS:
        expected = single[order[2]](angles[2]) @ single[order[1]](angles[1]) @ single[order[0]](angles[0])
        np.testing.assert_allclose(R.euler_to_matrix(angles, order), expected, atol=1e-12)
        np.testing.assert_allclose(R.euler_to_matrix(angles, order.lower()), expected, atol=1e-12)


@pytest.mark.parametrize("order", R.EULER_ORDERS)
@pytest.mark.parametrize("shape", BATCHES)
def test_euler_round_trip(order, shape):
    rng = _rng(13)
    angles = np.stack((
        rng.uniform(-np.pi + 1e-3, np.pi - 1e-3, size=shape),
        rng.uniform(-np.pi / 2 + 1e-3, np.pi / 2 - 1e-3, size=shape),
        rng.uniform(-np.pi + 1e-3, np.pi - 1e-3, size=shape),
    ), axis=-1)
    m = R.euler_to_matrix(angles, order)
    _is_rotation(m)
    np.testing.assert_allclose(R.matrix_to_euler(m, order), angles, atol=1e-9)
    q = R.euler_to_quat(angles, order)
    np.testing.assert_allclose(R.quat_to_euler(q, order), angles, atol=1e-9)
    # Random matrices: angles may differ but must rebuild the same matrix.
    m2 = R.quat_to_matrix(_random_quats(shape, 14))
    np.testing.assert_allclose(R.euler_to_matrix(R.matrix_to_euler(m2, order), order), m2, atol=1e-9)


@pytest.mark.parametrize("order", R.EULER_ORDERS)
@pytest.mark.parametrize("middle", (np.pi / 2, -np.pi / 2, np.pi / 2 - 1e-12))
def test_euler_gimbal_lock(order, middle):
    rng = _rng(15)
    angles = np.stack((rng.uniform(-3, 3, 10), np.full(10, middle), rng.uniform(-3, 3, 10)), axis=-1)
    m = R.euler_to_matrix(angles, order)
    back = R.matrix_to_euler(m, order)
    assert np.all(np.isfinite(back))
    np.testing.assert_allclose(np.abs(back[:, 1]), np.pi / 2, atol=2e-6)
    np.testing.assert_allclose(R.euler_to_matrix(back, order), m, atol=1e-9)


def test_bad_euler_order():
    with pytest.raises(ValueError, match="XYZ"):
        R.euler_to_matrix(np.zeros(3), "XYX")
    with pytest.raises(ValueError):
        R.matrix_to_euler(np.eye(3), "ABC")


# --- rotation between vectors --------------------------------------------------------------------

@pytest.mark.parametrize("shape", BATCHES)
def test_rotation_between_random_vectors(shape):
    rng = _rng(16)
    a = rng.normal(size=tuple(shape) + (3,)) * 3.0
    b = rng.normal(size=tuple(shape) + (3,)) * 0.2
    q = R.rotation_between_vectors(a, b)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    an = a / np.linalg.norm(a, axis=-1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=-1, keepdims=True)
    np.testing.assert_allclose(R.quat_rotate(q, an), bn, atol=1e-9)
    # Shortest arc: the angle equals the angle between the vectors.
    angle = np.arccos(np.clip(np.sum(an * bn, axis=-1), -1, 1))
    np.testing.assert_allclose(R.quat_angle_between(q, R.quat_identity(shape or ())), angle, atol=1e-6)


def test_rotation_between_parallel_and_opposite_vectors():
    vecs = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.3, -0.2, 0.9], [-1.0, 0, 0]])
    same = R.rotation_between_vectors(vecs, 2.0 * vecs)
    np.testing.assert_allclose(R.quat_canonical(same), np.broadcast_to([1.0, 0, 0, 0], same.shape), atol=1e-12)
    opposite = R.rotation_between_vectors(vecs, -vecs)
    assert np.all(np.isfinite(opposite))
    unit = vecs / np.linalg.norm(vecs, axis=-1, keepdims=True)
    np.testing.assert_allclose(R.quat_rotate(opposite, unit), -unit, atol=1e-12)
    np.testing.assert_allclose(R.quat_angle_between(opposite, R.quat_identity(5)), np.pi, atol=1e-6)
    # Mixed batch: some opposite, some not.
    mixed_b = np.array([[-1.0, 0, 0], [0, 0, 1.0], [0, 0, -1.0], [1.0, 0, 0], [1.0, 0, 0]])
    q = R.rotation_between_vectors(vecs, mixed_b)
    np.testing.assert_allclose(R.quat_rotate(q, unit), mixed_b, atol=1e-9)
