"""What `iotunnel exec` on many devices shows: one row per device as it finishes
(device, status, exit code, time, last line of output) under a live progress line on a
terminal, plain rows otherwise, JSON lines with `--json`; then the summary counts."""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any, TextIO

from tui.session.fleet_exec import FINISHED, FleetProgress

BAR_WIDTH = 30
_COLOURS = {"ok": "32", "failed": "31", "offline": "33", "login_failed": "31", "timeout": "35"}


class FleetView:
    def __init__(
        self, total: int, *, json_lines: bool, out: TextIO, live: bool, err: TextIO | None = None
    ) -> None:
        self.total = total
        self.json_lines = json_lines
        self.out = out
        self.err = err or sys.stderr
        self.live = live and not json_lines
        self.done = 0
        self.running = 0
        self._status_shown = False
        self._header_shown = False
        self._gone = False  # the reader of `out` went away

    def progress(self, event: FleetProgress) -> None:
        if event.phase != FINISHED or event.result is None:
            self.running += 1
            self._redraw_status()
            return
        self.done = event.done
        if event.result.tunnel_id is not None or event.result.status != "offline":
            self.running = max(0, self.running - 1)
        if self.json_lines:
            self._write(json.dumps(event.result.to_json(), ensure_ascii=False) + "\n")
            return
        self._clear_status()
        if not self._header_shown:
            self._write(self._row("DEVICE", "STATUS", "EXIT", "TIME", "LAST LINE") + "\n")
            self._header_shown = True
        result = event.result
        line = result.last_line() if result.output else (result.error or "")
        status = result.status
        if self.live and status in _COLOURS:
            status = f"\x1b[{_COLOURS[status]}m{status:<12}\x1b[0m"
        exit_code = "" if result.exit_code is None else str(result.exit_code)
        row = self._row(
            result.device_id, status, exit_code, f"{result.duration_ms / 1000:.2f}s", line
        )
        self._write(self._fit(row) + "\n")
        self._redraw_status()

    def finish(self, summary: dict[str, int]) -> None:
        self._clear_status()
        words = ", ".join(f"{count} {status}" for status, count in summary.items())
        text = f"{sum(summary.values())} devices: {words}\n"
        if self.json_lines:
            self.err.write(text)
        else:
            self._write(text)

    def interrupted(self, summary: dict[str, int], tunnels: int) -> None:
        self._clear_status()
        done = sum(summary.values())
        self.err.write(
            f"interrupted after {done} of {self.total} devices; the {tunnels} tunnels this "
            "exec opened were given back\n"
        )
        self.err.flush()

    # --- drawing -------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self._gone:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:  # `… | head` read enough: the fleet still runs to its end
            self._gone = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)

    @staticmethod
    def _row(device: str, status: str, exit_code: str, took: str, line: Any) -> str:
        return f"{device:<28} {status:<12} {exit_code:>4} {took:>8}  {line}".rstrip()

    def _fit(self, row: str) -> str:
        if not self.live:
            return row
        width = shutil.get_terminal_size((120, 24)).columns
        return row if len(row) <= width + 12 else row[: width + 8] + "…"  # + colour codes

    def _redraw_status(self) -> None:
        if not self.live:
            return
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        self._write(f"\r\x1b[K{bar} {self.done}/{self.total} done, {self.running} running")
        self._status_shown = True

    def _clear_status(self) -> None:
        if self._status_shown:
            self._write("\r\x1b[K")
            self._status_shown = False
