"""tui.terminal: a VT emulator backend and the `TerminalPane` widget.

Knows bytes in and bytes out, nothing of tunnels (docs/design.md).
"""

from tui.terminal.backend import Attrs, TerminalBackend, TerminalModes
from tui.terminal.backends import (
    BACKEND_NAMES,
    UnknownBackendError,
    chosen_backend,
    make_backend,
    set_default_backend,
    warm_up,
)
from tui.terminal.keys import encode_key, encode_mouse, encode_paste
from tui.terminal.pane import TerminalPane
from tui.terminal.pyte_backend import PyteBackend

__all__ = [
    "BACKEND_NAMES",
    "Attrs",
    "PyteBackend",
    "TerminalBackend",
    "TerminalModes",
    "TerminalPane",
    "UnknownBackendError",
    "chosen_backend",
    "encode_key",
    "encode_mouse",
    "encode_paste",
    "make_backend",
    "set_default_backend",
    "warm_up",
]
