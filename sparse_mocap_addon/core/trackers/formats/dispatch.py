""":func:`read_trackers` and :func:`write_trackers`: the file kind by its name, the convention and
units (argument, file header, convention default), the time grid, the conversion to the core frame
and the plausibility check."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..recording import TrackerError, TrackerRecording
from ...io import plausible
from . import checks
from .common import fail, rate_argument
from .conventions import (convention as find_convention, positions_from_core, positions_to_core, quaternion_order,
                          quats_from_core, quats_to_core, reorder_from_wxyz, units_name)
from .csv_io import read_csv, write_csv
from .json_io import read_json, write_json
from .npz_io import read_npz, write_npz
from .streams import assemble

TRACKER_KINDS = ("auto", "csv", "json", "npz")


def _kind(path: Path, kind: str) -> str:
    if kind not in TRACKER_KINDS:
        raise TrackerError(f"kind must be one of {', '.join(TRACKER_KINDS)}, got {kind!r}.")
    if kind != "auto":
        return kind
    name = path.name.lower()
    if re.search(r"\.(csv|txt)(\.gz)?$", name):
        return "csv"
    if re.search(r"\.json(\.gz)?$", name):
        return "json"
    if name.endswith(".npz"):
        return "npz"
    raise fail(path, f"unknown tracker file type {path.suffix or '(no extension)'!r}; expected .csv, .json or .npz "
               "(text may be gzipped).")


def _header_value(header, key):
    value, line = header.get(key, (None, 0))
    return value, line


def _where(path, line):
    return f"{path}, line {line}" if line else str(path)


def _stated(path, header, key: str, parse):
    """(``parse(value)``, line) of what the file's header states for ``key``, (None, line) when it
    states nothing; a value ``parse`` refuses is an error naming the file and the line."""
    text, line = _header_value(header, key)
    if text is None:
        return None, line
    try:
        return parse(text), line
    except TrackerError as exc:
        raise fail(_where(path, line), str(exc)[0].lower() + str(exc)[1:]) from None


def read_trackers(path, convention=None, fps=None, units=None, *, kind: str = "auto",
                  check: bool = True) -> TrackerRecording:
    """Read a tracker recording (CSV, JSON or npz; see the package docstring) into the core frame.

    ``convention``: the coordinate convention of the file ("unity", "unreal", "openxr", "steamvr",
    "blender", "core"); ``None`` takes the one the file states (files from :func:`write_trackers`
    do). ``units``: "m", "cm" or "mm" (default: the file's, else the convention's). ``fps``: the
    frame rate of the result (default: the file's); uneven time stamps are resampled onto a uniform
    grid. ``check``: refuse results that are obviously not a person (head below the feet, a
    170 m person), suggesting the convention or unit that would pass.
    """
    path = Path(path)
    fps = rate_argument(fps)
    if not path.is_file():
        raise fail(path, "no such file.")
    kind = _kind(path, kind)
    given = None if convention is None else find_convention(convention)
    state = {}

    def resolve_order(header) -> str:
        stated, line = _stated(path, header, "convention", find_convention)
        if given is not None and stated is not None and stated.name != given.name:
            raise fail(_where(path, line), f"the file says its convention is {stated.name!r} but {given.name!r} "
                       f"was given; leave the convention unset to use the file's, or fix the file.")
        conv = given or stated
        if conv is None:
            raise fail(path, "the file does not state its coordinate convention; choose one of unity, unreal, "
                       "openxr, steamvr, blender, core.")
        state["convention"] = conv
        order, _ = _stated(path, header, "quaternion_order", quaternion_order)
        return order or conv.quaternion_order

    if kind == "csv":
        streams, header, ignored = read_csv(path)
        resolve_order(header)
    elif kind == "json":
        streams, header, ignored = read_json(path, resolve_order)
    else:
        streams, header, ignored = read_npz(path, resolve_order)
    conv = state["convention"]

    stated_units, line = _stated(path, header, "units", units_name)
    unit = units_name(units) if units is not None else None
    if unit is not None and stated_units is not None and unit != stated_units:
        raise fail(_where(path, line), f"the file says its units are {stated_units!r} but {unit!r} were given.")
    unit = unit or stated_units or conv.units

    text, line = _header_value(header, "fps")
    header_fps = None
    if text is not None:
        header_fps, why = plausible.frame_rate(text)
        if why is not None:
            raise fail(_where(path, line), f"fps must be a positive number of frames per second up to "
                       f"{plausible.MAX_FRAME_RATE:g}, got {text!r:.40}.")
    numbered = [s for s in streams if s.frame_index]
    if numbered:
        rate = fps or header_fps
        if rate is None:
            raise fail(path, "the file has no time stamps and states no frame rate; add a time column or give the frame rate.")
        for s in numbered:
            s.times = s.times / rate
        header_fps = header_fps or rate

    times, raw_pos, quats, valid, rate, meta = assemble(streams, fps, header_fps, path)
    names = tuple(s.name for s in streams)
    if not valid.any():
        raise fail(path, "every sample of every tracker is missing; expected a recording with data.")
    _check_motion(path, names, raw_pos, conv, unit, rate, steps=False)
    positions = positions_to_core(raw_pos, conv, unit)
    orientations = quats_to_core(quats, conv)
    if check:
        why = checks.problem(names, positions, valid)
        if why is not None:
            other = checks.suggestion(names, raw_pos, valid, conv.name, unit)
            hint = (f"{other} passes these checks" if other else
                    "no other convention or unit passes these checks either, so check the file")
            raise fail(path, f"read as convention {conv.name!r} in {unit}, {why}; {hint}.")
    _check_motion(path, names, raw_pos, conv, unit, rate, steps=True)
    metadata = {"format": kind, "convention": conv.name, "units": unit, "times": times,
                "labels": {s.name: s.label for s in streams}, "ignored_trackers": ignored, **meta}
    return TrackerRecording(names, positions, orientations, rate, valid, source=str(path), metadata=metadata)


def _check_motion(path, names, raw_positions, conv, unit, fps, steps: bool) -> None:
    """Trackers kilometres away are refused (file, frame, tracker) before the unit and convention
    checks, which would compute with such values; with ``steps``, after those checks (a wrong unit is
    named as such first), trackers jumping metres faster than a body moves too."""
    rate, why = plausible.frame_rate(fps)
    if why is not None:
        raise fail(path, f"{why}, as the file's time stamps give it; expected time stamps in seconds.")
    metres = positions_to_core(np.ones((1, 1, 3)), conv, unit)        # metres per file unit, on each axis
    scale = float(np.abs(metres).max())

    def label(k):
        return f"tracker {names[k]}"

    why = plausible.far_positions(raw_positions, label, scale)
    if why is None and steps:
        why = plausible.fast_steps(raw_positions, rate, label, scale)
    if why is not None:
        raise fail(path, why + ".")


def write_trackers(recording: TrackerRecording, path, convention="core", units=None, *, kind: str = "auto") -> Path:
    """Write ``recording`` (core frame) as a tracker CSV, JSON or npz (by the name: ``.csv[.gz]``,
    ``.json``, ``.npz``) in ``convention`` and ``units`` (default: the convention's), stating both
    in the file, through a temporary file renamed into place. Missing samples become empty cells /
    null / NaN. Times come from ``metadata["times"]`` when it fits, else frame / fps."""
    path = Path(path)
    kind = _kind(path, kind)
    conv = find_convention(convention)
    unit = units_name(units) if units is not None else conv.units
    count = recording.num_frames
    times = recording.metadata.get("times")
    if times is None or len(times) != count:
        times = np.arange(count) / float(recording.fps)
    times = np.asarray(times, dtype=np.float64)
    valid = recording.valid
    positions = np.where(valid[..., None], positions_from_core(recording.positions, conv, unit), np.nan)
    quats = np.where(valid[..., None], reorder_from_wxyz(quats_from_core(recording.orientations, conv),
                                                          conv.quaternion_order), np.nan)
    header = {"convention": conv.name, "units": unit, "fps": float(recording.fps),
              "quaternion_order": conv.quaternion_order}
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        write_csv(path, recording.names, times, positions, quats, header)
    elif kind == "json":
        write_json(path, recording.names, times, positions, quats, header)
    else:
        write_npz(path, recording.names, times, positions, quats, valid, header)
    return path
