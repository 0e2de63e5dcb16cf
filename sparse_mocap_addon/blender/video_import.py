"""Video to a landmark set: Import Video (one camera) and Import Camera Set (calibrated cameras).

Each import runs in two stages, so that the operators can run the long first one in a background
thread and the second in Blender's main thread:

1. **Detection** (:func:`detect_video_landmarks`, :func:`detect_camera_landmarks`): MediaPipe Pose
   on the video(s), then the single video placed in front of its camera (``video.mono``) or the
   cameras' keypoints triangulated (``pipelines.cameras``), written as a landmark file: MediaPipe
   JSON beside the video, or TRC beside the camera set. No bpy: safe in a thread. Nothing is
   written before detection has finished, so a cancelled or failed detection leaves no file.
2. **Import** (:func:`import_detected`): that file through :func:`.landmark_solve.import_landmarks`,
   the same landmark set of empties (and optional solve and bake) as Import Landmarks.

:func:`import_video` and :func:`import_camera_set` run both stages in turn (scripts, tests,
background mode), with progress from 0 to 1 over both (:data:`DETECTION_SHARE` for detection).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..pipelines.cameras import VIDEO_EXTENSIONS
from ..video.mono import DEFAULT_FOV_DEG
from .landmark_solve import LandmarkImport, import_landmarks
from .mocap_import import take_name
from .set_solve import stage

__all__ = ["DETECTION_SHARE", "VIDEO_FILE_EXTENSIONS", "DetectedLandmarks", "video_support_missing",
           "detect_video_landmarks", "detect_camera_landmarks", "find_camera_set", "import_detected",
           "import_video", "import_camera_set"]

DETECTION_SHARE = 0.8           # of the progress bar: detection is the long part
VIDEO_FILE_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm")        # what Import Video lists
CALIBRATION_SUFFIXES = (".toml", ".qca.txt")
INSTALL_TEXT = ("install the extension's video build for your platform (scripts/build_extension.py --video), or "
                "pip install --no-deps mediapipe==0.10.14 plus the packages listed in requirements.txt "
                "(opencv-python-headless, protobuf<5, absl-py, attrs, flatbuffers, matplotlib) into Blender's Python")

_missing_modules: list | None = None


def video_support_missing() -> str | None:
    """One sentence naming what to install when MediaPipe or OpenCV cannot be imported, else None.
    Looked up once (``importlib.util.find_spec``: nothing is imported) and cached."""
    global _missing_modules
    if _missing_modules is None:
        _missing_modules = [name for name in ("mediapipe", "cv2") if importlib.util.find_spec(name) is None]
    if not _missing_modules:
        return None
    names = " and ".join({"cv2": "OpenCV (cv2)", "mediapipe": "MediaPipe"}[n] for n in _missing_modules)
    return f"Video import needs MediaPipe and OpenCV ({names} not found): {INSTALL_TEXT}."


@dataclass
class DetectedLandmarks:
    """What the detection stage wrote: the landmark ``path`` (MediaPipe JSON or TRC), how to read it
    (``layout``, ``up_axis``), the ``source`` video or folder, its ``frames`` and a ``detail`` line
    for the report (frames with a person, distance or triangulation quality)."""

    path: Path
    layout: str
    up_axis: str
    source: Path
    frames: int
    detail: str


# --- the detection stage (no bpy) ------------------------------------------------------------------

def detect_video_landmarks(path, landmarks_path=None, focal_px: float | None = None,
                           fov_deg: float = DEFAULT_FOV_DEG, start: int = 0, max_frames: int | None = None,
                           progress=None, should_cancel=None) -> DetectedLandmarks:
    """MediaPipe Pose on a video (or a folder of images), placed in front of the camera
    (``focal_px`` when known, else ``fov_deg`` across the image's long side) and written as
    MediaPipe JSON at ``landmarks_path`` (default beside the video: ``<name>.landmarks.json``, or
    ``<name>.landmarks.2.json``... when that exists). Raises ``VideoError`` / ValueError in one
    sentence, ``VideoCancelled`` when ``should_cancel()`` turns True (nothing written)."""
    from ..video.detect import detect_video
    from ..video.mono import place_detection, write_landmark_json

    path = _video_source(path)
    if landmarks_path is None:
        landmarks_path = _free_path(path.parent / f"{path.name if path.is_dir() else path.stem}.landmarks.json")
    landmarks_path = Path(landmarks_path)
    _check_writable(landmarks_path)
    detection = detect_video(path, progress=progress, should_cancel=should_cancel, start=start,
                             max_frames=max_frames)
    placement = place_detection(detection, focal_px=focal_px, fov_deg=fov_deg)
    _write(landmarks_path, lambda: write_landmark_json(landmarks_path, placement, start=start, source=str(path)))
    found, distance = int(detection.found.sum()), float(np.nanmedian(placement.distance_m()))
    detail = (f"person in {found} of {detection.num_frames} frames, {distance:.1f} m from the camera "
              f"(focal length {placement.focal_px:.0f} px)")
    # The placed points are in MediaPipe's levelled camera axes: y down.
    return DetectedLandmarks(landmarks_path, "mediapipe33", "-Y", path, detection.num_frames, detail)


def detect_camera_landmarks(folder_or_videos, calibration=None, trc_path=None, start: int = 0,
                            max_frames: int | None = None, progress=None, should_cancel=None) -> DetectedLandmarks:
    """MediaPipe Pose in every video of a calibrated camera set (:func:`find_camera_set`),
    triangulated and written as TRC (OpenSim's Y up) at ``trc_path`` (default
    ``<folder>/<folder name>.trc``, or ``<folder name>.2.trc``... when that exists). Errors as
    :func:`detect_video_landmarks`, plus the calibration's and the matching's (``CalibrationError``)."""
    from ..pipelines.cameras import landmarks_from_cameras, write_camera_trc

    folder, videos, calibration = find_camera_set(folder_or_videos, calibration)
    trc_path = Path(trc_path) if trc_path is not None else _free_path(folder / f"{folder.name}.trc")
    _check_writable(trc_path)
    result = landmarks_from_cameras(videos, calibration, progress=progress, should_cancel=should_cancel,
                                    start=start, max_frames=max_frames)
    _write(trc_path, lambda: write_camera_trc(trc_path, result))
    valid = result.triangulation.valid
    error = float(np.nanmean(result.error_px)) if valid.any() else float("nan")
    detail = (f"{len(result.cameras.names)} cameras, {100.0 * valid.mean():.0f}% of the points triangulated, "
              f"reprojection error {error:.1f} px")
    return DetectedLandmarks(trc_path, "auto", "+Y", folder, result.sequence.num_frames, detail)


def find_camera_set(folder_or_videos, calibration=None) -> tuple[Path, list[Path], Path]:
    """(folder, videos, calibration file) of a camera set: a folder (its videos, and its one
    ``.toml`` or ``.qca.txt`` file unless ``calibration`` is given), or a list of videos (the
    calibration found in the first video's folder unless given). One sentence when the folder is
    missing, holds fewer than two videos, or no or several calibration files."""
    if isinstance(folder_or_videos, (str, os.PathLike)):
        folder = Path(folder_or_videos)
        if not folder.is_dir():
            raise ValueError(f"{folder}: no such folder; expected a folder with the videos and their calibration.")
        videos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        if len(videos) < 2:
            raise ValueError(f"{folder}: {len(videos)} video(s) ({', '.join(VIDEO_EXTENSIONS)}) in the folder; "
                             "a camera set needs two or more synchronised videos.")
    else:
        videos = [Path(v) for v in folder_or_videos]
        if not videos:
            raise ValueError("no videos given; a camera set needs two or more synchronised videos.")
        folder = videos[0].parent
    if calibration is None:
        found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(CALIBRATION_SUFFIXES))
        if not found:
            raise ValueError(f"{folder}: no calibration file (.toml or .qca.txt) in the folder; add the cameras' "
                             "calibration there or choose it as Calibration.")
        if len(found) > 1:
            raise ValueError(f"{folder}: several calibration files ({', '.join(p.name for p in found)}); choose "
                             "one as Calibration.")
        calibration = found[0]
    return folder, videos, Path(calibration)


def _video_source(path) -> Path:
    """The video file or image folder; an image picked in a folder stands for its folder."""
    from ..video.detect import IMAGE_EXTENSIONS

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such video file or image folder.")
    if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
        return path.parent
    return path


def _free_path(path: Path) -> Path:
    """``path``, or the first of ``<stem>.2<suffix>``, ``<stem>.3<suffix>``... that does not exist
    (a default output never replaces an earlier file)."""
    base = path.name[:len(path.name) - len(path.suffix)]
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{base}.{number}{path.suffix}")
        number += 1
    return candidate


def _check_writable(path: Path) -> None:
    """Refuse, before the long detection, an output whose folder cannot take it."""
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK) or path.is_dir():
        raise ValueError(f"{path}: cannot write the landmark file there ({folder} is not a writable folder); "
                         "choose another file.")


def _write(path: Path, write) -> None:
    """``write()``, its OSError turned into one sentence (the writers replace files atomically)."""
    try:
        write()
    except OSError as exc:
        raise ValueError(f"{path}: cannot write the landmark file ({exc.strerror or exc}); "
                         "choose another file.") from None


# --- the import stage (bpy, main thread) -----------------------------------------------------------

def import_detected(detected: DetectedLandmarks, progress=None, **landmark_import_options) -> LandmarkImport:
    """The detected landmark file as a landmark set, solved when ``solve`` options are given
    (``landmark_import_options``: those of :func:`.landmark_solve.import_landmarks` after the
    reading ones)."""
    # The take is named after the video (or the camera set's folder), not after the landmark file.
    landmark_import_options.setdefault("name", take_name(detected.source))
    return import_landmarks(detected.path, layout=detected.layout, up_axis=detected.up_axis, progress=progress,
                            **landmark_import_options)


def import_video(path, landmarks_path=None, focal_px: float | None = None, fov_deg: float = DEFAULT_FOV_DEG,
                 start: int = 0, max_frames: int | None = None, progress=None, should_cancel=None,
                 **landmark_import_options) -> tuple[DetectedLandmarks, LandmarkImport]:
    """Video (or image folder) -> MediaPipe JSON (:func:`detect_video_landmarks`) -> landmark set
    (:func:`import_detected`); ``progress`` goes from 0 to 1 over both stages."""
    tick = progress or (lambda fraction: None)
    detected = detect_video_landmarks(path, landmarks_path, focal_px, fov_deg, start, max_frames,
                                      stage(tick, 0.0, DETECTION_SHARE), should_cancel)
    return detected, import_detected(detected, stage(tick, DETECTION_SHARE, 1.0), **landmark_import_options)


def import_camera_set(folder_or_videos, calibration=None, trc_path=None, start: int = 0,
                      max_frames: int | None = None, progress=None, should_cancel=None,
                      **landmark_import_options) -> tuple[DetectedLandmarks, LandmarkImport]:
    """Calibrated videos -> TRC (:func:`detect_camera_landmarks`) -> landmark set
    (:func:`import_detected`); ``progress`` goes from 0 to 1 over both stages."""
    tick = progress or (lambda fraction: None)
    detected = detect_camera_landmarks(folder_or_videos, calibration, trc_path, start, max_frames,
                                       stage(tick, 0.0, DETECTION_SHARE), should_cancel)
    return detected, import_detected(detected, stage(tick, DETECTION_SHARE, 1.0), **landmark_import_options)
