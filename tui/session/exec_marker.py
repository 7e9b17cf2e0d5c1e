"""Finding a command's output and exit status in an interactive shell's own stream.

The tunnel carries a terminal, not a process: no exit status, no end of output. So the
exec engine types one line that brackets the command with two markers printed by the
shell itself:

    ␠stty -echo -opost 2>/dev/null; printf 'IOTX%s_S\\n' NONCE; ( CMD ) </dev/null;
    printf 'IOTX%s_E%d_\\n' NONCE "$?"⏎

- The markers are assembled by `printf` from two pieces, so the echo of the typed line
  (by the tty or by readline, once or twice) never contains a whole marker; a random
  nonce makes them unique, so output holding the fixed prefix is still output.
- `stty -echo -opost` runs before the start marker: after it nothing is echoed and the
  output reaches us as the command wrote it (no LF → CRLF), byte-exact.
- The command runs in a subshell (`exit 3` ends the subshell, not the login shell) with
  stdin from /dev/null (a command that reads stdin ends instead of hanging); the prompt
  comes only after the end marker.
- The end marker follows the output directly, so output without a final newline stays
  without one; `_` closes the status so no newline translation is needed to find it.
Works with any POSIX shell (bash, dash, busybox ash) behind a PTY, OpenSSH logins too.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

MARKER_PREFIX = "IOTX"


def new_nonce() -> str:
    return secrets.token_hex(8)


def quote_argv(argv: Sequence[str]) -> str:
    """The argv as one shell command, each word quoted (as `kubectl exec` treats it)."""
    return " ".join(shlex.quote(word) for word in argv)


def command_line(argv: Sequence[str], nonce: str) -> str:
    """The line typed into the shell (ends with Enter, `\\r`)."""
    if not argv:
        raise ValueError("an empty command")
    if not re.fullmatch(r"[0-9a-f]+", nonce):
        raise ValueError("a nonce is lower-case hex")
    return (
        # the leading space keeps the line out of bash's history (HISTCONTROL=ignorespace)
        f" stty -echo -opost 2>/dev/null; printf '{MARKER_PREFIX}%s_S\\n' {nonce}; "
        f"( {quote_argv(argv)} ) </dev/null; printf '{MARKER_PREFIX}%s_E%d_\\n' {nonce} \"$?\"\r"
    )


@dataclass(frozen=True)
class Finished:
    exit_code: int


class MarkerScanner:
    """Feed it the shell's output; it hands back the command's output and, at the end,
    `Finished(exit_code)`. Text that may be the start of the end marker is held back
    until the next chunk decides."""

    def __init__(self, nonce: str) -> None:
        self._start = f"{MARKER_PREFIX}{nonce}_S"
        self._end = f"{MARKER_PREFIX}{nonce}_E"
        self._end_re = re.compile(re.escape(self._end) + r"(\d{1,3})_")
        self._buffer = ""
        self.started = False
        self.finished: Finished | None = None

    def feed(self, text: str) -> str:
        """Output of the command found in `text` (maybe empty); sets `finished` at the end."""
        if self.finished is not None:
            return ""
        self._buffer += text
        if not self.started:
            at = self._buffer.find(self._start)
            if at < 0:
                # keep only what could still become the start marker (the echo is noise)
                self._buffer = self._buffer[-(len(self._start) + 2) :]
                return ""
            rest = self._buffer[at + len(self._start) :]
            if not rest or (rest == "\r"):
                return ""  # the marker's own newline has not arrived yet
            if rest.startswith("\r\n"):  # `stty -opost` failed: the tty adds a CR
                rest = rest[2:]
            elif rest.startswith("\n"):
                rest = rest[1:]
            self.started = True
            self._buffer = rest
        match = self._end_re.search(self._buffer)
        if match is not None:
            output = self._buffer[: match.start()]
            self.finished = Finished(int(match.group(1)))
            self._buffer = ""
            return output
        keep = _partial_suffix(self._buffer, self._end)
        output, self._buffer = (
            self._buffer[: len(self._buffer) - keep],
            self._buffer[len(self._buffer) - keep :],
        )
        return output

    def pending(self) -> str:
        """Output held back (at a timeout it is output after all)."""
        return self._buffer if self.started else ""


def _partial_suffix(buffer: str, marker: str) -> int:
    """Length of the longest end of `buffer` that may still grow into `marker` + status."""
    at = buffer.rfind(marker)
    if at >= 0:  # the marker itself, waiting for its digits and `_`
        tail = buffer[at + len(marker) :]
        if len(tail) <= 4 and re.fullmatch(r"\d{0,3}", tail):
            return len(buffer) - at
    for size in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if buffer.endswith(marker[:size]):
            return size
    return 0
