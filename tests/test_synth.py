"""Virtual IMUs, the corruption model and the TransPose normalisation (core/imu/synth)."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.imu.recording import GRAVITY, SIX_SENSOR_JOINTS, SIX_SENSORS, ImuRecording
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import (axis_angle_to_matrix, axis_angle_to_quat,
                                                          matrix_to_axis_angle, quat_identity)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, forward_kinematics
from sparse_mocap_addon.core.imu.synth import (CorruptionModel, corrupt, features, finite_difference_acceleration,
                                               normalise, sensor_offsets, virtual_imus)

FPS = 60.0


@pytest.fixture(scope="module")
def skel():
    return skeleton_from_measurements(default_measurements())


def _still_motion(skel, frames=120, fps=FPS, translation=None, rotations=None):
    rot = quat_identity((frames, NUM_JOINTS)) if rotations is None else rotations
    if translation is None:
        translation = np.tile(skel.offsets[0], (frames, 1))
    return Motion(fps, rot, translation, skel)


def _random_rotations(rng, shape):
    return axis_angle_to_matrix(rng.normal(size=shape + (3,)))


def _angle_deg(a, b):
    """Angle of the relative rotation between rotation matrices a and b (degrees)."""
    return np.degrees(np.linalg.norm(matrix_to_axis_angle(np.swapaxes(a, -1, -2) @ b), axis=-1))


# --- virtual sensors -----------------------------------------------------------------------------

@pytest.mark.parametrize("fps", [60.0, 30.0])
def test_constant_acceleration_is_exact(skel, fps):
    frames = 90
    t = np.arange(frames) / fps
    acc = np.array([1.5, -0.7, 2.25])
    v0 = np.array([0.3, 0.1, -0.4])
    trans = skel.offsets[0] + v0 * t[:, None] + 0.5 * acc * t[:, None] ** 2
    rec = virtual_imus(_still_motion(skel, frames, fps, trans))
    assert rec.fps == fps and rec.sensors == SIX_SENSORS and rec.world == "core"
    # Every frame but the first and last (TransPose's edges: zero there, one-frame difference on
    # frames 1-3 and T-4..T-2, which is exact for a quadratic path too).
    np.testing.assert_allclose(rec.acceleration[1:-1], np.broadcast_to(acc, (frames - 2, 6, 3)), atol=1e-8)
    assert np.all(rec.acceleration[[0, -1]] == 0.0)
    np.testing.assert_allclose(rec.orientation, np.broadcast_to(np.eye(3), rec.orientation.shape), atol=1e-12)
    assert rec.valid.all()


def test_finite_difference_matches_transpose_formula():
    rng = np.random.default_rng(3)
    p = rng.normal(size=(40, 2, 3))
    a = finite_difference_acceleration(p, 60.0, 4)
    # TransPose: one-frame second difference * 3600, zero ends, then frames 4..T-5 over +-4 frames / 16.
    ref = np.zeros_like(p)
    for i in range(1, 39):
        ref[i] = (p[i - 1] + p[i + 1] - 2 * p[i]) * 3600
    for i in range(4, 36):
        ref[i] = (p[i - 4] + p[i + 4] - 2 * p[i]) * 3600 / 16
    np.testing.assert_allclose(a, ref, rtol=1e-12, atol=1e-9)
    # Too short for the +-4 window: one-frame difference throughout; too short for any: zeros.
    np.testing.assert_allclose(finite_difference_acceleration(p[:8], 60.0)[1:-1],
                               (p[:6] + p[2:8] - 2 * p[1:7]) * 3600, rtol=1e-12, atol=1e-9)
    assert np.all(finite_difference_acceleration(p[:2], 60.0) == 0)


def test_standing_still_and_free_fall(skel):
    still = virtual_imus(_still_motion(skel))
    assert np.abs(still.acceleration).max() < 1e-9
    # Free fall: the free (gravity-removed) acceleration is the kinematic one, -g on Y, so the
    # specific force an accelerometer feels, R^T (a - g_vec), is zero.
    frames = 60
    t = np.arange(frames) / FPS
    trans = skel.offsets[0] + np.outer(-0.5 * GRAVITY * t**2, [0.0, 1.0, 0.0])
    fall = virtual_imus(_still_motion(skel, frames, translation=trans))
    np.testing.assert_allclose(fall.acceleration[1:-1], np.broadcast_to([0, -GRAVITY, 0], (frames - 2, 6, 3)),
                               atol=1e-8)
    g_vec = np.array([0.0, -GRAVITY, 0.0])
    specific = np.einsum("tsji,tsj->tsi", fall.orientation, fall.acceleration - g_vec)
    assert np.abs(specific[1:-1]).max() < 1e-8


def test_rotation_about_a_fixed_axis(skel):
    frames, omega = 120, 2.0                             # rad/s about +Y (yaw) for the whole body
    t = np.arange(frames) / FPS
    rot = quat_identity((frames, NUM_JOINTS))
    rot[:, 0] = axis_angle_to_quat(np.outer(omega * t, [0.0, 1.0, 0.0]))
    # The left elbow also bends about its local Z at a steady rate on top of that.
    bend = 0.5 + 1.5 * t
    rot[:, JOINT_INDEX["left_elbow"]] = axis_angle_to_quat(np.outer(bend, [0.0, 0.0, 1.0]))
    rec = virtual_imus(_still_motion(skel, frames, rotations=rot))
    yaw = axis_angle_to_matrix(np.outer(omega * t, [0.0, 1.0, 0.0]))
    for name in ("pelvis", "head", "right_forearm", "left_lower_leg"):
        np.testing.assert_allclose(rec.orientation[:, rec.index(name)], yaw, atol=1e-12)
    expected = yaw @ axis_angle_to_matrix(np.outer(bend, [0.0, 0.0, 1.0]))
    np.testing.assert_allclose(rec.orientation[:, rec.index("left_forearm")], expected, atol=1e-12)
    # The pelvis sensor sits off the (fixed) root, so it feels the centripetal acceleration
    # -omega^2 r of its horizontal lever arm; the +-4-frame difference gives it to 0.2 %.
    r = sensor_offsets(skel)[5]
    lever = yaw @ np.array([r[0], 0.0, r[2]])
    np.testing.assert_allclose(rec.acceleration[4:-4, 5], -omega**2 * lever[4:-4], rtol=0,
                               atol=0.002 * omega**2 * np.hypot(r[0], r[2]))
    assert np.linalg.norm(rec.acceleration[4:-4, 5], axis=-1).min() > 0.9 * omega**2 * np.hypot(r[0], r[2])


def test_mounting_is_sensor_in_bone(skel):
    rng = np.random.default_rng(7)
    m = demo_motion(skel, seconds=1.0)
    mounting = _random_rotations(rng, (6,))
    plain = virtual_imus(m)
    mounted = virtual_imus(m, mounting=mounting)
    np.testing.assert_allclose(mounted.orientation, plain.orientation @ mounting[None], atol=1e-12)
    # Right side: the bone-to-sensor rotation is constant while the bones move ...
    rel = np.swapaxes(plain.orientation, -1, -2) @ mounted.orientation
    np.testing.assert_allclose(rel, np.broadcast_to(mounting, rel.shape), atol=1e-12)
    # ... which the left-side product would not be.
    assert np.abs(mounted.orientation - mounting[None] @ plain.orientation).max() > 0.05
    # Mounting turns the sensor, not the point it sits on: same world acceleration.
    np.testing.assert_array_equal(mounted.acceleration, plain.acceleration)
    with pytest.raises(ValueError, match="rotation"):
        virtual_imus(m, mounting=np.tile(2 * np.eye(3), (6, 1, 1)))
    with pytest.raises(ValueError, match="shape"):
        virtual_imus(m, mounting=np.eye(3))


def test_sensor_points_sit_on_the_limb(skel):
    m = demo_motion(skel, seconds=1.0)
    off = sensor_offsets(skel)
    # Left/right mirror images; forearm/shin sensors between their joints, head above its joint.
    np.testing.assert_allclose(off[0] * [-1, 1, 1], off[1])
    np.testing.assert_allclose(off[2] * [-1, 1, 1], off[3])
    fore = skel.offsets[JOINT_INDEX["left_wrist"]]
    assert 0.5 < off[0] @ fore / (fore @ fore) < 1.0
    shin = skel.offsets[JOINT_INDEX["left_ankle"]]
    assert 0.2 < off[2] @ shin / (shin @ shin) < 0.6
    assert 0.05 < off[4][1] < 0.15
    # The acceleration is that of the point p_joint + R_bone @ offset.
    pos, glob = forward_kinematics(m.rotations, m.translation, skel)
    joints = list(SIX_SENSOR_JOINTS)
    points = pos[:, joints] + np.einsum("tsij,sj->tsi", glob[:, joints], off)
    rec = virtual_imus(m)
    np.testing.assert_allclose(rec.acceleration, finite_difference_acceleration(points, m.fps), atol=1e-9)
    at_joint = virtual_imus(m, offsets=np.zeros((6, 3)))
    assert np.abs(at_joint.acceleration - rec.acceleration).max() > 0.5
    # Other sensor sets name their segments.
    other = virtual_imus(m, sensor_joints=[JOINT_INDEX["left_hip"], JOINT_INDEX["spine3"], 0])
    assert other.sensors == ("left_upper_leg", "chest", "pelvis")


# --- corruption ----------------------------------------------------------------------------------

def _recording(rng, frames=600, sensors=6, fps=FPS, still=False):
    if still:
        ori = _random_rotations(rng, (sensors,))[None].repeat(frames, 0)
    else:
        ori = _random_rotations(rng, (frames, sensors))
    acc = np.zeros((frames, sensors, 3)) if still else rng.normal(scale=3.0, size=(frames, sensors, 3))
    return ImuRecording(sensors=[f"s{i}" for i in range(sensors)], orientation=ori, acceleration=acc, fps=fps)


def _only(**kw):
    return CorruptionModel(**{**{k: 0.0 for k in CorruptionModel().__dict__}, **kw})


def test_zero_model_is_identity_and_input_untouched():
    rng = np.random.default_rng(0)
    rec = virtual_imus(demo_motion(seconds=1.0))
    before = (rec.orientation.copy(), rec.acceleration.copy())
    out = corrupt(rec, CorruptionModel.clean(), rng)
    assert out is not rec
    np.testing.assert_array_equal(out.orientation, rec.orientation)
    np.testing.assert_array_equal(out.acceleration, rec.acceleration)
    assert out.valid.all()
    noisy = corrupt(rec, CorruptionModel(), 1)
    assert np.nanmax(np.abs(noisy.acceleration - rec.acceleration)) > 0
    np.testing.assert_array_equal(rec.orientation, before[0])         # the input is never modified
    np.testing.assert_array_equal(rec.acceleration, before[1])


def test_acc_white_noise_std():
    rng = np.random.default_rng(1)
    rec = _recording(rng, frames=3000)
    out = corrupt(rec, _only(acc_noise=0.1), rng)
    err = out.acceleration - rec.acceleration
    assert abs(err.mean()) < 0.005
    np.testing.assert_allclose(err.reshape(-1, 3).std(axis=0), 0.1, rtol=0.1)
    np.testing.assert_array_equal(out.orientation, rec.orientation)


def test_orientation_noise_and_its_gravity_leak():
    rng = np.random.default_rng(2)
    rec = _recording(rng, frames=3000, still=True)
    out = corrupt(rec, _only(ori_noise_deg=0.5), rng)
    err = matrix_to_axis_angle(out.orientation @ np.swapaxes(rec.orientation, -1, -2))   # world side
    np.testing.assert_allclose(np.degrees(err.reshape(-1, 3).std(axis=0)), 0.5, rtol=0.1)
    # A sensor at rest reports GRAVITY * tilt on the horizontal axes and ~nothing vertically.
    acc = out.acceleration.reshape(-1, 3)
    np.testing.assert_allclose(acc[:, [0, 2]].std(axis=0), GRAVITY * np.radians(0.5), rtol=0.1)
    assert acc[:, 1].std() < 0.01


def test_heading_drift_rate():
    rng = np.random.default_rng(3)
    seconds, sensors = 30.0, 400
    rec = _recording(rng, frames=int(seconds * FPS), sensors=sensors, still=True)
    rec.acceleration[:] = [1.0, 0.0, 0.0]
    out = corrupt(rec, _only(heading_drift_deg_per_min=2.0), rng)
    err = out.orientation @ np.swapaxes(rec.orientation, -1, -2)           # pure rotation about +Y
    np.testing.assert_allclose(err[..., 1, 1], 1.0, atol=1e-12)
    heading = np.degrees(np.arctan2(err[..., 0, 2], err[..., 0, 0]))       # (T, S)
    assert np.abs(heading[0]).max() < 1e-12
    rate = heading[-1] / ((len(heading) - 1) / FPS / 60.0)                 # deg / min
    np.testing.assert_allclose(rate, out.metadata["corruption"]["heading_rate_deg_per_min"], rtol=1e-9)
    assert abs(rate.std() / 2.0 - 1.0) < 0.1
    # Linear in time (a constant-rate drift), and the world acceleration turns with it.
    np.testing.assert_allclose(heading[len(heading) // 2], rate * (len(heading) // 2) / FPS / 60.0, atol=1e-9)
    np.testing.assert_allclose(out.acceleration[:, :, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(out.acceleration, axis=-1), 1.0, atol=1e-12)


def test_mounting_misalignment_bound_and_side():
    rng = np.random.default_rng(4)
    rec = _recording(rng, frames=50, sensors=500)
    out = corrupt(rec, _only(mounting_deg=5.0), rng)
    rel = np.swapaxes(rec.orientation, -1, -2) @ out.orientation           # sensor-in-bone error
    np.testing.assert_allclose(rel, np.broadcast_to(rel[:1], rel.shape), atol=1e-12)  # fixed per take
    angle = _angle_deg(np.eye(3), rel[0])
    assert angle.max() <= 5.0 + 1e-9
    assert abs(angle.mean() - 2.5) < 0.25                                  # uniform in [0, 5] deg
    np.testing.assert_allclose(rel[0], out.metadata["corruption"]["mounting_error"], atol=1e-12)
    np.testing.assert_array_equal(out.acceleration, rec.acceleration)


def test_accelerometer_bias_is_bounded_slow_and_in_the_sensor_frame():
    rng = np.random.default_rng(5)
    rec = _recording(rng, frames=3600, sensors=200)
    out = corrupt(rec, _only(acc_bias=0.05, acc_bias_walk=0.01, acc_bias_max=0.1), rng)
    bias = np.einsum("tsji,tsj->tsi", rec.orientation, out.acceleration - rec.acceleration)  # sensor frame
    assert np.abs(bias).max() <= 0.1 + 1e-9
    assert abs(bias[0].std() / 0.05 - 1.0) < 0.15                          # start-of-take bias
    steps = np.diff(bias, axis=0)
    np.testing.assert_allclose(np.median(np.abs(steps)) / 0.6745, 0.01 * np.sqrt(1 / FPS), rtol=0.1)
    drift = np.abs(bias[-1] - bias[0]).mean()
    assert 0.02 < drift < 0.1                                              # wanders over a minute


def test_dropped_samples():
    rng = np.random.default_rng(6)
    rec = _recording(rng, frames=20000, sensors=30)
    out = corrupt(rec, _only(drop_rate=0.005, drop_burst=3.0), rng)
    lost = ~out.valid
    assert abs(lost.mean() / 0.005 - 1.0) < 0.15
    assert np.isnan(out.acceleration[lost]).all() and np.isnan(out.orientation[lost]).all()
    assert np.isfinite(out.acceleration[~lost]).all()
    np.testing.assert_array_equal(out.acceleration[~lost], rec.acceleration[~lost])
    # In bursts: the mean run of lost frames is about 3.
    padded = np.vstack([np.zeros((1, 30), bool), lost, np.zeros((1, 30), bool)]).astype(np.int8)
    runs = (np.diff(padded, axis=0) == 1).sum()
    assert 2.4 < lost.sum() / runs < 3.6


def test_corruption_is_reproducible_with_the_seed():
    rec = virtual_imus(demo_motion(seconds=2.0))
    a = corrupt(rec, CorruptionModel(), np.random.default_rng(42))
    b = corrupt(rec, CorruptionModel(), np.random.default_rng(42))
    c = corrupt(rec, CorruptionModel(), np.random.default_rng(43))
    np.testing.assert_array_equal(a.acceleration, b.acceleration)
    np.testing.assert_array_equal(a.orientation, b.orientation)
    np.testing.assert_array_equal(a.valid, b.valid)
    assert not np.array_equal(np.nan_to_num(a.acceleration), np.nan_to_num(c.acceleration))
    # The default model on real-looking data: NaN only where dropped, errors of the documented size.
    err = np.nanstd(a.acceleration - rec.acceleration)
    assert 0.08 < err < 0.3
    with pytest.raises(ValueError):
        CorruptionModel(acc_noise=-1.0)


# --- normalisation -------------------------------------------------------------------------------

def _random_recording(rng, frames=50):
    return ImuRecording(sensors=SIX_SENSORS, orientation=_random_rotations(rng, (frames, 6)),
                        acceleration=rng.normal(scale=5.0, size=(frames, 6, 3)), fps=FPS)


def test_normalise_hand_computation():
    rng = np.random.default_rng(8)
    rec = _random_recording(rng)
    acc, ori = normalise(rec)
    a, R = rec.acceleration, rec.orientation
    for t in (0, 17, 49):
        Rr = R[t, 5]
        for i in range(5):
            np.testing.assert_allclose(acc[t, i], Rr.T @ (a[t, i] - a[t, 5]) / 30.0, atol=1e-12)
            np.testing.assert_allclose(ori[t, i], Rr.T @ R[t, i], atol=1e-12)
        np.testing.assert_allclose(acc[t, 5], Rr.T @ a[t, 5] / 30.0, atol=1e-12)     # rotated, not zeroed
        np.testing.assert_allclose(ori[t, 5], Rr, atol=1e-12)                       # global, unchanged
    # TransPose's row-vector form: cat(a[:5] - a[5], a[5]) @ R_root / 30.
    rows = np.concatenate((a[:, :5] - a[:, 5:], a[:, 5:]), axis=1)
    np.testing.assert_allclose(acc, np.einsum("tsj,tjk->tsk", rows, R[:, 5]) / 30.0, atol=1e-12)
    zero_acc, _ = normalise(rec, root_acc="zero")                                   # FIP's variant
    assert np.all(zero_acc[:, 5] == 0) and np.array_equal(zero_acc[:, :5], acc[:, :5])
    by_name, _ = normalise(rec, root="pelvis", acc_scale=1.0)
    np.testing.assert_allclose(by_name, acc * 30.0, atol=1e-12)


def test_normalise_is_invariant_to_a_global_rotation():
    rng = np.random.default_rng(9)
    rec = _random_recording(rng)
    G = _random_rotations(rng, ())
    turned = ImuRecording(sensors=rec.sensors, orientation=G @ rec.orientation,
                          acceleration=np.einsum("ij,tsj->tsi", G, rec.acceleration), fps=rec.fps)
    acc, ori = normalise(rec)
    acc2, ori2 = normalise(turned)
    np.testing.assert_allclose(acc2, acc, atol=1e-12)                # all six accelerations
    np.testing.assert_allclose(ori2[:, :5], ori[:, :5], atol=1e-12)  # the five root-relative orientations
    np.testing.assert_allclose(ori2[:, 5], G @ ori[:, 5], atol=1e-12)  # the root keeps its global one


def test_features_order_and_nan():
    rng = np.random.default_rng(10)
    rec = _random_recording(rng, frames=20)
    f = features(rec)
    acc, ori = normalise(rec)
    assert f.shape == (20, 72)
    np.testing.assert_array_equal(f[:, :18], acc.reshape(20, 18))
    np.testing.assert_array_equal(f[:, 18:], ori.reshape(20, 54))
    assert f[3, 3 * 2 + 1] == acc[3, 2, 1]                          # acc of sensor 2, y
    assert f[3, 18 + 9 * 4 + 3 * 1 + 2] == ori[3, 4, 1, 2]          # ori of sensor 4, row 1, column 2
    valid = np.ones((20, 6), bool)
    valid[5, 0] = False                                             # a lost forearm sample
    valid[7, 5] = False                                             # a lost root sample
    lossy = ImuRecording(sensors=rec.sensors, orientation=rec.orientation, acceleration=rec.acceleration,
                         fps=rec.fps, valid=valid)
    g = features(lossy)
    assert np.isnan(g[7]).all()
    assert np.isnan(g[5, 0:3]).all() and np.isnan(g[5, 18:27]).all()
    assert np.isfinite(np.delete(g[5], list(range(0, 3)) + list(range(18, 27)))).all()
    assert np.isfinite(np.delete(g, [5, 7], axis=0)).all()


def test_demo_motion_end_to_end():
    rec = virtual_imus(demo_motion(seconds=2.0))
    noisy = corrupt(rec, CorruptionModel(), 0)
    f = features(noisy)
    assert f.shape == (rec.num_frames, 72)
    ok = noisy.valid.all(axis=1)
    assert np.isfinite(f[ok]).all()
    # Normalised orientations stay rotations; the scaled accelerations are O(1).
    _, ori = normalise(noisy)
    R = ori[ok]
    np.testing.assert_allclose(np.swapaxes(R, -1, -2) @ R, np.broadcast_to(np.eye(3), R.shape), atol=1e-9)
    assert np.abs(f[ok, :18]).max() < 3.0
