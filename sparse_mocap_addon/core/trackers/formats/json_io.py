"""The tracker JSON: per-tracker arrays (``"trackers"``) or per-frame objects (``"frames"``); reading,
and writing of the per-tracker form."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .common import Stream, assign_names, check_times, fail, number, text_of, unit_quats

JSON_FORMAT = "sparse_mocap trackers"
_POSITION_KEYS = ("position", "pos", "p", "location")
_ROTATION_KEYS = ("rotation", "orientation", "quaternion", "quat", "q")
_META_KEYS = ("convention", "units", "fps", "quaternion_order")


def _pick(obj: dict, keys):
    for k in keys:
        if k in obj:
            return obj[k]
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for k in keys:
        if k in lowered:
            return lowered[k]
    return None


def _vector(where, value, size: int, order: str) -> list:
    """``size`` numbers (NaN for a missing sample) from a list or an {"x":..,"y":..} object; quaternions
    as objects are read by component name, as lists in ``order``; returned wxyz / xyz."""
    if value is None:
        return [math.nan] * size
    if isinstance(value, dict):
        low = {str(k).lower(): v for k, v in value.items()}
        axes = "xyz" if size == 3 else "wxyz"
        missing = [a for a in axes if a not in low]
        if missing:
            raise fail(where, f"the object has no {missing[0]!r}; expected {', '.join(axes)}.")
        return [number(where, low[a], a) for a in axes]
    if not isinstance(value, (list, tuple)) or len(value) != size:
        raise fail(where, f"expected {size} numbers, got {json.dumps(value)[:60]}.")
    numbers = [number(where, v, f"value {i}") for i, v in enumerate(value)]
    if size == 4 and order == "xyzw":
        numbers = numbers[3:] + numbers[:3]
    return numbers


def _series(path, label, base, times, positions, rotations, order) -> Stream:
    if not isinstance(positions, list) or not isinstance(rotations, list):
        raise fail(f"{path}, {base}", "expected 'position' and 'rotation' lists.")
    if len(positions) != len(rotations) or (times is not None and len(times) != len(positions)):
        raise fail(f"{path}, {base}", f"time, position and rotation have different lengths "
                   f"({'-' if times is None else len(times)}, {len(positions)}, {len(rotations)}).")
    if not positions:
        raise fail(f"{path}, {base}", "the tracker has no samples.")
    p = np.array([_vector(f"{path}, {base}.position[{i}]", v, 3, order) for i, v in enumerate(positions)])
    q = np.array([_vector(f"{path}, {base}.rotation[{i}]", v, 4, order) for i, v in enumerate(rotations)])
    where_of = (lambda i: f"{path}, {base}[{i}]")
    q, valid = unit_quats(label, q, p, where_of)
    if times is None:
        return Stream("", np.arange(len(p), dtype=np.float64), p, q, valid, label, True)
    t = np.array([number(f"{path}, {base}.time[{i}]", v, "the time") for i, v in enumerate(times)])
    check_times(label, t, lambda i: f"{path}, {base}.time[{i}]")
    return Stream("", t, p, q, valid, label)


def read_json(path: Path, resolve_order):
    """(streams, header, ignored labels); ``resolve_order(header)`` gives the order ("wxyz"/"xyzw") of
    quaternions written as 4-number lists (the file's own, else the convention's)."""
    text = text_of(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"{path}, line {exc.lineno}", f"not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise fail(path, "expected a JSON object with 'trackers' or 'frames'.")
    header = {k: (data[k], 0) for k in _META_KEYS if k in data and data[k] is not None}
    order = resolve_order(header)
    if "trackers" in data:
        items = data["trackers"]
        if isinstance(items, dict):
            items = [dict(v, name=k) if isinstance(v, dict) else v for k, v in items.items()]
        if not isinstance(items, list) or not all(isinstance(v, dict) for v in items):
            raise fail(path, "'trackers' must map each tracker name to an object with time, position and rotation.")
        labels = [str(v.get("name", "")) for v in items]
        names, ignored = assign_names(labels, path)
        streams = []
        for item, label, name in zip(items, labels, names):
            if name is None:
                continue
            s = _series(path, label, f"trackers.{label}", _pick(item, ("time", "times", "t")),
                        _pick(item, _POSITION_KEYS), _pick(item, _ROTATION_KEYS), order)
            s.name = name
            streams.append(s)
    elif "frames" in data:
        frames = data["frames"]
        if not isinstance(frames, list) or not frames or not all(isinstance(f, dict) for f in frames):
            raise fail(path, "'frames' must be a non-empty list of objects with time and one object per tracker.")
        labels = []
        for f in frames:
            inner = f.get("trackers", f)
            for k, v in inner.items():
                if isinstance(v, dict) and k not in labels:
                    labels.append(k)
        names, ignored = assign_names(labels, path)
        has_time = all("time" in f for f in frames)
        streams = []
        for label, name in zip(labels, names):
            if name is None:
                continue
            picked = [(i, f.get("trackers", f).get(label)) for i, f in enumerate(frames)]
            picked = [(i, v) for i, v in picked if isinstance(v, dict)]
            times = [frames[i]["time"] for i, _ in picked] if has_time else None
            s = _series(path, label, f"frames[{picked[0][0]}].{label}", times,
                        [_pick(v, _POSITION_KEYS) for _, v in picked], [_pick(v, _ROTATION_KEYS) for _, v in picked],
                        order)
            if not has_time:
                s.times = np.array([float(i) for i, _ in picked])
            s.name = name
            streams.append(s)
    else:
        raise fail(path, "no 'trackers' or 'frames' entry; see the tracker JSON layout.")
    return streams, header, ignored


def write_json(path: Path, names, times, positions, quats, header: dict) -> None:
    from ...io.atomic import atomic_open

    def clean(a):
        return [[None if not np.isfinite(row).all() else [float(v) for v in row]][0] for row in a]

    doc = {"format": JSON_FORMAT, "version": 1, **header, "trackers": {}}
    for k, name in enumerate(names):
        doc["trackers"][name] = {"time": [float(t) for t in times], "position": clean(positions[:, k]),
                                 "rotation": clean(quats[:, k])}
    with atomic_open(path, "w", encoding="utf-8") as stream:
        json.dump(doc, stream, separators=(",", ":"))
        stream.write("\n")
