"""MediaPipe Pose on the shared Pose2Sim video (real model from the mediapipe wheel, real video)."""

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

cv2 = pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless) is not installed")
pytest.importorskip("mediapipe.python.solutions.pose", reason="mediapipe is not installed")

from sparse_mocap_addon.video.detect import (MEDIAPIPE_NAMES, VideoCancelled, VideoError,  # noqa: E402
                                             detect_video)

CAM01 = SHARED_DATA / "landmarks_real" / "pose2sim" / "videos" / "cam01.mp4"
needs_video = pytest.mark.skipif(not CAM01.is_file(), reason=f"shared video {CAM01} is absent")


@pytest.fixture(scope="module")
def cam01():
    if not CAM01.is_file():
        pytest.skip(f"shared video {CAM01} is absent")
    return detect_video(CAM01, max_frames=100)


def _limb(det, a, b):
    i, j = MEDIAPIPE_NAMES.index(a), MEDIAPIPE_NAMES.index(b)
    return np.linalg.norm(det.world[:, i] - det.world[:, j], axis=-1)


@needs_video
def test_person_found_with_plausible_limbs(cam01):
    assert cam01.num_frames == 100 and cam01.fps == pytest.approx(60.0)
    assert cam01.size == (1080, 1920)
    assert cam01.found.sum() >= 95
    assert cam01.image.shape == (100, 33, 2) and cam01.world.shape == (100, 33, 3)
    assert cam01.visibility.shape == (100, 33) and cam01.names == MEDIAPIPE_NAMES
    found = cam01.found
    # Image landmarks inside the picture; the world ones hip-centred, y down (she bends forward at
    # times, so the shoulders are above the hips and the standing foot well below them).
    assert (cam01.image[found] >= -50).all() and (cam01.image[found, :, 0] <= 1130).all()
    mid_hip = cam01.world[found][:, [23, 24]].mean(axis=1)
    assert np.abs(mid_hip).max() < 0.05
    world = cam01.world[found]
    assert (world[:, 11, 1] < world[:, 23, 1] - 0.2).all()
    assert (world[:, [27, 28], 1].max(axis=1) > 0.45).all()
    for a, b, low, high in (("left_hip", "left_knee", 0.3, 0.55), ("right_knee", "right_ankle", 0.3, 0.55),
                            ("left_shoulder", "left_elbow", 0.2, 0.4), ("right_elbow", "right_wrist", 0.18, 0.35),
                            ("left_shoulder", "right_shoulder", 0.25, 0.5)):
        length = np.median(_limb(cam01, a, b)[found])
        assert low < length < high, (a, b, length)


@needs_video
def test_image_folder_matches_video(cam01, tmp_path):
    capture = cv2.VideoCapture(str(CAM01))
    for i in range(5):
        ok, frame = capture.read()
        assert ok
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), frame)     # lossless: the same pixels
    capture.release()
    (tmp_path / "notes.txt").write_text("not an image")
    folder = detect_video(tmp_path, fps=60)
    assert folder.num_frames == 5 and folder.fps == 60.0 and folder.size == cam01.size
    np.testing.assert_allclose(folder.image, cam01.image[:5], atol=1e-3)
    np.testing.assert_allclose(folder.world, cam01.world[:5], atol=1e-4)
    np.testing.assert_allclose(folder.visibility, cam01.visibility[:5], atol=1e-4)


@needs_video
def test_start_and_progress():
    seen = []
    det = detect_video(CAM01, progress=seen.append, start=10, max_frames=4)
    assert det.num_frames == 4 and det.start == 10
    assert seen == pytest.approx([0.25, 0.5, 0.75, 1.0])


@needs_video
def test_cancel_mid_way():
    calls = []

    def should_cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(VideoCancelled, match="cancelled at frame 3"):
        detect_video(CAM01, should_cancel=should_cancel, max_frames=20)
    assert len(calls) == 4


def test_bad_inputs_refused_in_one_sentence(tmp_path):
    garbled = tmp_path / "clip.mp4"
    garbled.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoError) as info:
        detect_video(garbled)
    message = str(info.value)
    assert str(garbled) in message and message.count(". ") == 0 and "\n" not in message
    with pytest.raises(VideoError, match="no such file"):
        detect_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoError, match="has no images"):
        detect_video(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "0001.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match="0001.png: not an image"):
        detect_video(broken)
    with pytest.raises(ValueError, match="model_complexity"):
        detect_video(garbled, model_complexity=2)


@needs_video
def test_start_past_the_end_refused():
    with pytest.raises(VideoError, match=r"cam01.mp4: no frames to read from frame 1000\.$"):
        detect_video(CAM01, start=1000)


def test_missing_mediapipe_named_with_the_install_line(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "mediapipe.python.solutions", None)      # as if it were not installed
    with pytest.raises(ImportError) as info:
        detect_video(tmp_path)
    message = str(info.value)
    assert message.startswith("Video detection needs OpenCV and MediaPipe")
    assert "pip install --no-deps mediapipe==0.10.14" in message and "opencv-python-headless" in message
