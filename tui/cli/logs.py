"""Where the command line's log lines go, and the one place a crash is written down."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tui.iotda.localstate import open_private, state_dir, touch_private

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def record_crash(exc: BaseException) -> str:
    """Append the traceback to the private log file; return where it went."""
    import traceback

    try:
        path = touch_private(state_dir() / "iotunnel.log")
        with os.fdopen(open_private(path, "a"), "a", encoding="utf-8") as log_file:
            log_file.write("".join(traceback.format_exception(exc)))
        return str(path)
    except OSError:
        return "nowhere (the state directory is not writable)"


def configure_logging(verbose: int, log_file: str | None = None) -> None:
    """-v: INFO, -vv: DEBUG, to stderr; a --log-file gets DEBUG and is the user's only."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler: logging.Handler
    if log_file:
        # a debug log may hold device names, user names, request ids: the user's eyes only
        handler = logging.FileHandler(touch_private(Path(log_file)))
        level = logging.DEBUG
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def log_to_state_file() -> None:
    """Send log lines to `$XDG_STATE_HOME/iotunnel/iotunnel.log` (0600), keeping the level."""
    handler = logging.FileHandler(touch_private(state_dir() / "iotunnel.log"))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=logging.getLogger().level, handlers=[handler], force=True)
