"""Where iotunnel keeps its local state, and how it makes files only the user can read.

The one place for the XDG state directory and for 0700 directories / 0600 files: the
app, the session layer, the platform and the CLI all use it (tui/session/paths.py
re-exports it for older callers).
"""

from __future__ import annotations

import os
from pathlib import Path

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
