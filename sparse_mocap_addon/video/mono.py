"""One camera: MediaPipe's world landmarks put in the scene, written as a landmark file, solved.

MediaPipe's world landmarks are metric and hip-centred, in axes aligned with the camera (x to the
image's right, y down, z away from the camera). Four steps make a scene of them:

1. **Distance** (:func:`camera_translation`): the translation ``t`` that makes the world landmarks
   ``X`` project onto the image landmarks ``u`` through a pinhole camera (focal length ``f`` in
   pixels, principal point ``c``): ``(u - c) / f = (X + t)_xy / (X + t)_z`` is linear in ``t``
   (two equations per point), solved per frame by least squares over the points whose
   visibility passes ``min_visibility`` (weighted by it), then smoothed over time. ``f`` comes
   from the camera's intrinsics when known, else from a field-of-view guess
   (:data:`DEFAULT_FOV_DEG` across the image's long side: a phone's main camera is about 26 mm
   equivalent, 69 degrees across the long side of the frame, and video stabilisation crops some 10
   to 15 % of it, so 60 degrees; a wrong guess scales the distance by the same factor, and nothing
   else. The shared Pose2Sim cam01 has 1683 px calibrated, the guess 1663 px for its 1920 rows).
2. **Shape** (:func:`image_corrected`, :func:`constant_limbs`): each point slides along its
   image landmark's ray to the depth its world point has (the image landmarks are sharper across
   the view), then the limbs get constant lengths along the same rays.
3. **Upright** (:func:`level_rotation`): the camera may look down or be rolled, so the body leans
   in its axes. A person who stands, balances or walks keeps the centre of mass over the
   supporting foot on average, so the median direction from the lower ankle to the trunk centre
   (mean of shoulders and hips) is taken as up; the smallest rotation taking it to the camera's
   -y (pitch and roll only: the heading towards the camera is kept) levels the scene. The
   camera stays at the origin.
4. **File** (:func:`write_landmark_json`): the placed, levelled points in MediaPipe's own axes
   (y down, z away from the camera), with visibility, as the MediaPipe JSON that
   :func:`~..core.landmarks.formats.read_landmarks` reads (``orient`` turns y-down into the core
   frame: Y up, the person facing +Z towards the camera at the origin), written atomically.

:func:`motion_from_video` does it all and solves the landmarks with the landmark pipeline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.io.atomic import atomic_open
from ..core.kinematics.filters import smooth_points
from .detect import MEDIAPIPE_NAMES, VideoDetection, detect_video

__all__ = ["DEFAULT_FOV_DEG", "Placement", "focal_from_fov", "camera_translation", "level_rotation",
           "image_rays", "image_corrected", "limb_lengths", "constant_limbs", "place_detection",
           "write_landmark_json", "motion_from_video"]

DEFAULT_FOV_DEG = 60.0
MIN_VISIBILITY = 0.5
_TRUNK = [MEDIAPIPE_NAMES.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
_ANKLES = [MEDIAPIPE_NAMES.index(n) for n in ("left_ankle", "right_ankle")]
# Limb bones, parents before children, as (parent, child) landmark names per side; the hand
# points (pinky, index, thumb) move in depth with the wrist.
_LIMB_BONES = tuple((f"{side}_{a}", f"{side}_{b}") for a, b in (
    ("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"), ("ankle", "heel"),
    ("ankle", "foot_index")) for side in ("left", "right"))
_HAND = {f"{side}_wrist": [MEDIAPIPE_NAMES.index(f"{side}_{p}") for p in ("pinky", "index", "thumb")]
         for side in ("left", "right")}


@dataclass
class Placement:
    """World landmarks placed in front of the camera.

    ``points`` (T, 33, 3) metres in levelled camera axes (x right, y down along gravity, z away
    from the camera horizontally; camera at the origin), NaN in frames without a person;
    ``visibility`` (T, 33); ``translation`` (T, 3) the smoothed hip-centre position in the
    camera's own axes; ``rotation`` (3, 3) the levelling rotation (levelled = rotation @ camera);
    ``focal_px`` and ``principal_point`` the pinhole used; ``fps``; ``found`` (T,).
    """

    points: np.ndarray
    visibility: np.ndarray
    translation: np.ndarray
    rotation: np.ndarray
    focal_px: float
    principal_point: tuple[float, float]
    fps: float
    found: np.ndarray

    def distance_m(self) -> np.ndarray:
        """(T,) distance from the camera to the hip centre."""
        return np.linalg.norm(self.translation, axis=-1)


def focal_from_fov(size, fov_deg: float = DEFAULT_FOV_DEG) -> float:
    """Focal length in pixels of a camera whose field of view across the image's long side is
    ``fov_deg`` degrees."""
    if not 1.0 <= fov_deg <= 170.0:
        raise ValueError(f"the field of view must be between 1 and 170 degrees, got {fov_deg!r}.")
    return 0.5 * max(size) / math.tan(math.radians(fov_deg) / 2.0)


def camera_translation(world: np.ndarray, image: np.ndarray, visibility: np.ndarray, focal_px: float,
                       principal_point, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """(T, 3) per-frame translation of the hip-centred ``world`` landmarks (T, K, 3) that makes them
    project onto ``image`` (T, K, 2) pixels; NaN where fewer than 4 points pass ``min_visibility``
    or the fit puts the body behind the camera."""
    normalised = (image - np.asarray(principal_point, dtype=np.float64)) / focal_px      # (T, K, 2)
    weight = np.where((visibility >= min_visibility) & np.isfinite(normalised).all(-1)
                      & np.isfinite(world).all(-1), visibility, 0.0)
    x = np.nan_to_num(world)
    n = np.nan_to_num(normalised)
    # Rows per point and image axis a: t_a - n_a t_z = n_a Z - X_a.
    a = np.zeros(world.shape[:2] + (2, 3))
    a[..., 0, 0] = a[..., 1, 1] = 1.0
    a[..., :, 2] = -n
    b = n * x[..., 2:3] - x[..., :2]
    w = weight[..., None, None]
    normal = np.einsum("tkai,tkaj->tij", a * w, a)
    rhs = np.einsum("tkai,tka->ti", a * w, b)
    enough = (weight > 0).sum(axis=1) >= 4
    translation = np.full((len(world), 3), np.nan)
    if enough.any():
        translation[enough] = np.linalg.solve(normal[enough], rhs[enough][..., None])[..., 0]
    translation[translation[:, 2] <= 0.1] = np.nan
    return translation


def level_rotation(points: np.ndarray, visibility: np.ndarray, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """(3, 3) the pitch-and-roll rotation that turns the body's median up direction (lower ankle to
    trunk centre) onto the camera's up (-y); the identity when no frame shows the trunk and an ankle."""
    seen = visibility >= min_visibility
    usable = seen[:, _TRUNK].all(axis=1) & seen[:, _ANKLES].any(axis=1) & np.isfinite(points).all(axis=(1, 2))
    if not usable.any():
        return np.eye(3)
    p = points[usable]
    ankles = p[:, _ANKLES]
    ankle_seen = seen[usable][:, _ANKLES]
    lower = np.where(ankle_seen[:, 0] & (~ankle_seen[:, 1] | (ankles[:, 0, 1] >= ankles[:, 1, 1])), 0, 1)
    support = ankles[np.arange(len(p)), lower]
    rise = p[:, _TRUNK].mean(axis=1) - support
    up = np.median(rise / np.linalg.norm(rise, axis=-1, keepdims=True), axis=0)
    return _rotation_between(up / np.linalg.norm(up), np.array([0.0, -1.0, 0.0]))


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector ``a`` onto unit vector ``b`` (Rodrigues)."""
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / s
    skew = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * skew + (1 - c) * skew @ skew


def image_corrected(world: np.ndarray, image: np.ndarray, translation: np.ndarray, focal_px: float,
                    principal_point) -> np.ndarray:
    """(T, K, 3) hip-centred ``world`` landmarks (camera axes) whose x and y are re-cast from the
    ``image`` landmarks: each point, placed at ``translation``, slides along its pixel's ray to the
    depth it has. The image landmarks are the model's sharper evidence across the view (and the
    pinhole ties them to the distance); the depth stays the world model's."""
    depth = (world + translation[:, None])[..., 2:3]
    return image_rays(image, focal_px, principal_point) * depth - translation[:, None]


def image_rays(image: np.ndarray, focal_px: float, principal_point) -> np.ndarray:
    """(T, K, 3) the camera-frame rays (z = 1) through the image points."""
    normalised = (image - np.asarray(principal_point, dtype=np.float64)) / focal_px
    return np.concatenate((normalised, np.ones(normalised.shape[:-1] + (1,))), axis=-1)


def limb_lengths(points: np.ndarray) -> dict:
    """Per limb bone (parent, child) the longer of the two sides' median lengths over the take: the
    world model squeezes depth, most on the far side of the body, which shortens a bone in 3D and
    never lengthens it, so the longer side is the better guess of the person's (symmetric) limb."""
    with np.errstate(invalid="ignore"):
        median = {bone: float(np.nanmedian(np.linalg.norm(points[:, MEDIAPIPE_NAMES.index(bone[1])]
                                                          - points[:, MEDIAPIPE_NAMES.index(bone[0])], axis=-1)))
                  for bone in _LIMB_BONES}
    mirror = {bone: tuple(n.replace("left", "right") if n.startswith("left") else n.replace("right", "left")
                          for n in bone) for bone in _LIMB_BONES}
    return {bone: max(median[bone], median[mirror[bone]]) for bone in _LIMB_BONES}


def constant_limbs(placed: np.ndarray, rays: np.ndarray, lengths: dict | None = None) -> np.ndarray:
    """(T, 33, 3) camera-frame points whose limb bones have constant lengths: from the shoulders and
    hips outwards, each child slides along its pixel's ray (``rays``, (T, 33, 3) with z = 1) to the
    depth where it lies ``lengths[bone]`` from its parent, taking of the two such depths the one
    nearer the model's (the model settles whether the child is in front of or behind its parent;
    a ray that passes the sphere gives its nearest point). On cam01 this cuts the limb keypoints'
    PA-MPJPE by about 7 mm (``benchmarks/video.py``)."""
    lengths = limb_lengths(placed) if lengths is None else lengths
    points = placed.copy()
    with np.errstate(invalid="ignore"):
        for bone in _LIMB_BONES:
            parent, child = (MEDIAPIPE_NAMES.index(n) for n in bone)
            ray, anchor = rays[:, child], points[:, parent]
            rr, ra = (ray * ray).sum(-1), (ray * anchor).sum(-1)
            reach = np.sqrt(np.maximum(ra ** 2 - rr * ((anchor * anchor).sum(-1) - lengths[bone] ** 2), 0.0))
            near, far = (ra - reach) / rr, (ra + reach) / rr
            model = points[:, child, 2]
            depth = np.where(np.abs(near - model) <= np.abs(far - model), near, far)
            hand = _HAND.get(bone[1], [])            # the hand points keep their depth off the wrist's
            points[:, hand] = rays[:, hand] * (points[:, hand, 2] + (depth - model)[:, None])[..., None]
            points[:, child] = ray * depth[:, None]
    return points


def place_detection(detection: VideoDetection, focal_px: float | None = None, principal_point=None,
                    fov_deg: float = DEFAULT_FOV_DEG, strength: float = 0.5,
                    min_visibility: float = MIN_VISIBILITY, image_xy: bool = True,
                    rigid_limbs: bool = True) -> Placement:
    """The detection's world landmarks placed in front of the camera and levelled (module docstring).

    ``focal_px``: the camera's focal length in pixels when known (calibration), else from
    ``fov_deg`` across the image's long side. ``principal_point``: default the image centre.
    ``strength``: smoothing of the translation over time (``smooth_points``, 0-1). ``image_xy``:
    re-cast x and y from the image landmarks (:func:`image_corrected`; on the shared cam01 video it
    lowers the PA-MPJPE against Pose2Sim's triangulation from 84 to 80 mm, ``benchmarks/video.py``).
    ``rigid_limbs``: then give the limbs constant lengths along the same rays (:func:`constant_limbs`).
    """
    width, height = detection.size
    focal = float(focal_px) if focal_px is not None else focal_from_fov(detection.size, fov_deg)
    centre = tuple(principal_point) if principal_point is not None else ((width - 1) / 2.0, (height - 1) / 2.0)
    raw = camera_translation(detection.world, detection.image, detection.visibility, focal, centre, min_visibility)
    solved = np.isfinite(raw).all(axis=1)
    if not solved.any():
        raise ValueError(f"{detection.source}: no frame shows 4 or more landmarks with visibility "
                         f"{min_visibility} or more, so the person cannot be placed.")
    translation, _ = smooth_points(raw[:, None], solved[:, None], detection.fps, strength, "offline", None)
    translation = translation[:, 0]
    body = detection.world
    if image_xy:
        body = image_corrected(body, detection.image, translation, focal, centre)
    placed = body + translation[:, None]
    if image_xy and rigid_limbs:
        placed = constant_limbs(placed, image_rays(detection.image, focal, centre))
    rotation = level_rotation(placed, detection.visibility, min_visibility)
    points = placed @ rotation.T
    points[~detection.found] = np.nan
    return Placement(points=points, visibility=np.where(detection.found[:, None], detection.visibility, 0.0),
                     translation=translation, rotation=rotation, focal_px=focal, principal_point=centre,
                     fps=float(detection.fps), found=detection.found.copy())


def write_landmark_json(path, placement: Placement, start: int = 0, source: str = "") -> Path:
    """Write ``placement`` as MediaPipe world-landmark JSON (``{"fps", "frames": [{"frame",
    "pose_world_landmarks": [{x, y, z, visibility}, ...]}]}``, an empty list where no person was
    found), atomically; extra keys say where the camera is. Returns the path."""
    path = Path(path)
    frames = []
    for i in range(len(placement.points)):
        marks = []
        if placement.found[i]:
            marks = [{"x": round(float(x), 6), "y": round(float(y), 6), "z": round(float(z), 6),
                      "visibility": round(float(v), 6)}
                     for (x, y, z), v in zip(placement.points[i], placement.visibility[i])]
        frames.append({"frame": int(start + i), "pose_world_landmarks": marks})
    document = {
        "fps": placement.fps,
        "source": source,
        "camera": {"position": [0.0, 0.0, 0.0], "focal_px": placement.focal_px,
                   "principal_point": list(placement.principal_point),
                   "levelling_rotation": placement.rotation.tolist(),
                   "axes": "MediaPipe: x right, y down, z away from the camera (levelled)"},
        "frames": frames,
    }
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, separators=(",", ":"))
    return path


def motion_from_video(path, landmarks_path=None, focal_px: float | None = None, principal_point=None,
                      fov_deg: float = DEFAULT_FOV_DEG, options=None, progress=None, should_cancel=None,
                      start: int = 0, max_frames: int | None = None, fps: float | None = None):
    """Video (or image folder) -> MediaPipe landmarks -> placed in the scene -> landmark JSON at
    ``landmarks_path`` (default: beside the video, ``<name>.landmarks.json``) -> the landmark
    pipeline (``solve_landmarks`` with ``options``, a ``SolveOptions``) -> ``(motion, report)``.
    The report adds the detection's frame counts, the camera used and the JSON's path."""
    from ..core.landmarks.formats import read_landmarks
    from ..pipelines.landmarks import solve_landmarks

    path = Path(path)
    detection = detect_video(path, progress=progress, should_cancel=should_cancel, start=start,
                             max_frames=max_frames, fps=fps)
    placement = place_detection(detection, focal_px, principal_point, fov_deg)
    if landmarks_path is None:
        landmarks_path = path.parent / f"{path.name if path.is_dir() else path.stem}.landmarks.json"
    written = write_landmark_json(landmarks_path, placement, start=start, source=str(path))
    motion, report = solve_landmarks(read_landmarks(written), options)
    report["video"] = {
        "frames": detection.num_frames, "frames_with_person": int(detection.found.sum()),
        "focal_px": placement.focal_px, "distance_m": float(np.median(placement.distance_m())),
        "landmarks_file": str(written),
    }
    return motion, report
