"""Files written whole: each is written to a temporary file beside its target, then renamed over it.

A reader (or a sweep resuming after a crash) sees the old file or the new one, never half of one:
``os.replace`` is atomic on POSIX and Windows when both paths are on one file system.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` if the block succeeds, remove it if not.

    The folder is created if missing. The temporary name starts with a dot and holds the process id, so
    concurrent writers never share one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``path`` whole, flushed to disk before the rename; return the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole; return the path."""
    return write_bytes(path, text.encode("utf-8"))
