"""The tracker .npz: named arrays (``names``, ``positions``, ``orientations``, ``time`` or ``fps``,
optional ``valid``, ``convention``, ``units``, ``quaternion_order``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io.plausible import damaged_array_file, infinite_values
from .common import Stream, assign_names, check_times, fail, unit_quats
from .conventions import reorder_to_wxyz


def _scalar_text(arrays, key):
    if key not in arrays:
        return None
    value = np.asarray(arrays[key])
    if value.size != 1:
        return None
    return str(value.reshape(()).item())


def read_npz(path: Path, resolve_order):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception:      # zipfile, zlib and numpy raise many kinds for a damaged archive
        raise fail(path, damaged_array_file(".npz") + ".") from None
    missing = [k for k in ("names", "positions", "orientations") if k not in arrays]
    if missing:
        raise fail(path, f"no {missing[0]!r} array; expected names (K,), positions (T, K, 3) and orientations "
                   f"(T, K, 4); the file has {', '.join(sorted(arrays)) or 'nothing'}.")
    header = {}
    for key in ("convention", "units", "quaternion_order"):
        text = _scalar_text(arrays, key)
        if text is not None:
            header[key] = (text, 0)
    if "fps" in arrays:
        value = np.asarray(arrays["fps"])                     # checked with the other headers' fps
        header["fps"] = (value.reshape(()).item() if value.size == 1 else value, 0)
    labels = [str(n) for n in np.asarray(arrays["names"]).reshape(-1)]
    positions, quats = np.asarray(arrays["positions"]), np.asarray(arrays["orientations"])
    for key, array in (("positions", positions), ("orientations", quats)):
        if array.dtype.kind not in "iuf":
            raise fail(path, f"{key} holds {array.dtype} values; numbers are expected.")
    K = len(labels)
    if positions.ndim != 3 or positions.shape[1:] != (K, 3):
        raise fail(path, f"positions has shape {positions.shape}; expected (frames, {K}, 3) for {K} names.")
    T = positions.shape[0]
    if quats.shape != (T, K, 4):
        raise fail(path, f"orientations has shape {quats.shape}; expected ({T}, {K}, 4) to match positions.")
    if T == 0:
        raise fail(path, "the arrays have no frames.")
    why = (infinite_values(positions, lambda k: f"tracker {labels[k]}")
           or infinite_values(quats, lambda k: f"tracker {labels[k]}"))
    if why is not None:
        raise fail(path, why + ".")
    quats = reorder_to_wxyz(quats.astype(np.float64), resolve_order(header))
    positions = positions.astype(np.float64)
    valid = None
    if "valid" in arrays:
        valid = np.asarray(arrays["valid"])
        if valid.dtype.kind not in "biuf":
            raise fail(path, f"valid holds {valid.dtype} values; true/false (or 1/0) per frame and tracker are expected.")
        if valid.shape != (T, K):
            raise fail(path, f"valid has shape {valid.shape}; expected ({T}, {K}).")
        valid = valid.astype(bool)
        positions = np.where(valid[..., None], positions, np.nan)
        quats = np.where(valid[..., None], quats, np.nan)
    times, frame_index = None, False
    if "time" in arrays:
        times = np.asarray(arrays["time"])
        if times.dtype.kind not in "iuf":
            raise fail(path, f"time holds {times.dtype} values; numbers of seconds are expected.")
        times = times.astype(np.float64)
        if times.shape not in ((T,), (T, K)):
            raise fail(path, f"time has shape {times.shape}; expected ({T},) or ({T}, {K}).")
    else:
        frame_index = True
    names, ignored = assign_names(labels, path)
    streams = []
    for k, (label, name) in enumerate(zip(labels, names)):
        if name is None:
            continue
        where_of = (lambda i: f"{path}, frame {i}")
        q, ok = unit_quats(label, quats[:, k], positions[:, k], where_of)
        if times is None:
            t = np.arange(T, dtype=np.float64)
        else:
            t = times if times.ndim == 1 else times[:, k]
            check_times(label, t, where_of)
        streams.append(Stream(name, t.copy(), positions[:, k], q, ok, label, frame_index))
    return streams, header, ignored


def write_npz(path: Path, names, times, positions, quats, valid, header: dict) -> None:
    from ...io.atomic import atomic_open

    arrays = {"names": np.array(names, dtype=str), "time": np.asarray(times, dtype=np.float64),
              "positions": positions, "orientations": quats, "valid": valid,
              "fps": np.float64(header["fps"])}
    for key in ("convention", "units", "quaternion_order"):
        arrays[key] = np.array(str(header[key]))
    with atomic_open(path) as stream:
        np.savez(stream, **arrays)
