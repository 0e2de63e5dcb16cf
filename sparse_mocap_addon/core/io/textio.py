"""Reading a text mocap file, plain or gzipped (detected by the magic bytes, not the name)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path



class FormatError(ValueError):
    """A file that cannot be read; the message names the file, the line and the reason. Every reader's
    damaged-file error is this class (the mocap readers call it ``SourceFormatError``)."""


GZIP_MAGIC = b"\x1f\x8b"


def read_text(path, label: str = "") -> str:
    """The file's text: UTF-8 when it decodes, else Latin-1 (which never fails; HDM05 files have
    Latin-1 bytes). Unreadable or damaged files raise ``FormatError`` naming the file, with
    ``label`` (e.g. "BVH file ") in front of the path."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{label}{path}: cannot be read ({exc.strerror or exc}).") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"{label}{path}, line 1: the gzip data is damaged or truncated ({exc}).") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def comment_preamble(lines) -> tuple[dict, int | None]:
    """The ``# key: value`` lines before a CSV's header row, and that row's index.

    Returns ``({key (lower case): (value, 1-based line number)}, header_index)``; blank lines and
    comments without a colon are skipped; ``header_index`` is None when no non-comment line exists.
    """
    meta = {}
    for k, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, sep, value = stripped.lstrip("#").partition(":")
            if sep:
                meta[key.strip().lower()] = (value.strip(), k + 1)
            continue
        return meta, k
    return meta, None


def csv_rows(lines, header_index: int, width: int, path, fail) -> tuple[list, list]:
    """The data rows after a CSV header (comma-split cells) and their 1-based line numbers.

    Blank and ``#`` lines are skipped; a row whose cell count differs from the header's ``width``,
    or no row at all, raises ``fail(where, message)`` (the caller's error type).
    """
    rows, numbers = [], []
    for k in range(header_index + 1, len(lines)):
        if not lines[k].strip() or lines[k].lstrip().startswith("#"):
            continue
        cells = lines[k].split(",")
        if len(cells) != width:
            raise fail(f"{path}, line {k + 1}", f"{len(cells)} values but the header (line {header_index + 1}) "
                       f"has {width} columns.")
        rows.append(cells)
        numbers.append(k + 1)
    if not rows:
        raise fail(path, "the file has a header but no rows.")
    return rows, numbers
