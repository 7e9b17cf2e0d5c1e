"""Record the fidelity corpus: captures of real programs and both reference screens.

Run by hand, not by pytest (the results are committed; CI only reads them):

    python tests/terminal/record_corpus.py            # record the captures below, then refs
    python tests/terminal/record_corpus.py --refs     # only re-make every .ref.json
    python tests/terminal/record_corpus.py NAME ...   # record only these captures

Needs the programs (vim, less, man, top, htop, mc, dialog, whiptail, tmux, git, bash) and
node with the packages of tests/terminal/xterm_ref (`npm ci` there). Each capture is the
raw bytes a program wrote to an 80x24 pty (TERM=xterm-256color); its references are
tmux's `capture-pane -e` of the same bytes in an 80x24 pane and xterm.js headless's
screen (tests/terminal/xterm_ref/screen.js). See corpus.py for the format.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pyte.charsets import VT100_MAP
from wcwidth import wcwidth

from tests.terminal.corpus import FIXTURES, UNKNOWN, Screen, save_references
from tests.terminal.corpus_programs import prepare, programs
from tests.terminal.record_fixtures import COLS, ROWS, record

XTERM_REF = Path(__file__).parent / "xterm_ref"


# --- references -----------------------------------------------------------------------


def tmux_reference(raw: Path) -> Screen:
    sock = os.path.join(tempfile.mkdtemp(prefix="iotunnel-tmux-"), "sock")
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    cmd = (
        f"stty -echo -opost -onlcr 2>/dev/null; cat {raw}; "
        f"tmux -S {sock} wait-for -S done; sleep 60"
    )
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(COLS), "-y", str(ROWS), cmd],
        check=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    try:
        subprocess.run([*tmux, "wait-for", "done"], check=True, timeout=30)
        out = subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-t", "0"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
        shutil.rmtree(os.path.dirname(sock), ignore_errors=True)
    rows = out.split("\n")[:ROWS]
    rows += [""] * (ROWS - len(rows))
    return parse_capture(rows)


_TOKEN = re.compile(r"\x1b\[([0-9;:]*)m|([\x0e\x0f])|(.)", re.S)


def parse_capture(rows: list[str]) -> Screen:
    """`capture-pane -e` rows as text and displayed cell colours."""
    lines, cells = [], []
    state = {"fg": "fg", "bg": "bg", "reverse": False}
    shifted = False
    for row in rows:
        text: list[str] = []
        row_cells: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(row):
            sgr, shift, char = match.groups()
            if sgr is not None:
                _apply_sgr(state, sgr)
            elif shift is not None:
                shifted = shift == "\x0e"
            else:
                char = char.translate(VT100_MAP) if shifted else char
                width = wcwidth(char)
                if width <= 0:
                    text.append(char)  # joins the previous cell
                    continue
                text.append(char)
                fg, bg = state["fg"], state["bg"]
                if state["reverse"]:
                    fg, bg = bg, fg
                row_cells += [("" if char == " " else fg, bg)] * width
        # capture-pane stops at the last character written: cells after it (e.g. erased
        # with a background colour) are not reported, so they are unknown, never scored.
        row_cells = row_cells[:COLS] + [UNKNOWN] * (COLS - len(row_cells))
        lines.append("".join(text).rstrip())
        cells.append(row_cells)
    return Screen(lines, cells)


def _apply_sgr(state: dict, params: str) -> None:
    parts = [p for p in re.split(r"[;]", params)] or ["0"]
    i = 0
    while i < len(parts):
        part = parts[i]
        sub = part.split(":")
        n = int(sub[0]) if sub[0].isdigit() else 0
        if n == 0:
            state.update(fg="fg", bg="bg", reverse=False)
        elif n == 7:
            state["reverse"] = True
        elif n == 27:
            state["reverse"] = False
        elif 30 <= n <= 37 or 40 <= n <= 47:
            state["fg" if n < 40 else "bg"] = f"p{n % 10}"
        elif 90 <= n <= 97 or 100 <= n <= 107:
            state["fg" if n < 100 else "bg"] = f"p{n % 10 + 8}"
        elif n in (39, 49):
            state["fg" if n == 39 else "bg"] = "fg" if n == 39 else "bg"
        elif n in (38, 48):
            key = "fg" if n == 38 else "bg"
            args = [s for s in sub[1:] if s != ""] if len(sub) > 1 else parts[i + 1 :]
            if args and args[0] == "5" and len(args) > 1:
                state[key] = f"p{int(args[1])}"
                i += 0 if len(sub) > 1 else 2
            elif args and args[0] == "2" and len(args) > 3:
                r, g, b = (int(v) for v in args[1:4])
                state[key] = f"#{r:02x}{g:02x}{b:02x}"
                i += 0 if len(sub) > 1 else 4
        i += 1


def xterm_references(raws: list[Path]) -> dict[str, Screen]:
    out = subprocess.run(
        ["node", str(XTERM_REF / "screen.js"), str(COLS), str(ROWS), *map(str, raws)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    screens = {}
    for line in out.splitlines():
        data = json.loads(line)
        text_rows = data["lines"]
        cells = []
        for y, row in enumerate(data["cells"]):
            chars = _cells_of(text_rows[y])
            row_cells = []
            for x, (fg, bg, width) in enumerate(row):
                if width == 0 and row_cells:
                    row_cells.append(row_cells[-1])  # a wide character's tail
                    continue
                blank = x >= len(chars) or chars[x] == " "
                row_cells.append(("" if blank else fg, bg))
            cells.append(row_cells)
        screens[Path(data["file"]).name.removesuffix(".raw")] = Screen(
            [r.rstrip() for r in text_rows], cells
        )
    return screens


def _cells_of(text: str) -> list[str]:
    """The character of each cell of a row (a wide character fills two)."""
    cells: list[str] = []
    for char in text:
        width = wcwidth(char)
        if width <= 0:
            continue
        cells += [char] * width
    return cells


def make_references(names: list[str] | None = None) -> None:
    raws = sorted(FIXTURES.glob("*.raw"))
    if names:
        raws = [r for r in raws if r.name.removesuffix(".raw") in names]
    xterm = xterm_references(raws)
    for raw in raws:
        name = raw.name.removesuffix(".raw")
        save_references(name, COLS, ROWS, {"tmux": tmux_reference(raw), "xterm": xterm[name]})
        print(f"references: {name}")


def main() -> int:
    args = sys.argv[1:]
    if args == ["--refs"]:
        make_references()
        return 0
    work = Path(tempfile.mkdtemp(prefix="iotunnel-corpus-"))
    try:
        prepare(work)
        wanted = programs(work)
        if args:
            wanted = {name: wanted[name] for name in args}
        for name, (argv, steps) in wanted.items():
            if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
                print(f"skipped {name}: {argv[0]} not installed", file=sys.stderr)
                continue
            parts = record(argv, steps, str(work), timeout=4.0 + 1.5 * len(steps))
            data = b"".join(parts)
            (FIXTURES / f"{name}.raw").write_bytes(data)
            print(f"{name}: {len(data)} bytes")
        subprocess.run(
            ["tmux", "-L", "iotunnel-corpus", "kill-server"], check=False, capture_output=True
        )
        make_references(list(wanted) if args else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
