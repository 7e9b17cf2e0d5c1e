"""Native handles of the Ghostty backend: freed from ordinary code, never by the GC."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tui.terminal.backends import ghostty_available

pytestmark = pytest.mark.skipif(not ghostty_available(), reason="pyghostty not installed")

# A collection can start anywhere, including inside cffi's non-reentrant lock (taken while
# it parses a type such as "uintptr_t"); a finalizer that resolves a library function
# there waits on that lock forever. Found by a test run that hung for 120 s.
SCRIPT = textwrap.dedent(
    """
    import gc
    from pyghostty import ffi
    from tui.terminal import ghostty_backend as gb

    backend = gb.GhosttyBackend(20, 5)
    backend.feed(b"hello")
    assert backend.row_text(0) == "hello"
    with ffi._lock:  # as when the collector runs inside cffi
        del backend
        gc.collect()
    queued = len(gb._RELEASED)
    other = gb.GhosttyBackend(20, 5)  # the next safe point frees what was queued
    other.close()
    other.close()  # twice is harmless
    print(queued, len(gb._RELEASED))
    """
)


def test_a_collected_backend_is_freed_later_not_inside_the_collector() -> None:
    # A fresh interpreter: no library function is resolved yet, as at the first free.
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0"]
