"""tui.terminal: a VT emulator backend and the `TerminalPane` widget.

Knows bytes in and bytes out, nothing of tunnels (docs/design.md).
"""

from tui.terminal.backend import Attrs, TerminalBackend, TerminalModes
from tui.terminal.keys import encode_key, encode_mouse, encode_paste
from tui.terminal.pane import TerminalPane
from tui.terminal.pyte_backend import PyteBackend

__all__ = [
    "Attrs",
    "PyteBackend",
    "TerminalBackend",
    "TerminalModes",
    "TerminalPane",
    "encode_key",
    "encode_mouse",
    "encode_paste",
]
