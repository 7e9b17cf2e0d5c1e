"""asciicast v2 recording of a session's output (never its input: passwords are typed).

Format: a JSON header line, then one `[elapsed_seconds, "o", text]` line per output
chunk and `[elapsed, "r", "COLSxROWS"]` per resize. Files are 0600 under
`$XDG_STATE_HOME/iotunnel/recordings/`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tui.iotda.localstate import ensure_private_dir, open_private, state_dir
from tui.iotda.timefmt import COMPACT

log = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def recordings_dir() -> Path:
    return state_dir() / RECORDINGS_DIR


class Recorder:
    """Writes one asciicast v2 file; every write error is logged, never raised."""

    def __init__(
        self,
        path: Path,
        *,
        width: int = 80,
        height: int = 24,
        title: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._monotonic = monotonic
        self._start = monotonic()
        self._file: IO[str] | None = None
        ensure_private_dir(path.parent)
        header: dict[str, object] = {
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": int(wall_clock()),
            "env": {"TERM": "xterm-256color"},
        }
        if title:
            header["title"] = title
        self._file = os.fdopen(open_private(path), "w", encoding="utf-8")
        self._write(header)

    @classmethod
    def for_device(
        cls,
        device_id: str,
        *,
        width: int = 80,
        height: int = 24,
        directory: Path | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> Recorder:
        """A new recording named after the device and the start time."""
        stamp = time.strftime(COMPACT, time.gmtime(wall_clock()))
        name = f"{_UNSAFE.sub('_', device_id)}-{stamp}.cast"
        folder = directory if directory is not None else recordings_dir()
        path = folder / name
        counter = 1
        while path.exists():  # two sessions to one device in the same second
            path = folder / f"{name[:-5]}-{counter}.cast"
            counter += 1
        return cls(path, width=width, height=height, title=device_id, wall_clock=wall_clock)

    @property
    def closed(self) -> bool:
        return self._file is None

    def output(self, text: str) -> None:
        if self._file is None:
            return
        self._write([self._elapsed(), "o", text])

    def resize(self, cols: int, rows: int) -> None:
        if self._file is None:
            return
        self._write([self._elapsed(), "r", f"{cols}x{rows}"])

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as exc:
            log.warning("closing recording %s failed: %s", self.path, exc)
        self._file = None

    def _elapsed(self) -> float:
        return round(self._monotonic() - self._start, 6)

    def _write(self, record: object) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        except OSError as exc:
            log.warning("recording %s stopped: %s", self.path, exc)
            self.close()
