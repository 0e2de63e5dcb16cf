"""The entry point: :func:`read_imu` detects the kind of a file or folder and calls its reader."""

from __future__ import annotations

import re
from pathlib import Path

from ..recording import ImuError, ImuRecording
from .common import _fail, _rate_argument
from .dot import _dot_files, _read_dot
from .generic_csv import _read_csv
from .sniff import _sniff_csv
from .tensors import _read_tensors
from .xio import _read_xio
from .xsens import _read_xsens, _xsens_files


IMU_KINDS = ("auto", "tensors", "csv", "xsens", "dot", "xio")


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
    recording = _READERS[kind](path, fps)
    if not recording.valid.any():
        raise _fail(path, "no sample of any sensor is complete (every orientation or acceleration is missing); "
                    "expected a recording with data.")
    return recording
