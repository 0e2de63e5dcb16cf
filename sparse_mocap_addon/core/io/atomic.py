"""Writing a file so that nobody ever sees half of it.

:func:`atomic_open` hands out a new temporary file in the target's folder and renames it over the
target only when the ``with`` block finishes without an error; on any error the temporary file is
removed and the target is untouched (an existing file keeps its old contents). The temporary file
gets the permissions an ordinary new file would (0o666 minus the umask), unlike ``mkstemp``'s
0o600.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_open(path, mode: str = "wb", encoding: str | None = None, fsync: bool = False):
    """``with atomic_open(path) as handle: ...`` writes ``path`` all at once. ``fsync`` also
    flushes the data to the disk before the rename (for files that must survive a power cut)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
