"""Movella (Xsens) DOT CSV exports, one file per sensor."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..recording import GRAVITY, ImuRecording
from ...kinematics.rotations import quat_to_matrix
from ...io.plausible import MAX_SAMPLE_RATE, frame_rate
from .align import _assemble, _check_times, _Stream, _unwrap
from .common import _fail, _table, _text, _unit_quaternions, check_acceleration
from .segments import segment_name
from .sniff import _sniff_csv


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
    if info.get("OutputRate", "").strip():
        rate, why = frame_rate(info["OutputRate"], MAX_SAMPLE_RATE)
        if why is not None:
            raise _fail(path, f"OutputRate: {why}; expected the sensor's output rate in Hz.")
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
    check_acceleration(path, acc[:, None], [path.name], numbers)
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
