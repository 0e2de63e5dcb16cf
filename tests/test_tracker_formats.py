"""Tracker recordings: CSV / JSON / npz round trips in every convention, the conversion maths on
known poses, catching a wrong convention, and bad files (one sentence naming the file and line)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.trackers.formats import (CONVENTIONS, convention, positions_from_core, positions_to_core,
                                                      quats_from_core, quats_to_core, read_trackers, tracker_name,
                                                      write_trackers)
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat, matrix_to_quat, quat_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from sparse_mocap_addon.core.trackers.recording import (SIX_POINT, THREE_POINT, TRACKER_JOINTS, TrackerError,
                                                        TrackerRecording)

ALL = tuple(CONVENTIONS)
EX, EY, EZ = np.eye(3)


def walk_recording(names=SIX_POINT, seconds=1.0, fps=60.0) -> TrackerRecording:
    """Device poses = joint poses of the demo walk (identity mountings), a few samples missing."""
    m = demo_motion(seconds=seconds, fps=fps)
    pos, rot = forward_kinematics(m.rotations, m.translation, m.skeleton)
    idx = [TRACKER_JOINTS[n] for n in names]
    positions, quats = pos[:, idx].copy(), matrix_to_quat(rot[:, idx])
    valid = np.ones(positions.shape[:2], dtype=bool)
    valid[5, 0] = valid[6, 0] = valid[20, -1] = False
    positions[~valid] = np.nan
    quats[~valid] = np.nan
    times = 3.25 + np.arange(len(positions)) / fps
    return TrackerRecording(names, positions, quats, fps, valid, "synthetic", {"times": times})


def same_rotation(a, b):
    return np.abs(np.abs(np.sum(a * b, axis=-1)) - 1.0)


# --- round trips ----------------------------------------------------------------------------------

@pytest.mark.parametrize("conv", ALL)
@pytest.mark.parametrize("ext", ["csv", "csv.gz", "json", "npz"])
def test_round_trip(tmp_path, conv, ext):
    rec = walk_recording()
    path = write_trackers(rec, tmp_path / f"walk.{ext}", conv)
    for given in (None, conv):
        back = read_trackers(path, given)
        assert back.names == rec.names and back.fps == rec.fps
        assert np.array_equal(back.valid, rec.valid)
        ok = rec.valid
        assert np.abs(back.positions[ok] - rec.positions[ok]).max() < 1e-12
        assert np.abs(back.orientations[ok] - rec.orientations[ok]).max() < 1e-12
        assert np.isnan(back.positions[~ok]).all()
        assert np.allclose(back.metadata["times"], rec.metadata["times"], atol=1e-12)
        assert back.metadata["convention"] == CONVENTIONS[conv].name and back.metadata["resampled"] is False


@pytest.mark.parametrize("conv", ALL)
def test_conversion_round_trip_and_matrices(conv):
    c = convention(conv)
    rng = np.random.default_rng(7)
    q = axis_angle_to_quat(rng.normal(size=(50, 3)))
    p = rng.normal(size=(50, 3))
    assert np.abs(quats_from_core(quats_to_core(q, c), c) - q).max() < 1e-15
    assert np.abs(positions_from_core(positions_to_core(p, c, "cm"), c, "cm") - p).max() < 1e-12
    # R_core = A R_src A^T, a proper rotation, for reflections (unity, unreal) as for rotations.
    A = c.axes
    assert np.abs(quat_to_matrix(quats_to_core(q, c)) - A @ quat_to_matrix(q) @ A.T).max() < 1e-12
    # and a rotated vector stays the rotated vector: R_core (A v) = A (R_src v)
    v = rng.normal(size=(50, 3))
    lhs = np.einsum("nij,nj->ni", quat_to_matrix(quats_to_core(q, c)), v @ A.T)
    rhs = np.einsum("nij,nj->ni", quat_to_matrix(q), v) @ A.T
    assert np.abs(lhs - rhs).max() < 1e-12


# --- the conversion maths on known poses ------------------------------------------------------------

def rotate(conv, q_wxyz, v):
    return quat_to_matrix(quats_to_core(np.asarray(q_wxyz, dtype=float), convention(conv))) @ v


S = np.sqrt(0.5)


def test_unity_known_poses():
    unity = convention("unity")
    # Unity: +X right, +Y up, +Z forward; the core's +X is the left.
    assert np.allclose(positions_to_core([1.0, 2.0, 3.0], unity, "m"), [-1.0, 2.0, 3.0])
    # Quaternion.Euler(0, 90, 0) = (x 0, y 0.7071, z 0, w 0.7071) turns Vector3.forward into Vector3.right.
    q = [S, 0.0, S, 0.0]
    assert np.allclose(quat_to_matrix(np.array(q)) @ EZ, EX)                       # in Unity's own axes
    assert np.allclose(rotate("unity", q, EZ), -EX)                                # core: forward -> right (-X)
    assert np.allclose(quats_to_core(np.array(q), unity), [S, 0.0, -S, 0.0])       # -90 deg about +Y
    # Euler(-90, 0, 0) pitches the forward axis up in Unity (rotation about +X, left-handed): still up in core.
    assert np.allclose(rotate("unity", [S, -S, 0.0, 0.0], EZ), EY)


def test_unreal_known_poses():
    unreal = convention("unreal")
    # Unreal: +X forward, +Y right, +Z up, centimetres.
    assert np.allclose(positions_to_core([100.0, 0.0, 0.0], unreal, "cm"), EZ)
    assert np.allclose(positions_to_core([0.0, 100.0, 0.0], unreal, "cm"), -EX)
    assert np.allclose(positions_to_core([0.0, 0.0, 100.0], unreal, "cm"), EY)
    # FRotator(0, 90, 0) (yaw 90) = FQuat(0, 0, 0.7071, 0.7071) turns forward (+X) to the right (+Y).
    q = [S, 0.0, 0.0, S]
    assert np.allclose(quat_to_matrix(np.array(q)) @ EX, [0.0, 1.0, 0.0])
    assert np.allclose(rotate("unreal", q, EZ), -EX)


def test_openxr_steamvr_blender_known_poses():
    for name in ("openxr", "steamvr"):
        conv = convention(name)
        assert np.allclose(positions_to_core([0.0, 0.0, -1.0], conv, "m"), EZ)      # -Z forward
        assert np.allclose(positions_to_core([1.0, 0.0, 0.0], conv, "m"), -EX)      # +X right
        # +90 deg about +Y (right-handed: counter-clockwise from above) turns forward to the left.
        assert np.allclose(rotate(name, [S, 0.0, S, 0.0], EZ), EX)
    blender = convention("blender")
    assert np.allclose(positions_to_core([0.0, -1.0, 0.0], blender, "m"), EZ)        # -Y forward
    assert np.allclose(positions_to_core([0.0, 0.0, 1.0], blender, "m"), EY)
    assert np.allclose(positions_to_core([1.0, 0.0, 0.0], blender, "m"), EX)         # +X the character's left
    assert np.allclose(rotate("blender", [S, 0.0, 0.0, S], EZ), EX)                 # +90 about Z: turn left
    from sparse_mocap_addon.blender.coords import BLENDER_TO_CORE                    # numpy only, no bpy
    assert np.array_equal(blender.axes, BLENDER_TO_CORE)


def test_unity_to_openxr_matches_unitys_openxr_plugin():
    """Unity's OpenXR plug-in converts a Unity quaternion by negating x and y, a position by negating z."""
    unity, openxr = convention("unity"), convention("openxr")
    q = axis_angle_to_quat(np.random.default_rng(1).normal(size=(20, 3)))
    assert np.allclose(quats_from_core(quats_to_core(q, unity), openxr), q * [1, -1, -1, 1])
    p = np.random.default_rng(2).normal(size=(20, 3))
    assert np.allclose(positions_from_core(positions_to_core(p, unity, "m"), openxr, "m"), p * [1, 1, -1])


def test_unity_csv_as_unity_prints_it(tmp_path):
    """A hand-written Unity log: quaternion columns in x, y, z, w order, a headset turned 90 deg right."""
    path = tmp_path / "unity.csv"
    path.write_text("time,tracker,px,py,pz,qx,qy,qz,qw\n"
                    "0.0,HMD,0.1,1.7,0.2,0,0.70710678,0,0.70710678\n"
                    "0.0,Controller (left),-0.3,1.2,0.4,0,0,0,1\n"
                    "0.0,Controller (right),0.3,1.2,0.4,0,0,0,1\n"
                    "0.0111,HMD,0.1,1.7,0.2,0,0.70710678,0,0.70710678\n"
                    "0.0111,Controller (left),-0.3,1.2,0.4,0,0,0,1\n"
                    "0.0111,Controller (right),0.3,1.2,0.4,0,0,0,1\n")
    rec = read_trackers(path, "unity")
    assert rec.names == ("head", "left_hand", "right_hand") and rec.fps == 90.0
    R = quat_to_matrix(rec.orientations[0, 0])
    assert np.allclose(R @ EZ, -EX, atol=1e-8)                         # looks to the wearer's right
    assert np.allclose(rec.positions[0, 1], [0.3, 1.2, 0.4])           # Unity -X (left) is core +X


# --- names, layouts, time ---------------------------------------------------------------------------

@pytest.mark.parametrize("label, name", [
    ("HMD", "head"), ("headset", "head"), ("CenterEye", "head"), ("left_controller", "left_hand"),
    ("Controller (right)", "right_hand"), ("RightHand", "right_hand"), ("waist", "pelvis"), ("Hip", "pelvis"),
    ("Vive Tracker (waist)", "pelvis"), ("left_foot_tracker", "left_foot"), ("ankle_r", "right_foot"),
    ("LeftElbow", "left_elbow"), ("r_knee", "right_knee"), ("chest", None), ("left_hip", None),
])
def test_tracker_names(label, name):
    assert tracker_name(label) == name


def test_long_csv_with_own_clocks_is_resampled(tmp_path):
    """Each tracker on its own jittery clock; linear motion comes back exactly on a 100 Hz grid."""
    rng = np.random.default_rng(0)
    lines = ["# convention: openxr", "time,device,pos_x,pos_y,pos_z,rot_w,rot_x,rot_y,rot_z,battery"]
    for label, y in (("headset", 1.6), ("left_hand", 1.0), ("right_hand", 1.0)):
        t = np.cumsum(rng.uniform(0.009, 0.011, size=120))
        for ti in np.round(t, 6):
            lines.append(f"{ti:.6f},{label},{0.5 * ti:.9f},{y},{-ti:.9f},1,0,0,0,0.9")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    rec = read_trackers(path, fps=100)
    assert rec.fps == 100.0 and rec.metadata["resampled"] is True
    t = rec.metadata["times"]
    ok = rec.valid[:, 0]
    assert ok.sum() > 100
    assert np.allclose(rec.positions[ok, 0], np.stack([-0.5 * t[ok], np.full(ok.sum(), 1.6), t[ok]], -1), atol=1e-9)
    assert not rec.valid[0].all() or not rec.valid[-1].all()          # the span any tracker covers


def test_json_frames_with_unity_objects(tmp_path):
    frames = [{"time": k / 72, "trackers": {
        "HMD": {"position": {"x": 0.0, "y": 1.65, "z": 0.01 * k}, "rotation": {"x": 0, "y": 0, "z": 0, "w": 1}},
        "LeftHand": {"position": [-0.2, 1.1, 0.3], "rotation": [0, 0, 0, 1]},
        "RightHand": ({"position": [0.2, 1.1, 0.3], "rotation": [0, 0, 0, 1]} if k != 3 else
                      {"position": None, "rotation": None}),
        "chest": {"position": [0, 1.3, 0], "rotation": [0, 0, 0, 1]}}} for k in range(10)]
    path = tmp_path / "frames.json"
    path.write_text(json.dumps({"convention": "unity", "frames": frames}))
    rec = read_trackers(path)
    assert rec.names == ("head", "left_hand", "right_hand") and rec.fps == 72.0
    assert rec.metadata["ignored_trackers"] == ["chest"]
    assert not rec.valid[3, 2] and rec.valid[:, :2].all()
    assert np.allclose(rec.positions[4, 0], [0.0, 1.65, 0.04])
    assert np.allclose(rec.positions[0, 1], [0.2, 1.1, 0.3])          # list rotation read as x, y, z, w


def test_csv_without_time_uses_fps(tmp_path):
    rec = walk_recording(THREE_POINT)
    path = write_trackers(rec, tmp_path / "w.csv", "steamvr")
    lines = path.read_text().splitlines()
    kept = [ln for ln in lines if not ln.startswith("# fps")]
    header = kept.index(next(ln for ln in kept if ln.startswith("time")))
    kept = kept[:header] + [",".join(c.split(",")[1:]) for c in kept[header:]]
    path.write_text("\n".join(kept) + "\n")
    with pytest.raises(TrackerError, match="no time stamps and states no frame rate"):
        read_trackers(path)
    back = read_trackers(path, fps=60)
    assert back.num_frames == rec.num_frames and np.allclose(back.positions[rec.valid], rec.positions[rec.valid])


def test_npz_per_tracker_times_and_units_override(tmp_path):
    rec = walk_recording(THREE_POINT)
    path = tmp_path / "w.npz"
    pos = rec.positions @ convention("blender").axes * 1000.0           # blender axes in millimetres
    q = quats_from_core(rec.orientations, convention("blender"))
    np.savez(path, names=np.array(["hmd", "l_hand", "r_hand"]), positions=pos, orientations=q,
             time=np.arange(rec.num_frames) / 60.0)
    back = read_trackers(path, "blender", units="mm")
    assert np.allclose(back.positions[rec.valid], rec.positions[rec.valid])
    with pytest.raises(TrackerError, match=r"the units 'mm' passes"):
        read_trackers(path, "blender")


# --- a wrong choice caught early --------------------------------------------------------------------

def test_unreal_file_read_as_unity_suggests_unreal(tmp_path):
    path = write_trackers(walk_recording(), tmp_path / "w.csv", "unreal")
    text = "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith(("# convention", "# units")))
    path.write_text(text + "\n")
    with pytest.raises(TrackerError) as info:
        read_trackers(path, "unity")
    msg = str(info.value)
    assert msg.startswith(str(path)) and "the convention 'unreal' passes these checks" in msg and msg.count(". ") == 0
    assert read_trackers(path, "unreal").names == SIX_POINT


def test_blender_file_read_as_openxr_suggests_blender(tmp_path):
    path = write_trackers(walk_recording(), tmp_path / "w.json", "blender")
    doc = json.loads(path.read_text())
    del doc["convention"]
    path.write_text(json.dumps(doc))
    with pytest.raises(TrackerError, match="the convention 'blender' passes these checks"):
        read_trackers(path, "openxr")


@pytest.mark.parametrize("true_units, read_units, suggested, size", [
    ("cm", "m", "the units 'cm'", "170|16[0-9] m"), ("m", "cm", "the units 'm'", r"1\.[0-9] cm")])
def test_units_off_by_100(tmp_path, true_units, read_units, suggested, size):
    path = write_trackers(walk_recording(), tmp_path / "w.csv", "unity", units=true_units)
    path.write_text(path.read_text().replace(f"# units: {true_units}\n", ""))
    with pytest.raises(TrackerError, match=f"above the lowest tracker.*{suggested} passes") as info:
        read_trackers(path, "unity", units=read_units)
    assert f"in {read_units}," in str(info.value)


def test_three_point_units_and_head_below_hands(tmp_path):
    rec = walk_recording(THREE_POINT)
    path = write_trackers(rec, tmp_path / "w.npz", "core", units="mm")
    with pytest.raises(TrackerError, match=r"trackers are a median [0-9]+ m apart.*the units 'mm' passes"):
        read_trackers(_without(path, "units", tmp_path), "core", units="m")
    flipped = TrackerRecording(rec.names, rec.positions * [1, -1, 1], rec.orientations, rec.fps, rec.valid)
    path = write_trackers(flipped, tmp_path / "flip.csv", "core")
    with pytest.raises(TrackerError, match="head tracker is below both hand trackers"):
        read_trackers(path)


def _without(path, key, tmp_path):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if k != key}
    out = tmp_path / f"no_{key}.npz"
    np.savez(out, **arrays)
    return out


def test_upside_down_has_no_suggestion_and_check_false_reads_it(tmp_path):
    rec = walk_recording()
    flipped = TrackerRecording(rec.names, rec.positions * [1, -1, 1], rec.orientations, rec.fps, rec.valid)
    path = write_trackers(flipped, tmp_path / "flip.csv", "core")
    with pytest.raises(TrackerError, match="head tracker is .* below the feet.*no other convention or unit passes"):
        read_trackers(path)
    assert read_trackers(path, check=False).num_frames == rec.num_frames


def test_head_below_pelvis(tmp_path):
    rec = walk_recording(("pelvis", "head"))
    swapped = TrackerRecording(rec.names, rec.positions[:, ::-1], rec.orientations[:, ::-1], rec.fps,
                               rec.valid[:, ::-1])
    path = write_trackers(swapped, tmp_path / "swap.json", "core")
    with pytest.raises(TrackerError, match="head tracker is 0.[0-9]+ m below the pelvis tracker"):
        read_trackers(path)


# --- bad files: one sentence naming the file and line -----------------------------------------------

def good_csv(tmp_path):
    return write_trackers(walk_recording(THREE_POINT, seconds=0.5), tmp_path / "good.csv", "unity")


def edit_line(path, number, edit):
    lines = path.read_text().splitlines()
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("\n".join(lines) + "\n")


def one_sentence(message: str, path) -> None:
    assert message.startswith(str(path)) and message.endswith(".") and ". " not in message.rstrip(".")


@pytest.mark.parametrize("edit, expected", [
    (lambda ln: ln.replace(ln.split(",")[2], "abc", 1), "line 9: 'abc' in column head_py is not a number"),
    (lambda ln: ",".join(ln.split(",")[:-1]), "line 9: 21 values but the header"),
    (lambda ln: ",".join(ln.split(",")[:4] + ["2", "0", "0", "0"] + ln.split(",")[8:]),
     "line 9: the quaternion of tracker head has length 2"),
    (lambda ln: ",".join(ln.split(",")[:1] + [""] + ln.split(",")[2:]), "line 9: tracker head has only some"),
    (lambda ln: "0" + ln[ln.index(","):], "line 9: the time stamp 0.000000 s of tracker head does not come after"),
])
def test_bad_csv_rows(tmp_path, edit, expected):
    path = good_csv(tmp_path)
    edit_line(path, 9, edit)
    with pytest.raises(TrackerError, match=expected) as info:
        read_trackers(path)
    one_sentence(str(info.value), path)


def test_bad_csv_headers(tmp_path):
    path = good_csv(tmp_path)
    edit_line(path, 6, lambda ln: ln.replace("head_qw", "head_speed"))
    with pytest.raises(TrackerError, match=r"line 6: the column 'head_speed' is neither") as info:
        read_trackers(path)
    one_sentence(str(info.value), path)
    path = good_csv(tmp_path)
    edit_line(path, 6, lambda ln: ln.replace("head_qw", "head_qx").replace("head_qx,", "head_qw,", 1))
    read_trackers(path)                                               # column order is free
    path = good_csv(tmp_path)
    edit_line(path, 6, lambda ln: ln.replace(",head_qw", ",head_qx"))
    with pytest.raises(TrackerError, match="line 6: the column 'head_qx' appears twice"):
        read_trackers(path)
    path = good_csv(tmp_path)
    edit_line(path, 6, lambda ln: ln.replace("left_hand_", "hmd_"))
    with pytest.raises(TrackerError, match="'head' and 'hmd' are both the head tracker"):
        read_trackers(path)
    path = good_csv(tmp_path)
    edit_line(path, 6, lambda ln: ln.replace("left_hand_", "chest_").replace("right_hand_", "belt_").replace(
        "head_", "camera2_"))
    with pytest.raises(TrackerError, match="no tracker with a known body site among 'camera2', 'chest', 'belt'"):
        read_trackers(path)
    path = good_csv(tmp_path)
    edit_line(path, 4, lambda ln: "# fps: fast")
    with pytest.raises(TrackerError, match="line 4: fps must be a positive number"):
        read_trackers(path)


def test_convention_arguments(tmp_path):
    path = good_csv(tmp_path)
    with pytest.raises(TrackerError, match=r"line 2: the file says its convention is 'unity' but 'openxr' was given"):
        read_trackers(path, "openxr")
    with pytest.raises(TrackerError, match="unknown tracker coordinate convention 'maya'"):
        read_trackers(path, "maya")
    path.write_text(path.read_text().replace("# convention: unity\n", ""))
    with pytest.raises(TrackerError, match="does not state its coordinate convention"):
        read_trackers(path)
    assert read_trackers(path, "Unity").metadata["convention"] == "unity"
    with pytest.raises(TrackerError, match="file says its units are 'm' but 'cm' were given"):
        read_trackers(path, "unity", units="cm")


def test_bad_json_and_npz(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"convention": "unity",\n "trackers": {"head": {"time": [0, 1],\n "position": [[0,1,0]]}}')
    with pytest.raises(TrackerError, match=r"bad.json, line 3: not valid JSON"):
        read_trackers(path)
    path.write_text(json.dumps({"convention": "unity", "trackers": {"head": {
        "time": [0, 0.1], "position": [[0, 1.6, 0], [0, 1.6, "x"]], "rotation": [[0, 0, 0, 1], [0, 0, 0, 1]]}}}))
    with pytest.raises(TrackerError, match=r"trackers.head.position\[1\]: value 2 is 'x', not a number") as info:
        read_trackers(path)
    one_sentence(str(info.value), path)
    path.write_text(json.dumps({"convention": "unity", "trackers": {"head": {
        "time": [0, 0.1], "position": [[0, 1.6, 0], [0, 1.6, 0]], "rotation": [[0, 0, 0, 1], [0, 0, 0]]}}}))
    with pytest.raises(TrackerError, match=r"rotation\[1\]: expected 4 numbers"):
        read_trackers(path)
    npz = tmp_path / "bad.npz"
    np.savez(npz, names=np.array(["head"]), positions=np.zeros((4, 1, 3)))
    with pytest.raises(TrackerError, match="no 'orientations' array"):
        read_trackers(npz, "core")
    np.savez(npz, names=np.array(["head"]), positions=np.zeros((4, 1, 3)), orientations=np.zeros((4, 2, 4)))
    with pytest.raises(TrackerError, match=r"orientations has shape \(4, 2, 4\); expected \(4, 1, 4\)"):
        read_trackers(npz, "core")
    (tmp_path / "x.bvh").write_text("HIERARCHY")
    with pytest.raises(TrackerError, match="unknown tracker file type '.bvh'"):
        read_trackers(tmp_path / "x.bvh", "core")
    with pytest.raises(TrackerError, match="no such file"):
        read_trackers(tmp_path / "missing.csv", "core")
    gz = tmp_path / "cut.csv.gz"
    gz.write_bytes(gzip.compress(b"time,head_px\n")[:12])
    with pytest.raises(TrackerError, match="line 1: the gzip data is damaged"):
        read_trackers(gz, "core")


def test_writer_is_atomic(tmp_path):
    path = write_trackers(walk_recording(THREE_POINT), tmp_path / "keep.csv", "unity")
    before = path.read_bytes()
    with pytest.raises(TrackerError):
        write_trackers(walk_recording(THREE_POINT), path, "nope")
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]
