"""Real IMU recordings: one entry point, :func:`read_imu`, for the files body-worn IMU systems
write, a documented generic CSV (:func:`write_imu_csv` writes it), and :func:`resample_imu`.
Numpy only (``.pt`` files import torch lazily, when it is installed).

Every reader gives an :class:`~sparse_mocap_addon.core.imu.ImuRecording`: per frame and sensor the
orientation (a rotation matrix taking sensor-frame vectors to the world frame,
``v_world = R @ v_sensor``) and the *free* acceleration (gravity removed, world frame, m/s^2), on a
uniform time grid. ``world`` names the frame the values are in ("core" when they already are in
the core frame, else the device's own earth frame) and ``metadata["up_axis"]`` says which world
axis points up ("+Y" in the core frame, "+Z" in the vendors' earth frames); calibration (a later
step) brings device frames into the core frame.

Formats (``kind``; "auto" tells them apart by the path and the first lines):

- ``"tensors"`` TransPose / PIP / DIP-style arrays: ``acc`` (T, 6, 3) free acceleration (m/s^2)
  and ``ori`` (T, 6, 3, 3) sensor-to-world rotation matrices (or (T, 6, 9)), already calibrated into
  a Y-up world with gravity removed; sensor order ``SIX_SENSORS`` (left forearm, right forearm,
  left lower leg, right lower leg, head, pelvis). A folder with ``acc.pt`` and ``ori.pt`` (either
  file may be given; torch loads them and is only imported then), a ``.pt`` holding a dict with
  ``acc`` and ``ori``, or a ``.npz`` with arrays ``acc`` and ``ori`` (optional ``fps`` and
  ``sensors``). No time stamps: the rate is ``fps`` (default 60). ``world="core"``.
- ``"csv"`` the generic CSV (plain or gzipped)::

      # sparse_mocap IMU CSV 1
      # world: core
      # up: +Y
      # gravity: removed
      # fps: 60
      time,pelvis_qw,pelvis_qx,pelvis_qy,pelvis_qz,pelvis_ax,pelvis_ay,pelvis_az,head_qw,...
      0.0,1,0,0,0,0.01,-0.02,0.00,...

  ``#`` lines before the header are ``key: value`` metadata, all optional: ``world`` (default
  "core"), ``up`` (the world's up axis, ``+X`` ... ``-Z``; default ``+Y`` for the core frame),
  ``gravity`` (``removed``, the default, or ``included``), ``fps`` (the nominal rate; else from the
  time stamps). Columns: ``time`` in seconds (required, increasing) and per sensor
  ``<name>_qw, _qx, _qy, _qz`` (unit quaternion w, x, y, z, sensor to world) and ``<name>_ax,
  _ay, _az`` (acceleration in the world frame, m/s^2); optional ``frame`` (ignored) and
  ``gravity_included`` (0/1 per row). When gravity is included the acceleration columns are the
  accelerometer reading rotated into the world frame (at rest: +9.81 along up) and
  ``9.80665 * up`` is subtracted. Empty cells make that sensor's sample missing.
- ``"xsens"`` Xsens MT Manager exports ``MT_<...>_<serial>.txt[.gz]`` (MTw Awinda, MTi): ``//``
  header lines (``// Update Rate: 100.0Hz``), then tab-separated columns with ``PacketCounter``,
  ``Acc_X, Acc_Y, Acc_Z`` (m/s^2, sensor frame, gravity included: the accelerometer's specific
  force, +9.81 along up at rest; or ``FreeAcc_X/Y/Z`` already free in the global frame) and the
  orientation as ``Mat[i][j]`` (``Mat[R#][C#]``: row i, column j of R_GS, which takes sensor
  vectors to the Xsens global frame, x_G = R_GS x_S; its columns are the sensor axes in G; MT
  Manager writes them column by column: Mat[1][1], Mat[2][1], Mat[3][1], Mat[1][2], ...) or as
  ``Quat_q0..q3`` (q_GS, q0 the real part). Time = PacketCounter (16 bit, wraps at 65536) / update
  rate. Free acceleration a = R_GS a_S - g e_Z. The Xsens global frame is Z up; its heading
  reference is the local magnetic north: ENU (X east, Y north) in current MTi firmware, X north,
  Y west (NWU) in the MTw Awinda manual and older MTi/MTx; ``world="xsens ENU (Z up)"`` either way
  (only Z up matters before calibration). A folder of such files is one recording; sensor names come
  from an OpenSense mapping XML in the folder (``<ExperimentalSensor name="_00B421EE">
  <name_in_model>femur_l_imu</name_in_model>``), else they are the serials.
- ``"dot"`` Movella (Xsens) DOT CSV exports: metadata lines (``OutputRate:,60Hz``, ...) then
  ``PacketCounter,SampleTimeFine,Quat_W,Quat_X,Quat_Y,Quat_Z,FreeAcc_X,FreeAcc_Y,FreeAcc_Z``
  (or ``Acc_X/Y/Z``, sensor frame with gravity). The quaternion is the sensor's orientation in the
  local earth frame L, ENU (X magnetic east, Y north, Z up); free acceleration is in L with gravity
  removed. ``SampleTimeFine`` is in microseconds and wraps at 2^32 (unwrapped here). One file per
  sensor; a folder is one recording, sensor names from the file name prefix (``LFemur`` ->
  left_upper_leg, ``RTibia`` -> right_lower_leg, ``Pelvis`` -> pelvis). ``world="movella ENU (Z up)"``.
- ``"xio"`` x-io x-IMU3 IMU-Mocap folders: ``<segment> <serial> (<interface>)/Inertial.csv``
  (``Timestamp (us)``, gyroscope deg/s, ``Accelerometer X/Y/Z (g)`` in the sensor frame, gravity
  included) and ``Quaternion.csv`` (``Timestamp (us),W,X,Y,Z``: the AHRS orientation of the sensor
  relative to the earth, sensor to earth; x-io's Fusion AHRS uses North-West-Up by default, NED and
  ENU by setting). Free acceleration a = g (R a_g) - g up. The up axis is read from the data (the
  rotated accelerometer averages +1 g along +Z for NWU/ENU, -Z for NED). Segment folder names are
  mapped ("Left Lower Leg" -> left_lower_leg, "pelvis" -> pelvis, "Right Foot" -> right_foot).

Time: files with time stamps are put on a uniform grid at ``fps`` (default: the device's rate, from
the header or the median time step, rounded to a whole number within 1 %) by slerp and linear
interpolation. Several files are cut to the time span they all cover (``metadata["frames_cut"]``
counts each sensor's samples outside it). Gaps of up to two missing samples are bridged; frames
inside longer gaps are missing (``valid`` False, NaN). ``metadata["times"]`` holds each frame's
time in seconds on the source's clock; :func:`resample_imu` works from it.

Errors: one sentence naming the file and line (or frame), raised as :class:`ImuError`.
"""

from __future__ import annotations

import gzip
import importlib
import math
import re
import xml.etree.ElementTree as ElementTree
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from ..imu import GRAVITY, SEGMENT_JOINTS, SIX_SENSORS, ImuError, ImuRecording
from ..rotations import matrix_to_quat, quat_continuous, quat_slerp, quat_to_matrix
from ..source import SourceFormatError
from .names import side_and_key
from .textio import read_text

__all__ = ["read_imu", "write_imu_csv", "resample_imu", "segment_name", "IMU_KINDS", "CSV_MAGIC"]

IMU_KINDS = ("auto", "tensors", "csv", "xsens", "dot", "xio")
CSV_MAGIC = "# sparse_mocap IMU CSV 1"
DEFAULT_TENSOR_FPS = 60.0
MAX_BRIDGED_PERIODS = 3.5       # samples further apart than this many nominal periods leave a gap
_QUAT_NORM_TOLERANCE = 0.1
_ROTATION_TOLERANCE = 0.05
_AXES = {"+X": (1, 0, 0), "-X": (-1, 0, 0), "+Y": (0, 1, 0), "-Y": (0, -1, 0), "+Z": (0, 0, 1), "-Z": (0, 0, -1)}


def _fail(where, reason: str) -> ImuError:
    return ImuError(f"{where}: {reason}")


def _rate_argument(fps) -> float:
    """``fps`` as a positive float, or an ImuError."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(fps, bool) or not (math.isfinite(value) and value > 0):
        raise ImuError(f"fps must be a positive number, got {fps!r}.")
    return value


# --- segment names -------------------------------------------------------------------------------

_SIDED_PARTS = {
    "upperleg": "upper_leg", "thigh": "upper_leg", "femur": "upper_leg", "upleg": "upper_leg",
    "lowerleg": "lower_leg", "shank": "lower_leg", "shin": "lower_leg", "tibia": "lower_leg",
    "calf": "lower_leg", "leg": "lower_leg",
    "foot": "foot", "calcn": "foot", "calcaneus": "foot",
    "upperarm": "upper_arm", "humerus": "upper_arm", "uparm": "upper_arm", "arm": "upper_arm",
    "forearm": "forearm", "lowerarm": "forearm", "radius": "forearm", "ulna": "forearm",
    "hand": "hand",
}
_MIDLINE = {
    "pelvis": "pelvis", "hips": "pelvis", "sacrum": "pelvis", "waist": "pelvis", "root": "pelvis",
    "head": "head", "chest": "chest", "torso": "chest", "trunk": "chest", "sternum": "chest",
    "thorax": "chest", "back": "chest", "spine": "chest",
}
_NOISE_TOKENS = {"imu", "sensor", "dot", "mtw"}


def segment_name(text: str) -> str | None:
    """The body segment (a key of ``SEGMENT_JOINTS``) a vendor's sensor label names, or None.

    Case, separators and camel case do not matter and the side may come first or last: "Left
    Lower Leg", "LTibia", "tibia_l_imu", "RFemur", "right-thigh" -> left_lower_leg, left_lower_leg,
    left_lower_leg, right_upper_leg, right_upper_leg; "pelvis", "Pelvis", "pelvis_imu" -> pelvis;
    "torso_imu" -> chest; "calcn_r_imu" -> right_foot.
    """
    side, key = side_and_key(text, ignore=_NOISE_TOKENS)
    if key is None:
        return None
    if side is None:
        return _MIDLINE.get(key)
    part = _SIDED_PARTS.get(key)
    return f"{side}_{part}" if part else None


def _sensor_order(names) -> list[int]:
    """Indices putting known segments in ``SEGMENT_JOINTS`` order first, then the rest by name."""
    known = list(SEGMENT_JOINTS)
    return sorted(range(len(names)), key=lambda i: (known.index(names[i]) if names[i] in known else len(known),
                                                    names[i]))


# --- streams and the time grid ---------------------------------------------------------------------

@dataclass
class _Stream:
    """One sensor's samples as read: sensor-to-world quaternions, free world acceleration."""

    name: str
    times: np.ndarray           # (N,) seconds, strictly increasing
    quat: np.ndarray            # (N, 4) wxyz
    acc: np.ndarray             # (N, 3) m/s^2
    valid: np.ndarray           # (N,) bool
    where: str                  # the file, for messages
    rate: float | None = None   # nominal rate from the file's header
    serial: str = ""


def _snap_rate(rate: float) -> float:
    """A rate within 1 % of a whole number becomes that number (device clocks drift a little)."""
    whole = round(rate)
    return float(whole) if whole > 0 and abs(rate - whole) <= 0.01 * rate else float(rate)


def _check_times(where, times: np.ndarray, lines) -> None:
    """Time stamps must be finite and strictly increasing; ``lines`` gives each row's line number."""
    bad = np.flatnonzero(~np.isfinite(times))
    if len(bad):
        raise _fail(f"{where}, line {lines[bad[0]]}", "the time stamp is missing or not a number.")
    steps = np.diff(times)
    bad = np.flatnonzero(~(steps > 0))
    if len(bad):
        k = bad[0] + 1
        raise _fail(f"{where}, line {lines[k]}", f"the time stamp {times[k]:.6f} s does not come after the "
                    f"previous one ({times[k - 1]:.6f} s); time stamps must increase.")


def _interpolate(times, quat, acc, valid, grid, max_gap):
    """Values at ``grid`` from samples at ``times``: slerp for (N, ..., 4) quaternions, linear for
    (N, ..., 3) accelerations. A grid time on a sample takes it; between two samples it is valid
    only when both are and they are at most ``max_gap`` apart; outside the samples it is invalid."""
    n = len(times)
    batch = quat.shape[1:-1]
    if n == 1:
        hit = np.abs(grid - times[0]) <= 1e-9 * max(1.0, abs(times[0]))
        ok = hit.reshape((-1,) + (1,) * len(batch)) & valid[:1]
        return (np.broadcast_to(quat[:1], (len(grid),) + quat.shape[1:]).copy(),
                np.broadcast_to(acc[:1], (len(grid),) + acc.shape[1:]).copy(), ok)
    quat = np.where(valid[..., None], quat, np.array([1.0, 0.0, 0.0, 0.0]))
    acc = np.where(valid[..., None], acc, 0.0)
    quat = quat_continuous(quat, axis=0)
    i = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, n - 2)
    t0, t1 = times[i], times[i + 1]
    u = (grid - t0) / (t1 - t0)
    eps = 1e-6
    on_left, on_right = np.abs(u) <= eps, np.abs(u - 1.0) <= eps
    inside = (u >= -eps) & (u <= 1.0 + eps)
    u = np.clip(np.where(on_left, 0.0, np.where(on_right, 1.0, u)), 0.0, 1.0)
    shape = (-1,) + (1,) * len(batch)
    between = valid[i] & valid[i + 1] & ((t1 - t0) <= max_gap).reshape(shape)
    ok = np.where(on_left.reshape(shape), valid[i], np.where(on_right.reshape(shape), valid[i + 1], between))
    ok &= inside.reshape(shape)
    uq = np.broadcast_to(u.reshape(shape), (len(grid),) + batch)
    q = quat_slerp(quat[i], quat[i + 1], uq)
    ua = uq[..., None]
    a = (1.0 - ua) * acc[i] + ua * acc[i + 1]
    return q, a, ok


def _grid(start: float, end: float, fps: float) -> np.ndarray:
    count = int(math.floor((end - start) * fps + 1e-6)) + 1
    return start + np.arange(count) / fps


def _assemble(streams: list, fps, world: str, up_axis: str, source, fmt: str, metadata=None) -> ImuRecording:
    """One recording from per-sensor streams on a common clock: cut to the span all cover and put on
    a uniform grid at ``fps`` (default: the streams' nominal rate)."""
    names = [s.name for s in streams]
    for k, s in enumerate(streams):
        if s.name in names[:k]:
            other = streams[names.index(s.name)]
            raise _fail(s.where, f"the sensor name {s.name!r} is also used by {other.where}; each sensor needs "
                        "its own name.")
    order = _sensor_order(names)
    streams = [streams[k] for k in order]
    header_rates = {s.rate for s in streams if s.rate}
    if len(header_rates) == 1:
        nominal = header_rates.pop()
    else:
        steps = [np.median(np.diff(s.times)) for s in streams if len(s.times) > 1]
        if not steps:
            raise _fail(source, "every sensor has a single sample; a recording needs at least two.")
        nominal = _snap_rate(1.0 / float(np.median(steps)))
    rate = float(fps) if fps is not None else nominal
    start = max(s.times[0] for s in streams)
    end = min(s.times[-1] for s in streams)
    if not end >= start:
        late = max(streams, key=lambda s: s.times[0])
        early = min(streams, key=lambda s: s.times[-1])
        raise _fail(source, f"the sensors share no common time: {early.where} ends at {early.times[-1]:.3f} s "
                    f"before {late.where} starts at {late.times[0]:.3f} s.")
    grid = _grid(start, end, rate)
    tol = 1e-6 / nominal
    max_gap = MAX_BRIDGED_PERIODS / nominal
    quats, accs, valids, cut, dropped = [], [], [], {}, {}
    for s in streams:
        q, a, ok = _interpolate(s.times, s.quat, s.acc, s.valid, grid, max_gap)
        quats.append(q)
        accs.append(a)
        valids.append(ok)
        cut[s.name] = int(np.sum(s.times < start - tol) + np.sum(s.times > end + tol))
        if len(s.times) > 1:
            missing = np.rint(np.diff(s.times) * nominal) - 1
            dropped[s.name] = int(np.sum(np.clip(missing, 0, None)))
    meta = dict(metadata or {})
    meta.update({
        "format": fmt, "times": grid, "native_fps": nominal, "up_axis": up_axis, "frames_cut": cut,
        "dropped_samples": dropped,
        "alignment": (f"{len(streams)} sensor(s) cut to the {end - start:.3f} s they all cover "
                      f"({sum(cut.values())} samples cut: "
                      + ", ".join(f"{k} {v}" for k, v in cut.items()) + ")"),
    })
    serials = {s.name: s.serial for s in streams if s.serial}
    if serials:
        meta["serials"] = serials
    quat = np.stack(quats, axis=1)
    return ImuRecording(
        sensors=tuple(s.name for s in streams), orientation=quat_to_matrix(quat),
        acceleration=np.stack(accs, axis=1), fps=rate, valid=np.stack(valids, axis=1), world=world,
        source=str(source), metadata=meta)


# --- resampling ------------------------------------------------------------------------------------

def resample_imu(recording: ImuRecording, fps: float = 60.0) -> ImuRecording:
    """The recording on a uniform grid at ``fps`` from its first frame's time: orientations by slerp,
    accelerations linearly. Frame times are ``metadata["times"]`` when present (real time stamps),
    else uniform at ``recording.fps``. A new frame between two frames is valid only when both are
    (and they are at most 3.5 nominal periods apart); one on a frame takes that frame.
    """
    fps = _rate_argument(fps)
    where = recording.source or "the recording"
    count = recording.num_frames
    if count == 0:
        raise _fail(where, "the recording has no frames.")
    times = recording.metadata.get("times")
    if times is None or len(times) != count:
        times = np.arange(count) / float(recording.fps)
    times = np.asarray(times, dtype=np.float64)
    bad = np.flatnonzero(~(np.diff(times) > 0))
    if not np.isfinite(times).all() or len(bad):
        frame = int(bad[0]) + 1 if len(bad) else int(np.flatnonzero(~np.isfinite(times))[0])
        raise _fail(f"{where}, frame {frame}", "the frame times (metadata['times']) must be finite and increase.")
    step = float(np.median(np.diff(times))) if count > 1 else 1.0 / recording.fps
    grid = _grid(times[0], times[-1], float(fps))
    quat = matrix_to_quat(np.nan_to_num(recording.orientation))
    q, a, ok = _interpolate(times, quat, recording.acceleration, recording.valid, grid, MAX_BRIDGED_PERIODS * step)
    meta = dict(recording.metadata)
    meta["times"] = grid
    meta["resampled_from_fps"] = float(recording.fps)
    return ImuRecording(sensors=recording.sensors, orientation=quat_to_matrix(q), acceleration=a, fps=float(fps),
                        valid=ok, world=recording.world, source=recording.source, metadata=meta)


# --- shared text helpers -----------------------------------------------------------------------------

def _text(path: Path) -> str:
    try:
        text = read_text(path)
    except SourceFormatError as exc:
        raise ImuError(str(exc)) from None
    return text.lstrip("\ufeff")


def _table(where, rows: list, line_numbers: list, columns: list, labels: list) -> np.ndarray:
    """The cells at ``columns`` of each row (lists of text cells) as floats; empty cells are NaN.
    A short row or a cell that is not a number raises naming the line and the column label."""
    need = max(columns) + 1
    picked = []
    for cells, number in zip(rows, line_numbers):
        if len(cells) < need:
            raise _fail(f"{where}, line {number}", f"{len(cells)} values but the header has a column "
                        f"{labels[int(np.argmax(columns))]!r} at position {need}.")
        picked.append([cells[c].strip() or "nan" for c in columns])
    try:
        return np.array(picked, dtype=np.float64).reshape(len(rows), len(columns))
    except ValueError:
        pass
    for r, row in enumerate(picked):
        for c, cell in enumerate(row):
            try:
                float(cell)
            except ValueError:
                raise _fail(f"{where}, line {line_numbers[r]}", f"{cell!r} in column {labels[c]} is not a "
                            "number.") from None
    raise _fail(where, "the table could not be read as numbers.")     # not reached


def _unit_quaternions(where, quat: np.ndarray, line_numbers, names=None) -> tuple[np.ndarray, np.ndarray]:
    """(normalised quaternions, valid) for (N, 4) or (N, S, 4); NaN rows are missing samples,
    zero-length or clearly non-unit ones raise naming the line."""
    present = np.isfinite(quat).all(axis=-1)
    norm = np.linalg.norm(np.where(present[..., None], quat, 1.0), axis=-1)
    bad = present & (np.abs(norm - 1.0) > _QUAT_NORM_TOLERANCE)
    if bad.any():
        flat = np.argwhere(bad)[0]
        who = f" of sensor {names[flat[1]]}" if names is not None and len(flat) > 1 else ""
        length = norm[tuple(flat)]
        what = "zero length" if length < 1e-6 else f"length {length:.3g}"
        raise _fail(f"{where}, line {line_numbers[flat[0]]}", f"the quaternion{who} has {what}; expected a unit "
                    "quaternion (w, x, y, z).")
    return quat / norm[..., None], present


def _check_rotations(where, matrices: np.ndarray, label) -> None:
    """Raise when a finite matrix of (N, ..., 3, 3) is not a rotation; ``label(index)`` names it."""
    finite = np.isfinite(matrices).all(axis=(-2, -1))
    m = np.where(finite[..., None, None], matrices, np.eye(3))
    error = np.abs(np.swapaxes(m, -1, -2) @ m - np.eye(3)).max(axis=(-2, -1))
    det = np.linalg.det(m)
    bad = finite & ((error > _ROTATION_TOLERANCE) | (det < 0))
    if bad.any():
        index = tuple(np.argwhere(bad)[0])
        why = ("a reflection (determinant -1)" if det[index] < 0
               else f"not orthonormal (R^T R - I up to {error[index]:.3g})")
        raise _fail(f"{where}, {label(index)}", f"the orientation matrix is {why}; expected a rotation matrix.")


# --- TransPose / PIP tensors -------------------------------------------------------------------------

def _load_pt(path: Path):
    try:
        torch = importlib.import_module("torch")     # optional: only .pt files need it
    except ImportError:
        raise _fail(path, "reading .pt files needs PyTorch, which is not installed; save the arrays as .npz "
                    "(acc, ori) instead.") from None
    try:
        try:
            value = torch.load(str(path), map_location="cpu", weights_only=True)
        except TypeError:                      # torch older than 1.13 has no weights_only
            value = torch.load(str(path), map_location="cpu")
    except Exception as exc:                   # torch raises many kinds for damaged files
        raise _fail(path, f"not a readable PyTorch file ({type(exc).__name__}: {exc}).") from None

    def to_numpy(v):
        if hasattr(v, "detach"):
            return v.detach().cpu().double().numpy()
        return np.asarray(v)

    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    return to_numpy(value)


def _tensor_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, dict, Path]:
    """(acc, ori, extras, where) from a folder/file pair of .pt, a .pt dict or a .npz."""
    if path.is_dir() and not (path / "acc.pt").is_file() and not (path / "ori.pt").is_file():
        archives = sorted(path.glob("*.npz"))
        if len(archives) != 1:
            raise _fail(path, f"expected acc.pt and ori.pt or one .npz in the folder, found {len(archives)} .npz "
                        "files.")
        path = archives[0]
    if path.is_dir() or path.name.lower() in ("acc.pt", "ori.pt"):
        folder = path if path.is_dir() else path.parent
        acc_path, ori_path = folder / "acc.pt", folder / "ori.pt"
        for p in (acc_path, ori_path):
            if not p.is_file():
                raise _fail(p, "no such file; TransPose-style recordings are a pair acc.pt and ori.pt.")
        return _load_pt(acc_path), _load_pt(ori_path), {}, folder
    if path.suffix.lower() == ".pt":
        value = _load_pt(path)
        if not isinstance(value, dict) or "acc" not in value or "ori" not in value:
            raise _fail(path, "expected a dict with 'acc' and 'ori' tensors, or the pair acc.pt and ori.pt.")
        return value["acc"], value["ori"], value, path
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise _fail(path, f"not a readable .npz archive of number arrays ({exc}).") from None
    missing = [k for k in ("acc", "ori") if k not in arrays]
    if missing:
        raise _fail(path, f"no {' or '.join(missing)} array; expected 'acc' (frames, sensors, 3) and 'ori' "
                    f"(frames, sensors, 3, 3); the file has {', '.join(sorted(arrays)) or 'nothing'}.")
    return arrays["acc"], arrays["ori"], arrays, path


def _read_tensors(path: Path, fps) -> ImuRecording:
    acc, ori, extras, where = _tensor_arrays(path)
    acc, ori = np.asarray(acc), np.asarray(ori)
    for name, array in (("acc", acc), ("ori", ori)):
        if array.dtype.kind not in "iuf":
            raise _fail(where, f"{name} holds {array.dtype} values; numbers are expected.")
    if ori.ndim == 3 and ori.shape[-1] == 9:
        ori = ori.reshape(ori.shape[:2] + (3, 3))
    if acc.ndim != 3 or acc.shape[-1] != 3:
        raise _fail(where, f"acc has shape {tuple(acc.shape)}; expected (frames, sensors, 3).")
    if ori.shape != acc.shape[:2] + (3, 3):
        raise _fail(where, f"ori has shape {tuple(ori.shape)}; expected {acc.shape[:2] + (3, 3)} to match acc "
                    f"{tuple(acc.shape)}.")
    if acc.shape[0] == 0:
        raise _fail(where, "the arrays have no frames.")
    if "sensors" in extras:
        sensors = tuple(str(s) for s in np.asarray(extras["sensors"]).ravel())
        if len(sensors) != acc.shape[1]:
            raise _fail(where, f"{len(sensors)} sensor names for {acc.shape[1]} sensors.")
    elif acc.shape[1] == len(SIX_SENSORS):
        sensors = SIX_SENSORS
    else:
        raise _fail(where, f"{acc.shape[1]} sensors without names; TransPose-style arrays have 6 "
                    f"({', '.join(SIX_SENSORS)}), or give a 'sensors' array in the .npz.")
    ori = ori.astype(np.float64)
    _check_rotations(where, ori, lambda index: f"frame {index[0]}, sensor {sensors[index[1]]}")
    rate = float(fps) if fps is not None else float(np.asarray(extras.get("fps", DEFAULT_TENSOR_FPS)))
    if not (math.isfinite(rate) and rate > 0):
        raise _fail(where, f"the fps in the file must be a positive number, got {rate!r}.")
    meta = {"format": "tensors", "times": np.arange(acc.shape[0]) / rate, "native_fps": rate, "up_axis": "+Y",
            "fps_assumed": fps is None and "fps" not in extras}
    return ImuRecording(sensors=sensors, orientation=ori, acceleration=acc.astype(np.float64), fps=rate,
                        world="core", source=str(where), metadata=meta)


# --- generic CSV -------------------------------------------------------------------------------------

_CSV_COMPONENTS = ("qw", "qx", "qy", "qz", "ax", "ay", "az")
_CSV_COLUMN = re.compile(r"^(.+)_(qw|qx|qy|qz|ax|ay|az)$")


def _up_vector(where, text: str) -> np.ndarray:
    key = text.strip().upper()
    key = key if key[:1] in "+-" else "+" + key
    if key not in _AXES:
        raise _fail(where, f"the up axis {text.strip()!r} is not one of {', '.join(_AXES)}.")
    return np.array(_AXES[key], dtype=np.float64)


def _read_csv(path: Path, fps) -> ImuRecording:
    lines = _text(path).splitlines()
    meta_lines, header_index = {}, None
    for k, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, sep, value = stripped.lstrip("#").partition(":")
            if sep:
                meta_lines[key.strip().lower()] = (value.strip(), k + 1)
            continue
        header_index = k
        break
    if header_index is None:
        raise _fail(path, "no header line; expected time,<sensor>_qw,<sensor>_qx,... (see the generic IMU CSV layout).")
    header_no = header_index + 1
    columns = [c.strip() for c in lines[header_index].split(",")]
    where_header = f"{path}, line {header_no}"
    seen, sensors, slots = set(), [], {}
    time_col = gravity_col = None
    for c, name in enumerate(columns):
        if name in seen:
            raise _fail(where_header, f"the column {name!r} appears twice.")
        seen.add(name)
        low = name.lower()
        if low == "time":
            time_col = c
        elif low == "gravity_included":
            gravity_col = c
        elif low == "frame":
            continue
        else:
            match = _CSV_COLUMN.match(name)
            if not match:
                raise _fail(where_header, f"the column {name!r} is neither time, frame, gravity_included nor "
                            "<sensor>_qw/_qx/_qy/_qz/_ax/_ay/_az.")
            sensor, part = match.group(1), match.group(2)
            if sensor not in slots:
                sensors.append(sensor)
                slots[sensor] = {}
            slots[sensor][part] = c
    if time_col is None:
        raise _fail(where_header, "no time column; expected time (seconds) first, then <sensor>_qw, ...")
    if not sensors:
        raise _fail(where_header, "no sensor columns; expected <sensor>_qw, _qx, _qy, _qz, _ax, _ay, _az per sensor.")
    for sensor in sensors:
        lacking = [p for p in _CSV_COMPONENTS if p not in slots[sensor]]
        if lacking:
            raise _fail(where_header, f"sensor {sensor} has no {sensor}_{lacking[0]} column; each sensor needs "
                        "_qw, _qx, _qy, _qz, _ax, _ay and _az.")

    rows, numbers = [], []
    for k in range(header_index + 1, len(lines)):
        if not lines[k].strip() or lines[k].lstrip().startswith("#"):
            continue
        cells = lines[k].split(",")
        if len(cells) != len(columns):
            raise _fail(f"{path}, line {k + 1}", f"{len(cells)} values but the header (line {header_no}) has "
                        f"{len(columns)} columns.")
        rows.append(cells)
        numbers.append(k + 1)
    if not rows:
        raise _fail(path, "the file has a header but no rows.")
    wanted = [time_col] + [slots[s][p] for s in sensors for p in _CSV_COMPONENTS]
    if gravity_col is not None:
        wanted.append(gravity_col)
    values = _table(path, rows, numbers, wanted, [columns[c] for c in wanted])
    times = values[:, 0]
    _check_times(path, times, numbers)
    block = values[:, 1:1 + 7 * len(sensors)].reshape(len(rows), len(sensors), 7)
    quat, qvalid = _unit_quaternions(path, block[..., :4], numbers, sensors)
    acc = block[..., 4:]
    valid = qvalid & np.isfinite(acc).all(axis=-1)

    world = meta_lines.get("world", ("core", 0))[0] or "core"
    up_text, up_line = meta_lines.get("up", (None, 0))
    if up_text is not None:
        up = _up_vector(f"{path}, line {up_line}", up_text)
        up_axis = up_text.strip().upper() if up_text.strip()[:1] in "+-" else "+" + up_text.strip().upper()
    elif world == "core":
        up, up_axis = np.array([0.0, 1.0, 0.0]), "+Y"
    else:
        up, up_axis = None, None
    gravity_text, gravity_line = meta_lines.get("gravity", ("removed", 0))
    if gravity_text.lower() not in ("removed", "included"):
        raise _fail(f"{path}, line {gravity_line}", f"gravity must be 'removed' or 'included', got {gravity_text!r}.")
    included = np.full(len(rows), gravity_text.lower() == "included")
    if gravity_col is not None:
        flags = values[:, -1]
        bad = np.flatnonzero(~np.isin(flags, (0.0, 1.0)))
        if len(bad):
            raise _fail(f"{path}, line {numbers[bad[0]]}", f"gravity_included must be 0 or 1, got {flags[bad[0]]:g}.")
        included = flags == 1.0
    if included.any():
        if up is None:
            raise _fail(path, f"the acceleration includes gravity but the world {world!r} has no up axis; add a "
                        "line '# up: +Z' (or the axis that points up).")
        acc = acc - np.where(included[:, None, None], GRAVITY * up, 0.0)

    rate_text, rate_line = meta_lines.get("fps", (None, 0))
    header_rate = None
    if rate_text is not None:
        try:
            header_rate = float(rate_text.lower().removesuffix("hz"))
        except ValueError:
            header_rate = None
        if header_rate is None or not (math.isfinite(header_rate) and header_rate > 0):
            raise _fail(f"{path}, line {rate_line}", f"fps must be a positive number, got {rate_text!r}.")
    streams = [_Stream(s, times, quat[:, j], acc[:, j], valid[:, j], str(path), header_rate)
               for j, s in enumerate(sensors)]
    recording = _assemble(streams, fps, world, up_axis, path, "csv")
    # Keep the file's sensor order (the assembler sorts by body segment for multi-file folders).
    order = [recording.sensors.index(s) for s in sensors]
    return ImuRecording(sensors=tuple(sensors), orientation=recording.orientation[:, order],
                        acceleration=recording.acceleration[:, order], fps=recording.fps,
                        valid=recording.valid[:, order], world=world, source=str(path),
                        metadata=recording.metadata)


def _format_number(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.10g}"


def write_imu_csv(recording: ImuRecording, path) -> Path:
    """Write ``recording`` as the generic IMU CSV (gzipped when ``path`` ends with ``.gz``), through a
    temporary file renamed into place. Missing samples become empty cells; times come from
    ``metadata["times"]`` when present, else frame / fps. Returns the path."""
    path = Path(path)
    count, sensors = recording.num_frames, recording.sensors
    times = recording.metadata.get("times")
    if times is None or len(times) != count:
        times = np.arange(count) / float(recording.fps)
    for s in sensors:
        if "," in s or _CSV_COLUMN.match(f"{s}_qw") is None or s.lower() in ("time", "frame"):
            raise ImuError(f"{path}: the sensor name {s!r} cannot be a CSV column prefix.")
    quat = matrix_to_quat(np.nan_to_num(recording.orientation))
    quat = np.where(recording.valid[..., None], quat, np.nan)
    acc = np.where(recording.valid[..., None], recording.acceleration, np.nan)
    lines = [CSV_MAGIC, f"# world: {' '.join(recording.world.split())}"]
    up = recording.metadata.get("up_axis") or ("+Y" if recording.world == "core" else None)
    if up:
        lines.append(f"# up: {up}")
    lines += ["# gravity: removed", f"# fps: {float(recording.fps):.10g}"]
    lines.append(",".join(["time"] + [f"{s}_{p}" for s in sensors for p in _CSV_COMPONENTS]))
    block = np.concatenate([quat, acc], axis=-1).reshape(count, -1)
    for t, row in zip(np.asarray(times, dtype=np.float64), block):
        lines.append(",".join([f"{t:.15g}"] + [_format_number(v) for v in row.tolist()]))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if path.suffix.lower() == ".gz":
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as stream:
        stream.write(data)
    return path


# --- Xsens MT Manager exports -------------------------------------------------------------------------

_MAT_LABELS = [f"Mat[{i}][{j}]" for i in (1, 2, 3) for j in (1, 2, 3)]     # row-major R_GS
_SERIAL = re.compile(r"([0-9A-Fa-f]{8})$")


def _xsens_serial(path: Path) -> str:
    stem = path.name
    for suffix in (".gz", ".txt"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    tail = stem.rsplit("_", 1)[-1]
    match = _SERIAL.search(tail)
    return match.group(1).upper() if match else tail


def _unwrap(values: np.ndarray, modulus: float) -> np.ndarray:
    """Counter values that wrap at ``modulus`` made monotonic (a drop by more than half a turn is a wrap)."""
    steps = np.diff(values)
    steps = np.where(steps < -modulus / 2, steps + modulus, steps)
    return np.concatenate([values[:1], values[0] + np.cumsum(steps)])


def _read_xsens_file(path: Path, name: str | None) -> _Stream:
    lines = _text(path).splitlines()
    rate, header_index = None, None
    for k, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("//"):
            match = re.search(r"Update Rate:\s*([0-9.eE+-]+)\s*Hz", stripped, re.IGNORECASE)
            if match:
                rate = float(match.group(1))
            continue
        if not stripped:
            continue
        header_index = k
        break
    if header_index is None:
        raise _fail(path, "no column header; expected the '//' lines of an MT Manager export, then PacketCounter, ...")
    where_header = f"{path}, line {header_index + 1}"
    columns = [c.strip() for c in lines[header_index].split("\t")]
    index = {c: k for k, c in enumerate(columns) if c}
    if "PacketCounter" not in index:
        raise _fail(where_header, "no PacketCounter column; expected a tab-separated MT Manager export.")
    if rate is None or not (math.isfinite(rate) and rate > 0):
        raise _fail(path, "no '// Update Rate: <n>Hz' line; the packet counter needs the update rate.")
    if all(label in index for label in _MAT_LABELS):
        orientation_labels, mode = _MAT_LABELS, "matrix"
    elif all(f"Quat_q{k}" in index for k in range(4)):
        orientation_labels, mode = [f"Quat_q{k}" for k in range(4)], "quaternion"
    else:
        raise _fail(where_header, "no orientation columns; expected Mat[1][1] ... Mat[3][3] (rotation matrix) or "
                    "Quat_q0 ... Quat_q3 in the export.")
    for labels, kind in ((["Acc_X", "Acc_Y", "Acc_Z"], "sensor"), (["FreeAcc_X", "FreeAcc_Y", "FreeAcc_Z"], "free"),
                         (["FreeAcc_E", "FreeAcc_N", "FreeAcc_U"], "free")):
        if all(label in index for label in labels):
            acc_labels, acc_kind = labels, kind
            break
    else:
        raise _fail(where_header, "no acceleration columns; expected Acc_X, Acc_Y, Acc_Z (or FreeAcc_X, FreeAcc_Y, "
                    "FreeAcc_Z).")
    rows, numbers = [], []
    for k in range(header_index + 1, len(lines)):
        if lines[k].strip():
            rows.append(lines[k].split("\t"))
            numbers.append(k + 1)
    if not rows:
        raise _fail(path, "the file has a header but no samples.")
    labels = ["PacketCounter"] + orientation_labels + acc_labels
    values = _table(path, rows, numbers, [index[c] for c in labels], labels)
    counter = values[:, 0]
    bad = np.flatnonzero(~np.isfinite(counter))
    if len(bad):
        raise _fail(f"{path}, line {numbers[bad[0]]}", "the PacketCounter cell is empty or not a number.")
    times = _unwrap(counter, 65536.0) / rate
    _check_times(path, times, numbers)
    if mode == "matrix":
        # Mat[i][j] is row i, column j of R_GS (sensor -> global), whatever order the columns are in.
        matrices = values[:, 1:10].reshape(-1, 3, 3)
        _check_rotations(path, matrices, lambda i: f"line {numbers[i[0]]}")
        present = np.isfinite(matrices).all(axis=(-2, -1))
        matrices = np.where(present[:, None, None], matrices, np.eye(3))
        quat = matrix_to_quat(matrices)
        acc_raw = values[:, 10:13]
    else:
        quat, present = _unit_quaternions(path, values[:, 1:5], numbers)
        quat = np.where(present[:, None], quat, np.array([1.0, 0.0, 0.0, 0.0]))
        matrices = quat_to_matrix(quat)
        acc_raw = values[:, 5:8]
    if acc_kind == "sensor":               # specific force in the sensor frame: rotate, remove gravity
        acc = np.einsum("nij,nj->ni", matrices, acc_raw)
        acc[:, 2] -= GRAVITY
    else:
        acc = acc_raw
    valid = present & np.isfinite(acc).all(axis=-1)
    serial = _xsens_serial(path)
    return _Stream(name or serial, times, quat, acc, valid, str(path), rate, serial)


def _xsens_mapping(folder: Path) -> dict:
    """serial -> sensor name from an OpenSense mapping XML in ``folder`` (empty when there is none)."""
    mapping = {}
    for xml_path in sorted(folder.glob("*.xml")):
        try:
            root = ElementTree.fromstring(_text(xml_path))
        except ElementTree.ParseError as exc:
            raise _fail(f"{xml_path}, line {exc.position[0]}", f"not valid XML ({exc}).") from None
        for sensor in root.iter("ExperimentalSensor"):
            serial = (sensor.get("name") or "").strip().lstrip("_").upper()
            model = (sensor.findtext("name_in_model") or "").strip()
            if serial and model:
                mapping[serial] = segment_name(model) or model
    return mapping


def _xsens_files(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.is_file() and re.search(r"\.txt(\.gz)?$", p.name, re.IGNORECASE)
                  and _looks_like_xsens(p))


def _read_xsens(path: Path, fps) -> ImuRecording:
    folder = path if path.is_dir() else path.parent
    files = _xsens_files(path) if path.is_dir() else [path]
    if not files:
        raise _fail(path, "no Xsens MT export (MT_*.txt or .txt.gz with '//' header lines) in the folder.")
    mapping = _xsens_mapping(folder)
    streams = [_read_xsens_file(f, mapping.get(_xsens_serial(f))) for f in files]
    meta = {"sensor_names_from": "mapping XML" if mapping else "serial numbers"}
    return _assemble(streams, fps, "xsens ENU (Z up)", "+Z", path, "xsens", meta)


# --- Movella DOT -------------------------------------------------------------------------------------

def _read_dot_file(path: Path) -> _Stream:
    lines = _text(path).splitlines()
    info, header_index = {}, None
    for k, line in enumerate(lines[:200]):
        cells = [c.strip() for c in line.split(",")]
        if cells and cells[0] == "PacketCounter" or "SampleTimeFine" in cells:
            header_index = k
            break
        if len(cells) >= 2 and cells[0].endswith(":"):
            info[cells[0].rstrip(":").strip()] = cells[1]
    if header_index is None:
        raise _fail(path, "no column header; expected a Movella DOT export with PacketCounter,SampleTimeFine,"
                    "Quat_W, ...")
    where_header = f"{path}, line {header_index + 1}"
    columns = [c.strip() for c in lines[header_index].split(",")]
    index = {c: k for k, c in enumerate(columns) if c}
    quat_labels = ["Quat_W", "Quat_X", "Quat_Y", "Quat_Z"]
    if not all(c in index for c in quat_labels):
        raise _fail(where_header, "no Quat_W, Quat_X, Quat_Y, Quat_Z columns; export the orientation as quaternions.")
    if all(c in index for c in ("FreeAcc_X", "FreeAcc_Y", "FreeAcc_Z")):
        acc_labels, acc_kind = ["FreeAcc_X", "FreeAcc_Y", "FreeAcc_Z"], "free"
    elif all(c in index for c in ("Acc_X", "Acc_Y", "Acc_Z")):
        acc_labels, acc_kind = ["Acc_X", "Acc_Y", "Acc_Z"], "sensor"
    else:
        raise _fail(where_header, "no FreeAcc_X, FreeAcc_Y, FreeAcc_Z (or Acc_X, Acc_Y, Acc_Z) columns.")
    rate = None
    match = re.match(r"\s*([0-9.]+)\s*Hz", info.get("OutputRate", ""), re.IGNORECASE)
    if match:
        rate = float(match.group(1))
    if "SampleTimeFine" in index:
        time_label = "SampleTimeFine"
    elif "PacketCounter" in index and rate:
        time_label = "PacketCounter"
    else:
        raise _fail(where_header, "no SampleTimeFine column (and no PacketCounter with an OutputRate line).")
    rows, numbers = [], []
    for k in range(header_index + 1, len(lines)):
        if lines[k].strip():
            rows.append(lines[k].split(","))
            numbers.append(k + 1)
    if not rows:
        raise _fail(path, "the file has a header but no samples.")
    labels = [time_label] + quat_labels + acc_labels
    values = _table(path, rows, numbers, [index[c] for c in labels], labels)
    stamp = values[:, 0]
    bad = np.flatnonzero(~np.isfinite(stamp))
    if len(bad):
        raise _fail(f"{path}, line {numbers[bad[0]]}", f"the {time_label} cell is empty or not a number.")
    times = _unwrap(stamp, 2.0 ** 32) * 1e-6 if time_label == "SampleTimeFine" else _unwrap(stamp, 2.0 ** 32) / rate
    _check_times(path, times, numbers)
    quat, present = _unit_quaternions(path, values[:, 1:5], numbers)
    acc = values[:, 5:8]
    if acc_kind == "sensor":
        acc = np.einsum("nij,nj->ni", quat_to_matrix(np.where(present[:, None], quat, np.array([1.0, 0, 0, 0]))), acc)
        acc[:, 2] -= GRAVITY
    valid = present & np.isfinite(acc).all(axis=-1)
    prefix = path.name.split("_", 1)[0].split(".", 1)[0]
    name = segment_name(prefix) or segment_name(info.get("DeviceTag", "")) or prefix
    mac = re.search(r"(?:^|_)([0-9A-Fa-f]{12})(?:_|\.)", path.name)        # tag_D4CA6EF177E4_date_time.csv
    return _Stream(name, times, quat, acc, valid, str(path), rate, mac.group(1).upper() if mac else "")


def _dot_files(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.is_file() and re.search(r"\.csv(\.gz)?$", p.name, re.IGNORECASE)
                  and _sniff_csv(p) == "dot")


def _read_dot(path: Path, fps) -> ImuRecording:
    files = _dot_files(path) if path.is_dir() else [path]
    if not files:
        raise _fail(path, "no Movella DOT export (.csv with PacketCounter,SampleTimeFine,Quat_W, ...) in the folder.")
    streams = [_read_dot_file(f) for f in files]
    return _assemble(streams, fps, "movella ENU (Z up)", "+Z", path, "dot")


# --- x-io x-IMU3 -------------------------------------------------------------------------------------

_XIO_FOLDER = re.compile(r"^(?P<segment>.+?)\s+(?P<serial>[0-9A-Fa-f]{8})(\s*\((?P<interface>[^)]*)\))?$")


def _xio_csv(path: Path, wanted: list) -> tuple[np.ndarray, np.ndarray, list]:
    """(timestamps in s, the wanted columns, line numbers) of an x-IMU3 GUI CSV; columns are matched
    by the start of their header ("Accelerometer X" matches "Accelerometer X (g)")."""
    lines = _text(path).splitlines()
    if not lines:
        raise _fail(path, "the file is empty; expected a header 'Timestamp (us),...'.")
    columns = [c.strip() for c in lines[0].split(",")]

    def find(label):
        for k, c in enumerate(columns):
            if c == label or c.startswith(label + " ("):
                return k
        raise _fail(f"{path}, line 1", f"no {label!r} column; the header has {', '.join(columns)}.")

    cols = [find("Timestamp")] + [find(label) for label in wanted]
    rows, numbers = [], []
    for k in range(1, len(lines)):
        if lines[k].strip():
            rows.append(lines[k].split(","))
            numbers.append(k + 1)
    if not rows:
        raise _fail(path, "the file has a header but no samples.")
    values = _table(path, rows, numbers, cols, ["Timestamp"] + wanted)
    unit = columns[cols[0]]
    scale = 1e-3 if "(ms)" in unit else 1.0 if "(s)" in unit else 1e-6
    times = values[:, 0] * scale
    _check_times(path, times, numbers)
    return times, values[:, 1:], numbers


def _read_xio_sensor(folder: Path) -> _Stream:
    """One sensor folder: the stream with the *specific force* (gravity not yet removed) in the earth
    frame; the caller removes gravity once the up axis is known."""
    quat_path, inertial_path = folder / "Quaternion.csv", folder / "Inertial.csv"
    for p in (quat_path, inertial_path):
        if not p.is_file():
            raise _fail(p, "no such file; an x-IMU3 sensor folder needs Inertial.csv and Quaternion.csv.")
    qt, qv, qlines = _xio_csv(quat_path, ["W", "X", "Y", "Z"])
    at, av, _ = _xio_csv(inertial_path, ["Accelerometer X", "Accelerometer Y", "Accelerometer Z"])
    quat, present = _unit_quaternions(quat_path, qv, qlines)
    if len(at) == len(qt) and np.array_equal(at, qt):
        acc_g = av
    else:                                     # different message rates: accelerometer onto quaternion times
        acc_g = np.stack([np.interp(qt, at, av[:, k], left=np.nan, right=np.nan) for k in range(3)], axis=-1)
    rot = quat_to_matrix(np.where(present[:, None], quat, np.array([1.0, 0, 0, 0])))
    force = GRAVITY * np.einsum("nij,nj->ni", rot, acc_g)
    valid = present & np.isfinite(force).all(axis=-1)
    match = _XIO_FOLDER.match(folder.name)
    label, serial = (match.group("segment"), match.group("serial").upper()) if match else (folder.name, "")
    name = segment_name(label) or "_".join(label.lower().split())
    return _Stream(name, qt, quat, force, valid, str(folder), None, serial)


def _read_xio(path: Path, fps) -> ImuRecording:
    if path.is_file():
        path = path.parent
    if (path / "Quaternion.csv").is_file() or (path / "Inertial.csv").is_file():
        folders = [path]
    else:
        folders = sorted(p for p in path.iterdir() if p.is_dir()
                         and ((p / "Quaternion.csv").is_file() or (p / "Inertial.csv").is_file()))
    if not folders:
        raise _fail(path, "no x-IMU3 sensor folders ('<segment> <serial> (UDP)' with Inertial.csv and Quaternion.csv).")
    streams = [_read_xio_sensor(f) for f in folders]
    # The earth frame's up axis from the data: at rest the rotated accelerometer reads +1 g up.
    mean_force = np.nanmedian(np.concatenate([s.acc[s.valid] for s in streams]), axis=0) / GRAVITY
    if mean_force[2] > 0.5:
        up, world, up_axis = np.array([0.0, 0.0, 1.0]), "x-io earth NWU (Z up)", "+Z"
    elif mean_force[2] < -0.5:
        up, world, up_axis = np.array([0.0, 0.0, -1.0]), "x-io earth NED (Z down)", "-Z"
    else:
        raise _fail(path, f"cannot tell the earth frame's up axis: the accelerometer rotated into the earth frame "
                    f"has median ({mean_force[0]:.2f}, {mean_force[1]:.2f}, {mean_force[2]:.2f}) g, not 1 g along +Z "
                    "or -Z.")
    for s in streams:
        s.acc = s.acc - GRAVITY * up
    return _assemble(streams, fps, world, up_axis, path, "xio")


# --- detection and the entry point -------------------------------------------------------------------

def _head(path: Path, count: int = 40) -> list:
    try:
        with path.open("rb") as stream:
            raw = stream.read(65536)
        if raw[:2] == b"\x1f\x8b":
            raw = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(raw)
    except (OSError, zlib.error):
        return []
    return raw.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:count]


def _looks_like_xsens(path: Path) -> bool:
    head = _head(path)
    return any(line.startswith("//") for line in head[:3]) or any(
        line.split("\t")[0].strip() == "PacketCounter" for line in head)


def _sniff_csv(path: Path) -> str | None:
    """'dot', 'xio', 'csv' or None from a CSV file's first lines."""
    head = _head(path)
    if not head:
        return None
    if head[0].startswith("Timestamp ("):
        return "xio"
    rows = [[c.strip() for c in line.split(",")] for line in head]
    if any("SampleTimeFine" in cells or (cells[0] == "PacketCounter" and "Quat_W" in cells) for cells in rows):
        return "dot"
    for line, cells in zip(head, rows):
        if line.strip().startswith("#") or not line.strip():
            continue
        if cells[0].lower() in ("time", "frame") or any(_CSV_COLUMN.match(c) for c in cells):
            return "csv"
        return None
    return None


def _detect(path: Path) -> str:
    if path.is_dir():
        if (path / "acc.pt").is_file() or (path / "ori.pt").is_file():
            return "tensors"
        if (path / "Quaternion.csv").is_file() or (path / "Inertial.csv").is_file() or any(
                p.is_dir() and ((p / "Quaternion.csv").is_file() or (p / "Inertial.csv").is_file())
                for p in path.iterdir()):
            return "xio"
        if _xsens_files(path):
            return "xsens"
        if _dot_files(path):
            return "dot"
        npz = sorted(path.glob("*.npz"))
        csvs = [p for p in path.iterdir()
                if re.search(r"\.csv(\.gz)?$", p.name, re.IGNORECASE) and _sniff_csv(p) == "csv"]
        if len(npz) == 1 and not csvs:
            return "tensors"
        if len(csvs) == 1 and not npz:
            return "csv"
        raise _fail(path, "no IMU recording found: expected acc.pt + ori.pt, x-IMU3 sensor folders, Xsens MT_*.txt "
                    "files, Movella DOT .csv files, or one generic IMU .csv.")
    if not path.is_file():
        raise _fail(path, "no such file or folder.")
    name = path.name.lower()
    if name.endswith((".pt", ".npz")):
        return "tensors"
    if re.search(r"\.txt(\.gz)?$", name):
        return "xsens"
    if re.search(r"\.csv(\.gz)?$", name):
        sniffed = _sniff_csv(path)
        if sniffed:
            return sniffed
        raise _fail(path, "not a known IMU CSV: expected a Movella DOT export, an x-IMU3 Inertial.csv / "
                    "Quaternion.csv, or the generic layout (time,<sensor>_qw,...).")
    raise _fail(path, f"unknown IMU file type {path.suffix or '(no extension)'!r}; expected a folder, .pt, .npz, "
                ".csv or .txt (text may be gzipped).")


_READERS = {"tensors": _read_tensors, "csv": _read_csv, "xsens": _read_xsens, "dot": _read_dot, "xio": _read_xio}


def read_imu(path, fps: float | None = None, kind: str = "auto") -> ImuRecording:
    """Read an IMU recording (a file or a folder) into an :class:`ImuRecording`.

    ``kind``: "auto" (from the path and the first lines) or one of "tensors", "csv", "xsens",
    "dot", "xio" (the module docstring describes them). ``fps``: the frame rate of the result;
    files with time stamps are resampled to it (default: the device's own rate), TransPose-style
    tensors, which have none, are taken to be at this rate (default 60).
    """
    if kind not in IMU_KINDS:
        raise ImuError(f"kind must be one of {', '.join(IMU_KINDS)}, got {kind!r}.")
    fps = None if fps is None else _rate_argument(fps)
    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file or folder.")
    if kind == "auto":
        kind = _detect(path)
    return _READERS[kind](path, fps)
