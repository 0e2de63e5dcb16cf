"""The generic IMU CSV (``# sparse_mocap IMU CSV 1``): the reader and :func:`write_imu_csv`."""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path

import numpy as np

from ...io.atomic import atomic_open
from ..recording import GRAVITY, ImuError, ImuRecording
from ...kinematics.rotations import matrix_to_quat
from ...io.textio import comment_preamble, csv_rows
from .align import _assemble, _check_times, _Stream
from .common import _fail, _table, _text, _unit_quaternions


CSV_MAGIC = "# sparse_mocap IMU CSV 1"
_AXES = {"+X": (1, 0, 0), "-X": (-1, 0, 0), "+Y": (0, 1, 0), "-Y": (0, -1, 0), "+Z": (0, 0, 1), "-Z": (0, 0, -1)}
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
    meta_lines, header_index = comment_preamble(lines)
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

    rows, numbers = csv_rows(lines, header_index, len(columns), path, _fail)
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
