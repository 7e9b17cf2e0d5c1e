"""Both emulator backends, for tests that hold for each (pyte: the portable fallback;
ghostty: the default where pyghostty installs)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tui.terminal.backend import TerminalBackend
from tui.terminal.backends import ghostty_available
from tui.terminal.pyte_backend import PyteBackend

needs_ghostty = pytest.mark.skipif(not ghostty_available(), reason="pyghostty not installed")
BACKENDS = ["pyte", pytest.param("ghostty", marks=needs_ghostty)]


def backend_class(name: str) -> Callable[..., TerminalBackend]:
    if name == "ghostty":
        from tui.terminal.ghostty_backend import GhosttyBackend

        return GhosttyBackend
    return PyteBackend
