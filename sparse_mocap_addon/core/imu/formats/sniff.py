"""Telling files apart by their first lines (gzip-aware): Xsens exports, DOT / x-IMU3 / generic CSVs."""

from __future__ import annotations

import zlib
from pathlib import Path

from .generic_csv import _CSV_COLUMN


def _head(path: Path, count: int = 40) -> list:
    try:
        with path.open("rb") as stream:
            raw = stream.read(65536)
        if raw[:2] == b"\x1f\x8b":
            raw = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(raw)
    except (OSError, zlib.error):
        return []
    return raw.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:count]


def _looks_like_xsens(path: Path) -> bool:
    head = _head(path)
    return any(line.startswith("//") for line in head[:3]) or any(
        line.split("\t")[0].strip() == "PacketCounter" for line in head)


def _sniff_csv(path: Path) -> str | None:
    """'dot', 'xio', 'csv' or None from a CSV file's first lines."""
    head = _head(path)
    if not head:
        return None
    if head[0].startswith("Timestamp ("):
        return "xio"
    rows = [[c.strip() for c in line.split(",")] for line in head]
    if any("SampleTimeFine" in cells or (cells[0] == "PacketCounter" and "Quat_W" in cells) for cells in rows):
        return "dot"
    for line, cells in zip(head, rows):
        if line.strip().startswith("#") or not line.strip():
            continue
        if cells[0].lower() in ("time", "frame") or any(_CSV_COLUMN.match(c) for c in cells):
            return "csv"
        return None
    return None
