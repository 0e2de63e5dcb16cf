"""MediaPipe Pose on a video file or a folder of images: 33 landmarks per frame, in the image
(pixels) and in MediaPipe's metric world frame, with visibility.

The model is the legacy ``mediapipe.solutions.pose`` of ``mediapipe==0.10.14``, whose wheel
carries ``pose_detection.tflite`` and ``pose_landmark_full.tflite`` (``model_complexity=1``). The
lite (0) and heavy (2) landmark models are not in the wheel: MediaPipe would download them on first
use, so they are refused here. Nothing is downloaded at run time.

Tracking: MediaPipe Pose runs in video mode (``static_image_mode=False``): the person detector
runs on the first frame, then the landmark model follows that person from frame to frame using
the previous frame's landmarks as the region of interest; when tracking is lost (tracking score
under 0.5) the detector runs again on the next frame. MediaPipe Pose follows **one** person: with
several people in view it takes the one its detector finds most prominent (highest score, in
practice the largest and most central), and after a loss it may pick up another person. Its own
landmark smoothing (``smooth_landmarks``) is on by default; it lags a little, so the calibrated
multi-camera path turns it off and smooths the triangulated points instead.

Threads: MediaPipe's calculators run on its own small thread pool and the TFLite model on XNNPACK;
neither follows ``OMP_NUM_THREADS``. One-core figures are measured with the process pinned to one
core (``taskset -c 0``), which confines every thread of the process.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.landmarks.sequence import LAYOUTS

__all__ = ["VideoDetection", "VideoCancelled", "VideoError", "detect_video", "MEDIAPIPE_NAMES",
           "IMAGE_EXTENSIONS", "DEFAULT_FOLDER_FPS", "INSTALL_HINT"]

MEDIAPIPE_NAMES = LAYOUTS["mediapipe33"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_FPS = 30.0
INSTALL_HINT = ("pip install opencv-python-headless==4.10.0.84 'protobuf<5' absl-py attrs flatbuffers matplotlib "
                "&& pip install --no-deps mediapipe==0.10.14")


class VideoError(ValueError):
    """A video or image folder that cannot be read (one sentence naming the file)."""


class VideoCancelled(Exception):
    """Detection stopped because ``should_cancel()`` returned True; nothing was returned or written."""


@dataclass
class VideoDetection:
    """MediaPipe Pose landmarks of a video, frame by frame.

    ``fps`` the frame rate (the video's, or the one given for an image folder); ``size`` the image
    (width, height) in pixels; ``image`` (T, 33, 2) image landmarks in pixels (x right, y down);
    ``world`` (T, 33, 3) world landmarks in metres, hip-centred, in MediaPipe's axes (x to the
    image's right, y down, z away from the camera); ``visibility`` (T, 33) in [0, 1]; ``found``
    (T,) whether a person was found (frames without one: NaN points and 0 visibility); ``names``
    the 33 landmark names (canonical, ``left_shoulder``, ...); ``source`` the file or folder;
    ``start`` the index of the first frame in the source.
    """

    fps: float
    size: tuple[int, int]
    image: np.ndarray
    world: np.ndarray
    visibility: np.ndarray
    found: np.ndarray
    names: tuple[str, ...]
    source: str
    start: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.found.shape[0])


def _imports():
    """(cv2, mediapipe's pose solution), or an ImportError that says what to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")     # MediaPipe's C++ start-up INFO lines
    try:
        import cv2
        from mediapipe.python.solutions import pose
    except ImportError as exc:
        raise ImportError(f"Video detection needs OpenCV and MediaPipe ({exc.name or exc} is missing): "
                          f"{INSTALL_HINT}.") from None
    return cv2, pose


# --- frame sources ------------------------------------------------------------------------------

class _VideoFrames:
    """BGR frames of a video file through cv2.VideoCapture."""

    def __init__(self, cv2, path: Path):
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise VideoError(f"{path}: not a video OpenCV can open (unreadable file or unknown format).")
        self.path = path
        self.fps = float(self.capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_FOLDER_FPS
        self.count = max(int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)

    def skip(self, count: int) -> None:
        for _ in range(count):
            if not self.capture.grab():
                break

    def read(self):
        ok, frame = self.capture.read()
        return frame if ok else None

    def close(self) -> None:
        self.capture.release()


class _FolderFrames:
    """BGR frames of the images in a folder, sorted by name."""

    def __init__(self, cv2, path: Path, fps: float):
        self.cv2, self.path, self.fps = cv2, path, float(fps)
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not self.files:
            raise VideoError(f"{path}: the folder has no images ({', '.join(IMAGE_EXTENSIONS)}).")
        self.count, self.next = len(self.files), 0

    def skip(self, count: int) -> None:
        self.next += count

    def read(self):
        if self.next >= len(self.files):
            return None
        file = self.files[self.next]
        self.next += 1
        frame = self.cv2.imread(str(file), self.cv2.IMREAD_COLOR)
        if frame is None:
            raise VideoError(f"{file}: not an image OpenCV can read.")
        return frame

    def close(self) -> None:
        pass


def _open(cv2, source: Path, fps: float | None):
    if source.is_dir():
        return _FolderFrames(cv2, source, fps or DEFAULT_FOLDER_FPS)
    if not source.is_file():
        raise VideoError(f"{source}: no such file or folder.")
    frames = _VideoFrames(cv2, source)
    if fps:
        frames.fps = float(fps)
    return frames


# --- detection ----------------------------------------------------------------------------------

def _landmark_array(landmarks, count: int) -> np.ndarray:
    """(count, 4) x, y, z, visibility of a MediaPipe landmark list."""
    return np.array([(m.x, m.y, m.z, m.visibility) for m in landmarks.landmark[:count]], dtype=np.float64)


def _check_arguments(start, max_frames, model_complexity, fps) -> None:
    if not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"start must be a frame index of 0 or more, got {start!r}.")
    if max_frames is not None and (not isinstance(max_frames, (int, np.integer)) or max_frames < 1):
        raise ValueError(f"max_frames must be a positive number of frames or None, got {max_frames!r}.")
    if model_complexity != 1:
        raise ValueError(f"model_complexity must be 1 (the full model), got {model_complexity!r}: the lite (0) "
                         "and heavy (2) models are not in the mediapipe wheel and would be downloaded.")
    if fps is not None and not (isinstance(fps, (int, float)) and 0.1 <= fps <= 1000):
        raise ValueError(f"fps must be a number from 0.1 to 1000, got {fps!r}.")


def detect_video(source, progress: Callable[[float], None] | None = None,
                 should_cancel: Callable[[], bool] | None = None, start: int = 0, max_frames: int | None = None,
                 model_complexity: int = 1, fps: float | None = None,
                 smooth_landmarks: bool = True) -> VideoDetection:
    """MediaPipe Pose landmarks of every frame of ``source`` (a video file, or a folder of images
    taken in name order) from frame ``start`` on, at most ``max_frames`` frames.

    ``progress(fraction)`` is called after each frame (fraction of the frames to do, 0-1);
    ``should_cancel()`` is asked before each frame and when it returns True detection stops with
    :class:`VideoCancelled`. ``fps``: the frame rate of an image folder (default 30), or an override
    of the video's. ``model_complexity``: 1, the full model (the only one in the wheel).
    ``smooth_landmarks``: MediaPipe's own filter over frames (it lags by about a frame).

    Raises :class:`VideoError` (a ValueError) in one sentence naming the file for a missing or
    unreadable file, a file that is not a video, an empty folder or a video without frames from
    ``start``; ImportError naming what to install when mediapipe or OpenCV is absent.
    """
    _check_arguments(start, max_frames, model_complexity, fps)
    cv2, mp_pose = _imports()
    source = Path(source)
    frames = _open(cv2, source, fps)
    try:
        return _run(cv2, mp_pose, frames, source, progress, should_cancel, start, max_frames, model_complexity,
                    smooth_landmarks)
    finally:
        frames.close()


def _run(cv2, mp_pose, frames, source, progress, should_cancel, start, max_frames, model_complexity,
         smooth_landmarks):
    frames.skip(start)
    total = max(frames.count - start, 0)
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    capacity = max(total, 1)
    n = len(MEDIAPIPE_NAMES)
    image = np.full((capacity, n, 2), np.nan)
    world = np.full((capacity, n, 3), np.nan)
    visibility = np.zeros((capacity, n))
    found = np.zeros(capacity, dtype=bool)
    size, done = None, 0
    with mp_pose.Pose(static_image_mode=False, model_complexity=model_complexity, smooth_landmarks=smooth_landmarks,
                      enable_segmentation=False) as pose:
        while max_frames is None or done < max_frames:
            if should_cancel is not None and should_cancel():
                raise VideoCancelled(f"{source}: detection cancelled at frame {start + done}.")
            frame = frames.read()
            if frame is None:
                break
            if size is None:
                size = (int(frame.shape[1]), int(frame.shape[0]))
            if done >= capacity:          # the container's frame count was short: grow
                capacity *= 2
                image, world, visibility, found = (_grown(a, capacity) for a in (image, world, visibility, found))
            with warnings.catch_warnings():      # protobuf 4's deprecation notice inside MediaPipe
                warnings.simplefilter("ignore", UserWarning)
                result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if result.pose_landmarks is not None and result.pose_world_landmarks is not None:
                marks = _landmark_array(result.pose_landmarks, n)
                image[done] = marks[:, :2] * size
                world[done] = _landmark_array(result.pose_world_landmarks, n)[:, :3]
                visibility[done] = marks[:, 3]
                found[done] = True
            done += 1
            if progress is not None:
                progress(min(done / total, 1.0) if total else 0.0)
    if done == 0:
        raise VideoError(f"{source}: no frames to read" + (f" from frame {start}." if start else "."))
    return VideoDetection(fps=frames.fps, size=size, image=image[:done], world=world[:done],
                          visibility=visibility[:done], found=found[:done], names=MEDIAPIPE_NAMES,
                          source=str(source), start=int(start))


def _grown(array: np.ndarray, capacity: int) -> np.ndarray:
    fill = False if array.dtype == bool else (0.0 if array.ndim == 2 else np.nan)
    grown = np.full((capacity,) + array.shape[1:], fill, dtype=array.dtype)
    grown[:len(array)] = array
    return grown
