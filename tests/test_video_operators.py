"""Import Video and Import Camera Set (sparse_mocap.import_video / import_camera_set) on the real bpy
module, MediaPipe from its wheel and the shared Pose2Sim videos: the landmark set and the solved
armature, the files written, Pose2Sim's triangulation matched, refusals, cancel, the background
thread, and the poll message without MediaPipe. Few frames each (the detector runs at ~40 frames/s)."""

from __future__ import annotations

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")
pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless) is not installed")
pytest.importorskip("mediapipe.python.solutions.pose", reason="mediapipe is not installed")

from sparse_mocap_addon.blender import video_import  # noqa: E402
from sparse_mocap_addon.blender.landmark_objects import read_landmark_empties  # noqa: E402
from sparse_mocap_addon.core.landmarks.formats import read_landmarks  # noqa: E402
from sparse_mocap_addon.core.landmarks.sequence import _up_rotation  # noqa: E402
from sparse_mocap_addon.operators.video import DetectionJob  # noqa: E402
from sparse_mocap_addon.video.detect import VideoCancelled  # noqa: E402
from tests.blender_helpers import counts  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402

POSE2SIM = SHARED_DATA / "landmarks_real" / "pose2sim"
VIDEOS = POSE2SIM / "videos"
CAM01 = VIDEOS / "cam01.mp4"
CALIBRATION = VIDEOS / "Calib.qca.txt"
TRC = POSE2SIM / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc"
CAMERA_FILES = [VIDEOS / f"cam0{i}.mp4" for i in range(1, 5)] + [CALIBRATION]
needs_video = pytest.mark.skipif(not CAM01.is_file(), reason=f"the shared video {CAM01} is absent")
needs_cameras = pytest.mark.skipif(not all(p.is_file() for p in CAMERA_FILES + [TRC]),
                                   reason=f"the shared Pose2Sim videos, calibration or TRC are absent ({POSE2SIM})")
NOTHING = dict(objects=0, armatures=0, meshes=0, actions=0)


def landmark_set():
    return next(o for o in bpy.data.objects if o.get("sparse_mocap_landmarks"))


def camera_folder(tmp_path, calibration=True):
    """A folder with links to the four shared videos (and the calibration)."""
    folder = tmp_path / "balancing"
    folder.mkdir()
    for path in CAMERA_FILES if calibration else CAMERA_FILES[:-1]:
        (folder / path.name).symlink_to(path)
    return folder


# --- registration ----------------------------------------------------------------------------------

def test_registered_undoable_with_the_solve_options_in_the_file_import_menu(addon):
    from sparse_mocap_addon.panels.main import menu_file_import

    for name in ("import_video", "import_camera_set"):
        op_class = getattr(bpy.types, f"SPARSE_MOCAP_OT_{name}")
        assert {"REGISTER", "UNDO"} <= set(op_class.bl_options), name
        props = getattr(bpy.ops.sparse_mocap, name).get_rna_type().properties
        for key in ("solve", "threshold", "strength", "filter_mode", "feet_on_floor", "fill_gaps", "target",
                    "blend_subject", "with_body", "onto_character", "start_frame", "max_frames"):
            assert key in props, (name, key)
        assert getattr(bpy.ops.sparse_mocap, name).poll()
    props = bpy.ops.sparse_mocap.import_video.get_rna_type().properties
    assert {"filepath", "landmarks_path", "fov", "focal_px"} <= set(props.keys())
    assert "*.mp4" in props["filter_glob"].default and "*.webm" in props["filter_glob"].default
    assert {"directory", "calibration", "trc_path"} <= set(bpy.ops.sparse_mocap.import_camera_set.get_rna_type()
                                                           .properties.keys())
    assert menu_file_import in bpy.types.TOPBAR_MT_file_import.draw._draw_funcs


# --- one video -------------------------------------------------------------------------------------

@needs_video
def test_import_video_solves_an_upright_performer_in_front_of_the_camera(addon, tmp_path):
    json_path = tmp_path / "out" / "cam01_take.json"
    json_path.parent.mkdir()
    assert bpy.ops.sparse_mocap.import_video(filepath=str(CAM01), landmarks_path=str(json_path),
                                             max_frames=20) == {"FINISHED"}
    # The JSON where asked: 20 frames of 33 MediaPipe world landmarks at the video's rate.
    document = json.loads(json_path.read_text())
    assert document["fps"] == pytest.approx(60.0) and len(document["frames"]) == 20
    assert all(len(frame["pose_world_landmarks"]) == 33 for frame in document["frames"])
    parent = landmark_set()
    assert len(parent.children) == 33 and parent.name == "cam01_landmarks"     # named after the video, not the JSON
    armature = bpy.context.active_object
    assert armature.type == "ARMATURE" and armature.animation_data.action is not None
    assert counts()["armatures"] == 1
    scene = bpy.context.scene
    assert scene.render.fps == 60 and scene.frame_end - scene.frame_start + 1 == 20
    pelvis, neck = armature.pose.bones["pelvis"], armature.pose.bones["neck"]
    for frame in range(scene.frame_start, scene.frame_end + 1, 4):
        scene.frame_set(frame)
        root = np.array(armature.matrix_world @ pelvis.head)
        spine = np.array(armature.matrix_world @ neck.head) - root
        # The camera is at the origin: the performer stands 2-6 m away, upright (Blender's +Z up).
        assert 2.0 < np.linalg.norm(root) < 6.0, (frame, root)
        tilt = np.degrees(np.arccos(spine[2] / np.linalg.norm(spine)))
        assert tilt < 30.0, (frame, tilt)


@needs_video
def test_default_landmark_file_beside_the_video_never_replaced(addon, tmp_path):
    video = tmp_path / "cam01.mp4"
    video.symlink_to(CAM01)
    ticks = []
    first, imported = video_import.import_video(video, max_frames=4, progress=ticks.append)
    # Progress from 0 to 1 over detection (to DETECTION_SHARE: one tick per frame) and the import.
    assert ticks[0] < 0.25 and ticks[-1] == pytest.approx(1.0) and np.all(np.diff(ticks) >= -1e-12)
    assert ticks[3] == pytest.approx(video_import.DETECTION_SHARE) and len(ticks) > 5
    assert first.path == tmp_path / "cam01.landmarks.json" and first.path.is_file()
    assert imported.solve is None and len(imported.parent.children) == 33 and counts()["armatures"] == 0
    assert read_landmarks(first.path).num_frames == 4
    written = first.path.read_bytes()
    second = video_import.detect_video_landmarks(video, max_frames=3, start=10)
    assert second.path == tmp_path / "cam01.landmarks.2.json" and second.frames == 3
    assert first.path.read_bytes() == written
    assert json.loads(second.path.read_text())["frames"][0]["frame"] == 10


@needs_video
def test_bad_video_and_unwritable_landmark_file_refused_with_nothing_made(addon, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is no video" * 100)
    with pytest.raises(RuntimeError, match=r"broken.mp4: not a video OpenCV can open") as error:
        bpy.ops.sparse_mocap.import_video(filepath=str(bad))
    assert "Traceback" not in str(error.value) and str(error.value).count("\n") <= 1
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    with pytest.raises(RuntimeError, match=r"notes.txt: not a video \(.mp4"):
        bpy.ops.sparse_mocap.import_video(filepath=str(notes))
    with pytest.raises(RuntimeError, match=r"absent.mp4: no such video file or image folder"):
        bpy.ops.sparse_mocap.import_video(filepath=str(tmp_path / "absent.mp4"))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(RuntimeError, match=r"cannot write the landmark file there .* not a writable folder"):
        bpy.ops.sparse_mocap.import_video(filepath=str(CAM01), landmarks_path=str(blocker / "out.json"), max_frames=2)
    assert counts() == NOTHING
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "broken.mp4", "notes.txt"]


@needs_video
def test_cancel_during_detection_makes_and_writes_nothing(addon, tmp_path):
    asked = []

    def should_cancel():
        asked.append(True)
        return len(asked) > 5                   # five frames detected, then the user presses Esc

    json_path = tmp_path / "take.json"
    with pytest.raises(VideoCancelled, match="cancelled at frame 5"):
        video_import.import_video(CAM01, landmarks_path=json_path, max_frames=50, should_cancel=should_cancel)
    assert len(asked) == 6 and not json_path.exists() and list(tmp_path.iterdir()) == []
    assert counts() == NOTHING


@needs_video
def test_detection_job_runs_in_a_thread_and_cancels(tmp_path):
    """The background job the modal operator polls: progress to 1 and the stage's result, or, with
    the cancel flag set, VideoCancelled and no file."""
    import functools
    import threading

    seen = []
    work = functools.partial(video_import.detect_video_landmarks, CAM01, landmarks_path=tmp_path / "a.json",
                             max_frames=6)

    def recording(**kwargs):
        seen.append(threading.current_thread() is not threading.main_thread())
        return work(**kwargs)

    job = DetectionJob(recording).start()
    assert job.wait(120) and job.error is None
    assert seen == [True] and job.progress == pytest.approx(1.0)
    assert job.result.path == tmp_path / "a.json" and job.result.frames == 6
    cancelled = DetectionJob(functools.partial(video_import.detect_video_landmarks, CAM01,
                                               landmarks_path=tmp_path / "b.json"))
    cancelled.cancel()
    assert cancelled.start().wait(120)
    assert isinstance(cancelled.error, VideoCancelled) and cancelled.result is None
    assert not (tmp_path / "b.json").exists()


# --- calibrated cameras ----------------------------------------------------------------------------

@needs_cameras
def test_import_camera_set_matches_pose2sim_wrists(addon, tmp_path):
    folder = camera_folder(tmp_path)
    assert bpy.ops.sparse_mocap.import_camera_set(directory=str(folder), max_frames=10, solve=False) == {"FINISHED"}
    trc = folder / "balancing.trc"
    assert trc.is_file() and read_landmarks(trc).num_frames == 10
    parent = landmark_set()
    assert len(parent.children) == 33 and counts()["armatures"] == 0
    # The empties, read back in the core frame (Y up), turned back into the Qualisys world (Z up:
    # the TRC was written after orient's +Z -> +Y turn); Pose2Sim's Y-up TRC turned back the same
    # way (its zup2yup). Video frame i <-> TRC row i.
    ours = read_landmark_empties(parent).points @ _up_rotation("+Z")
    reference = read_landmarks(TRC)
    theirs = reference.points[:10][..., [2, 0, 1]]
    names = read_landmark_empties(parent).names
    # The wrists within 5 cm on average (2 cm measured; one frame of the left wrist at 5.2 cm): the
    # detectors agree there. A frame or axis mix-up would be off by decimetres.
    for name in ("left_wrist", "right_wrist"):
        distance = np.linalg.norm(ours[:, names.index(name)] - theirs[:, reference.index(name)], axis=-1)
        assert np.isfinite(distance).all(), name
        assert distance.mean() < 0.05 and distance.max() < 0.06, (name, distance)


@needs_cameras
def test_import_camera_set_solves_onto_an_armature(addon, tmp_path):
    folder = camera_folder(tmp_path)
    trc = tmp_path / "chosen.trc"
    assert bpy.ops.sparse_mocap.import_camera_set(directory=str(folder), trc_path=str(trc), max_frames=10,
                                                  start_frame=20) == {"FINISHED"}
    assert trc.is_file() and not (folder / "balancing.trc").exists()
    armature = bpy.context.active_object
    assert armature.type == "ARMATURE" and armature.animation_data.action is not None
    bones = armature.pose.bones
    stature = (armature.matrix_world @ bones["head"].head)[2] - min(
        (armature.matrix_world @ bones[n].head)[2] for n in ("left_ankle", "right_ankle"))
    assert 1.2 < stature < 1.9


@needs_cameras
def test_camera_set_without_calibration_or_videos_refused(addon, tmp_path):
    folder = camera_folder(tmp_path, calibration=False)
    with pytest.raises(RuntimeError, match=r"balancing: no calibration file \(.toml or .qca.txt\) in the folder"):
        bpy.ops.sparse_mocap.import_camera_set(directory=str(folder), max_frames=2)
    (folder / "a.toml").write_text("")
    (folder / "b.qca.txt").write_text("")
    with pytest.raises(RuntimeError, match=r"several calibration files \(a.toml, b.qca.txt\); choose one"):
        bpy.ops.sparse_mocap.import_camera_set(directory=str(folder), max_frames=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError, match=r"empty: 0 video\(s\) .* two or more synchronised videos"):
        bpy.ops.sparse_mocap.import_camera_set(directory=str(empty), max_frames=2)
    with pytest.raises(RuntimeError, match="no such folder"):
        bpy.ops.sparse_mocap.import_camera_set(directory=str(tmp_path / "absent"), max_frames=2)
    assert counts() == NOTHING
    assert not list(folder.glob("*.trc"))


# --- without MediaPipe ---------------------------------------------------------------------------

def test_poll_message_and_panel_text_name_what_to_install(addon, monkeypatch):
    import importlib.util

    from sparse_mocap_addon.panels import main as panels_main

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(video_import, "_missing_modules", None)        # forget the cached look-up
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "mediapipe" else real_find_spec(name, *args))
    message = video_import.video_support_missing()
    assert message.startswith("Video import needs MediaPipe and OpenCV (MediaPipe not found)")
    assert "scripts/build_extension.py --video" in message and "mediapipe==0.10.14" in message
    assert "requirements.txt" in message
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    assert video_import.video_support_missing() == message              # cached: looked up once
    for name in ("import_video", "import_camera_set"):
        operator = getattr(bpy.ops.sparse_mocap, name)
        assert not operator.poll()
        with pytest.raises(RuntimeError, match="Video import needs MediaPipe and OpenCV"):
            operator()

    class Recorder:                             # what the Landmarks panel would draw
        def __init__(self):
            self.items = []

        def column(self, **kwargs):
            return self

        box = column

        def label(self, text="", icon="NONE"):
            self.items.append(("label", text))

        def operator(self, idname, **kwargs):
            self.items.append(("operator", idname))

    layout = Recorder()
    panels_main._draw_video_imports(layout)
    assert all(kind == "label" for kind, _ in layout.items)
    assert " ".join(text for _, text in layout.items) == message
    monkeypatch.setattr(video_import, "_missing_modules", [])
    layout = Recorder()
    panels_main._draw_video_imports(layout)
    assert layout.items == [("operator", "sparse_mocap.import_video"), ("operator", "sparse_mocap.import_camera_set")]
    assert bpy.ops.sparse_mocap.import_video.poll()


@needs_video
def test_image_folder_or_one_of_its_images(addon, tmp_path):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    capture = cv2.VideoCapture(str(CAM01))
    for i in range(3):
        ok, frame = capture.read()
        assert ok
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), frame)
    capture.release()
    # An image picked in the file browser stands for its folder.
    assert bpy.ops.sparse_mocap.import_video(filepath=str(folder / "frame_001.png"), solve=False) == {"FINISHED"}
    written = tmp_path / "frames.landmarks.json"
    assert written.is_file() and read_landmarks(written).num_frames == 3
    parent = landmark_set()
    assert parent.get("frame_count") == 3 and bpy.context.scene.render.fps == 30


@needs_cameras
def test_find_camera_set_from_a_folder_or_a_list_of_videos(tmp_path):
    folder = camera_folder(tmp_path)
    found = video_import.find_camera_set(folder)
    assert found == (folder, [folder / f"cam0{i}.mp4" for i in range(1, 5)], folder / "Calib.qca.txt")
    videos = [folder / "cam02.mp4", folder / "cam01.mp4"]
    assert video_import.find_camera_set(videos) == (folder, videos, folder / "Calib.qca.txt")
    other = tmp_path / "elsewhere.toml"
    assert video_import.find_camera_set(videos, other)[2] == other
    (folder / "notes.txt").write_text("not a video")
    assert len(video_import.find_camera_set(folder)[1]) == 4


@needs_video
def test_a_package_missing_behind_the_poll_is_one_sentence(addon, monkeypatch, tmp_path):
    """MediaPipe and OpenCV found (the poll passes) but a package they import is not: the detector's
    ImportError sentence is the report, nothing is made."""
    from sparse_mocap_addon.video import detect

    def missing():
        raise ImportError("Video detection needs OpenCV and MediaPipe (google.protobuf is missing): pip install x.")

    monkeypatch.setattr(detect, "_imports", missing)
    with pytest.raises(RuntimeError, match=r"cam01.mp4: Video detection needs .* \(google.protobuf is missing\)"):
        bpy.ops.sparse_mocap.import_video(filepath=str(CAM01), landmarks_path=str(tmp_path / "a.json"))
    assert counts() == NOTHING and list(tmp_path.iterdir()) == []
