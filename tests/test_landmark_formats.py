"""Landmark file readers (TRC, MediaPipe JSON/CSV, AlphaPose JSON, MotionBERT/SMPL arrays) and the
stature estimate, on small files written here from a known body, plus the real Pose2Sim TRC files
in ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.landmarks.formats import LAYOUT_NAMES, canonical_name, read_landmarks
from sparse_mocap_addon.core.landmarks.scale import landmark_stature, scale_to_height
from sparse_mocap_addon.core.landmarks.sequence import LAYOUTS, LandmarkError, LandmarkSequence, orient
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, forward_kinematics
from tests.conftest import SHARED_DATA

POSE2SIM_TRC = SHARED_DATA / "landmarks_real" / "pose2sim" / "trc"
CAMERA = np.diag([1.0, -1.0, -1.0])      # core frame (Y up, Z forward) <-> camera axes (y down, z ahead)
HEIGHT = 1.75


# --- a known body --------------------------------------------------------------------------------

def _body(frames=1, seed=0, spread=0.15):
    """(skeleton, {canonical name: (T, 3) core-frame metres}) for a 1.75 m body, T-pose when
    ``frames`` is 1, else small random poses about it."""
    skeleton = skeleton_from_measurements(default_measurements(height=HEIGHT))
    rng = np.random.default_rng(seed)
    aa = np.zeros((frames, 24, 3)) if frames == 1 else rng.normal(scale=spread, size=(frames, 24, 3))
    translation = skeleton.offsets[0] + rng.normal(scale=0.2, size=(frames, 3)) * (frames > 1)
    pos, rot = forward_kinematics(axis_angle_to_quat(aa), translation, skeleton)
    J = JOINT_INDEX

    def at(joint, local):
        return pos[:, J[joint]] + rot[:, J[joint]] @ np.asarray(local, dtype=float)

    head_tip = skeleton.leaf_tips[J["head"]]
    pts = {"mid_hip": 0.5 * (pos[:, J["left_hip"]] + pos[:, J["right_hip"]]), "spine": pos[:, J["spine2"]],
           "thorax": pos[:, J["neck"]], "neck": pos[:, J["neck"]], "head_top": at("head", head_tip),
           "nose": at("head", (0, 0.02, 0.10))}
    for side, s in (("left", 1.0), ("right", -1.0)):
        for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            pts[f"{side}_{part}"] = pos[:, J[f"{side}_{part}"]]
        pts[f"{side}_ear"] = at("head", (s * 0.075, 0.03, 0.0))
        for part, dx in (("eye_inner", 0.015), ("eye", 0.03), ("eye_outer", 0.045)):
            pts[f"{side}_{part}"] = at("head", (s * dx, 0.05, 0.08))
        pts[f"mouth_{side}"] = at("head", (s * 0.025, -0.01, 0.09))
        pts[f"{side}_heel"] = at(f"{side}_ankle", (0, -0.05, -0.05))
        toe_tip = skeleton.leaf_tips[J[f"{side}_foot"]]
        pts[f"{side}_foot_index"] = pts[f"{side}_big_toe"] = at(f"{side}_foot", toe_tip)
        pts[f"{side}_small_toe"] = at(f"{side}_foot", toe_tip + np.array((s * 0.04, 0, -0.03)))
        for part, dx in (("pinky", 0.0), ("index", 0.02), ("thumb", -0.03)):
            pts[f"{side}_{part}"] = at(f"{side}_hand", (s * 0.05, 0, dx))
    for joint in JOINT_NAMES:
        pts.setdefault(f"smpl:{joint}", pos[:, J[joint]])
    return skeleton, pts


def _layout_points(layout, frames=1, seed=0):
    """(T, K, 3) core-frame points of the known body in a layout's order."""
    _, pts = _body(frames, seed)
    prefix = "smpl:" if layout == "smpl24" else ""
    return np.stack([pts[prefix + n] for n in LAYOUT_NAMES[layout]], axis=1)


def _raises(call, *fragments):
    with pytest.raises(LandmarkError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- names ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("RHip", "right_hip"), ("r_hip", "right_hip"), ("Right Hip", "right_hip"), ("RightHip", "right_hip"),
    ("right-hip", "right_hip"), ("hip_r", "right_hip"), ("LEFT_ANKLE", "left_ankle"),
    ("LBigToe", "left_big_toe"), ("RSmallToe", "right_small_toe"), ("RHeel", "right_heel"),
    ("Neck", "neck"), ("Head", "head_top"), ("Nose", "nose"), ("MidHip", "mid_hip"), ("Hip", "mid_hip"),
    ("REar", "right_ear"), ("LEye", "left_eye"), ("RShoulder", "right_shoulder"), ("LWrist", "left_wrist"),
    ("left_foot_index", "left_foot_index"), ("LEFT_EYE_INNER", "left_eye_inner"),
    ("mouth_left", "mouth_left"), ("Thorax", "thorax"), ("spine1", "spine1"), ("Marker7", None), ("", None),
])
def test_canonical_name(name, expected):
    assert canonical_name(name) == expected


def test_every_canonical_and_layout_name_maps_to_itself():
    for name in set(sum(LAYOUTS.values(), ())):
        assert canonical_name(name) == name


# --- TRC -----------------------------------------------------------------------------------------

TRC_MARKERS = ["RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Neck", "Head", "Nose", "RShoulder",
               "LShoulder", "Marker7"]


def _trc_text(points, markers=TRC_MARKERS, units="mm", rate=100, num_frames=None, num_markers=None,
              blank=(), trailing_tab=False):
    """An OpenSim TRC file of (T, M, 3) points (cells in ``blank`` (frame, marker) left empty)."""
    frames = len(points)
    lines = [
        "PathFileType\t4\t(X/Y/Z)\ttest.trc",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate}\t{rate}\t{frames if num_frames is None else num_frames}\t"
        f"{len(markers) if num_markers is None else num_markers}\t{units}\t{rate}\t1\t{frames}",
        "Frame#\tTime\t" + "\t\t\t".join(markers) + "\t\t",
        "\t\t" + "\t".join(f"{a}{i + 1}" for i in range(len(markers)) for a in "XYZ"),
        "",
    ]
    for t in range(frames):
        cells = [str(t + 1), f"{t / rate:.6f}"]
        for m in range(points.shape[1]):
            cells += [""] * 3 if (t, m) in blank else [f"{v:.6f}" for v in points[t, m]]
        lines.append("\t".join(cells) + ("\t" if trailing_tab else ""))
    return "\n".join(lines) + "\n"


def _trc_points(frames=5):
    _, pts = _body(frames, seed=3)
    names = [canonical_name(m) for m in TRC_MARKERS[:-1]]
    block = np.stack([pts[n] for n in names] + [pts["left_elbow"]], axis=1)
    return block * 1000.0                          # millimetres


def test_trc_millimetres_names_and_empty_cells(tmp_path):
    points = _trc_points()
    path = tmp_path / "walk.trc"
    path.write_text(_trc_text(points, blank={(2, 4)}, trailing_tab=True))
    seq = read_landmarks(path)
    assert seq.layout == "named" and seq.fps == 100 and seq.num_frames == 5
    assert seq.names == ("right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "neck",
                         "head_top", "nose", "right_shoulder", "left_shoulder", "Marker7")
    assert seq.up_axis is None and seq.metadata["metres_per_unit"] == 0.001 and not seq.metadata["fps_assumed"]
    expected = points / 1000.0
    expected[2, 4] = np.nan
    np.testing.assert_allclose(seq.points, expected, atol=1e-9)
    assert seq.confidence[2, 4] == 0 and seq.confidence.sum() == 5 * 12 - 1
    assert orient(seq).metadata["file_up_axis"] == "+Y"


def test_trc_gzip_units_override_fps_override_and_layout(tmp_path):
    points = _trc_points()
    path = tmp_path / "walk.trc.gz"
    path.write_bytes(gzip.compress(_trc_text(points, markers=TRC_MARKERS[:-1] + ["LElbow"],
                                             units="cm").encode()))
    seq = read_landmarks(path, metres_per_unit=0.001, fps=50)
    np.testing.assert_allclose(seq.points, points / 1000.0, atol=1e-9)
    assert seq.fps == 50
    halpe = read_landmarks(path, layout="halpe26", metres_per_unit=0.001)
    assert halpe.layout == "halpe26" and halpe.names == LAYOUTS["halpe26"]
    assert np.isnan(halpe.points[:, halpe.index("left_eye")]).all()
    np.testing.assert_allclose(halpe.points[:, halpe.index("left_elbow")], points[:, -1] / 1000.0, atol=1e-9)
    # Without the override the header's "cm" gives a 17.5 m body: refused, naming the likely unit.
    _raises(lambda: read_landmarks(path), "walk.trc.gz", "millimetres")


def test_trc_layout_that_lacks_a_marker_is_refused(tmp_path):
    path = tmp_path / "walk.trc"
    path.write_text(_trc_text(_trc_points()))
    _raises(lambda: read_landmarks(path, layout="coco17"), "walk.trc", "Marker7", "coco17")


def _edit_line(number, edit):
    """A change to a TRC text that applies ``edit`` to the cells of one line (1-based)."""
    def change(text):
        lines = text.split("\n")
        lines[number - 1] = "\t".join(edit(lines[number - 1].split("\t")))
        return "\n".join(lines)
    return change


def _header(old, new):
    return lambda text: text.replace(old, new, 1)


@pytest.mark.parametrize("change, fragments", [
    (_edit_line(9, lambda cells: cells[:-3]), ["line 9", "35 values but the header promises 12 markers (38 values)"]),
    (_header("\t5\t12\tmm", "\t4\t12\tmm"), ["line 11", "NumFrames on line 3 says 4"]),
    (_header("\t5\t12\tmm", "\t6\t12\tmm"), ["line 3", "NumFrames says 6", "5 frame rows"]),
    (_header("\t5\t12\tmm", "\t5\t11\tmm"), ["line 4", "12 marker names", "NumMarkers"]),
    (_header("\t5\t12\tmm", "\t5\t12\tfurlong"), ["line 3", "Units 'furlong'"]),
    (_header("\t5\t12\tmm", "\tfive\t12\tmm"), ["line 3", "NumFrames must be a whole number"]),
    (_header("PathFileType", "Hello"), ["line 1", "PathFileType"]),
    (_edit_line(8, lambda cells: cells[:3] + ["abc"] + cells[4:]), ["line 8", "'abc'", "Y1 (RHip)"]),
])
def test_trc_bad_files(tmp_path, change, fragments):
    path = tmp_path / "pose.trc"
    path.write_text(change(_trc_text(_trc_points())))
    _raises(lambda: read_landmarks(path), "pose.trc", *fragments)


def test_trc_too_short(tmp_path):
    path = tmp_path / "pose.trc"
    path.write_text("PathFileType\t4\n")
    _raises(lambda: read_landmarks(path), "pose.trc", "5 header lines")


# --- the real Pose2Sim files ---------------------------------------------------------------------

POSE2SIM_NAMES = ("right_hip", "right_knee", "right_ankle", "right_big_toe", "right_small_toe", "right_heel",
                  "left_hip", "left_knee", "left_ankle", "left_big_toe", "left_small_toe", "left_heel", "neck",
                  "head_top", "nose", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
                  "left_elbow", "left_wrist")


@pytest.mark.parametrize("name, frames", [
    ("S00_P00_T00_StaticTrial_0-12.trc", 12),
    ("S00_P00_T01_BalancingTrial_0-100.trc", 100),
    ("S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc", 100),
])
def test_real_pose2sim_trc(name, frames):
    path = POSE2SIM_TRC / name
    if not path.is_file():
        pytest.skip(f"the real Pose2Sim TRC files are not in {POSE2SIM_TRC} (shared data folder absent)")
    seq = read_landmarks(path)
    assert seq.num_frames == frames and len(seq.names) == 21 and seq.fps == 60
    assert seq.names == POSE2SIM_NAMES and seq.metadata["units"] == "m" and seq.metadata["metres_per_unit"] == 1
    assert seq.confidence.min() == 1.0
    core = orient(seq)
    assert core.metadata["file_up_axis"] == "+Y"
    p = core.points
    hips = 0.5 * (p[:, seq.index("left_hip"), 1] + p[:, seq.index("right_hip"), 1])
    ankles = np.minimum(p[:, seq.index("left_ankle"), 1], p[:, seq.index("right_ankle"), 1])
    # Pose2Sim puts the floor at y = 0: hip joints about 0.9 m above it, 0.75 m above the ankle joints.
    assert 0.85 < np.median(hips) < 0.95
    assert 0.7 < np.median(hips - ankles) < 0.8
    stature = landmark_stature(seq)
    assert 1.6 < stature < 1.8
    # Without the head top the nose fallback agrees within 5 %.
    conf = seq.confidence.copy()
    conf[:, seq.index("head_top")] = 0
    assert landmark_stature(seq.with_points(seq.points, confidence=conf)) == pytest.approx(stature, rel=0.05)


# --- MediaPipe JSON ------------------------------------------------------------------------------

def _mediapipe_frames(frames=6, seed=1):
    """(T, 33, 3) MediaPipe world landmarks (camera axes, hips at the origin) and visibilities."""
    core = _layout_points("mediapipe33", frames, seed)
    mid_hip = 0.5 * (core[:, 23] + core[:, 24])
    points = (core - mid_hip[:, None]) @ CAMERA.T
    visibility = np.random.default_rng(seed).uniform(0.6, 1.0, size=points.shape[:2])
    return points, visibility


def _landmark_dicts(points, visibility, presence=None):
    return [{"x": float(x), "y": float(y), "z": float(z), "visibility": float(v),
             **({} if presence is None else {"presence": float(presence[k])})}
            for k, ((x, y, z), v) in enumerate(zip(points, visibility))]


def test_mediapipe_json_list_of_frames(tmp_path):
    points, visibility = _mediapipe_frames()
    visibility[1, 5] = 0.2                                      # low confidence: masked later
    frames = [_landmark_dicts(p, v) for p, v in zip(points, visibility)]
    frames[3] = []                                              # person not detected
    path = tmp_path / "pose.json"
    path.write_text(json.dumps(frames))
    seq = read_landmarks(path)
    assert seq.layout == "mediapipe33" and seq.names == LAYOUTS["mediapipe33"] and seq.up_axis == "-Y"
    assert seq.fps == 30 and seq.metadata["fps_assumed"] and seq.metadata["frames_without_person"] == 1
    assert np.isnan(seq.points[3]).all() and (seq.confidence[3] == 0).all()
    keep = np.arange(6) != 3
    np.testing.assert_allclose(seq.points[keep], points[keep], atol=1e-12)
    np.testing.assert_allclose(seq.confidence[keep], visibility[keep])
    assert not seq.valid()[1, 5] and np.isnan(seq.masked_points()[1, 5]).all()
    core = orient(seq)
    assert core.metadata["file_up_axis"] == "-Y"
    head_above_feet = core.points[0, 0, 1] - core.points[0, 27, 1]
    assert head_above_feet > 1.2


def test_mediapipe_json_frames_object_presence_and_timestamps(tmp_path):
    points, visibility = _mediapipe_frames(frames=5)
    presence = np.full_like(visibility, 0.9)
    presence[0, 0] = 0.1
    stamps = [0, 40, 80, 160, 200]                                # 120 ms skipped: a missing frame
    items = [{"timestamp_ms": t, "pose_world_landmarks": [_landmark_dicts(p, v, q)]}
             for t, p, v, q in zip(stamps, points, visibility, presence)]
    items[2]["pose_world_landmarks"] = []                          # no person in this frame
    path = tmp_path / "pose.json"
    path.write_text(json.dumps({"frames": items}))
    seq = read_landmarks(path)
    assert seq.fps == 25 and not seq.metadata["fps_assumed"]
    assert seq.num_frames == 6 and np.isnan(seq.points[[2, 3]]).all()
    np.testing.assert_allclose(seq.points[[0, 1, 4, 5]], points[[0, 1, 3, 4]], atol=1e-12)
    assert seq.confidence[0, 0] == pytest.approx(0.1)                 # min(visibility, presence)
    assert seq.confidence[0, 1] == pytest.approx(min(visibility[0, 1], 0.9))


def test_mediapipe_json_protobuf_and_lists(tmp_path):
    points, visibility = _mediapipe_frames(frames=3)
    items = [{"landmarks": {"landmark": _landmark_dicts(p, v)}} for p, v in zip(points, visibility)]
    path = tmp_path / "pose.json"
    path.write_text(json.dumps({"fps": 24, "frames": items}))
    seq = read_landmarks(path)
    assert seq.fps == 24
    np.testing.assert_allclose(seq.points, points, atol=1e-12)
    lists = [[[*p, v] for p, v in zip(frame, vis)] for frame, vis in zip(points, visibility)]
    path.write_text(json.dumps(lists))
    np.testing.assert_allclose(read_landmarks(path).confidence, visibility)


@pytest.mark.parametrize("content, fragments", [
    ("[[{\"x\": 1}]", ["line 1", "not valid JSON"]),
    ({"frames": [{"pose_landmarks": []}]}, ["frame 0", "image-space"]),
    ({"people": []}, ["\"frames\""]),
    ([], ["no frames"]),
    ([[], []], ["no frame has any landmarks"]),
    ("two frames", ["frame 1", "31 landmarks but frame 0 has 33"]),
    ("missing z", ["frame 0, landmark 4", "'z'"]),
])
def test_mediapipe_json_bad_files(tmp_path, content, fragments):
    points, visibility = _mediapipe_frames(frames=2)
    if content == "two frames":
        content = [_landmark_dicts(points[0], visibility[0]), _landmark_dicts(points[1], visibility[1])[:31]]
    elif content == "missing z":
        content = [_landmark_dicts(points[0], visibility[0])]
        del content[0][4]["z"]
    path = tmp_path / "pose.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    _raises(lambda: read_landmarks(path), "pose.json", *fragments)


# --- MediaPipe CSV -------------------------------------------------------------------------------

def test_mediapipe_csv_named_columns_with_time(tmp_path):
    points, visibility = _mediapipe_frames(frames=4)
    names = LAYOUTS["mediapipe33"]
    chosen = [27, 0, 23, 24, 11]                                   # any subset, any order
    header = ["time"] + [f"{names[k]}_{c}" for k in chosen for c in ("x", "y", "z", "visibility")]
    rows = [[f"{t * 0.02:.3f}"] + [f"{v:.9f}" for k in chosen for v in (*points[t, k], visibility[t, k])]
            for t in range(4)]
    rows[2][2] = ""                                                # empty cell: missing point
    path = tmp_path / "pose.csv"
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    seq = read_landmarks(path)
    assert seq.names == tuple(names[k] for k in chosen) and seq.layout == "named"
    assert seq.fps == 50 and seq.up_axis == "-Y"
    assert np.isnan(seq.points[2, 0]).all() and seq.confidence[2, 0] == 0
    np.testing.assert_allclose(seq.points[3], points[3, chosen], atol=1e-8)
    full = read_landmarks(path, layout="mediapipe33")
    assert full.names == names and np.isnan(full.points[:, 1]).all()
    np.testing.assert_allclose(full.points[0, 23], points[0, 23], atol=1e-8)


@pytest.mark.parametrize("style", ["x{k}", "x_{k}"])
def test_mediapipe_csv_indexed_columns_and_frame_gaps(tmp_path, style):
    points, visibility = _mediapipe_frames(frames=3)
    header = ["frame"] + [style.format(k=k).replace("x", c) for k in range(33) for c in "xyzv"]
    frame_numbers = [10, 11, 13]
    rows = [[str(f)] + [f"{v:.9f}" for k in range(33) for v in (*points[t, k], visibility[t, k])]
            for t, f in enumerate(frame_numbers)]
    path = tmp_path / "pose.csv"
    path.write_text("\n".join(",".join(r) for r in [header] + rows))
    seq = read_landmarks(path)
    assert seq.layout == "mediapipe33" and seq.num_frames == 4 and seq.metadata["first_frame"] == 10
    assert np.isnan(seq.points[2]).all()
    np.testing.assert_allclose(seq.points[3], points[2], atol=1e-8)
    np.testing.assert_allclose(seq.confidence[0], visibility[0], atol=1e-8)
    assert seq.metadata["fps_assumed"]


def test_csv_millisecond_time_stamps_semicolons_and_presence(tmp_path):
    points, visibility = _mediapipe_frames(frames=1)
    stamps = [int(i * 1000 / 30) for i in range(100)]               # rounded to whole milliseconds
    header = "timestamp_ms;nose_x;nose_y;nose_z;nose_visibility;nose_presence"
    rows = [f"{t};{';'.join(f'{v:.6f}' for v in points[0, 0])};0.9;{0.3 if i == 7 else 0.95}"
            for i, t in enumerate(stamps)]
    path = tmp_path / "pose.csv"
    path.write_text("\n".join([header] + rows))
    seq = read_landmarks(path)
    assert seq.fps == 30 and seq.num_frames == 100 and seq.names == ("nose",)
    assert seq.confidence[7, 0] == pytest.approx(0.3) and seq.confidence[8, 0] == pytest.approx(0.9)


@pytest.mark.parametrize("text, fragments", [
    ("nose_x,nose_y,nose_z\n1,2,3\n1,2\n", ["line 3", "2 values but the header (line 1) has 3 columns"]),
    ("nose_x,nose_y,nose_z\n1,2,3\n1,2,zz\n", ["line 3", "'zz'", "nose_z"]),
    ("nose_x,nose_y,nose_visibility\n1,2,3\n", ["line 1", "nose_z is missing"]),
    ("a,b,c\n1,2,3\n", ["line 1", "no landmark columns"]),
    ("frame,nose_x,nose_y,nose_z\n1,1,2,3\n1,1,2,3\n", ["line 3", "frame 1 appears twice"]),
    ("time,nose_x,nose_y,nose_z\n0.1,1,2,3\n0.05,1,2,3\n", ["line 3", "time stamps must increase"]),
    ("x0,y0,z0\n" + "1,2,3\n", ["1 points per frame"]),
])
def test_csv_bad_files(tmp_path, text, fragments):
    path = tmp_path / "pose.csv"
    path.write_text(text)
    _raises(lambda: read_landmarks(path), "pose.csv", *fragments)


# --- arrays: MediaPipe, COCO, Halpe, Human3.6M, SMPL ---------------------------------------------

def test_npy_mediapipe_with_visibility(tmp_path):
    points, visibility = _mediapipe_frames(frames=4)
    visibility[2, 7] = 0.1
    points[1, 3] = np.nan
    np.save(tmp_path / "pose.npy", np.concatenate([points, visibility[..., None]], axis=-1))
    seq = read_landmarks(tmp_path / "pose.npy")
    assert seq.layout == "mediapipe33" and seq.up_axis == "-Y" and seq.metadata["fps_assumed"]
    assert seq.confidence[1, 3] == 0 and not seq.valid()[2, 7] and seq.valid()[2, 6]
    np.save(tmp_path / "xyz.npy", points)
    assert read_landmarks(tmp_path / "xyz.npy").confidence[0].min() == 1.0


def test_seventeen_points_are_ambiguous(tmp_path):
    np.save(tmp_path / "pose.npy", np.zeros((3, 17, 3)))
    _raises(lambda: read_landmarks(tmp_path / "pose.npy"), "pose.npy", "coco17", "h36m17")


def test_coco_and_halpe_arrays(tmp_path):
    coco = _layout_points("coco17", frames=3)
    scores = np.full((3, 17, 1), 0.8)
    np.save(tmp_path / "coco.npy", np.concatenate([coco, scores], axis=-1))
    seq = read_landmarks(tmp_path / "coco.npy", layout="coco17", fps=25)
    assert seq.layout == "coco17" and seq.up_axis is None and seq.fps == 25 and not seq.metadata["fps_assumed"]
    np.testing.assert_allclose(seq.confidence, 0.8)
    np.save(tmp_path / "halpe.npy", _layout_points("halpe26", frames=3) * 100.0)
    halpe = read_landmarks(tmp_path / "halpe.npy", metres_per_unit=0.01)
    assert halpe.layout == "halpe26" and halpe.names == LAYOUTS["halpe26"]
    np.testing.assert_allclose(halpe.points, _layout_points("halpe26", frames=3), atol=1e-12)
    _raises(lambda: read_landmarks(tmp_path / "halpe.npy", layout="coco17"), "halpe.npy", "26 points",
            "coco17 layout has 17")


def test_h36m_needs_a_height_and_is_scaled_to_it(tmp_path):
    core = _layout_points("h36m17", frames=30, seed=5)
    root = core[:, :1]
    motionbert = ((core - root) @ CAMERA.T) / 2.3                  # root-relative, arbitrary units
    np.save(tmp_path / "X3D.npy", motionbert[None])               # (1, T, 17, 3)
    _raises(lambda: read_landmarks(tmp_path / "X3D.npy", layout="h36m17"), "X3D.npy", "height")
    seq = read_landmarks(tmp_path / "X3D.npy", layout="h36m17", height=1.62)
    assert seq.layout == "h36m17" and seq.up_axis == "-Y" and seq.names == LAYOUTS["h36m17"]
    assert seq.metadata["height"] == 1.62
    assert landmark_stature(seq) == pytest.approx(1.62, rel=1e-9)
    # The scale factor recovers the units: 2.3 x 1.62 / 1.75, within the estimate's error.
    assert seq.metadata["scale_to_height"] == pytest.approx(2.3 * 1.62 / HEIGHT, rel=0.03)
    np.testing.assert_allclose(seq.points, motionbert * seq.metadata["scale_to_height"])
    assert orient(seq).metadata["file_up_axis"] == "-Y"


def test_smpl_arrays(tmp_path):
    joints = _layout_points("smpl24", frames=4, seed=2)
    confidence = np.full((4, 24), 0.9)
    confidence[1, 3] = 0.0
    np.savez(tmp_path / "smpl.npz", joints=joints, confidence=confidence, fps=np.float64(60))
    seq = read_landmarks(tmp_path / "smpl.npz")
    assert seq.layout == "smpl24" and seq.names == JOINT_NAMES and seq.fps == 60 and not seq.metadata["fps_assumed"]
    np.testing.assert_allclose(seq.confidence, confidence)
    np.savez(tmp_path / "extra.npz", positions=np.concatenate([joints, joints[:, :21]], axis=1))
    extra = read_landmarks(tmp_path / "extra.npz", layout="smpl24")
    np.testing.assert_allclose(extra.points, joints)
    assert extra.fps == 30 and extra.metadata["fps_assumed"]
    np.save(tmp_path / "smpl.npy", np.concatenate([joints, confidence[..., None]], axis=-1))
    np.testing.assert_allclose(read_landmarks(tmp_path / "smpl.npy").confidence, confidence)
    assert landmark_stature(read_landmarks(tmp_path / "smpl.npy")) == pytest.approx(HEIGHT, rel=0.03)


@pytest.mark.parametrize("make, fragments", [
    (lambda p: np.save(p / "bad.npy", np.zeros((3, 33))), ["bad.npy", "shape (3, 33)"]),
    (lambda p: np.save(p / "bad.npy", np.zeros((3, 40, 3))), ["bad.npy", "40 points per frame"]),
    (lambda p: np.save(p / "bad.npy", np.array([["a"]])), ["bad.npy", "numbers are expected"]),
    (lambda p: (p / "bad.npy").write_text("not an array"), ["bad.npy", "not a readable .npy"]),
    (lambda p: np.savez(p / "bad.npz", verts=np.zeros((2, 24, 3))), ["bad.npz", "joints", "verts"]),
    (lambda p: np.savez(p / "bad.npz", joints=np.zeros((2, 24, 3)), confidence=np.ones((3, 24))),
     ["bad.npz", "\"confidence\" has shape (3, 24)"]),
])
def test_bad_arrays(tmp_path, make, fragments):
    make(tmp_path)
    path = next(tmp_path.iterdir())
    _raises(lambda: read_landmarks(path), *fragments)


# --- AlphaPose JSON ------------------------------------------------------------------------------

def _records(points, scores, image_ids, idx=None, key="keypoints"):
    flat = np.concatenate([points, scores[..., None]], axis=-1).reshape(len(points), -1)
    return [{"image_id": i, "category_id": 1, key: row.tolist(), "score": float(s.mean()),
             **({} if idx is None else {"idx": idx[r]})}
            for r, (i, row, s) in enumerate(zip(image_ids, flat, scores))]


def test_alphapose_multi_person_track_and_gaps(tmp_path):
    person = _layout_points("halpe26", frames=5, seed=4)
    other = person + np.array([1.0, 0, 0])
    scores = np.full((5, 26), 0.9)
    records = _records(person, scores, [f"{f}.jpg" for f in (3, 4, 5, 7, 8)], idx=[1] * 5)
    # A second person with higher scores, seen in fewer frames: the main track is kept.
    records += _records(other[:2], np.full((2, 26), 0.99), ["3.jpg", "4.jpg"], idx=[2, 2])
    records[1]["keypoints"][2 * 4 + 3] = 0.1                      # low score on one point
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(records))
    seq = read_landmarks(path)
    assert seq.layout == "halpe26" and seq.num_frames == 6 and seq.metadata["first_frame"] == 3
    assert seq.metadata["people"] == 2 and seq.metadata["track"] == 1 and "kept track 1" in seq.metadata["note"]
    np.testing.assert_allclose(seq.points[[0, 1, 2, 4, 5]], person, atol=1e-12)
    assert np.isnan(seq.points[3]).all() and (seq.confidence[3] == 0).all()
    assert not seq.valid()[1, 2] and seq.valid()[1, 3]


def test_alphapose_ties_without_track_and_keypoints_3d(tmp_path):
    coco = _layout_points("coco17", frames=2, seed=6)
    low, high = np.full((2, 17), 0.5), np.full((2, 17), 0.95)
    records = _records(coco + 5.0, low, [0, 1]) + _records(coco, high, [0, 1])
    path = tmp_path / "ap.json"
    path.write_text(json.dumps(records))
    seq = read_landmarks(path)
    assert seq.layout == "coco17" and "best-scoring" in seq.metadata["note"]
    np.testing.assert_allclose(seq.points, coco, atol=1e-12)
    # Equal frame counts: the track with the higher mean score wins.
    records = _records(coco + 5.0, low, [0, 1], idx=[7, 7]) + _records(coco, high, [0, 1], idx=[8, 8])
    path.write_text(json.dumps(records))
    assert read_landmarks(path).metadata["track"] == 8
    xyz = [{"image_id": "frame_0001.png", "keypoints_3d": coco[0].ravel().tolist()},
           {"image_id": "frame_0002.png", "keypoints_3d": coco[1].ravel().tolist()}]
    path.write_text(json.dumps(xyz))
    seq = read_landmarks(path)
    np.testing.assert_allclose(seq.points, coco, atol=1e-12)
    assert seq.confidence.min() == 1.0 and seq.metadata["first_frame"] == 1


def test_alphapose_2d_keypoints_are_refused(tmp_path):
    records = [{"image_id": "0.jpg", "keypoints": [10.0, 20.0, 0.9] * 17, "score": 2.1, "idx": 1}]
    path = tmp_path / "ap2d.json"
    path.write_text(json.dumps(records))
    message = _raises(lambda: read_landmarks(path), "ap2d.json", "record 0", "2D")
    assert "cannot be used" in message


# --- options and dispatch ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, fragments", [
    ({"layout": "openpose"}, ["layout must be one of"]),
    ({"height": 175}, ["height 175", "metres"]),
    ({"fps": -1}, ["fps must be a positive number"]),
    ({"metres_per_unit": 0}, ["metres_per_unit"]),
])
def test_bad_options(tmp_path, kwargs, fragments):
    np.save(tmp_path / "x.npy", np.zeros((1, 33, 3)))
    _raises(lambda: read_landmarks(tmp_path / "x.npy", **kwargs), *fragments)


def test_unknown_and_missing_files(tmp_path):
    (tmp_path / "pose.c3d").write_bytes(b"\0")
    _raises(lambda: read_landmarks(tmp_path / "pose.c3d"), "pose.c3d", ".trc")
    _raises(lambda: read_landmarks(tmp_path / "nothing.trc"), "nothing.trc")
    _raises(lambda: read_landmarks(tmp_path / "nothing.npy"), "nothing.npy")


# --- stature -------------------------------------------------------------------------------------

def _sequence(layout, frames=1, seed=0, scale=1.0):
    points = _layout_points(layout, frames, seed) * scale
    return LandmarkSequence(LAYOUT_NAMES[layout], points, np.ones(points.shape[:2]), 30.0, layout=layout)


@pytest.mark.parametrize("layout", ["h36m17", "halpe26", "smpl24"])
def test_stature_of_the_known_body_is_exact_in_the_rest_pose(layout):
    assert landmark_stature(_sequence(layout)) == pytest.approx(HEIGHT, rel=1e-9)


@pytest.mark.parametrize("layout", ["h36m17", "halpe26", "smpl24", "mediapipe33", "coco17"])
def test_stature_within_3_percent_over_varied_poses(layout):
    seq = _sequence(layout, frames=60, seed=9)
    assert landmark_stature(seq) == pytest.approx(HEIGHT, rel=0.03)


def test_stature_ignores_low_confidence_points_and_needs_legs():
    seq = _sequence("h36m17", frames=10, seed=1)
    noisy = seq.points.copy()
    noisy[:3, 2] += 0.5                                            # a wild right knee in 3 frames ...
    conf = seq.confidence.copy()
    conf[:3, 2] = 0.1                                              # ... marked unconfident
    assert landmark_stature(seq.with_points(noisy, confidence=conf)) == pytest.approx(landmark_stature(seq))
    conf[:, [2, 5]] = 0.0                                          # no knees at all
    seq = seq.with_points(seq.points, confidence=conf, source="pose.npy")
    _raises(lambda: landmark_stature(seq), "pose.npy", "knee")


def test_scale_to_height_records_the_factor():
    seq = _sequence("h36m17", scale=0.5)
    scaled = scale_to_height(seq, 1.80)
    assert scaled.metadata["scale_to_height"] == pytest.approx(1.80 / (0.5 * HEIGHT))
    np.testing.assert_allclose(scaled.points, seq.points * scaled.metadata["scale_to_height"])
    again = scale_to_height(scaled, 0.90)
    assert again.metadata["scale_to_height"] == pytest.approx(0.90 / (0.5 * HEIGHT))
