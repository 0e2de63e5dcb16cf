"""x-io x-IMU3 IMU-Mocap folders: ``<segment> <serial> (<interface>)/Inertial.csv`` and
``Quaternion.csv`` per sensor.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..recording import GRAVITY, ImuRecording
from ...kinematics.rotations import quat_to_matrix
from .align import _assemble, _check_times, _Stream
from .common import _fail, _table, _text, _unit_quaternions, check_acceleration
from .segments import segment_name


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
    at, av, alines = _xio_csv(inertial_path, ["Accelerometer X", "Accelerometer Y", "Accelerometer Z"])
    quat, present = _unit_quaternions(quat_path, qv, qlines)
    check_acceleration(inertial_path, av[:, None], [folder.name], alines, scale=GRAVITY)
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
