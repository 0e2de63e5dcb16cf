"""Xsens MT Manager exports (``MT_<...>_<serial>.txt[.gz]``, MTw Awinda, MTi), with an optional
OpenSense mapping XML naming the sensors.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from ..recording import GRAVITY, ImuRecording
from ...kinematics.rotations import matrix_to_quat, quat_to_matrix
from ...io.plausible import MAX_SAMPLE_RATE, frame_rate
from .align import _assemble, _check_times, _Stream, _unwrap
from .common import _check_rotations, _fail, _table, _text, _unit_quaternions, check_acceleration
from .segments import segment_name
from .sniff import _looks_like_xsens


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


def _read_xsens_file(path: Path, name: str | None) -> _Stream:
    lines = _text(path).splitlines()
    rate, header_index = None, None
    for k, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("//"):
            match = re.search(r"Update Rate:\s*(\S+)\s*Hz", stripped, re.IGNORECASE)
            if match:
                rate, why = frame_rate(match.group(1), MAX_SAMPLE_RATE)
                if why is not None:
                    raise _fail(f"{path}, line {k + 1}", f"{why}; expected the sensor's update rate in Hz.")
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
    check_acceleration(path, acc_raw[:, None], [path.name], numbers)
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
