"""Calibrated multi-camera path on the shared Pose2Sim recording: four real videos, the real Qualisys
calibration, MediaPipe from its wheel, robust triangulation, TRC out, the landmark solve after it."""

import shutil

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

cv2 = pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless) is not installed")
pytest.importorskip("mediapipe.python.solutions.pose", reason="mediapipe is not installed")

from sparse_mocap_addon.core.landmarks.cameras import CalibrationError, project, read_calibration  # noqa: E402
from sparse_mocap_addon.core.landmarks.formats import read_landmarks  # noqa: E402
from sparse_mocap_addon.pipelines.cameras import (LIMB_KEYPOINTS, landmarks_from_cameras,  # noqa: E402
                                                  match_videos, write_camera_trc)
from sparse_mocap_addon.pipelines.landmarks import solve_landmarks  # noqa: E402
from sparse_mocap_addon.video.detect import VideoCancelled  # noqa: E402

POSE2SIM = SHARED_DATA / "landmarks_real" / "pose2sim"
QCA = POSE2SIM / "videos" / "Calib.qca.txt"
TRC = POSE2SIM / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc"
VIDEOS = [POSE2SIM / "videos" / f"cam0{i}.mp4" for i in range(1, 5)]
FRAMES = 30
needs_data = pytest.mark.skipif(not (QCA.is_file() and TRC.is_file() and all(v.is_file() for v in VIDEOS)),
                                reason=f"the shared Pose2Sim videos, calibration or TRC are absent ({POSE2SIM})")


@pytest.fixture(scope="module")
def run():
    if not (QCA.is_file() and TRC.is_file() and all(v.is_file() for v in VIDEOS)):
        pytest.skip(f"the shared Pose2Sim recording is absent ({POSE2SIM})")
    fractions = []
    result = landmarks_from_cameras(list(reversed(VIDEOS)), QCA, progress=fractions.append, max_frames=FRAMES)
    return result, fractions


def _pose2sim_world():
    seq = read_landmarks(TRC)
    return seq, seq.points[..., [2, 0, 1]]           # Pose2Sim's TRC is Y-up: x, y, z = world Y, Z, X


@needs_data
def test_the_calibration_puts_pose2sim_points_on_the_detected_person(run):
    """The Qualisys conventions checked against the pictures: Pose2Sim's 3D keypoints, projected with
    our reading of the file, land within a few centimetres' worth of pixels of MediaPipe's 2D keypoints
    in every camera; reading the matrix transposed (the other convention) misses by hundreds."""
    result, _ = run
    seq, world = _pose2sim_world()
    limbs_mp = [result.sequence.index(n) for n in LIMB_KEYPOINTS]
    limbs_trc = [seq.index(n) for n in LIMB_KEYPOINTS]
    observed = result.pixels[:, :, limbs_mp]

    def median_px(cameras):       # a point behind a camera (NaN) counts as a miss
        distance = np.linalg.norm(project(cameras, world[:FRAMES])[:, :, limbs_trc] - observed, axis=-1)
        return np.median(np.nan_to_num(distance, nan=1e9), axis=(0, 2))

    ours = median_px(result.cameras)
    assert (ours < 35.0).all(), ours
    flipped = read_calibration(QCA).subset(result.cameras.names)
    centres = flipped.centres
    flipped.R = np.diag([1.0, -1.0, -1.0]) @ np.swapaxes(np.diag([1.0, -1.0, -1.0]) @ flipped.R, 1, 2)
    flipped.t = -np.einsum("nij,nj->ni", flipped.R, centres)
    assert (median_px(flipped) > 150.0).all()


@needs_data
def test_videos_matched_by_name_and_triangulated(run):
    result, fractions = run
    assert result.cameras.names == ("cam04", "cam03", "cam02", "cam01")       # the order of the videos given
    seq = result.sequence
    assert seq.layout == "mediapipe33" and seq.num_frames == FRAMES and seq.fps == pytest.approx(60.0)
    assert result.pixels.shape == (FRAMES, 4, 33, 2) and result.visibility.shape == (FRAMES, 4, 33)
    limbs = [seq.index(n) for n in LIMB_KEYPOINTS]
    tri = result.triangulation
    assert tri.valid[:, limbs].mean() > 0.95
    assert np.nanmedian(tri.error_px[:, limbs]) < 20.0
    assert (tri.inlier_count[tri.valid] >= 2).all()
    assert ((seq.confidence > 0) == tri.valid).all()
    assert fractions[-1] == pytest.approx(1.0) and all(np.diff(fractions) >= -1e-12)
    assert set(result.seconds) == {"cam01", "cam02", "cam03", "cam04", "triangulation"}


@needs_data
def test_limb_keypoints_near_pose2sim(run):
    """Target 20 mm over the limb keypoints is not reached with MediaPipe (measured: about 43 mm over
    all 100 frames; its 2D keypoints sit 10-45 px from OpenPose's). This guards what is reached."""
    result, _ = run
    seq, world = _pose2sim_world()
    mine = result.sequence.points[:, [result.sequence.index(n) for n in LIMB_KEYPOINTS]]
    theirs = world[:FRAMES, [seq.index(n) for n in LIMB_KEYPOINTS]]
    error_mm = np.linalg.norm(mine - theirs, axis=-1) * 1000.0
    assert np.nanmean(error_mm) < 55.0
    assert (np.nanmean(error_mm, axis=0) < 80.0).all()
    assert np.nanpercentile(error_mm, 95) < 150.0


@needs_data
def test_trc_written_read_back_and_solved(run, tmp_path):
    result, _ = run
    path = write_camera_trc(tmp_path / "cameras.trc", result, up_axis="+Z")
    back = read_landmarks(path)
    assert back.num_frames == FRAMES and back.fps == pytest.approx(60.0) and back.names == result.sequence.names
    hips = [back.index("left_hip"), back.index("right_hip")]
    head = back.index("nose")
    assert np.nanmean(back.points[:, head, 1] - back.points[:, hips, 1].mean(axis=1)) > 0.4     # Y up
    motion, report = solve_landmarks(back)
    assert motion.num_frames == FRAMES
    assert 1.4 < motion.skeleton.stature() < 2.0
    assert report["masked_fraction"] < 0.2


def test_videos_that_match_no_camera_are_refused(tmp_path):
    if not QCA.is_file():
        pytest.skip(f"the shared calibration is absent ({QCA})")
    cameras = read_calibration(QCA)
    with pytest.raises(CalibrationError, match="side.mp4: no camera"):
        match_videos([tmp_path / "cam01.mp4", tmp_path / "side.mp4"], cameras)
    with pytest.raises(CalibrationError, match="already has the video"):
        match_videos([tmp_path / "cam01.mp4", tmp_path / "CAM01.mov"], cameras)
    with pytest.raises(CalibrationError, match="at least two"):
        match_videos([tmp_path / "cam01.mp4"], cameras)
    videos, picked = match_videos([tmp_path / "take_cam02.mp4", tmp_path / "cam01.mp4"], cameras)
    assert picked.names == ("cam02", "cam01")


def _write_video(path, frames, size=(1080, 1920), fps=60.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(frames):
        writer.write(np.full((size[1], size[0], 3), 90, np.uint8))
    writer.release()


@needs_data
def test_unsynchronised_or_wrongly_sized_videos_are_refused(tmp_path):
    shutil.copy(VIDEOS[0], tmp_path / "cam01.mp4")
    _write_video(tmp_path / "cam02.mp4", 10)
    with pytest.raises(CalibrationError, match="cam02.mp4: 10 frames but .*cam01.mp4 has 100"):
        landmarks_from_cameras([tmp_path / "cam01.mp4", tmp_path / "cam02.mp4"], QCA)
    _write_video(tmp_path / "cam02.mp4", 100, fps=30.0)
    with pytest.raises(CalibrationError, match="30 frames/s"):
        landmarks_from_cameras([tmp_path / "cam01.mp4", tmp_path / "cam02.mp4"], QCA)
    _write_video(tmp_path / "cam02.mp4", 100, size=(320, 240))
    with pytest.raises(CalibrationError, match="320x240 pixels but camera 'cam02'"):
        landmarks_from_cameras([tmp_path / "cam02.mp4", tmp_path / "cam01.mp4"], QCA, max_frames=3)
    with pytest.raises(CalibrationError, match="no such video"):
        landmarks_from_cameras([tmp_path / "cam03.mp4", tmp_path / "cam01.mp4"], QCA)


@needs_data
def test_cancel_stops_detection():
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(VideoCancelled):
        landmarks_from_cameras(VIDEOS[:2], QCA, should_cancel=cancel)
