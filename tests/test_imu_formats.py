"""IMU recording readers (TransPose tensors, generic CSV, Xsens MT, Movella DOT, x-io x-IMU3),
the CSV writer, resampling, and the real recordings in ../shared/data/imu_real."""

from __future__ import annotations

import gzip
import sys

import numpy as np
import pytest

from sparse_mocap_addon.core.imu.formats import read_imu, resample_imu, segment_name, write_imu_csv
from sparse_mocap_addon.core.imu.recording import GRAVITY, SIX_SENSORS, ImuError, ImuRecording
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_matrix, matrix_to_quat, quat_to_matrix

from .conftest import SHARED_DATA

IMU_REAL = SHARED_DATA / "imu_real"
EZ = np.array([0.0, 0.0, 1.0])


def random_rotations(shape, seed=0):
    return axis_angle_to_matrix(np.random.default_rng(seed).normal(scale=1.2, size=tuple(shape) + (3,)))


def slow_recording(frames=40, fps=60.0, sensors=("pelvis", "left_lower_leg", "head"), seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    axes = rng.normal(size=(len(sensors), 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    start = random_rotations((len(sensors),), seed)
    ori = axis_angle_to_matrix(axes * 0.7 * t[:, None, None]) @ start
    acc = rng.normal(size=(frames, len(sensors), 3))
    return ImuRecording(sensors=sensors, orientation=ori, acceleration=acc, fps=fps, source="synthetic")


# --- segment names --------------------------------------------------------------------------------

@pytest.mark.parametrize("label, expected", [
    ("Left Lower Leg", "left_lower_leg"), ("pelvis", "pelvis"), ("Left Foot", "left_foot"),
    ("Right Upper Leg", "right_upper_leg"), ("LFemur", "left_upper_leg"), ("RTibia", "right_lower_leg"),
    ("Pelvis", "pelvis"), ("femur_l_imu", "left_upper_leg"), ("calcn_r_imu", "right_foot"),
    ("torso_imu", "chest"), ("RightForeArm", "right_forearm"), ("00B421EE", None), ("Yao", None),
])
def test_segment_names(label, expected):
    assert segment_name(label) == expected


# --- generic CSV ----------------------------------------------------------------------------------

def test_csv_round_trip_with_missing_samples(tmp_path):
    rec = slow_recording()
    valid = np.ones((rec.num_frames, 3), dtype=bool)
    valid[5, 1] = valid[20, 0] = False
    rec = ImuRecording(rec.sensors, rec.orientation, rec.acceleration, rec.fps, valid=valid, source="synthetic")
    for name in ("rec.csv", "rec.csv.gz"):
        path = write_imu_csv(rec, tmp_path / name)
        back = read_imu(path)
        assert back.sensors == rec.sensors and back.fps == 60.0 and back.world == "core"
        assert back.num_frames == rec.num_frames
        np.testing.assert_array_equal(back.valid, valid)
        np.testing.assert_allclose(back.orientation[valid], rec.orientation[valid], atol=1e-8)
        np.testing.assert_allclose(back.acceleration[valid], rec.acceleration[valid], atol=1e-8)
        np.testing.assert_allclose(back.metadata["times"], np.arange(rec.num_frames) / 60.0, atol=1e-12)
        assert back.metadata["up_axis"] == "+Y"
    assert (tmp_path / "rec.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.csv", "rec.csv.gz"]      # no temp files left


def test_csv_writer_replaces_atomically(tmp_path):
    path = tmp_path / "rec.csv"
    path.write_text("old")
    write_imu_csv(slow_recording(frames=5), path)
    assert path.read_text().startswith("# sparse_mocap IMU CSV 1")
    assert [p.name for p in tmp_path.iterdir()] == ["rec.csv"]


def csv_text(rows, header="time,pelvis_qw,pelvis_qx,pelvis_qy,pelvis_qz,pelvis_ax,pelvis_ay,pelvis_az", meta=()):
    return "\n".join(list(meta) + [header] + rows) + "\n"


def test_csv_gravity_included(tmp_path):
    """A lab frame with Z up and accelerometer readings rotated into it: 9.81 along +Z is removed,
    by the metadata line or by the per-row flag."""
    rows = [f"{k / 100:.2f},1,0,0,0,0.5,0,{GRAVITY + 0.25}" for k in range(5)]
    path = tmp_path / "g.csv"
    path.write_text(csv_text(rows, meta=("# world: lab", "# up: +Z", "# gravity: included")))
    rec = read_imu(path)
    assert rec.world == "lab" and rec.fps == 100.0 and rec.metadata["up_axis"] == "+Z"
    np.testing.assert_allclose(rec.acceleration[:, 0], [[0.5, 0.0, 0.25]] * 5, atol=1e-9)
    header = "time,gravity_included,pelvis_qw,pelvis_qx,pelvis_qy,pelvis_qz,pelvis_ax,pelvis_ay,pelvis_az"
    rows = [f"{k / 100:.2f},{k % 2},1,0,0,0,0,{GRAVITY * (k % 2)},0" for k in range(4)]
    path.write_text(csv_text(rows, header=header))                  # core frame: up is +Y
    np.testing.assert_allclose(read_imu(path).acceleration[:, 0], 0.0, atol=1e-9)
    path.write_text(csv_text(["0,1,0,0,0,0,0,9.8", "0.01,1,0,0,0,0,0,9.8"], meta=("# world: lab", "# gravity: included")))
    with pytest.raises(ImuError, match=r"g\.csv: the acceleration includes gravity but the world 'lab' has no up axis"):
        read_imu(path)


def test_csv_jittery_times_are_resampled(tmp_path):
    """Time stamps with +-3 ms jitter around 50 Hz: the reader puts the samples on a 50 Hz grid."""
    rng = np.random.default_rng(3)
    t = np.round(np.arange(100) / 50.0 + rng.uniform(-0.003, 0.003, 100), 6)
    t[0] = 0.0
    angle = 0.5 * t
    rows = [f"{ti:.6f},{np.cos(a / 2)},0,{np.sin(a / 2)},0,{1 + 2 * ti},0,0" for ti, a in zip(t, angle)]
    path = tmp_path / "jitter.csv"
    path.write_text(csv_text(rows))
    rec = read_imu(path)
    assert rec.fps == 50.0 and rec.valid.all()
    grid = rec.metadata["times"]
    np.testing.assert_allclose(np.diff(grid), 0.02, atol=1e-12)
    expected = axis_angle_to_matrix(np.array([0.0, 1.0, 0.0]) * 0.5 * grid[:, None])
    np.testing.assert_allclose(rec.orientation[:, 0], expected, atol=1e-6)
    np.testing.assert_allclose(rec.acceleration[:, 0, 0], 1 + 2 * grid, atol=1e-9)
    assert read_imu(path, fps=60).fps == 60.0


@pytest.mark.parametrize("rows, header, message", [
    (["0,1,0,0,0,0,0,0"], "time,pelvis_qw,pelvis_qx,pelvis_qz,pelvis_ax,pelvis_ay,pelvis_az",
     r"bad\.csv, line 1: sensor pelvis has no pelvis_qy column"),
    (["0,1,0,0,0,0,0,0", "0.01,1,0,0,0,abc,0,0"], None, r"bad\.csv, line 3: 'abc' in column pelvis_ax is not a number"),
    (["0,1,0,0,0,0,0,0", "0.01,1,0,0,0,0,0,0", "0.01,1,0,0,0,0,0,0"], None,
     r"bad\.csv, line 4: the time stamp 0\.010000 s does not come after the previous one"),
    (["0,1,0,0,0,0,0,0", "0.01,0,0,0,0,0,0,0"], None, r"bad\.csv, line 3: the quaternion of sensor pelvis has zero length"),
    (["0,1,0,0,0,0,0,0", "0.01,1,0,0,0,0,0"], None, r"bad\.csv, line 3: 7 values but the header \(line 1\) has 8 columns"),
    (["0,1,0,0,0,0,0,0"], "time,pelvis_qw,pelvis_qx,pelvis_qy,pelvis_qz,pelvis_ax,pelvis_ay,pelvis_az,speed",
     r"bad\.csv, line 1: the column 'speed' is neither time"),
    (["0,1,0,0,0,0,0,0"], "t,pelvis_qw,pelvis_qx,pelvis_qy,pelvis_qz,pelvis_ax,pelvis_ay,pelvis_az",
     r"bad\.csv, line 1: the column 't' is neither"),
])
def test_csv_bad_input(tmp_path, rows, header, message):
    path = tmp_path / "bad.csv"
    path.write_text(csv_text(rows) if header is None else csv_text(rows, header=header))
    with pytest.raises(ImuError, match=message):
        read_imu(path)


# --- TransPose / PIP tensors ----------------------------------------------------------------------

def tensor_arrays(frames=12):
    ori = random_rotations((frames, 6), seed=4)
    acc = np.random.default_rng(4).normal(size=(frames, 6, 3))
    return acc, ori


def test_npz_tensors(tmp_path):
    acc, ori = tensor_arrays()
    np.savez(tmp_path / "rec.npz", acc=acc.astype(np.float32), ori=ori.astype(np.float32))
    rec = read_imu(tmp_path / "rec.npz")
    assert rec.sensors == SIX_SENSORS and rec.fps == 60.0 and rec.world == "core"
    assert rec.metadata["fps_assumed"] and rec.metadata["up_axis"] == "+Y"
    np.testing.assert_allclose(rec.orientation, ori, atol=1e-6)
    np.testing.assert_allclose(rec.acceleration, acc, atol=1e-6)
    assert read_imu(tmp_path, fps=30).fps == 30.0                 # a folder with one .npz
    np.savez(tmp_path / "flat.npz", acc=acc, ori=ori.reshape(12, 6, 9), fps=100.0)
    assert read_imu(tmp_path / "flat.npz").fps == 100.0


def test_tensor_errors(tmp_path):
    acc, ori = tensor_arrays()
    np.savez(tmp_path / "a.npz", acc=acc)
    with pytest.raises(ImuError, match=r"a\.npz: no ori array"):
        read_imu(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", acc=acc, ori=ori[:, :5])
    with pytest.raises(ImuError, match=r"b\.npz: ori has shape \(12, 5, 3, 3\); expected \(12, 6, 3, 3\)"):
        read_imu(tmp_path / "b.npz")
    bad = ori.copy()
    bad[7, 2] *= 2.0
    np.savez(tmp_path / "c.npz", acc=acc, ori=bad)
    with pytest.raises(ImuError, match=r"c\.npz, frame 7, sensor left_lower_leg: the orientation matrix is not orthonormal"):
        read_imu(tmp_path / "c.npz")


def test_pt_tensors(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is optional")
    acc, ori = tensor_arrays()
    torch.save(torch.tensor(acc, dtype=torch.float32), tmp_path / "acc.pt")
    torch.save(torch.tensor(ori, dtype=torch.float32), tmp_path / "ori.pt")
    for path in (tmp_path, tmp_path / "acc.pt", tmp_path / "ori.pt"):
        rec = read_imu(path)
        assert rec.sensors == SIX_SENSORS and rec.num_frames == 12
        np.testing.assert_allclose(rec.orientation, ori, atol=1e-6)
    torch.save({"acc": torch.tensor(acc), "ori": torch.tensor(ori)}, tmp_path / "both.pt")
    np.testing.assert_allclose(read_imu(tmp_path / "both.pt").acceleration, acc, atol=1e-12)


def test_pt_without_torch(tmp_path, monkeypatch):
    (tmp_path / "acc.pt").write_bytes(b"x")
    (tmp_path / "ori.pt").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "torch", None)             # import torch raises ImportError
    with pytest.raises(ImuError, match=r"acc\.pt: reading \.pt files needs PyTorch, which is not installed"):
        read_imu(tmp_path)


# --- Xsens MT Manager exports -----------------------------------------------------------------------

XSENS_COLUMNS = (["PacketCounter", "SampleTimeFine", "Acc_X", "Acc_Y", "Acc_Z"]
                 + [f"Mat[{i}][{j}]" for j in (1, 2, 3) for i in (1, 2, 3)])    # column by column, as MT Manager


def xsens_text(counters, rotations, free_acc, rate=100.0, quaternions=False):
    """An MT Manager export: accelerometer = R^T (a_free + g e_Z) in the sensor frame."""
    specific = np.einsum("nji,nj->ni", rotations, free_acc + GRAVITY * EZ)
    if quaternions:
        columns = XSENS_COLUMNS[:5] + ["Quat_q0", "Quat_q1", "Quat_q2", "Quat_q3"]
        orient = matrix_to_quat(rotations)
    else:
        columns = XSENS_COLUMNS
        orient = np.stack([rotations[:, i - 1, j - 1] for j in (1, 2, 3) for i in (1, 2, 3)], axis=-1)
    lines = ["// Start Time: Unknown", f"// Update Rate: {rate:.1f}Hz", "// Filter Profile: human (46.1)",
             "// Option Flags: AHS Disabled ICC Disabled ", "// Firmware Version: 4.0.2", "\t".join(columns)]
    for c, a, o in zip(counters, specific, orient):
        lines.append("\t".join([f"{int(c) % 65536:05d}", ""] + [f"{v:.9f}" for v in a] + [f"{v:.9f}" for v in o]))
    return "\n".join(lines) + "\n"


def test_xsens_matrix_convention(tmp_path):
    """Mat[i][j] is row i, column j of R_GS (sensor -> global); Acc is the sensor-frame specific force."""
    frames = 30
    rot = axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))        # sensor X points along global Y
    rotations = np.repeat(rot[None], frames, axis=0)
    free = np.zeros((frames, 3))
    free[:, 0] = np.linspace(0.0, 2.0, frames)
    path = tmp_path / "MT_012005D6_009-001_00B421EE.txt.gz"
    path.write_bytes(gzip.compress(xsens_text(np.arange(100, 100 + frames), rotations, free).encode()))
    rec = read_imu(path)
    assert rec.sensors == ("00B421EE",) and rec.fps == 100.0 and rec.world == "xsens ENU (Z up)"
    assert rec.metadata["up_axis"] == "+Z"
    np.testing.assert_allclose(rec.orientation[:, 0], rotations, atol=1e-8)
    np.testing.assert_allclose(rec.orientation[0, 0] @ [1.0, 0, 0], [0.0, 1.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(rec.acceleration[:, 0], free, atol=1e-7)

    tilted = random_rotations((frames,), seed=9)
    path.write_bytes(gzip.compress(xsens_text(np.arange(frames), tilted, free, quaternions=True).encode()))
    rec = read_imu(path)
    np.testing.assert_allclose(rec.orientation[:, 0], tilted, atol=1e-7)
    np.testing.assert_allclose(rec.acceleration[:, 0], free, atol=1e-6)


def test_xsens_folder_alignment_wrap_and_mapping(tmp_path):
    rotations = random_rotations((300,), seed=2)
    free = np.zeros((300, 3))
    (tmp_path / "MT_1_00B421EE.txt").write_text(xsens_text(np.arange(65436, 65436 + 200), rotations[:200], free[:200]))
    (tmp_path / "MT_1_00B4227D.txt").write_text(xsens_text(np.arange(65486, 65486 + 200), rotations[:200], free[:200]))
    rec = read_imu(tmp_path)                          # counters wrap at 65536 in both files
    assert rec.sensors == ("00B421EE", "00B4227D") and rec.num_frames == 150
    assert rec.metadata["frames_cut"] == {"00B421EE": 50, "00B4227D": 50}
    np.testing.assert_allclose(np.diff(rec.metadata["times"]), 0.01, atol=1e-9)
    np.testing.assert_allclose(rec.acceleration, 0.0, atol=1e-6)
    (tmp_path / "myIMUMappings.xml").write_text(
        '<?xml version="1.0"?><XsensDataReaderSettings><ExperimentalSensors>'
        '<ExperimentalSensor name="_00B421EE"><name_in_model>femur_l_imu</name_in_model></ExperimentalSensor>'
        '<ExperimentalSensor name="_00B4227D"><name_in_model>tibia_r_imu</name_in_model></ExperimentalSensor>'
        '</ExperimentalSensors><trial_prefix>MT_1_</trial_prefix></XsensDataReaderSettings>')
    rec = read_imu(tmp_path)
    assert rec.sensors == ("left_upper_leg", "right_lower_leg")
    assert rec.metadata["serials"] == {"left_upper_leg": "00B421EE", "right_lower_leg": "00B4227D"}


def test_xsens_bad_input(tmp_path):
    good = xsens_text(np.arange(5), random_rotations((5,)), np.zeros((5, 3)))
    path = tmp_path / "MT_x_00B421EE.txt"
    path.write_text(good.replace("// Update Rate: 100.0Hz", "// Update Rate: unknown"))
    with pytest.raises(ImuError, match=r"00B421EE\.txt: no '// Update Rate: <n>Hz' line"):
        read_imu(path)
    path.write_text(good.replace("Mat[2][3]", "Mat[2][4]"))
    with pytest.raises(ImuError, match=r"00B421EE\.txt, line 6: no orientation columns; expected Mat\[1\]\[1\]"):
        read_imu(path)
    lines = good.splitlines()
    lines[8] = lines[8].replace(lines[8].split("\t")[3], "x1.5", 1)
    path.write_text("\n".join(lines))
    with pytest.raises(ImuError, match=r"00B421EE\.txt, line 9: 'x1\.5' in column Acc_Y is not a number"):
        read_imu(path)


# --- Movella DOT ------------------------------------------------------------------------------------

def dot_text(stamps, quats, free):
    meta = ["sep=,", "DeviceTag:,Yao", "FirmwareVersion:,2.0.0", "AppVersion:,2021.0", "SyncStatus:,Synced",
            "OutputRate:,60Hz", "FilterProfile:,General", "Measurement Mode:,Sensor fusion Mode - Extended(Quaternion)",
            "StartTime: ,2021-08-20_20:21:13_835 GMT+8", "\u00a9 Xsens Technologies B. V. 2005-2021", "",
            "PacketCounter,SampleTimeFine,Quat_W,Quat_X,Quat_Y,Quat_Z,FreeAcc_X,FreeAcc_Y,FreeAcc_Z,Status"]
    rows = [f"{k + 1},{int(s) % 2 ** 32}," + ",".join(f"{v:.6f}" for v in list(q) + list(a)) + ",0"
            for k, (s, q, a) in enumerate(zip(stamps, quats, free))]
    return "\n".join(meta + rows)


def test_dot_timestamp_wrap_and_names(tmp_path):
    n = 60
    stamps = 2 ** 32 - 10 * 16667 + np.arange(n) * 16667           # wraps after 10 samples
    quats = np.repeat(matrix_to_quat(random_rotations((1,), seed=5)), n, axis=0)
    free = np.tile([0.1, -0.2, 0.3], (n, 1))
    (tmp_path / "LFemur_20210820_202113_831.csv").write_text(dot_text(stamps, quats, free), encoding="utf-8")
    (tmp_path / "RTibia_20210820_202113_825.csv").write_text(dot_text(stamps[5:], quats[5:], free[5:]), encoding="utf-8")
    rec = read_imu(tmp_path)
    assert rec.sensors == ("left_upper_leg", "right_lower_leg") and rec.world == "movella ENU (Z up)"
    assert rec.fps == 60.0 and rec.num_frames == n - 5 and rec.valid.all()
    assert rec.metadata["frames_cut"] == {"left_upper_leg": 5, "right_lower_leg": 0}
    times = rec.metadata["times"]
    assert np.all(np.diff(times) > 0) and times[0] > 2 ** 32 * 1e-6 - 0.2
    np.testing.assert_allclose(rec.orientation[:, 0], quat_to_matrix(quats[5:]), atol=1e-5)
    np.testing.assert_allclose(rec.acceleration[:, 1], free[5:], atol=1e-6)
    single = read_imu(tmp_path / "RTibia_20210820_202113_825.csv")
    assert single.sensors == ("right_lower_leg",) and single.num_frames == n - 5


def test_dot_bad_input(tmp_path):
    quats = matrix_to_quat(random_rotations((4,)))
    quats[2] = 0.0
    path = tmp_path / "Pelvis_1.csv"
    path.write_text(dot_text(np.arange(4) * 16667, quats, np.zeros((4, 3))))
    with pytest.raises(ImuError, match=r"Pelvis_1\.csv, line 15: the quaternion has zero length"):
        read_imu(path)
    path.write_text(dot_text(np.array([0, 16667, 16667, 50000]), matrix_to_quat(random_rotations((4,))), np.zeros((4, 3))))
    with pytest.raises(ImuError, match=r"Pelvis_1\.csv, line 15: the time stamp 0\.016667 s does not come after"):
        read_imu(path)


# --- x-io x-IMU3 ------------------------------------------------------------------------------------

def write_xio_sensor(folder, stamps_us, quats, acc_g, inertial_stamps=None):
    folder.mkdir(parents=True)
    inertial_stamps = stamps_us if inertial_stamps is None else inertial_stamps
    lines = ["Timestamp (us),Gyroscope X (deg/s),Gyroscope Y (deg/s),Gyroscope Z (deg/s),"
             "Accelerometer X (g),Accelerometer Y (g),Accelerometer Z (g)"]
    lines += [f"{int(s)},0.1,0.2,0.3," + ",".join(f"{v:.9f}" for v in a) for s, a in zip(inertial_stamps, acc_g)]
    (folder / "Inertial.csv").write_text("\n".join(lines) + "\n")
    lines = ["Timestamp (us),W,X,Y,Z"] + [f"{int(s)}," + ",".join(f"{v:.9f}" for v in q) for s, q in zip(stamps_us, quats)]
    (folder / "Quaternion.csv").write_text("\n".join(lines) + "\n")


def test_xio_conventions(tmp_path):
    """The quaternion takes sensor vectors to the earth frame (NWU, Z up); a sensor lying still reads
    +1 g along earth Z in its own frame, so its free acceleration is ~0; a known acceleration comes back."""
    n = 100
    stamps = 917_419_171 + np.arange(n) * 20_000 + np.random.default_rng(0).integers(-30, 30, n)
    rot = axis_angle_to_matrix(np.array([0.4, -1.1, 0.3]))
    rotations = np.repeat(rot[None], n, axis=0)
    still_g = np.einsum("nji,j->ni", rotations, EZ)                     # R^T e_z
    write_xio_sensor(tmp_path / "rec" / "Left Lower Leg 64F61CB3 (UDP)", stamps, matrix_to_quat(rotations), still_g)
    moving = np.zeros((n, 3))
    moving[:, 1] = 1.5
    write_xio_sensor(tmp_path / "rec" / "pelvis 64F0EDBF (UDP)", stamps, matrix_to_quat(rotations),
                     np.einsum("nji,nj->ni", rotations, moving / GRAVITY + EZ))
    rec = read_imu(tmp_path / "rec")
    assert rec.sensors == ("pelvis", "left_lower_leg") and rec.fps == 50.0
    assert rec.world == "x-io earth NWU (Z up)" and rec.metadata["up_axis"] == "+Z"
    assert rec.metadata["serials"] == {"pelvis": "64F0EDBF", "left_lower_leg": "64F61CB3"}
    np.testing.assert_allclose(rec.orientation[:, 1], rotations[: rec.num_frames], atol=1e-7)
    assert np.abs(rec.acceleration[:, 1]).max() < 1e-6
    np.testing.assert_allclose(rec.acceleration[:, 0], moving[: rec.num_frames], atol=1e-6)
    single = read_imu(tmp_path / "rec" / "pelvis 64F0EDBF (UDP)" / "Quaternion.csv")
    assert single.sensors == ("pelvis",)


def test_xio_ned_and_separate_timestamps(tmp_path):
    """An AHRS set to NED: the rotated accelerometer reads 1 g along -Z, so up is -Z; accelerometer
    samples at other times are interpolated onto the quaternion times."""
    n = 80
    stamps = np.arange(n) * 20_000
    rotations = np.repeat(random_rotations((1,), seed=11), n, axis=0)
    acc_stamps = stamps + 7_000
    write_xio_sensor(tmp_path / "Right Foot 64F619FB (UDP)", stamps, matrix_to_quat(rotations),
                     np.einsum("nji,j->ni", rotations, -EZ), inertial_stamps=acc_stamps)
    rec = read_imu(tmp_path)
    assert rec.sensors == ("right_foot",) and rec.world == "x-io earth NED (Z down)"
    assert rec.metadata["up_axis"] == "-Z"
    assert not rec.valid[0, 0] and rec.valid[1:, 0].all()               # no accelerometer sample yet at t=0
    assert np.nanmax(np.abs(rec.acceleration)) < 1e-6


def test_xio_bad_input(tmp_path):
    folder = tmp_path / "Left Foot 64F0EBCE (UDP)"
    write_xio_sensor(folder, np.arange(5) * 20_000, matrix_to_quat(random_rotations((5,))), np.tile(EZ, (5, 1)))
    (folder / "Quaternion.csv").write_text("Timestamp (us),W,X,Y\n0,1,0,0\n")
    with pytest.raises(ImuError, match=r"Quaternion\.csv, line 1: no 'Z' column"):
        read_imu(tmp_path)
    (folder / "Quaternion.csv").unlink()
    with pytest.raises(ImuError, match=r"Quaternion\.csv: no such file; an x-IMU3 sensor folder needs"):
        read_imu(tmp_path)


# --- dispatch -------------------------------------------------------------------------------------

def test_read_imu_dispatch_errors(tmp_path):
    with pytest.raises(ImuError, match=r"nothing\.csv: no such file or folder"):
        read_imu(tmp_path / "nothing.csv")
    with pytest.raises(ImuError, match="kind must be one of"):
        read_imu(tmp_path, kind="vicon")
    (tmp_path / "notes.json").write_text("{}")
    with pytest.raises(ImuError, match=r"notes\.json: unknown IMU file type '\.json'"):
        read_imu(tmp_path / "notes.json")
    with pytest.raises(ImuError, match="no IMU recording found"):
        read_imu(tmp_path)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ImuError, match=r"x\.csv: not a known IMU CSV"):
        read_imu(tmp_path / "x.csv")


# --- resampling -----------------------------------------------------------------------------------

def test_resample_48_to_60_exact_on_slow_rotation():
    """A constant-rate rotation about a fixed axis is exactly a slerp between any two samples, and a
    linear acceleration is exactly a linear interpolation: 48 -> 60 Hz matches the analytic signal."""
    rec = slow_recording(frames=97, fps=48.0)                 # 2 s
    out = resample_imu(rec, 60.0)
    assert out.fps == 60.0 and out.num_frames == 121 and out.valid.all()
    t = out.metadata["times"]
    np.testing.assert_allclose(t, np.arange(121) / 60.0, atol=1e-12)
    truth = slow_recording(frames=121, fps=60.0)              # same axes, start and rate: the analytic orientations
    np.testing.assert_allclose(out.orientation, truth.orientation, atol=1e-6)
    slope = np.array([[1.0, -2.0, 0.5], [0.0, 4.0, 1.0], [-3.0, 0.0, 0.0]])
    ramp = ImuRecording(rec.sensors, rec.orientation, np.arange(97)[:, None, None] / 48.0 * slope + 3.0, 48.0)
    np.testing.assert_allclose(resample_imu(ramp, 60.0).acceleration, t[:, None, None] * slope + 3.0, atol=1e-12)


def test_resample_constant_stays_constant():
    rot = random_rotations((2,), seed=8)
    rec = ImuRecording(("pelvis", "head"), np.repeat(rot[None], 50, axis=0), np.full((50, 2, 3), 0.7), 100.0)
    out = resample_imu(rec, 60.0)
    assert out.num_frames == 30
    np.testing.assert_allclose(out.orientation, np.repeat(rot[None], 30, axis=0), atol=1e-12)
    np.testing.assert_allclose(out.acceleration, 0.7, atol=1e-12)


def test_resample_invalid_stays_invalid():
    rec = slow_recording(frames=20, fps=60.0)
    valid = np.ones((20, 3), dtype=bool)
    valid[10, 0] = False
    rec = ImuRecording(rec.sensors, rec.orientation, rec.acceleration, 60.0, valid=valid)
    out = resample_imu(rec, 120.0)
    bad = np.flatnonzero(~out.valid[:, 0])
    np.testing.assert_array_equal(bad, [19, 20, 21])          # every new frame that touches frame 10
    assert out.valid[:, 1:].all() and np.isnan(out.acceleration[20, 0]).all()


def test_resample_uses_recorded_times():
    """Real time stamps (a gap of two frames) in metadata["times"] are honoured."""
    times = np.array([0.0, 0.1, 0.2, 0.5, 0.6])
    acc = (times * 10.0)[:, None, None] * np.ones((1, 1, 3))
    rec = ImuRecording(("pelvis",), np.repeat(np.eye(3)[None, None], 5, axis=0), acc, 10.0, metadata={"times": times})
    out = resample_imu(rec, 10.0)
    assert out.num_frames == 7 and out.valid.all()            # the 0.3 s gap is bridged (<= 3.5 periods)
    np.testing.assert_allclose(out.acceleration[:, 0, 0], np.arange(7), atol=1e-12)
    with pytest.raises(ImuError, match="frame 2: the frame times"):
        resample_imu(ImuRecording(("pelvis",), rec.orientation[:3], acc[:3], 10.0,
                                  metadata={"times": np.array([0.0, 0.1, 0.1])}), 60.0)


# --- the real recordings ------------------------------------------------------------------------------

# Each recording: folder, frames, fps, sensors, and the bound on the median free-acceleration
# magnitude measured over the whole recording (walking, and TransPose's vigorous full-body take,
# really are above 1.5 m/s^2; gravity left in or mis-rotated gives 8-20 m/s^2).
REAL = {
    "transpose_example": (1760, 60.0, SIX_SENSORS, 3.0),
    "xio_lower_body": (930, 50.0, ("pelvis", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg",
                                   "left_foot", "right_foot"), 1.5),
    "opensense_xsens": (2432, 100.0, ("00B421E6", "00B421ED", "00B421EE", "00B421EF", "00B42268", "00B42279",
                                      "00B4227C", "00B4227D"), 2.0),
    "movella_dot": (352, 60.0, ("pelvis", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg"), 1.5),
}


@pytest.mark.parametrize("folder", sorted(REAL))
def test_real_recordings(folder):
    path = IMU_REAL / folder
    if not path.exists():
        pytest.skip(f"{path} is absent (real IMU recordings live in ../shared/data/imu_real)")
    if folder == "transpose_example":
        pytest.importorskip("torch", reason="the TransPose example is torch .pt files")
    frames, fps, sensors, median_bound = REAL[folder]
    rec = read_imu(path)
    assert rec.num_frames == frames and rec.fps == fps and rec.sensors == sensors
    assert rec.orientation.shape == (frames, len(sensors), 3, 3)
    assert rec.valid.mean() > 0.95 and rec.valid.any(axis=0).all()
    ok = rec.valid
    assert np.isfinite(rec.orientation[ok]).all() and np.isfinite(rec.acceleration[ok]).all()
    r = rec.orientation[ok]
    assert np.abs(np.swapaxes(r, -1, -2) @ r - np.eye(3)).max() < 1e-4
    assert np.linalg.det(r).min() > 0.999
    # Gravity removed the right way: the free acceleration is small and averages to ~0 over the take
    # (velocity changes little from start to end); a leftover or doubled g averages to 9.8-19.6.
    magnitude = np.linalg.norm(rec.acceleration, axis=-1)
    assert np.nanmedian(magnitude) < median_bound
    assert np.linalg.norm(np.nanmean(rec.acceleration, axis=0), axis=-1).max() < 1.0
    up = np.array([0.0, 1.0, 0.0]) if rec.metadata["up_axis"] == "+Y" else EZ
    assert rec.world == "core" if folder == "transpose_example" else up @ EZ == 1.0
    if folder == "transpose_example":
        pelvis_y = rec.orientation[:, rec.index("pelvis"), :, 1]          # the pelvis sensor's Y axis in the world
        assert np.median(pelvis_y @ up) > 0.95
    at60 = resample_imu(rec, 60.0)
    assert at60.fps == 60.0 and abs(at60.num_frames - round((frames - 1) / fps * 60.0) - 1) <= 1
