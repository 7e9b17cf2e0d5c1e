"""Where iotunnel keeps its local state, and how it makes files only the user can read.

The one place for the XDG state directory and for 0700 directories / 0600 files: the
app, the session layer, the platform and the CLI all use it (tui/session/paths.py
re-exports it for older callers).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

APP_DIR_NAME = "iotunnel"


def state_dir() -> Path:
    """`$XDG_STATE_HOME/iotunnel`, falling back to `~/.local/state/iotunnel`."""
    base = os.environ.get("XDG_STATE_HOME") or ""
    # the XDG spec says a relative path is invalid and must be ignored
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / APP_DIR_NAME


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make the leaf readable by the user only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing directory
    os.chmod(path, 0o700)
    return path


def open_private(path: Path, mode: str = "w") -> int:
    """Open (create or truncate; "a" appends) a file only the user can read: returns an fd."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
    return fd


def touch_private(path: str | os.PathLike[str]) -> Path:
    """Make sure `path` exists as a 0600 file, keeping its content; a missing directory
    is created 0700 (an existing one is the user's choice and keeps its mode).

    For files another library opens itself (SQLite, logging.FileHandler): created private
    before that library ever sees them, so there is no moment with the umask's mode.
    """
    path = Path(path)
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    os.close(open_private(path, "a"))
    return path


def write_private_json(path: Path, body: Any, *, indent: int | None = None) -> None:
    """Write `body` as JSON to a 0600 file, atomically.

    Through a temporary file and `os.replace`, so a crash or a concurrent reader never
    sees half a file; the directory is created 0700 when missing.
    """
    ensure_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_private(temp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=indent)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked_private(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of `path` between processes (an flock on a lock file
    beside it, 0600); closing the lock file releases the lock."""
    ensure_private_dir(path.parent)
    fd = open_private(path.with_name(f".{path.name}.lock"), "a")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
