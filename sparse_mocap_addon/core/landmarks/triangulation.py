"""Robust multi-camera triangulation of 2D keypoints: numpy, vectorised over frames and points.

:func:`triangulate` takes pixel keypoints (T, C, J, 2) from C calibrated cameras
(:class:`~.cameras.CameraSet`) with a confidence (T, C, J) each, and for every frame and point:

1. undistorts the observations (``cameras.undistort_points``) so that each camera is a plain
   projection matrix ``[R | t]`` in normalised coordinates;
2. RANSAC over camera subsets: every pair of cameras that sees the point gives a candidate (a
   confidence-weighted DLT of the two rays); each candidate is scored by the cameras whose
   reprojection error stays under ``threshold_px`` pixels (inliers; most inliers wins, ties go to
   the smaller inlier error). All pairs are tried, so the result is deterministic; with the usual
   2-10 cameras that is 1-45 candidates, all solved at once as one batch;
3. refits the point with the confidence-weighted DLT over the winning inliers, then takes as
   inliers the cameras that the refit reprojects within the threshold;
4. a second pass repeats 2-3 with a temporal check: a candidate or refit farther than
   ``max_deviation_m`` from the median of the first pass's point over ``temporal_window`` frames
   on each side is not used. It catches a detector that labels the wrong limb in two views whose
   rays happen to agree (on the shared recording an ankle 1 m off with a 6-pixel error);
5. rejects the point (NaN, ``valid`` False) when fewer than 2 cameras are inliers, the inliers'
   mean reprojection error stays above the threshold, or no two inlier cameras see the point from
   directions at least ``min_angle_deg`` apart (and short of opposite): two cameras facing each
   other, or side by side, fix the point's depth so poorly that agreeing rays say little (on the
   shared recording two such cameras put a shoulder 0.75 m off with a 1.5-pixel error). Pairs like
   that are not RANSAC candidates either.

Weighted DLT: each seeing camera adds the two rows ``w (x P3 - P1)``, ``w (y P3 - P2)`` with
``w`` its confidence (Pose2Sim's ``weighted_triangulation``); the point is the eigenvector of the
smallest eigenvalue of the 4x4 normal matrix ``A^T A``, solved for every point at once with
``numpy.linalg.eigh``. Reprojection errors are in pixels of the undistorted image (normalised
error times the focal length), which for ordinary lenses is the pixel error to well under a pixel.

Why our own code and not a library: aniposelib (``CameraGroup.triangulate_ransac``) requires
opencv-contrib-python, numba, scipy, pandas and jax; Pose2Sim's triangulation imports OpenSim,
OpenCV, pandas, scipy and more, and loops over points in Python. Neither fits the rule that inside
Blender the core needs only numpy (a heavy compiled stack would have to be bundled for each
platform for about 150 lines of linear algebra). The method is theirs: Pose2Sim's
likelihood-weighted DLT with reprojection-error rejection and aniposelib's RANSAC over camera
subsets, written for batches.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .cameras import CameraSet, camera_coordinates, project, undistort_points

__all__ = ["Triangulation", "triangulate", "weighted_dlt", "DEFAULT_THRESHOLD_PX"]

DEFAULT_THRESHOLD_PX = 40.0        # MediaPipe's keypoints disagree by 10-45 px between views of 1080x1920 video
DEFAULT_MIN_ANGLE_DEG = 10.0
DEFAULT_TEMPORAL_WINDOW = 7         # frames each side of the temporal median (second pass)
DEFAULT_MAX_DEVIATION_M = 0.25
_CHUNK_FRAMES = 2000            # bounds memory: (pairs, frames, cameras, points) arrays per chunk


@dataclass
class Triangulation:
    """What :func:`triangulate` found for every frame and point.

    ``points`` (T, J, 3) metres in the calibration's world, NaN where rejected; ``valid`` (T, J);
    ``error_px`` (T, J) mean reprojection error over the inlier cameras (NaN where rejected);
    ``inliers`` (T, C, J) the cameras used; ``inlier_count`` (T, J).
    """

    points: np.ndarray
    valid: np.ndarray
    error_px: np.ndarray
    inliers: np.ndarray

    @property
    def inlier_count(self) -> np.ndarray:
        return self.inliers.sum(axis=1)


def weighted_dlt(projections: np.ndarray, observed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Points (..., 3) from cameras ``projections`` (C, 3, 4) seeing normalised image points
    ``observed`` (..., C, 2) with ``weights`` (..., C) (0 for a camera that does not see it).
    NaN where fewer than 2 cameras have a weight."""
    x, y = observed[..., 0, None], observed[..., 1, None]
    w = np.where(np.isfinite(x[..., 0]), weights, 0.0)[..., None]
    x, y = np.nan_to_num(x), np.nan_to_num(y)
    rows_x = w * (x * projections[:, 2] - projections[:, 0])          # (..., C, 4)
    rows_y = w * (y * projections[:, 2] - projections[:, 1])
    normal = np.einsum("...ci,...cj->...ij", rows_x, rows_x) + np.einsum("...ci,...cj->...ij", rows_y, rows_y)
    _, vectors = np.linalg.eigh(normal)
    homogeneous = vectors[..., :, 0]
    seen = (w[..., 0] > 0).sum(axis=-1)
    scale = homogeneous[..., 3:]
    ok = (seen >= 2) & (np.abs(scale[..., 0]) > 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        points = homogeneous[..., :3] / scale
    return np.where(ok[..., None], points, np.nan)


def _reprojection_px(cameras: CameraSet, points: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Undistorted pixel error (..., C, J) of points (..., J, 3) against normalised observations
    (..., C, J, 2); inf behind a camera or where either is missing."""
    lead = points.shape[:-2]
    cam = camera_coordinates(cameras, points.reshape((-1,) + points.shape[-2:]))
    cam = cam.reshape(lead + cam.shape[1:])
    depth = cam[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = cam[..., :2] / depth[..., None]
    focal = cameras.K[:, [0, 1], [0, 1]][:, None, :]
    error = np.linalg.norm((normalised - observed) * focal, axis=-1)
    return np.where((depth > 1e-9) & np.isfinite(error), error, np.inf)


def _mean_inlier_error(error: np.ndarray, inliers: np.ndarray) -> np.ndarray:
    count = inliers.sum(axis=-2)
    total = np.where(inliers, error, 0.0).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.inf)


def _ray_sines(cameras: CameraSet, observed: np.ndarray) -> np.ndarray:
    """|sin| of the angle between every two cameras' rays to each point: (T, J, C, C) from
    normalised observations (T, C, J, 2); 0 where a ray is missing."""
    homogeneous = np.concatenate((observed, np.ones(observed.shape[:-1] + (1,))), axis=-1)
    rays = np.einsum("cji,tckj->tkci", cameras.R, homogeneous)                # world directions
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    sines = np.linalg.norm(np.cross(rays[:, :, :, None], rays[:, :, None, :]), axis=-1)
    return np.nan_to_num(sines)


def _has_wide_pair(inliers: np.ndarray, sines: np.ndarray, min_sine: float) -> np.ndarray:
    """(..., J) whether two inlier cameras (inliers (..., C, J)) see the point at a usable angle."""
    both = np.moveaxis(inliers, -2, -1)
    pairs = both[..., :, None] & both[..., None, :]
    return (pairs & (sines >= min_sine)).any(axis=(-1, -2))


def temporal_median(points: np.ndarray, half_window: int) -> np.ndarray:
    """The median (T, J, 3) of each point over the frames within ``half_window`` of each frame,
    ignoring NaN (NaN where none of them has the point)."""
    padded = np.pad(points, ((half_window, half_window), (0, 0), (0, 0)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_window + 1, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # all-NaN windows stay NaN
        return np.nanmedian(windows, axis=-1)


def _triangulate_chunk(cameras: CameraSet, observed: np.ndarray, confidence: np.ndarray,
                       threshold_px: float, min_angle_deg: float, reference: np.ndarray | None = None,
                       max_deviation_m: float = np.inf) -> Triangulation:
    """:func:`triangulate` on (T, C, J, 2) normalised observations; candidates farther than
    ``max_deviation_m`` from a finite ``reference`` (T, J, 3) are not considered."""
    projections = np.concatenate((cameras.R, cameras.t[:, :, None]), axis=2)     # (C, 3, 4)
    num_cameras = len(cameras)
    seen = (confidence > 0) & np.isfinite(observed).all(axis=-1)                # (T, C, J)
    weights = np.where(seen, confidence, 0.0)
    # Candidates from every camera pair, all at once: (P, T, J, 3).
    pairs = list(combinations(range(num_cameras), 2))
    pair_mask = np.zeros((len(pairs), num_cameras))
    for p, (a, b) in enumerate(pairs):
        pair_mask[p, [a, b]] = 1.0
    obs_tjc = np.moveaxis(observed, 1, 2)                                       # (T, J, C, 2)
    w_tjc = np.moveaxis(weights, 1, 2)                                          # (T, J, C)
    candidates = weighted_dlt(projections, obs_tjc[None], w_tjc[None] * pair_mask[:, None, None, :])
    sines = _ray_sines(cameras, observed)                                       # (T, J, C, C)
    min_sine = np.sin(np.radians(min_angle_deg))
    for p, (a, b) in enumerate(pairs):
        candidates[p][sines[:, :, a, b] < min_sine] = np.nan                     # depth too poorly fixed
    if reference is not None:
        far = np.linalg.norm(candidates - reference[None], axis=-1) > max_deviation_m     # NaN reference: False
        candidates[far] = np.nan
    error = _reprojection_px(cameras, candidates, observed[None])               # (P, T, C, J)
    inliers = seen[None] & (error < threshold_px)
    count = inliers.sum(axis=2)                                                  # (P, T, J)
    mean_error = _mean_inlier_error(error, inliers)
    score = count - np.minimum(mean_error, threshold_px) / (2.0 * threshold_px)  # count first, then error
    best = np.argmax(np.where(np.isfinite(candidates).all(axis=-1), score, -np.inf), axis=0)   # (T, J)
    best_inliers = np.take_along_axis(inliers, best[None, :, None, :], axis=0)[0]           # (T, C, J)
    # Refit on the winners' inliers, then keep the cameras the refit reprojects within the threshold.
    refit = weighted_dlt(projections, obs_tjc, np.moveaxis(np.where(best_inliers, weights, 0.0), 1, 2))
    error = _reprojection_px(cameras, refit, observed)                          # (T, C, J)
    inliers = seen & (error < threshold_px)
    mean_error = _mean_inlier_error(error, inliers)
    valid = (inliers.sum(axis=1) >= 2) & (mean_error <= threshold_px) & np.isfinite(refit).all(axis=-1) \
        & _has_wide_pair(inliers, sines, min_sine)
    if reference is not None:
        valid &= ~(np.linalg.norm(refit - reference, axis=-1) > max_deviation_m)
    return Triangulation(points=np.where(valid[..., None], refit, np.nan), valid=valid,
                         error_px=np.where(valid, mean_error, np.nan), inliers=inliers & valid[:, None, :])


def _in_chunks(cameras, observed, confidence, threshold_px, min_angle_deg, reference=None,
               max_deviation_m=np.inf) -> Triangulation:
    chunks = []
    for s in range(0, max(len(observed), 1), _CHUNK_FRAMES):
        window = slice(s, s + _CHUNK_FRAMES)
        chunks.append(_triangulate_chunk(cameras, observed[window], confidence[window], threshold_px, min_angle_deg,
                                         None if reference is None else reference[window], max_deviation_m))
    return Triangulation(*(np.concatenate([getattr(c, f) for c in chunks]) for f in
                           ("points", "valid", "error_px", "inliers")))


def triangulate(cameras: CameraSet, pixels: np.ndarray, confidence: np.ndarray | None = None,
                threshold_px: float = DEFAULT_THRESHOLD_PX, min_angle_deg: float = DEFAULT_MIN_ANGLE_DEG,
                temporal_window: int = DEFAULT_TEMPORAL_WINDOW, max_deviation_m: float = DEFAULT_MAX_DEVIATION_M
                ) -> Triangulation:
    """Robust 3D points from pixel keypoints ``pixels`` (T, C, J, 2) (x right, y down; NaN where
    a camera has no detection) seen by ``cameras`` (C of them, in the same order), with
    ``confidence`` (T, C, J) in [0, 1] (all 1 when None; 0 means not seen). See the module
    docstring for the method; ``threshold_px`` is the reprojection error (pixels) above which a
    camera is an outlier for a point; ``min_angle_deg`` the narrowest angle (and the widest short of
    180 degrees) between two cameras' rays that can fix a point; ``temporal_window`` (frames each
    side, 0: off) and ``max_deviation_m`` the second pass's temporal check."""
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim != 4 or pixels.shape[1] != len(cameras) or pixels.shape[3] != 2:
        raise ValueError(f"pixel keypoints must have shape (frames, {len(cameras)} cameras, points, 2), "
                         f"got {pixels.shape}.")
    confidence = np.ones(pixels.shape[:3]) if confidence is None else np.asarray(confidence, dtype=np.float64)
    if confidence.shape != pixels.shape[:3]:
        raise ValueError(f"confidence must have shape {pixels.shape[:3]}, got {confidence.shape}.")
    if not threshold_px > 0:
        raise ValueError(f"the reprojection threshold must be a positive number of pixels, got {threshold_px!r}.")
    if not 0 <= min_angle_deg < 90:
        raise ValueError(f"the minimum ray angle must lie in [0, 90) degrees, got {min_angle_deg!r}.")
    if not (isinstance(temporal_window, (int, np.integer)) and temporal_window >= 0) or not max_deviation_m > 0:
        raise ValueError("the temporal window must be a whole number of frames (0 or more) and the largest "
                         f"deviation a positive distance, got {temporal_window!r} and {max_deviation_m!r}.")
    confidence = np.where(np.isfinite(confidence), np.clip(confidence, 0.0, 1.0), 0.0)
    observed = undistort_points(cameras, pixels)
    found = _in_chunks(cameras, observed, confidence, threshold_px, min_angle_deg)
    if temporal_window == 0:
        return found
    reference = temporal_median(found.points, temporal_window)
    return _in_chunks(cameras, observed, confidence, threshold_px, min_angle_deg, reference, max_deviation_m)


def reprojection_error_px(cameras: CameraSet, points: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Distorted-pixel distance (T, C, J) between world points (T, J, 3) projected into every camera
    and pixel keypoints (T, C, J, 2): the check in the images themselves."""
    return np.linalg.norm(project(cameras, points) - np.asarray(pixels, dtype=np.float64), axis=-1)
