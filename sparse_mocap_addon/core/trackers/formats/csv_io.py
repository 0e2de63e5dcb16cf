"""The tracker CSV (``# sparse_mocap trackers CSV 1``): wide (one row per frame) or long (one row per
tracker sample) reading, and wide writing."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from ...io.textio import comment_preamble, csv_rows
from .common import Stream, assign_names, check_times, fail, text_of, unit_quats

CSV_MAGIC = "# sparse_mocap trackers CSV 1"
_KIND = r"(p|pos|position|q|rot|rotation|quat|quaternion|orientation)"
_WIDE = re.compile(rf"^(.+?)[_ .]{_KIND}[_ .]?([wxyz])$", re.IGNORECASE)
_LONG = re.compile(rf"^{_KIND}[_ .]?([wxyz])$", re.IGNORECASE)
_NAME_COLUMNS = ("tracker", "name", "device", "node")
_COMPONENTS = ("px", "py", "pz", "qw", "qx", "qy", "qz")


def _component(kind: str, axis: str) -> str | None:
    axis = axis.lower()
    if kind.lower() in ("p", "pos", "position"):
        return None if axis == "w" else "p" + axis
    return "q" + axis


def _cells_to_numbers(path, rows, numbers, columns, labels) -> np.ndarray:
    """(N, len(columns)) floats; empty cells NaN; a cell that is not a number names the line."""
    try:
        out = np.array([[cells[c].strip() or "nan" for c in columns] for cells in rows], dtype=np.float64)
        if not np.isinf(out).any():
            return out.reshape(len(rows), len(columns))
    except ValueError:
        pass
    out = np.empty((len(rows), len(columns)))
    for r, (cells, line) in enumerate(zip(rows, numbers)):
        for c, col in enumerate(columns):
            text = cells[col].strip()
            if not text:
                out[r, c] = np.nan
                continue
            try:
                out[r, c] = float(text)
            except ValueError:
                raise fail(f"{path}, line {line}", f"{text!r} in column {labels[c]} is not a number.") from None
            if not np.isfinite(out[r, c]) and text.lower() not in ("nan",):
                raise fail(f"{path}, line {line}", f"{text!r} in column {labels[c]} is not a finite number.")
    return out


def read_csv(path: Path):
    """(streams, header, ignored labels) of a tracker CSV; ``header`` maps "convention", "units", "fps",
    "quaternion_order" to (value, line)."""
    lines = text_of(path).splitlines()
    header, header_index = comment_preamble(lines)
    if header_index is None:
        raise fail(path, "no header line; expected time,<tracker>_px,<tracker>_py,...,<tracker>_qw (or "
                   "time,tracker,px,py,pz,qx,qy,qz,qw).")
    header_no = header_index + 1
    columns = [c.strip() for c in lines[header_index].split(",")]
    where_header = f"{path}, line {header_no}"
    lowered = [c.lower() for c in columns]
    for c, name in enumerate(lowered):
        if name in lowered[:c]:
            raise fail(where_header, f"the column {columns[c]!r} appears twice.")
    rows, numbers = csv_rows(lines, header_index, len(columns), path, fail)
    time_col = lowered.index("time") if "time" in lowered else None
    name_col = next((lowered.index(n) for n in _NAME_COLUMNS if n in lowered), None)
    if name_col is not None:
        streams, ignored = _long(path, columns, rows, numbers, time_col, name_col, where_header)
    else:
        streams, ignored = _wide(path, columns, rows, numbers, time_col, where_header)
    return streams, header, ignored


def _time_values(path, rows, numbers, time_col, count):
    if time_col is None:
        return None
    return _cells_to_numbers(path, rows, numbers, [time_col], ["time"])[:, 0]


def _long(path, columns, rows, numbers, time_col, name_col, where_header):
    slots = {}
    for c, name in enumerate(columns):
        match = _LONG.match(name)
        if match:
            comp = _component(match.group(1), match.group(2))
            if comp:
                slots[comp] = c
    lacking = [p for p in _COMPONENTS if p not in slots]
    if lacking:
        raise fail(where_header, f"no {lacking[0]} column; a per-sample CSV needs time, tracker, px, py, pz, qx, "
                   "qy, qz and qw.")
    labels = []
    for cells in rows:
        label = cells[name_col].strip()
        if label not in labels:
            labels.append(label)
    names, ignored = assign_names(labels, path)
    values = _cells_to_numbers(path, rows, numbers, [slots[p] for p in _COMPONENTS], list(_COMPONENTS))
    times = _time_values(path, rows, numbers, time_col, len(rows))
    row_labels = np.array([cells[name_col].strip() for cells in rows], dtype=object)
    lines = np.asarray(numbers)
    streams = []
    for label, name in zip(labels, names):
        if name is None:
            continue
        pick = np.flatnonzero(row_labels == label)
        where_of = (lambda i, pick=pick: f"{path}, line {lines[pick[i]]}")
        t = times[pick] if times is not None else None
        streams.append(_stream(name, label, t, values[pick], where_of))
    return streams, ignored


def _wide(path, columns, rows, numbers, time_col, where_header):
    labels, slots = [], {}
    for c, name in enumerate(columns):
        low = name.lower()
        if low in ("time", "frame"):
            continue
        match = _WIDE.match(name)
        comp = _component(match.group(2), match.group(3)) if match else None
        if comp is None:
            raise fail(where_header, f"the column {name!r} is neither time, frame nor <tracker>_px/_py/_pz/_qw/_qx/"
                       "_qy/_qz.")
        label = match.group(1)
        if label not in slots:
            labels.append(label)
            slots[label] = {}
        slots[label][comp] = c
    if not labels:
        raise fail(where_header, "no tracker columns; expected <tracker>_px, _py, _pz, _qw, _qx, _qy, _qz per "
                   "tracker.")
    for label in labels:
        lacking = [p for p in _COMPONENTS if p not in slots[label]]
        if lacking:
            raise fail(where_header, f"tracker {label} has no {label}_{lacking[0]} column; each tracker needs _px, "
                       "_py, _pz, _qw, _qx, _qy and _qz.")
    names, ignored = assign_names(labels, path)
    times = _time_values(path, rows, numbers, time_col, len(rows))
    where_of = (lambda i: f"{path}, line {numbers[i]}")
    streams = []
    for label, name in zip(labels, names):
        if name is None:
            continue
        values = _cells_to_numbers(path, rows, numbers, [slots[label][p] for p in _COMPONENTS],
                                   [f"{label}_{p}" for p in _COMPONENTS])
        streams.append(_stream(name, label, times, values, where_of))
    return streams, ignored


def _stream(name, label, times, values, where_of) -> Stream:
    """A Stream from (N, 7) px py pz qw qx qy qz values; ``times`` None: the file has no time column,
    the samples are numbered (the caller divides by fps)."""
    positions, quats = values[:, :3], values[:, 3:]
    quats, valid = unit_quats(label, quats, positions, where_of)
    if times is None:
        return Stream(name, np.arange(len(values), dtype=np.float64), positions, quats, valid, label, True)
    check_times(label, times, where_of)
    return Stream(name, times, positions, quats, valid, label)


def _number_text(value: float) -> str:
    return repr(float(value)) if np.isfinite(value) else ""


def write_csv(path: Path, names, times, positions, quats, header: dict) -> None:
    """Wide CSV: ``time,<name>_px,_py,_pz,_qx,_qy,_qz,_qw``... (quaternion columns in ``quaternion_order``)."""
    from ...io.atomic import atomic_open

    order = header["quaternion_order"]
    qcols = [f"q{ch}" for ch in order]
    lines = [CSV_MAGIC] + [f"# {k}: {v}" for k, v in header.items()]
    lines.append(",".join(["time"] + [f"{n}_{c}" for n in names for c in ("px", "py", "pz", *qcols)]))
    block = np.concatenate([positions, quats], axis=-1).reshape(len(times), -1)
    for t, row in zip(times, block):
        lines.append(",".join([repr(float(t))] + [_number_text(v) for v in row]))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if path.suffix.lower() == ".gz":
        data = gzip.compress(data, mtime=0)
    with atomic_open(path) as stream:
        stream.write(data)
