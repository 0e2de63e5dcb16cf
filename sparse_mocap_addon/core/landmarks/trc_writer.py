"""Write a :class:`~.sequence.LandmarkSequence` as an OpenSim / Pose2Sim TRC marker file.

The layout is the one ``formats.read_landmarks`` reads back (and OpenSim and Pose2Sim read):
five header lines (``PathFileType``; ``DataRate CameraRate NumFrames NumMarkers Units
OrigDataRate OrigDataStartFrame OrigNumFrames`` and their values; ``Frame# Time`` and the marker
names; ``X1 Y1 Z1 ...``), then one tab-separated row per frame: the frame number (from 1, as
Pose2Sim numbers them), the time in seconds (frame index / fps, from 0) and x, y, z of each marker.
A missing point (NaN, or a confidence of 0) is written as empty cells. The points are written in
the sequence's own axes, in metres unless ``units`` says "mm" or "cm"; call ``sequence.orient``
first for OpenSim's Y-up frame. The file is written through ``io.atomic.atomic_open``: an error
leaves nothing half-written and an existing file untouched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_open
from .sequence import LandmarkError, LandmarkSequence

__all__ = ["write_trc", "TRC_UNITS"]

TRC_UNITS = {"m": 1.0, "cm": 100.0, "mm": 1000.0}       # file units per metre


def _row(frame: int, time: float, coordinates: np.ndarray, decimals: int) -> str:
    cells = [str(frame), f"{time:.6f}"]
    cells += ["" if not np.isfinite(v) else f"{v:.{decimals}f}" for v in coordinates]
    return "\t".join(cells)


def write_trc(path, sequence: LandmarkSequence, units: str = "m", missing_below: float = 0.0) -> Path:
    """Write ``sequence`` to ``path`` as TRC and return the path. Points whose confidence is at or
    below ``missing_below`` (and every NaN point) are left empty. Marker names are the sequence's
    point names (canonical names read back as themselves)."""
    path = Path(path)
    if units not in TRC_UNITS:
        raise LandmarkError(f"{path}: TRC units must be one of {', '.join(TRC_UNITS)}, got {units!r}.")
    if any(not name or any(c.isspace() for c in name) for name in sequence.names):
        raise LandmarkError(f"{path}: TRC marker names cannot be empty or contain spaces or tabs.")
    scale = TRC_UNITS[units]
    hidden = ~(sequence.confidence > missing_below)
    points = np.where(hidden[..., None], np.nan, sequence.points) * scale
    decimals = {"m": 6, "cm": 4, "mm": 3}[units]
    count, markers = sequence.num_frames, len(sequence.names)
    rate = f"{sequence.fps:g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate}\t{rate}\t{count}\t{markers}\t{units}\t{rate}\t1\t{count}",
        "Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in sequence.names).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, markers + 1)),
    ]
    flat = points.reshape(count, markers * 3)
    lines += [_row(f + 1, f / sequence.fps, flat[f], decimals) for f in range(count)]
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
