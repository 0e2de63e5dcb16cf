"""Reading a text mocap file, plain or gzipped (detected by the magic bytes, not the name)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from ..source import SourceFormatError

GZIP_MAGIC = b"\x1f\x8b"


def read_text(path, label: str = "") -> str:
    """The file's text: UTF-8 when it decodes, else Latin-1 (which never fails; HDM05 files have
    Latin-1 bytes). Unreadable or damaged files raise ``SourceFormatError`` naming the file, with
    ``label`` (e.g. "BVH file ") in front of the path."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceFormatError(f"{label}{path}: cannot be read ({exc.strerror or exc}).") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceFormatError(f"{label}{path}, line 1: the gzip data is damaged or truncated ({exc}).") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
