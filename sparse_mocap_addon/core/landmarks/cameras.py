"""Calibrated camera sets: readers for three calibration files, projection and undistortion. Numpy
and the standard library only (``tomllib``, ``xml.etree``).

A :class:`CameraSet` holds N pinhole cameras in OpenCV's conventions: intrinsics ``K`` (N, 3, 3)
in pixels, distortion ``distortion`` (N, 5) in OpenCV order (k1, k2, p1, p2, k3), world -> camera
rotation ``R`` (N, 3, 3) and translation ``t`` (N, 3) in metres (``x_cam = R @ x_world + t``; the
camera looks along +z, image x right, y down), image ``sizes`` (N, 2) as (width, height) pixels.

Readers (:func:`read_calibration` picks one by the file's name and contents):

- **Pose2Sim TOML** (``Calib*.toml``): one table per camera with ``name``, ``size = [w, h]``,
  ``matrix`` (3x3), ``distortions = [k1, k2, p1, p2]``, ``rotation`` (Rodrigues vector, world ->
  camera), ``translation`` (metres), ``fisheye``; plus a ``[metadata]`` table that is skipped.
- **Anipose / OpenCV TOML** (aniposelib ``CameraGroup.dump``): the same keys in tables
  ``[cam_0]``, ``[cam_1]``, ...; ``distortions`` may hold 1 to 5 OpenCV coefficients. Anipose's
  translation is in the unit of the calibration board (often millimetres): give
  ``metres_per_unit`` then (the default 1 means metres).
- **Qualisys** ``.qca.txt`` (XML, as QTM exports it), conventions checked on the shared Pose2Sim
  recording (see ``tests/test_cameras.py``): ``transform`` gives the camera's position ``x, y, z``
  in **millimetres** and a matrix ``M = [[r11, r12, r13], ...]`` whose rows are the camera's axes
  in the world; Qualisys cameras look along -z with y up, so OpenCV's world -> camera rotation is
  ``R = diag(1, -1, -1) @ M`` and ``t = -R @ position``. ``intrinsic`` focal lengths and centre
  point are in **sub-pixels (1/64 pixel)** of the full sensor; the centre is shifted by the
  ``fov_video`` window's left/top corner, and the image size is that window's extent + 1. The
  distortion coefficients are read as OpenCV's (k1, k2, p1, p2) in normalised coordinates (Pose2Sim
  divides them by 64 too, which makes them vanish; both give sub-pixel differences on this file).
  Cameras are kept in the file's order; a camera's name is its ``serial``. A camera with a
  ``viewrotation`` other than 0 (a rotated image) is refused.

Fisheye calibrations are refused (the pinhole model here would misplace every point). Every bad
file is refused with one sentence naming the file and what was expected, as
:class:`CalibrationError`.
"""

from __future__ import annotations

import math
import tomllib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.textio import read_text

__all__ = ["CameraSet", "CalibrationError", "read_calibration", "read_toml_calibration", "read_qualisys",
           "project", "undistort_points", "rodrigues", "CALIBRATION_EXTENSIONS"]

CALIBRATION_EXTENSIONS = (".toml", ".qca.txt", ".qca")
QUALISYS_SUBPIXELS = 64.0                 # Qualisys stores focal length and centre in 1/64 pixel
_QUALISYS_TO_OPENCV = np.diag([1.0, -1.0, -1.0])   # Qualisys cameras look along -z, y up


class CalibrationError(ValueError):
    """A calibration file that cannot be used; the message names the file and what was expected."""


@dataclass
class CameraSet:
    """N calibrated pinhole cameras (OpenCV conventions, metres; see the module docstring)."""

    names: tuple
    K: np.ndarray               # (N, 3, 3) pixels
    distortion: np.ndarray      # (N, 5) k1, k2, p1, p2, k3
    R: np.ndarray               # (N, 3, 3) world -> camera
    t: np.ndarray               # (N, 3) metres
    sizes: np.ndarray           # (N, 2) width, height in pixels
    source: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.names = tuple(str(n) for n in self.names)
        n = len(self.names)
        self.K = np.asarray(self.K, dtype=np.float64).reshape(n, 3, 3)
        self.distortion = _five_coefficients(np.asarray(self.distortion, dtype=np.float64).reshape(n, -1))
        self.R = np.asarray(self.R, dtype=np.float64).reshape(n, 3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(n, 3)
        self.sizes = np.asarray(self.sizes, dtype=np.float64).reshape(n, 2)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def centres(self) -> np.ndarray:
        """(N, 3) camera positions in the world, metres."""
        return -np.einsum("nji,nj->ni", self.R, self.t)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def subset(self, names) -> "CameraSet":
        """The cameras called ``names``, in that order."""
        idx = [self.index(n) for n in names]
        return CameraSet(tuple(self.names[i] for i in idx), self.K[idx], self.distortion[idx], self.R[idx],
                         self.t[idx], self.sizes[idx], self.source, dict(self.metadata))


def _five_coefficients(distortion: np.ndarray) -> np.ndarray:
    out = np.zeros((distortion.shape[0], 5))
    out[:, :min(5, distortion.shape[1])] = distortion[:, :5]
    return out


# --- geometry ------------------------------------------------------------------------------------

def rodrigues(vectors: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from Rodrigues / axis-angle vectors (..., 3) (OpenCV's rvec)."""
    v = np.asarray(vectors, dtype=np.float64)
    angle = np.linalg.norm(v, axis=-1)[..., None, None]
    axis = v / np.where(angle[..., 0] > 1e-12, angle[..., 0], 1.0)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    cross = np.stack((zero, -z, y, z, zero, -x, -y, x, zero), axis=-1).reshape(v.shape[:-1] + (3, 3))
    eye = np.broadcast_to(np.eye(3), cross.shape)
    return eye + np.sin(angle) * cross + (1.0 - np.cos(angle)) * (cross @ cross)


def _distort(normalised: np.ndarray, distortion: np.ndarray) -> np.ndarray:
    """OpenCV's radial-tangential model on normalised points (..., C, J, 2), coefficients (C, 5)."""
    k1, k2, p1, p2, k3 = (distortion[:, i, None] for i in range(5))
    x, y = normalised[..., 0], normalised[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return np.stack((xd, yd), axis=-1)


def camera_coordinates(cameras: CameraSet, points: np.ndarray) -> np.ndarray:
    """World points (T, J, 3) in each camera's frame: (T, C, J, 3)."""
    points = np.asarray(points, dtype=np.float64)
    return np.einsum("cij,tkj->tcki", cameras.R, points) + cameras.t[None, :, None, :]


def project(cameras: CameraSet, points: np.ndarray) -> np.ndarray:
    """Pixel coordinates (T, C, J, 2) (x right, y down, distortion applied) of world points
    (T, J, 3) in every camera; NaN for points that are not finite or lie behind a camera."""
    cam = camera_coordinates(cameras, points)
    depth = cam[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = cam[..., :2] / np.where(depth > 1e-9, depth, np.nan)[..., None]
    distorted = _distort(normalised, cameras.distortion)
    focal = cameras.K[:, [0, 1], [0, 1]][None, :, None, :]
    centre = cameras.K[:, :2, 2][None, :, None, :]
    skew = cameras.K[:, 0, 1][None, :, None]
    pixels = distorted * focal + centre
    pixels[..., 0] += skew * distorted[..., 1]
    return pixels


def undistort_points(cameras: CameraSet, pixels: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Normalised, undistorted image coordinates (..., C, J, 2) of pixel points (..., C, J, 2): the
    fixed-point iteration OpenCV's ``undistortPoints`` uses (converges in a few steps for the mild
    distortion of ordinary lenses). Multiply by the focal length for undistorted pixels."""
    pixels = np.asarray(pixels, dtype=np.float64)
    fx, fy = cameras.K[:, 0, 0][:, None], cameras.K[:, 1, 1][:, None]
    cx, cy, skew = cameras.K[:, 0, 2][:, None], cameras.K[:, 1, 2][:, None], cameras.K[:, 0, 1][:, None]
    y0 = (pixels[..., 1] - cy) / fy
    x0 = (pixels[..., 0] - cx - skew * y0) / fx
    k1, k2, p1, p2, k3 = (cameras.distortion[:, i, None] for i in range(5))
    x, y = x0, y0
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        x, y = (x0 - dx) / radial, (y0 - dy) / radial
    return np.stack((x, y), axis=-1)


# --- readers -------------------------------------------------------------------------------------

def _fail(path, reason: str) -> CalibrationError:
    return CalibrationError(f"{path}: {reason}")


def _numbers(value) -> np.ndarray | None:
    """A TOML list of numbers as an array, or None when it is not one."""
    if not isinstance(value, list):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _matrix(path, where: str, value, shape: tuple) -> np.ndarray:
    array = _numbers(value)
    if array is None or array.shape != shape or not np.isfinite(array).all():
        expected = "x".join(str(s) for s in shape)
        raise _fail(path, f"{where} must be {expected} finite numbers.")
    return array


def _check_intrinsics(path, name: str, K: np.ndarray, size: np.ndarray) -> None:
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise _fail(path, f"camera {name!r}: the focal lengths in the camera matrix must be positive.")
    if (size <= 0).any():
        raise _fail(path, f"camera {name!r}: the image size must be two positive numbers (width, height).")


def _check_rotation(path, name: str, R: np.ndarray) -> None:
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
        raise _fail(path, f"camera {name!r}: the rotation is not a proper rotation matrix.")


def read_toml_calibration(path, metres_per_unit: float = 1.0) -> CameraSet:
    """A Pose2Sim or Anipose/OpenCV calibration TOML (see the module docstring)."""
    path = Path(path)
    try:
        tables = tomllib.loads(read_text(path))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise _fail(path, f"not a readable TOML file ({error}); expected one table per camera.") from None
    names, K, dist, R, t, sizes = [], [], [], [], [], []
    for key, table in tables.items():
        if key == "metadata" or not isinstance(table, dict):
            continue
        missing = [k for k in ("matrix", "distortions", "rotation", "translation", "size") if k not in table]
        if missing:
            raise _fail(path, f"table [{key}] lacks {', '.join(missing)}; expected a camera's size, matrix, "
                        "distortions, rotation and translation (Pose2Sim / Anipose calibration).")
        name = str(table.get("name", key))
        if table.get("fisheye", False):
            raise _fail(path, f"camera {name!r} is a fisheye calibration; only pinhole cameras are supported.")
        K.append(_matrix(path, f"camera {name!r} matrix", table["matrix"], (3, 3)))
        coefficients = _numbers(table["distortions"])
        if coefficients is None or coefficients.ndim != 1 or not 1 <= len(coefficients) <= 5 \
                or not np.isfinite(coefficients).all():
            raise _fail(path, f"camera {name!r} distortions must be 1 to 5 numbers (k1, k2, p1, p2, k3).")
        dist.append(_five_coefficients(coefficients[None])[0])
        rotation = _numbers(table["rotation"])
        if rotation is not None and rotation.shape == (3, 3):
            R.append(_matrix(path, f"camera {name!r} rotation", table["rotation"], (3, 3)))
        else:
            vector = _matrix(path, f"camera {name!r} rotation (a Rodrigues vector)", table["rotation"], (3,))
            R.append(rodrigues(vector))
        t.append(_matrix(path, f"camera {name!r} translation", table["translation"], (3,)) * metres_per_unit)
        sizes.append(_matrix(path, f"camera {name!r} size", table["size"], (2,)))
        _check_intrinsics(path, name, K[-1], sizes[-1])
        _check_rotation(path, name, R[-1])
        names.append(name)
    if not names:
        raise _fail(path, "no camera tables; expected [cam_0] / [<name>] tables with size, matrix, "
                    "distortions, rotation and translation.")
    return _camera_set(path, names, K, dist, R, t, sizes, "toml")


def _attributes(path, element, name: str, keys) -> list[float]:
    values = []
    for key in keys:
        text = element.get(key)
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise _fail(path, f"camera {name!r}: <{element.tag}> needs a number in {key}, got {text!r}.")
        values.append(value)
    return values


def read_qualisys(path) -> CameraSet:
    """A Qualisys ``.qca.txt`` calibration (conventions in the module docstring)."""
    path = Path(path)
    try:
        root = ElementTree.fromstring(read_text(path))
    except (ElementTree.ParseError, UnicodeDecodeError) as error:
        raise _fail(path, f"not readable XML ({error}); expected a Qualisys calibration.") from None
    cameras = root.findall("cameras/camera")
    if root.tag != "calibration" or not cameras:
        raise _fail(path, "expected a Qualisys <calibration> with <cameras><camera> elements.")
    names, K, dist, R, t, sizes = [], [], [], [], [], []
    for number, camera in enumerate(cameras, start=1):
        name = camera.get("serial") or f"camera {number}"
        if camera.get("viewrotation", "0").strip() not in ("0", ""):
            raise _fail(path, f"camera {name!r} has viewrotation {camera.get('viewrotation')}; only unrotated "
                        "views (viewrotation 0) are supported: export the calibration without view rotation.")
        parts = {tag: camera.find(tag) for tag in ("fov_video", "transform", "intrinsic")}
        absent = [f"<{tag}>" for tag, element in parts.items() if element is None]
        if absent:
            raise _fail(path, f"camera {name!r} lacks {', '.join(absent)}.")
        left, top, right, bottom = _attributes(path, parts["fov_video"], name, ("left", "top", "right", "bottom"))
        fu, fv, cu, cv = (v / QUALISYS_SUBPIXELS for v in _attributes(
            path, parts["intrinsic"], name, ("focalLengthU", "focalLengthV", "centerPointU", "centerPointV")))
        k1, k2, p1, p2 = _attributes(path, parts["intrinsic"], name, ("radialDistortion1", "radialDistortion2",
                                                                        "tangentalDistortion1", "tangentalDistortion2"))
        k3 = float(parts["intrinsic"].get("radialDistortion3", 0.0) or 0.0)
        position = np.array(_attributes(path, parts["transform"], name, ("x", "y", "z"))) / 1000.0
        axes = np.array(_attributes(path, parts["transform"], name,
                                    [f"r{i}{j}" for i in range(1, 4) for j in range(1, 4)])).reshape(3, 3)
        _check_rotation(path, name, axes)
        rotation = _QUALISYS_TO_OPENCV @ axes
        names.append(name)
        K.append(np.array([[fu, 0.0, cu - left], [0.0, fv, cv - top], [0.0, 0.0, 1.0]]))
        dist.append([k1, k2, p1, p2, k3])
        R.append(rotation)
        t.append(-rotation @ position)
        sizes.append([right - left + 1.0, bottom - top + 1.0])
        _check_intrinsics(path, name, K[-1], np.asarray(sizes[-1]))
    return _camera_set(path, names, K, dist, R, t, sizes, "qualisys")


def _camera_set(path, names, K, dist, R, t, sizes, kind: str) -> CameraSet:
    if len(set(names)) != len(names):
        raise _fail(path, "two cameras share a name; every camera needs its own.")
    return CameraSet(tuple(names), np.array(K), np.array(dist), np.array(R), np.array(t), np.array(sizes),
                     source=str(path), metadata={"format": kind})


def read_calibration(path, metres_per_unit: float = 1.0) -> CameraSet:
    """Any supported calibration: ``.qca.txt`` / XML -> Qualisys, ``.toml`` -> Pose2Sim / Anipose.
    ``metres_per_unit`` scales a TOML file's translations (Anipose files in millimetres: 0.001)."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such calibration file.")
    lower = path.name.lower()
    if lower.endswith(".toml"):
        return read_toml_calibration(path, metres_per_unit)
    if lower.endswith((".qca.txt", ".qca", ".xml")) or read_text(path).lstrip().startswith("<"):
        return read_qualisys(path)
    raise _fail(path, "unknown calibration file; expected a Pose2Sim or Anipose .toml or a Qualisys .qca.txt.")
