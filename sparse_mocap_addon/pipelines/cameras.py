"""Calibrated multi-camera video -> 3D landmarks: detect in every camera, triangulate, hand over.

    videos + calibration  ->  match each video to its camera by name  ->  MediaPipe Pose in each
    video (``video.detect.detect_video``: 33 pixel keypoints + visibility per frame)  ->  robust
    triangulation (``core.landmarks.triangulation``: visibility-weighted DLT, RANSAC over camera
    pairs, reprojection rejection)  ->  a ``LandmarkSequence`` (layout "mediapipe33", metres, the
    calibration's world axes) that ``pipelines.landmarks.solve_landmarks`` takes as it is, plus the
    per-point quality (reprojection error, inlier cameras)  ->  optionally a TRC file
    (:func:`write_camera_trc`).

Matching: a video belongs to the camera whose name equals the file's stem (``cam01.mp4`` <->
camera "cam01"; case does not matter), else to the one camera whose name ends the stem
(``trial_cam01.mp4``). Every video must match exactly one camera, at least two videos are needed,
and the videos must have the same frame count and rate (synchronised recordings) and the image
size of their camera (within 2 %: the shared cam01/cam02 videos are 1080 pixels wide for a
1088-pixel calibration). Each problem is refused in one sentence naming the file.

Benchmark figures: :func:`multi_camera_figures(data_dir)` runs the whole path on the shared
Pose2Sim recording (``<data_dir>/landmarks_real/pose2sim``) and returns a dict with the keys

- ``multi_camera_mpjpe_mm``: mean distance (mm) from Pose2Sim's raw balancing-trial TRC over the
  limb keypoints (shoulders, elbows, wrists, knees, ankles), all frames; ``multi_camera_mpjpe_max_mm``
  the largest single distance; ``multi_camera_keypoint_mm``: each limb keypoint's mean;
- ``multi_camera_other_keypoints_mm``: hips, heels, toes (MediaPipe ``foot_index`` vs big toe),
  nose and head (MediaPipe's mid-ear point vs Pose2Sim's ``Head``): reported apart, since
  MediaPipe and OpenPose BODY_25B define them differently;
- ``multi_camera_frames_per_second``: camera-frames per second of the whole path (detection,
  decoding included, + triangulation) = frames x cameras / seconds, i.e. the rate per camera;
  ``multi_camera_detection_fps_by_camera``, ``multi_camera_triangulation_seconds``;
- ``multi_camera_valid_fraction``, ``multi_camera_reprojection_px`` (mean over valid points),
  ``multi_camera_mean_inliers`` (cameras per valid point);
- ``multi_camera_landmark_bone_cv_pct``: bone-length coefficient of variation (%) of the
  triangulated hip-knee, knee-ankle, shoulder-elbow and elbow-wrist segments (mean of 8);
  ``multi_camera_reference_bone_cv_pct`` the same on Pose2Sim's TRC;
  ``multi_camera_armature_bone_cv_pct``: the same segments on the armature that
  ``solve_landmarks`` makes from the result (rigid bones: about 0 unless the solve failed).

Video frame i goes with TRC data row i (``Frame#`` i + 1). Pose2Sim's TRC is Y-up (its ``zup2yup``:
TRC x, y, z = world y, z, x), so it is turned back into the Qualisys world first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.landmarks.cameras import CalibrationError, CameraSet, read_calibration
from ..core.landmarks.sequence import LAYOUTS, LandmarkSequence, orient
from ..core.landmarks.trc_writer import write_trc
from ..core.landmarks.triangulation import DEFAULT_THRESHOLD_PX, Triangulation, triangulate

__all__ = ["CameraLandmarks", "landmarks_from_cameras", "match_videos", "write_camera_trc",
           "multi_camera_figures", "LIMB_KEYPOINTS", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm")
MEDIAPIPE_NAMES = LAYOUTS["mediapipe33"]
LIMB_KEYPOINTS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                  "left_knee", "right_knee", "left_ankle", "right_ankle")
SIZE_TOLERANCE = 0.02
THRESHOLD_FRACTION = 0.02       # default reprojection threshold: 2 % of the larger image side (38 px at 1920)
MIN_CONFIDENCE = 0.1            # MediaPipe visibility below this: the camera does not see the point


@dataclass
class CameraLandmarks:
    """The triangulated landmarks of a calibrated multi-camera recording.

    ``sequence``: the 33 MediaPipe points (layout "mediapipe33"), metres, in the calibration's world
    axes; confidence = mean visibility over the inlier cameras, 0 where rejected. ``triangulation``:
    per-point quality (``error_px``, ``inliers``, ``valid``). ``cameras``: the cameras used, in
    the order of ``videos``. ``pixels`` (T, C, 33, 2) and ``visibility`` (T, C, 33): the detector's
    keypoints in each camera. ``seconds``: time spent detecting (per camera) and triangulating.
    """

    sequence: LandmarkSequence
    triangulation: Triangulation
    cameras: CameraSet
    videos: tuple
    pixels: np.ndarray
    visibility: np.ndarray
    seconds: dict = field(default_factory=dict)

    @property
    def error_px(self) -> np.ndarray:
        return self.triangulation.error_px

    @property
    def inlier_count(self) -> np.ndarray:
        return self.triangulation.inlier_count


def match_videos(videos, cameras: CameraSet) -> tuple[list[Path], CameraSet]:
    """The videos and their cameras, in the same order (rules in the module docstring)."""
    videos = [Path(v) for v in videos]
    if len(videos) < 2:
        raise CalibrationError(f"{len(videos)} video given; triangulation needs at least two synchronised videos.")
    lower = [n.lower() for n in cameras.names]
    chosen = []
    for video in videos:
        stem = video.name.lower().split(".")[0]
        matches = [i for i, n in enumerate(lower) if n == stem] or [i for i, n in enumerate(lower) if stem.endswith(n)]
        if len(matches) != 1:
            why = "no camera" if not matches else "several cameras"
            raise CalibrationError(f"{video}: {why} of {cameras.source} ({', '.join(cameras.names)}) has this "
                                   "video's name; name each video after its camera (cam01.mp4 for camera cam01).")
        if matches[0] in chosen:
            other = videos[chosen.index(matches[0])]
            raise CalibrationError(f"{video}: camera {cameras.names[matches[0]]!r} already has the video {other}.")
        chosen.append(matches[0])
    return videos, cameras.subset([cameras.names[i] for i in chosen])


def _check_size(video: Path, size, cameras: CameraSet, c: int) -> None:
    expected = cameras.sizes[c]
    if np.any(np.abs(np.asarray(size, dtype=float) - expected) > SIZE_TOLERANCE * expected):
        raise CalibrationError(f"{video}: the video is {size[0]}x{size[1]} pixels but camera "
                               f"{cameras.names[c]!r} of {cameras.source} was calibrated at "
                               f"{expected[0]:g}x{expected[1]:g}; expected the calibrated image size.")


def _check_synchronised(videos, detections) -> None:
    first = detections[0]
    for video, detection in zip(videos[1:], detections[1:]):
        if detection.num_frames != first.num_frames:
            raise CalibrationError(f"{video}: {detection.num_frames} frames but {videos[0]} has "
                                   f"{first.num_frames}; expected synchronised videos of equal length.")
        if abs(detection.fps - first.fps) > 1e-3 * first.fps:
            raise CalibrationError(f"{video}: {detection.fps:g} frames/s but {videos[0]} has {first.fps:g}; "
                                   "expected synchronised videos at one frame rate.")


def _video_header(cv2, video: Path) -> tuple[int, float]:
    """(frame count, frame rate) from the container, to refuse unsynchronised videos before detecting."""
    capture = cv2.VideoCapture(str(video))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()


def _check_headers(videos) -> None:
    try:
        import cv2
    except ImportError:         # detect_video then says what to install
        return
    headers = [_video_header(cv2, v) for v in videos]
    for video, (count, fps) in zip(videos[1:], headers[1:]):
        if count and headers[0][0] and count != headers[0][0]:
            raise CalibrationError(f"{video}: {count} frames but {videos[0]} has {headers[0][0]}; expected "
                                   "synchronised videos of equal length.")
        if fps and headers[0][1] and abs(fps - headers[0][1]) > 1e-3 * headers[0][1]:
            raise CalibrationError(f"{video}: {fps:g} frames/s but {videos[0]} has {headers[0][1]:g}; expected "
                                   "synchronised videos at one frame rate.")


def landmarks_from_cameras(videos, calibration, progress: Callable[[float], None] | None = None,
                           should_cancel: Callable[[], bool] | None = None, threshold_px: float | None = None,
                           start: int = 0, max_frames: int | None = None, metres_per_unit: float = 1.0,
                           cameras: CameraSet | None = None) -> CameraLandmarks:
    """Triangulated MediaPipe landmarks from synchronised ``videos`` and their ``calibration`` file
    (Pose2Sim / Anipose TOML, Qualisys .qca.txt; or a read ``cameras`` set).

    ``progress(fraction)`` goes from 0 to 1 over all videos; ``should_cancel()`` stops detection
    (``video.detect.VideoCancelled``). ``threshold_px``: reprojection error above which a camera
    is an outlier for a point (default: 2 % of the larger calibrated image side; MediaPipe's
    keypoints of one joint disagree by 10-45 px between the shared 1088x1920 views, and a tight
    threshold leaves two-camera points with poorly fixed depth). ``start`` / ``max_frames`` pick a
    stretch of every video. ``metres_per_unit`` scales a TOML calibration's translations. Errors: one sentence
    (``CalibrationError`` / ``VideoError``, both ValueErrors)."""
    from ..video.detect import detect_video          # needs mediapipe: imported only when used

    if cameras is None:
        cameras = read_calibration(calibration, metres_per_unit)
    videos, cameras = match_videos(videos, cameras)
    for video in videos:
        if not video.is_file():
            raise CalibrationError(f"{video}: no such video file.")
    _check_headers(videos)
    detections, seconds = [], {}
    for c, video in enumerate(videos):
        def video_progress(fraction, c=c):
            if progress is not None:
                progress((c + fraction) / len(videos))
        began = time.perf_counter()
        # MediaPipe's own smoothing lags by about a frame: off here (42.9 -> 40.3 mm against Pose2Sim's
        # TRC on the shared recording); the landmark solve smooths the triangulated points.
        detection = detect_video(video, video_progress, should_cancel, start=start, max_frames=max_frames,
                                 smooth_landmarks=False)
        seconds[cameras.names[c]] = time.perf_counter() - began
        _check_size(video, detection.size, cameras, c)
        detections.append(detection)
    _check_synchronised(videos, detections)
    if threshold_px is None:
        threshold_px = THRESHOLD_FRACTION * float(cameras.sizes.max())
    began = time.perf_counter()
    sequence, found = triangulate_detections(cameras, detections, threshold_px)
    seconds["triangulation"] = time.perf_counter() - began
    sequence.metadata.update(calibration=str(calibration or cameras.source), videos=[str(v) for v in videos],
                             start_frame=int(start))
    pixels, visibility = _keypoints(detections)
    return CameraLandmarks(sequence, found, cameras, tuple(videos), pixels, visibility, seconds)


def _keypoints(detections) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (T, C, 33, 2) and visibility (T, C, 33) (0 in frames without a person)."""
    pixels = np.stack([d.image for d in detections], axis=1)
    visibility = np.stack([np.where(d.found[:, None], d.visibility, 0.0) for d in detections], axis=1)
    return pixels, visibility


def triangulate_detections(cameras: CameraSet, detections, threshold_px: float = DEFAULT_THRESHOLD_PX
                           ) -> tuple[LandmarkSequence, Triangulation]:
    """The landmark sequence and the per-point quality from per-camera detections
    (``VideoDetection``, in camera order)."""
    pixels, visibility = _keypoints(detections)
    confidence = np.where(visibility >= MIN_CONFIDENCE, visibility, 0.0)
    found = triangulate(cameras, pixels, confidence, threshold_px)
    inlier_visibility = np.where(found.inliers, visibility, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        point_confidence = np.where(found.valid, inlier_visibility / np.maximum(found.inlier_count, 1), 0.0)
    metadata = {"format": "cameras", "threshold_px": float(threshold_px), "cameras": list(cameras.names)}
    sequence = LandmarkSequence(names=MEDIAPIPE_NAMES, points=found.points, confidence=point_confidence,
                                fps=float(detections[0].fps), layout="mediapipe33", source=cameras.source,
                                metadata=metadata)
    return sequence, found


def write_camera_trc(path, result: CameraLandmarks, up_axis: str = "auto") -> Path:
    """Write the triangulated landmarks as TRC in OpenSim's Y-up frame (the calibration world's up
    axis found from the body, or given as ``up_axis``, e.g. "+Z" for Qualisys)."""
    return write_trc(path, orient(result.sequence, up_axis))


# --- benchmark figures ---------------------------------------------------------------------------

_OTHER_KEYPOINTS = {     # name: (MediaPipe points averaged, Pose2Sim TRC marker)
    "left_hip": (("left_hip",), "left_hip"), "right_hip": (("right_hip",), "right_hip"),
    "left_heel": (("left_heel",), "left_heel"), "right_heel": (("right_heel",), "right_heel"),
    "left_toe": (("left_foot_index",), "left_big_toe"), "right_toe": (("right_foot_index",), "right_big_toe"),
    "nose": (("nose",), "nose"), "head": (("left_ear", "right_ear"), "head_top"),
}
_SEGMENTS = (("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
             ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
             ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"))


def _pose2sim_world(trc_points: np.ndarray) -> np.ndarray:
    """Pose2Sim's Y-up TRC points back in the calibration's Z-up world (undoes its ``zup2yup``)."""
    return trc_points[..., [2, 0, 1]]


def _bone_cv_pct(points_by_name: dict) -> float:
    from ..core.kinematics.metrics import bone_length_cv
    cvs = [bone_length_cv(np.stack((points_by_name[a], points_by_name[b]), axis=1), [(0, 1)])[0]
           for a, b in _SEGMENTS]
    return float(np.nanmean(cvs) * 100.0)


def _armature_bone_cv_pct(motion) -> float:
    from ..core.kinematics.skeleton import JOINT_INDEX, forward_kinematics
    joints, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    return _bone_cv_pct({name: joints[:, JOINT_INDEX[name]] for pair in _SEGMENTS for name in pair})


def multi_camera_figures(data_dir, threshold_px: float | None = None, max_frames: int | None = None,
                         keep: dict | None = None) -> dict:
    """The multi-camera figures on the shared Pose2Sim recording (keys in the module docstring).
    ``data_dir``: the shared data folder (holding ``landmarks_real/pose2sim``). ``keep`` (a dict)
    receives the triangulation (``"result"``) and the solved motion (``"motion"``), for callers that
    measure more of them without detecting the videos again."""
    from ..core.landmarks.formats import read_landmarks
    from .landmarks import solve_landmarks
    root = Path(data_dir) / "landmarks_real" / "pose2sim"
    videos = sorted((root / "videos").glob("cam*.mp4"))
    result = landmarks_from_cameras(videos, root / "videos" / "Calib.qca.txt", threshold_px=threshold_px,
                                    max_frames=max_frames)
    motion, _ = solve_landmarks(result.sequence)
    if keep is not None:
        keep.update(result=result, motion=motion)
    reference = read_landmarks(root / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc")
    frames = min(result.sequence.num_frames, reference.num_frames)
    ours = {n: result.sequence.points[:frames, i] for i, n in enumerate(result.sequence.names)}
    theirs = _pose2sim_world(reference.points[:frames])

    def distance_mm(mine: tuple, marker: str) -> np.ndarray:
        point = np.mean([ours[n] for n in mine], axis=0)
        return np.linalg.norm(point - theirs[:, reference.index(marker)], axis=-1) * 1000.0

    limbs = np.stack([distance_mm((n,), n) for n in LIMB_KEYPOINTS], axis=1)       # (T, 10)
    tri = result.triangulation
    detection_seconds = {n: result.seconds[n] for n in result.cameras.names}
    total = sum(detection_seconds.values()) + result.seconds["triangulation"]
    num_frames = result.sequence.num_frames
    return {
        "multi_camera_frames": int(num_frames),
        "multi_camera_cameras": list(result.cameras.names),
        "multi_camera_threshold_px": float(result.sequence.metadata["threshold_px"]),
        "multi_camera_mpjpe_mm": float(np.nanmean(limbs)),
        "multi_camera_mpjpe_max_mm": float(np.nanmax(limbs)),
        "multi_camera_keypoint_mm": {n: float(np.nanmean(limbs[:, k])) for k, n in enumerate(LIMB_KEYPOINTS)},
        "multi_camera_other_keypoints_mm": {k: float(np.nanmean(distance_mm(mine, marker)))
                                            for k, (mine, marker) in _OTHER_KEYPOINTS.items()},
        "multi_camera_frames_per_second": float(num_frames * len(videos) / total),
        "multi_camera_detection_fps_by_camera": {n: float(num_frames / s) for n, s in detection_seconds.items()},
        "multi_camera_triangulation_seconds": float(result.seconds["triangulation"]),
        "multi_camera_valid_fraction": float(tri.valid.mean()),
        "multi_camera_reprojection_px": float(np.nanmean(tri.error_px)),
        "multi_camera_mean_inliers": float(tri.inlier_count[tri.valid].mean()),
        "multi_camera_landmark_bone_cv_pct": _bone_cv_pct(ours),
        "multi_camera_reference_bone_cv_pct": _bone_cv_pct({n: theirs[:, i] for i, n in enumerate(reference.names)}),
        "multi_camera_armature_bone_cv_pct": _armature_bone_cv_pct(motion),
    }
