"""Which emulator backend a pane gets: Ghostty's core where it installs, else pyte.

Chosen, in order, by the environment (`IOTUNNEL_TERMINAL_BACKEND=ghostty|pyte|auto`,
for comparisons), the app's config (`set_default_backend`, from the `terminal_backend`
key), else "auto". Asking for ghostty where it cannot load logs an error and uses pyte:
a terminal that works beats a refusal.
"""

from __future__ import annotations

import logging
import os
import threading

from tui.terminal.backend import TerminalBackend
from tui.terminal.pyte_backend import PyteBackend

log = logging.getLogger(__name__)

ENV_VAR = "IOTUNNEL_TERMINAL_BACKEND"
BACKEND_NAMES = ("auto", "ghostty", "pyte")
_default = "auto"
_ghostty_error: str | None = None
_ghostty_checked = False
# Ghostty's core is used from one thread at a time: a pane never builds its terminal while
# the warm-up thread is still inside the library (two threads in it at once hung the app)
_warming: threading.Thread | None = None


class UnknownBackendError(ValueError):
    """A backend name other than auto, ghostty or pyte."""


def set_default_backend(name: str) -> None:
    """The config hook: the app calls it with the `terminal_backend` key's value."""
    global _default
    _default = _checked(name)


def _checked(name: str) -> str:
    name = name.strip().lower()
    if name not in BACKEND_NAMES:
        raise UnknownBackendError(
            f"unknown terminal backend {name!r} (expected one of {', '.join(BACKEND_NAMES)})"
        )
    return name


def ghostty_available() -> bool:
    """True where pyghostty (and numpy) import and the native library loads."""
    global _ghostty_checked, _ghostty_error
    if not _ghostty_checked:
        _ghostty_checked = True
        try:
            import tui.terminal.ghostty_backend  # noqa: F401
        except Exception as exc:  # ImportError, OSError from dlopen, a failed assert
            _ghostty_error = f"{type(exc).__name__}: {exc}"
            log.info("terminal: Ghostty's core unavailable (%s); using pyte", _ghostty_error)
    return _ghostty_error is None


def chosen_backend(name: str | None = None) -> str:
    """'ghostty' or 'pyte': what `make_backend(name)` would build here."""
    wanted = os.environ.get(ENV_VAR) or name or _default
    try:
        wanted = _checked(wanted)
    except UnknownBackendError as exc:
        log.error("terminal: %s; using auto", exc)
        wanted = "auto"
    if wanted == "pyte":
        return "pyte"
    if ghostty_available():
        return "ghostty"
    if wanted == "ghostty":
        log.error("terminal: ghostty backend asked for but unavailable (%s)", _ghostty_error)
    return "pyte"


def make_backend(
    columns: int = 80, lines: int = 24, scrollback: int = 10_000, name: str | None = None
) -> TerminalBackend:
    """A new emulator backend of the chosen kind."""
    warming = _warming
    if warming is not None and warming is not threading.current_thread():
        warming.join()  # at most the rest of the ~1 s warm-up, once
    if chosen_backend(name) == "ghostty":
        from tui.terminal.ghostty_backend import GhosttyBackend

        try:
            return GhosttyBackend(columns, lines, scrollback)
        except Exception:
            log.exception("terminal: Ghostty's core failed to start; using pyte")
    return PyteBackend(columns, lines, scrollback)


def warm_up() -> threading.Thread | None:
    """Load Ghostty's core in the background (call it when the app starts): the first
    import and the first terminal cost about a second of cffi parsing, which would
    otherwise freeze the UI when the first tab opens. Returns the thread, if any."""
    global _warming
    if os.environ.get(ENV_VAR, "").strip().lower() == "pyte" or _default == "pyte":
        return None
    if _warming is not None:
        return _warming  # once per process: one thread in the library at a time

    def load() -> None:
        try:
            if ghostty_available():
                backend = make_backend(4, 2, 10, name="ghostty")
                backend.feed(b"\x1b[1mwarm\x1b[0m")
                backend.take_dirty()
                backend.row_runs(0)
                backend.encode_key("a", "a")
                close = getattr(backend, "close", None)  # pyte, had Ghostty failed to start
                if close is not None:
                    close()  # freed here, not by a finaliser in whichever thread
        except Exception:
            log.debug("terminal: warm-up failed", exc_info=True)

    _warming = threading.Thread(target=load, name="iotunnel-terminal-warm-up", daemon=True)
    _warming.start()
    return _warming
