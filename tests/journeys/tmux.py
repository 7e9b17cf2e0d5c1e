"""A program in a tmux pane of its own tmux server, driven by bytes and read as a screen.

    with TmuxPane.start(["python", "-m", "tui.cli", "demo"], size=(120, 40), env=env) as pane:
        pane.wait_for("12 of 12 devices")        # polls capture-pane until a deadline
        pane.type("/cold")                       # one write, like a burst over a slow link
        pane.keys("Enter")                       # tmux key names
        pane.pid                                 # the program's pid (started with exec)

Textual draws on stderr: nothing here redirects it, so the pane shows the whole UI.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest

POLL_SECONDS = 0.1


@dataclass
class TmuxPane:
    socket: str
    target: str
    pid: int

    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        argv: Sequence[str],
        *,
        size: tuple[int, int] = (120, 40),
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> Iterator[TmuxPane]:
        if shutil.which("tmux") is None:
            pytest.skip("tmux not found (Debian package tmux)")
        socket = f"iotunnel-test-{uuid.uuid4().hex[:10]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        command = f"exec env {exports} {shlex.join(argv)}"
        cols, rows = size
        subprocess.run(
            ["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "t"]
            + ["-x", str(cols), "-y", str(rows)]
            + (["-c", cwd] if cwd else [])
            + [command],
            check=True,
            env={**os.environ, "TERM": "xterm-256color"},
        )
        try:
            subprocess.run(
                ["tmux", "-L", socket, "set-option", "-g", "remain-on-exit", "on"],
                check=False,
                capture_output=True,
            )
            pid = int(cls._tmux(socket, "display-message", "-p", "-t", "t", "#{pane_pid}"))
            yield cls(socket, "t", pid)
        finally:
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)

    @staticmethod
    def _tmux(socket: str, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", socket, *args], check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def capture(self) -> str:
        return self._tmux(self.socket, "capture-pane", "-p", "-t", self.target)

    def dead(self) -> bool:
        return (
            self._tmux(self.socket, "display-message", "-p", "-t", self.target, "#{pane_dead}")
            == "1"
        )

    def type(self, text: str) -> None:
        """Hand the pane `text` in one write (as a burst over a slow link arrives)."""
        subprocess.run(
            ["tmux", "-L", self.socket, "send-keys", "-t", self.target, "-l", text], check=True
        )

    def keys(self, *names: str) -> None:
        """tmux key names: Enter, Escape, C-], Home, End, Tab ..."""
        subprocess.run(
            ["tmux", "-L", self.socket, "send-keys", "-t", self.target, *names], check=True
        )

    def wait_until(self, predicate: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Poll the screen until `predicate(screen)`; fail with the last screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if predicate(screen):
                return screen
            time.sleep(POLL_SECONDS)  # polling the screen for a condition, with a deadline
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")

    def wait_for(self, pattern: str, timeout: float = 30.0, *, regex: bool = False) -> str:
        if regex:
            return self.wait_until(lambda s: re.search(pattern, s) is not None, pattern, timeout)
        return self.wait_until(lambda s: pattern in s, repr(pattern), timeout)

    def wait_gone(self, text: str, timeout: float = 30.0) -> str:
        return self.wait_until(lambda s: text not in s, f"{text!r} to go", timeout)
