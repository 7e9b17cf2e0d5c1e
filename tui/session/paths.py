"""Where this client keeps its local state (DESIGN.md "Configuration")."""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "iotunnel"


def state_dir() -> Path:
    """`$XDG_STATE_HOME/iotunnel`, falling back to `~/.local/state/iotunnel`."""
    base = os.environ.get("XDG_STATE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / APP_DIR_NAME


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make the leaf readable by the user only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing directory
    os.chmod(path, 0o700)
    return path


def open_private(path: Path, mode: str = "w") -> int:
    """Open (create or truncate) a file that only the user can read: returns an fd."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
    return fd
