"""Recordings for `iotunnel replay`: asciicast v2 files and raw byte captures.

Kept free of Textual so `replay --screen` (the conformance hook) starts fast.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from tui.terminal.backends import make_backend

log = logging.getLogger(__name__)

DEFAULT_COLS, DEFAULT_ROWS = 80, 24


class RecordingError(Exception):
    """The file is neither a readable asciicast v2 recording nor a raw capture."""


@dataclass(frozen=True, slots=True)
class OutputEvent:
    at: float  # seconds from the start of the recording
    data: bytes


@dataclass(frozen=True, slots=True)
class ResizeEvent:
    """The recorded terminal changed size (asciicast `[t, "r", "COLSxROWS"]`)."""

    at: float
    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class Recording:
    events: list[OutputEvent | ResizeEvent] = field(default_factory=list)
    cols: int | None = None  # size the recording was made at, when it says
    rows: int | None = None
    kind: str = "raw"  # "raw" or "asciicast"

    @property
    def data(self) -> bytes:
        return b"".join(event.data for event in self.events if isinstance(event, OutputEvent))


def load_recording(path: str | Path) -> Recording:
    """Read an asciicast v2 file (by its header line) or else take the bytes as raw."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    header_line, _, rest = raw.partition(b"\n")
    header = _json_object(header_line)
    if header is None or header.get("version") != 2:
        return Recording([OutputEvent(0.0, raw)])
    events: list[OutputEvent | ResizeEvent] = []
    for number, line in enumerate(rest.splitlines(), start=2):
        if not line.strip():
            continue
        try:
            at, kind, text = json.loads(line)
            if kind == "o":
                events.append(OutputEvent(float(at), str(text).encode()))
            elif kind == "r":
                cols, _, rows = str(text).partition("x")
                size = _positive_int(int(cols)), _positive_int(int(rows))
                if None in size:
                    raise ValueError(text)
                events.append(ResizeEvent(float(at), *size))
        except (ValueError, TypeError):
            log.warning("replay: skipped malformed asciicast line %d", number)
    return Recording(
        events,
        cols=_positive_int(header.get("width")),
        rows=_positive_int(header.get("height")),
        kind="asciicast",
    )


def final_screen(
    recording: Recording,
    cols: int | None = None,
    rows: int | None = None,
    backend_name: str | None = None,
) -> str:
    """The plain text of the screen once every event is played (one line per row).
    Resize events are followed unless `cols`/`rows` fix the size."""
    backend = make_backend(
        cols or recording.cols or DEFAULT_COLS,
        rows or recording.rows or DEFAULT_ROWS,
        name=backend_name,
    )
    fixed = cols is not None or rows is not None
    for event in recording.events:
        if isinstance(event, OutputEvent):
            backend.feed(event.data)
        elif not fixed:
            backend.resize(event.cols, event.rows)
    return backend.screen_text()


def _json_object(line: bytes) -> dict | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None
