"""The fidelity corpus: captures of real programs with two independent reference screens.

For every `tests/fixtures/terminal/<name>.raw` (the bytes a program wrote to its pty),
`<name>.ref.json` holds what tmux (`capture-pane -e`) and xterm.js headless (with the
unicode 11 widths) show after those bytes: the text of each row and the displayed
colours of each cell. `record_corpus.py` writes them; the tests only read them, so CI
needs neither tmux nor node for the scores.

A cell's displayed colour is (foreground, background) after reverse video, each one of
"fg"/"bg" (the terminal's defaults), "pN" (palette index) or "#rrggbb". Blank cells have
no foreground (""). tmux's capture stops at the last character written on a row, so
the cells after it are UNKNOWN there (not scored).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from wcwidth import wcwidth

from tui.terminal.backend import TerminalBackend

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"
REFERENCES = ("tmux", "xterm")

_ANSI = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_NAMES = {name: f"p{i}" for i, name in enumerate(_ANSI)} | {
    f"bright_{name}": f"p{i + 8}" for i, name in enumerate(_ANSI)
}
_COLOR_N = re.compile(r"color\((\d+)\)")

Cell = tuple[str, str]  # displayed (fg, bg); fg "" on a blank cell
UNKNOWN: Cell = ("?", "?")  # a reference could not tell (never agrees, never scored)


@dataclass
class Screen:
    lines: list[str]
    cells: list[list[Cell]]


@dataclass
class Score:
    lines_compared: int = 0  # rows where both references agree
    lines_matching: int = 0
    cells_compared: int = 0  # cells where both references agree on the colours
    cells_matching: int = 0
    wrong_lines: list[int] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.lines_compared += other.lines_compared
        self.lines_matching += other.lines_matching
        self.cells_compared += other.cells_compared
        self.cells_matching += other.cells_matching

    @property
    def colour_ratio(self) -> float:
        return self.cells_matching / self.cells_compared if self.cells_compared else 1.0


def captures() -> list[str]:
    """Names of the captures that have reference screens."""
    return sorted(p.name.removesuffix(".ref.json") for p in FIXTURES.glob("*.ref.json"))


def load_references(name: str) -> tuple[int, int, dict[str, Screen]]:
    data = json.loads((FIXTURES / f"{name}.ref.json").read_text(encoding="utf-8"))
    screens = {
        ref: Screen(data[ref]["lines"], [_unrle(row) for row in data[ref]["colours"]])
        for ref in REFERENCES
    }
    return data["cols"], data["rows"], screens


def save_references(name: str, cols: int, rows: int, screens: dict[str, Screen]) -> None:
    data: dict[str, object] = {"cols": cols, "rows": rows}
    for ref, screen in screens.items():
        data[ref] = {"lines": screen.lines, "colours": [_rle(row) for row in screen.cells]}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    (FIXTURES / f"{name}.ref.json").write_text(text + "\n", encoding="utf-8")


def _rle(row: list[Cell]) -> list[list[object]]:
    out: list[list[object]] = []
    for fg, bg in row:
        if out and out[-1][1] == fg and out[-1][2] == bg:
            out[-1][0] += 1  # type: ignore[operator]
        else:
            out.append([1, fg, bg])
    return out


def _unrle(row: list[list[object]]) -> list[Cell]:
    return [(str(fg), str(bg)) for count, fg, bg in row for _ in range(int(count))]  # type: ignore[call-overload]


def normalise(colour: str, default: str) -> str:
    """A backend's colour name (Rich's) as the references write it."""
    if colour == "default":
        return default
    if colour in _NAMES:
        return _NAMES[colour]
    match = _COLOR_N.fullmatch(colour)
    if match:
        return f"p{match.group(1)}"
    return colour.lower()


def backend_screen(backend: TerminalBackend) -> Screen:
    """What a backend shows, in the references' terms."""
    lines, cells = [], []
    for y in range(backend.lines):
        runs = backend.row_runs(y)
        lines.append("".join(text for text, _ in runs).rstrip())
        row: list[Cell] = []
        for text, attrs in runs:
            fg, bg = normalise(attrs.fg, "fg"), normalise(attrs.bg, "bg")
            if attrs.reverse:
                fg, bg = bg, fg
            for char in text:  # cells by wcwidth, as the remote and both references count
                for _ in range(max(0, wcwidth(char))):
                    row.append(("" if char == " " else fg, bg))
        row = row[: backend.columns] + [("", "bg")] * (backend.columns - len(row))
        cells.append(row)
    return Screen(lines, cells)


def score(ours: Screen, references: dict[str, Screen]) -> Score:
    """Lines and cell colours of `ours` where the two references agree."""
    tmux, xterm = references["tmux"], references["xterm"]
    result = Score()
    for y, (a, b) in enumerate(zip(tmux.lines, xterm.lines, strict=True)):
        if a.rstrip() != b.rstrip():
            continue
        result.lines_compared += 1
        if y < len(ours.lines) and ours.lines[y].rstrip() == a.rstrip():
            result.lines_matching += 1
        else:
            result.wrong_lines.append(y)
    for y, (row_a, row_b) in enumerate(zip(tmux.cells, xterm.cells, strict=True)):
        for x, (cell_a, cell_b) in enumerate(zip(row_a, row_b, strict=False)):
            if cell_a != cell_b or cell_a == UNKNOWN:
                continue
            result.cells_compared += 1
            if y < len(ours.cells) and x < len(ours.cells[y]) and ours.cells[y][x] == cell_a:
                result.cells_matching += 1
    return result
