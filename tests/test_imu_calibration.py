"""IMU calibration (core/imu/calibration) and direct mode for dense lower-body sets (core/imu/direct):
synthetic round trips in a Z-up device world with a random heading, error messages, and the real
recordings in ../shared/data/imu_real."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.imu.recording import ImuError, ImuRecording
from sparse_mocap_addon.core.imu.calibration import (CalibrationError, ImuCalibration, apply_calibration, calibrate,
                                                     world_alignment)
from sparse_mocap_addon.core.imu.direct import direct_motion, is_dense_lower_body, knee_flexion_deg
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.poses import mean_rotation, pose_rotations
from sparse_mocap_addon.core.kinematics.rotations import (axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_quat,
                                                          quat_slerp, quat_to_matrix)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, forward_kinematics
from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, virtual_imus

from .conftest import SHARED_DATA

IMU_REAL = SHARED_DATA / "imu_real"
# pelvis, upper legs, lower legs, feet, head, forearms
JOINTS = [0, 1, 2, 4, 5, 7, 8, 15, 18, 19]
FPS = 60.0


def held_then_walk(pose="t", hold=1.5, blend=0.5, walk=4.0):
    """The pose held for ``hold`` s, a slerp into the demo walk over ``blend`` s, then the walk."""
    m = demo_motion(seconds=walk, fps=FPS)
    q0 = matrix_to_quat(pose_rotations(pose)[1])
    nh, nb = int(hold * FPS), int(blend * FPS)
    w = np.linspace(0.0, 1.0, nb)[:, None]
    blended = quat_slerp(np.broadcast_to(q0, (nb, 24, 4)), np.broadcast_to(m.rotations[0], (nb, 24, 4)), w)
    rot = np.concatenate([np.broadcast_to(q0, (nh, 24, 4)), blended, m.rotations])
    tr = np.concatenate([np.broadcast_to(m.translation[0], (nh + nb, 3)), m.translation])
    return Motion(FPS, rot, tr, m.skeleton)


def to_device(rec: ImuRecording, heading_deg: float, world="test ENU (Z up)") -> ImuRecording:
    """The core-frame recording seen in a Z-up device world where the wearer faced ``heading_deg``
    (counter-clockwise from device +X)."""
    h = np.radians(heading_deg)
    W = world_alignment(np.array([0.0, 0.0, 1.0]), np.array([np.cos(h), np.sin(h), 0.0]))
    return ImuRecording(rec.sensors, np.einsum("ji,tsjk->tsik", W, rec.orientation), rec.acceleration @ W,
                        rec.fps, rec.valid, world=world, metadata={"up_axis": "+Z"})


def synthetic(pose="t", seed=0, noise=False):
    rng = np.random.default_rng(seed)
    motion = held_then_walk(pose)
    mount = axis_angle_to_matrix(rng.normal(size=(len(JOINTS), 3)) * 1.5)      # arbitrary strap-on
    core = virtual_imus(motion, JOINTS, mounting=mount)
    if noise:
        core = corrupt(core, CorruptionModel(), rng=seed)
    heading = float(rng.uniform(0.0, 360.0))
    _, bones = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    return motion, core, to_device(core, heading), heading, bones[:, JOINTS]


def angle_deg(a, b):
    return np.degrees(np.linalg.norm(matrix_to_axis_angle(np.swapaxes(a, -1, -2) @ b), axis=-1))


# --- synthetic round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("pose", ["t", "n"])
def test_round_trip_exact(pose):
    motion, core, dev, heading, bones = synthetic(pose, seed=3 if pose == "t" else 4)
    cal = calibrate(dev, pose=pose, duration_s=1.5)
    assert cal.metadata["heading"]["method"] == "knees"
    assert abs((cal.heading_deg - heading + 180.0) % 360.0 - 180.0) < 1e-6
    out = apply_calibration(dev, cal)
    assert out.world == "core" and out.sensors == core.sensors
    assert angle_deg(bones, out.orientation).max() < 1e-6
    np.testing.assert_allclose(out.acceleration, core.acceleration, atol=1e-9)
    assert cal.motion_deg.max() < 1e-6
    # The same heading given by hand, as degrees and as a facing vector, gives the same calibration.
    h = np.radians(heading)
    for given in (heading, (np.cos(h), np.sin(h), 0.3)):
        again = calibrate(dev, pose=pose, duration_s=1.5, heading=given)
        assert again.metadata["heading"]["method"] == "given"
        np.testing.assert_allclose(again.mounting, cal.mounting, atol=1e-9)


def test_heading_error_bends_the_knee_about_the_wrong_axis():
    """A wrong heading still reproduces the calibration pose, but joint rotations (yaw-invariant)
    come out wrong: what the module docstring derives."""
    motion, core, dev, heading, bones = synthetic("n", seed=5)
    true_local = quat_to_matrix(motion.rotations)
    for error, (low, high) in ((0.0, (0.0, 1e-6)), (15.0, (5.0, 25.0))):
        cal = calibrate(dev, pose="n", duration_s=1.5, heading=heading + error)
        out = apply_calibration(dev, cal)
        assert angle_deg(bones[:60], out.orientation[:60]).max() < 1e-6      # the held pose itself is exact
        g = {s: out.orientation[:, k] for k, s in enumerate(out.sensors)}
        knee = np.swapaxes(g["left_upper_leg"], -1, -2) @ g["left_lower_leg"]
        worst = angle_deg(true_local[:, JOINT_INDEX["left_knee"]], knee).max()
        assert low <= worst <= high, (error, worst)


def test_round_trip_with_corruption():
    motion, core, dev, heading, bones = synthetic("t", seed=7, noise=True)
    cal = calibrate(dev, duration_s=1.5)
    assert abs((cal.heading_deg - heading + 180.0) % 360.0 - 180.0) < 1.0
    out = apply_calibration(dev, cal)
    ok = out.valid
    assert (~ok).any()                                               # the corruption dropped samples
    assert np.isnan(out.orientation[~ok]).all()
    err = angle_deg(bones[ok], out.orientation[ok])
    # 0.5 deg white orientation noise per axis, 2 deg/min heading drift; the 5 deg strap error is
    # absorbed by the calibration.
    assert np.median(err) < 1.5 and np.percentile(err, 99) < 3.0 and err.max() < 5.0
    assert 0.3 < cal.motion_deg.max() < 5.0


def test_mean_rotation_is_the_geodesic_mean():
    rng = np.random.default_rng(1)
    centre = axis_angle_to_matrix(rng.normal(size=3))
    offsets = rng.normal(scale=0.3, size=(50, 3))
    offsets -= offsets.mean(axis=0)                                   # symmetric about the centre
    both = np.concatenate([offsets, -offsets])
    samples = centre @ axis_angle_to_matrix(both)
    mean = mean_rotation(samples[:, None])[0]
    assert angle_deg(centre, mean) < 1e-6
    valid = np.ones((100, 1), bool)
    valid[:3] = False
    samples[:3] = axis_angle_to_matrix(np.array([3.0, 0.0, 0.0]))     # ignored outliers
    samples[50:53] = centre @ axis_angle_to_matrix(-offsets[:3])       # keep the rest symmetric
    assert angle_deg(centre, mean_rotation(samples[:, None], valid)[0]) < 2.0


def test_dict_round_trip_is_json_safe():
    _, _, dev, _, _ = synthetic("n", seed=2)
    cal = calibrate(dev, pose="n", duration_s=1.5)
    text = json.dumps(cal.to_dict())
    back = ImuCalibration.from_dict(json.loads(text))
    assert back.sensors == cal.sensors and back.pose == "n" and back.frames == cal.frames
    np.testing.assert_allclose(back.mounting, cal.mounting, atol=1e-11)
    np.testing.assert_allclose(back.world, cal.world, atol=1e-11)
    np.testing.assert_allclose(apply_calibration(dev, back).orientation, apply_calibration(dev, cal).orientation,
                               atol=1e-9)
    assert ImuCalibration.from_dict(text).heading_deg == pytest.approx(cal.heading_deg)
    assert "n-pose" in cal.summary() and "knees" in cal.summary()


def test_custom_pose_and_core_world():
    """Given local rotations (a squat-like pose) in a recording already in the core frame."""
    rng = np.random.default_rng(11)
    local = np.broadcast_to(np.eye(3), (24, 3, 3)).copy()
    for side in ("left", "right"):
        local[JOINT_INDEX[f"{side}_hip"]] = axis_angle_to_matrix(np.array([-0.6, 0.0, 0.0]))
        local[JOINT_INDEX[f"{side}_knee"]] = axis_angle_to_matrix(np.array([0.9, 0.0, 0.0]))
    skeleton = skeleton_from_measurements(default_measurements())
    T = 90
    rot = np.broadcast_to(matrix_to_quat(local), (T, 24, 4)).copy()
    rot[60:, JOINT_INDEX["left_elbow"]] = matrix_to_quat(axis_angle_to_matrix(np.array([0.0, 0.8, 0.0])))
    motion = Motion(FPS, rot, np.zeros((T, 3)), skeleton)
    mount = axis_angle_to_matrix(rng.normal(size=(len(JOINTS), 3)))
    rec = virtual_imus(motion, JOINTS, mounting=mount)
    cal = calibrate(rec, pose=matrix_to_quat(local), duration_s=1.0)
    assert cal.pose == "custom" and cal.metadata["heading"]["method"] == "core"
    np.testing.assert_allclose(cal.world, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(cal.mounting, np.swapaxes(mount, -1, -2), atol=1e-9)
    _, bones = forward_kinematics(motion.rotations, motion.translation, skeleton)
    assert angle_deg(bones[:, JOINTS], apply_calibration(rec, cal).orientation).max() < 1e-6


# --- errors ---------------------------------------------------------------------------------------------

def test_window_not_still_names_sensor_angle_and_frames():
    _, _, dev, _, _ = synthetic("t", seed=1)
    with pytest.raises(CalibrationError) as info:
        calibrate(dev, duration_s=2.0)                              # the blend into the walk starts at 1.5 s
    text = str(info.value)
    assert "not still" in text and "deg" in text and "frames 9" in text and "'" in text
    moved = text.split("sensor '")[1].split("'")[0]
    assert moved in dev.sensors
    assert calibrate(dev, duration_s=2.0, max_motion_deg=None).motion_deg.max() > 5.0


def test_bad_inputs_one_sentence_each():
    _, core, dev, _, _ = synthetic("t", seed=1)
    no_up = ImuRecording(dev.sensors, dev.orientation, dev.acceleration, dev.fps, world="my device")
    with pytest.raises(CalibrationError, match="no known up axis"):
        calibrate(no_up, duration_s=1.0)
    assert calibrate(no_up, duration_s=1.0, up="+Z").metadata["up_axis"] == "+Z"
    with pytest.raises(CalibrationError, match="runs past the end"):
        calibrate(dev, start_s=5.5, duration_s=2.0)
    with pytest.raises(CalibrationError, match="unknown calibration pose"):
        calibrate(dev, pose="x")
    with pytest.raises(CalibrationError, match="heading must be"):
        calibrate(dev, duration_s=1.0, heading="north")
    with pytest.raises(CalibrationError, match="along the up axis"):
        calibrate(dev, duration_s=1.0, heading=(0.0, 0.0, 1.0))
    with pytest.raises(CalibrationError, match="the heading 'core' needs"):
        calibrate(dev, duration_s=1.0, heading="core")
    serials = ImuRecording(tuple(f"SN{k}" for k in range(len(dev.sensors))), dev.orientation, dev.acceleration,
                           dev.fps, world=dev.world, metadata=dev.metadata)
    with pytest.raises(CalibrationError, match="rides no known body segment"):
        calibrate(serials, duration_s=1.0)
    mapped = calibrate(serials, duration_s=1.0, segments=dict(zip(serials.sensors, dev.sensors)))
    assert apply_calibration(serials, mapped).sensors == dev.sensors
    # Six sensors (no upper legs) in a device world: the heading cannot come from the knees.
    six = [dev.index(s) for s in ("left_forearm", "right_forearm", "left_lower_leg", "right_lower_leg", "head",
                                  "pelvis")]
    only6 = ImuRecording(tuple(dev.sensors[k] for k in six), dev.orientation[:, six], dev.acceleration[:, six],
                         dev.fps, world=dev.world, metadata=dev.metadata)
    with pytest.raises(CalibrationError, match="give the heading in degrees"):
        calibrate(only6, duration_s=1.0)
    # Knees that never bend.
    still = ImuRecording(dev.sensors, dev.orientation[:90], dev.acceleration[:90], dev.fps, world=dev.world,
                         metadata=dev.metadata)
    with pytest.raises(CalibrationError, match="cannot estimate the heading from the knees"):
        calibrate(still, duration_s=1.0)
    # Swapped thigh/shank labels on one leg: the legs disagree by 180 degrees.
    swap = {"left_upper_leg": "left_lower_leg", "left_lower_leg": "left_upper_leg"}
    with pytest.raises(CalibrationError, match="knees disagree"):
        calibrate(dev, duration_s=1.0, segments=swap)
    cal = calibrate(dev, duration_s=1.0)
    with pytest.raises(CalibrationError, match="made for the world"):
        apply_calibration(core, cal)
    with pytest.raises(CalibrationError, match="no mounting for sensor"):
        apply_calibration(serials, cal)
    with pytest.raises(CalibrationError, match="lacks mounting"):
        ImuCalibration.from_dict({"sensors": ["pelvis"], "world": np.eye(3).tolist()})
    with pytest.raises(CalibrationError, match="not proper rotation"):
        ImuCalibration.from_dict({"sensors": ["pelvis"], "world": np.eye(3).tolist(), "mounting": [np.eye(3) * 2]})
    missing = ImuRecording(dev.sensors, dev.orientation, dev.acceleration, dev.fps, world=dev.world,
                           metadata=dev.metadata, valid=np.ones(dev.valid.shape, bool))
    missing.valid[:60, 0] = False
    missing.orientation[:60, 0] = np.nan
    with pytest.raises(CalibrationError, match="has no valid sample in the calibration window"):
        calibrate(missing, duration_s=1.0)


# --- direct mode --------------------------------------------------------------------------------------

def test_is_dense_lower_body():
    assert is_dense_lower_body(("pelvis", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg"))
    assert is_dense_lower_body(JOINT_INDEX) is False
    assert not is_dense_lower_body(("pelvis", "left_lower_leg", "right_lower_leg", "head"))


@pytest.mark.parametrize("feet", [True, False])
def test_direct_motion_synthetic(feet):
    motion, core, dev, _, _ = synthetic("t", seed=8)
    keep = [k for k, s in enumerate(dev.sensors) if feet or not s.endswith("_foot")]
    dev = ImuRecording(tuple(dev.sensors[k] for k in keep), dev.orientation[:, keep], dev.acceleration[:, keep],
                       dev.fps, world=dev.world, metadata=dev.metadata)
    # Drop a few samples of the right lower leg: bridged by slerp.
    dev.valid[200:203, dev.index("right_lower_leg")] = False
    dev.orientation[200:203, dev.index("right_lower_leg")] = np.nan
    calibrated = apply_calibration(dev, calibrate(dev, duration_s=1.5))
    out, report = direct_motion(calibrated, motion.skeleton)
    assert report["dropped_samples"] == 3 and report["feet_from_sensors"] is feet
    assert np.isfinite(out.rotations).all() and np.isfinite(out.translation).all()
    truth = quat_to_matrix(motion.rotations)
    got = quat_to_matrix(out.rotations)
    frames = np.r_[0:200, 203:len(truth)]
    driven = [0, 1, 2, 4, 5] + ([7, 8] if feet else [])
    assert angle_deg(truth[frames][:, driven], got[frames][:, driven]).max() < 1e-6
    assert angle_deg(truth[200:203, 5], got[200:203, 5]).max() < 2.0       # bridged frames (slerp over 67 ms)
    rest = [j for j in range(24) if j not in driven]
    assert angle_deg(np.eye(3), got[:, rest]).max() < 1e-9                 # upper body at rest on the pelvis
    # Feet on, never below, the floor; the walk goes forward (+Z) about as far as the truth.
    assert report["lowest_sole_m"] > -1e-9
    true_travel = motion.translation[-1, 2] - motion.translation[0, 2]
    assert abs(report["travel_heading_deg"]) < 10.0
    assert abs(report["travel_m"] - true_travel) < 0.25 * true_travel
    assert report["knee_flexion_deg"]["left"]["p95"] > 40.0 and report["knee_flexion_deg"]["left"]["p5"] > -1.0


def test_direct_motion_errors():
    _, core, dev, _, _ = synthetic("t", seed=8)
    skeleton = skeleton_from_measurements(default_measurements())
    with pytest.raises(ImuError, match="calibrate it first"):
        direct_motion(dev, skeleton)
    six = [core.index(s) for s in ("left_forearm", "right_forearm", "left_lower_leg", "right_lower_leg", "head",
                                   "pelvis")]
    only6 = ImuRecording(tuple(core.sensors[k] for k in six), core.orientation[:, six], core.acceleration[:, six],
                         core.fps)
    with pytest.raises(ImuError, match="missing left_upper_leg, right_upper_leg"):
        direct_motion(only6, skeleton)


# --- the real recordings --------------------------------------------------------------------------------

# OpenSense example (MT_012005D6_009-001_*.txt): sensor serials -> segments, as OpenSim's own
# IMU helper test lists them (back, pelvis, r.tibia, r.femur, l.tibia, l.femur, r.foot, l.foot).
OPENSENSE = {"00B42268": "chest", "00B42279": "pelvis", "00B4227D": "right_lower_leg",
             "00B4227C": "right_upper_leg", "00B421ED": "left_lower_leg", "00B421EE": "left_upper_leg",
             "00B421EF": "right_foot", "00B421E6": "left_foot"}
# (still window in seconds from the start, segments mapping)
REAL = {
    "xio_lower_body": (1.0, None),
    "opensense_xsens": (2.0, OPENSENSE),
    # Its LFemur and LTibia files are swapped (see test_movella_left_leg_labels_swapped).
    "movella_dot": (1.0, {"left_upper_leg": "left_lower_leg", "left_lower_leg": "left_upper_leg"}),
}


def _read(folder):
    from sparse_mocap_addon.core.imu.formats import read_imu

    path = IMU_REAL / folder
    if not path.exists():
        pytest.skip(f"{path} is absent (real IMU recordings live in ../shared/data/imu_real)")
    if folder == "transpose_example":
        pytest.importorskip("torch", reason="the TransPose example is torch .pt files")
    return read_imu(path)


def test_transpose_example_is_not_still_at_the_start():
    """Already in the core frame (bone orientations, vendor-calibrated) and moving from frame 0: the
    stillness check says so; without it calibration still gives finite results (heading 'core')."""
    rec = _read("transpose_example")
    with pytest.raises(CalibrationError, match="sensor 'right_forearm' turned up to"):
        calibrate(rec, pose="n")
    cal = calibrate(rec, pose="n", max_motion_deg=None)
    assert cal.metadata["heading"]["method"] == "core"
    out = apply_calibration(rec, cal)
    assert np.isfinite(out.orientation).all() and np.isfinite(out.acceleration).all()


@pytest.mark.parametrize("folder", sorted(REAL))
def test_real_lower_body_calibration_and_direct_mode(folder):
    rec = _read(folder)
    seconds, segments = REAL[folder]
    cal = calibrate(rec, duration_s=seconds, segments=segments)
    assert cal.metadata["heading"]["method"] == "knees"
    assert cal.motion_deg.max() < 2.0                                 # the wearers really held still
    legs = cal.metadata["heading"]["legs_deg"]
    assert abs((legs["left"] - legs["right"] + 180.0) % 360.0 - 180.0) < 30.0
    out = apply_calibration(rec, cal)
    assert np.isfinite(out.orientation[out.valid]).all() and np.isfinite(out.acceleration[out.valid]).all()
    # Held pose: every leg bone and the pelvis is upright (T-pose bones = identity) in the window.
    window = out.orientation[cal.start_frame:cal.start_frame + cal.frames]
    assert angle_deg(np.eye(3), window[out.valid[cal.start_frame:cal.start_frame + cal.frames]]).max() < 2.0
    assert is_dense_lower_body(out.sensors)
    motion, report = direct_motion(out, skeleton_from_measurements(default_measurements()))
    assert np.isfinite(motion.rotations).all() and np.isfinite(motion.translation).all()
    assert report["lowest_sole_m"] > -1e-9
    # Knees bend forwards (positive flexion) and hardly hyperextend, on both legs.
    for side, f in report["knee_flexion_deg"].items():
        assert f["p95"] > 40.0 and f["p5"] > -10.0, (side, f)
    # Hips: flexion (thigh forward) dominates extension, as in walking or sitting down.
    local = quat_to_matrix(motion.rotations)
    for j in (JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]):
        down = -local[:, j, :, 1]                                      # the thigh in the pelvis frame
        forward = np.degrees(np.arctan2(down[:, 2], -down[:, 1]))
        assert np.percentile(forward, 95) > 15.0 and np.percentile(forward, 5) > -35.0


@pytest.mark.parametrize("folder", ["xio_lower_body", "opensense_xsens"])
def test_real_walks_go_where_the_pelvis_faces(folder):
    """An independent check of the heading: the pelvis mounting is derived with the heading the
    knees gave; while walking, the root moves where the pelvis faces."""
    rec = _read(folder)
    seconds, segments = REAL[folder]
    out = apply_calibration(rec, calibrate(rec, duration_s=seconds, segments=segments))
    motion, _ = direct_motion(out, skeleton_from_measurements(default_measurements()))
    forward = quat_to_matrix(motion.rotations[:, 0])[:, :, 2]
    velocity = np.gradient(motion.translation, axis=0) * motion.fps
    speed = np.hypot(velocity[:, 0], velocity[:, 2])
    walking = speed > 0.5
    assert walking.sum() > 2 * motion.fps
    gap = np.degrees(np.arctan2(velocity[:, 0], velocity[:, 2]) - np.arctan2(forward[:, 0], forward[:, 2]))
    gap = (gap + 180.0) % 360.0 - 180.0
    assert np.median(np.abs(gap[walking])) < 25.0


def test_movella_left_leg_labels_swapped():
    """As exported, the Movella DOT set's knees disagree by about 180 deg: one leg's thigh and shank
    labels are swapped. Swapping the left pair makes the legs agree and gives forward hip flexion
    (swapping the right pair instead gives hips extending 30 deg backwards: implausible)."""
    rec = _read("movella_dot")
    with pytest.raises(CalibrationError, match="knees disagree"):
        calibrate(rec, duration_s=1.0)
    legs = calibrate(rec, duration_s=1.0, segments=REAL["movella_dot"][1]).metadata["heading"]["legs_deg"]
    assert abs(legs["left"] - legs["right"]) < 5.0


def test_knee_flexion_sign():
    bent = axis_angle_to_matrix(np.array([[0.5, 0.0, 0.0], [-0.2, 0.0, 0.0]]))
    np.testing.assert_allclose(knee_flexion_deg(bent), np.degrees([0.5, -0.2]), atol=1e-9)
