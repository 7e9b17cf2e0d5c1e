"""Fidelity against two independent references (tmux and xterm.js headless) on the
corpus of real-program captures (see corpus.py; re-record with record_corpus.py).

- Ghostty's core agrees on every line where the two references agree (but the rows in
  KNOWN_DEVIATIONS, each with its reason), and on at least 99.5% of the displayed cell
  colours where they agree.
- The pyte fallback does not regress: per capture, at least the lines and colours it
  matched when the corpus was recorded (tests/fixtures/terminal/pyte_baseline.json).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.terminal.backends import backend_class, needs_ghostty
from tests.terminal.corpus import (
    FIXTURES,
    Score,
    backend_screen,
    captures,
    load_references,
    score,
)

CORPUS = captures()
# Rows where Ghostty's core deliberately differs from both references, with the reason.
# Erase-to-end-of-line while a wrap is pending: Ghostty erases the last column, as real
# xterm does; tmux and xterm.js erase nothing. Checking the pending-wrap state before
# every EL costs 2x ingest on full-screen programs (top, vim, htop all write ELs), for
# a line of exactly the screen width followed by EL.
KNOWN_DEVIATIONS: dict[str, set[int]] = {"pending_wrap": {4}}
BASELINE = FIXTURES / "pyte_baseline.json"
COLOUR_TARGET = 0.995
XTERM_REF = Path(__file__).parent / "xterm_ref"


def screen_score(kind: str, name: str) -> Score:
    cols, rows, references = load_references(name)
    backend = backend_class(kind)(cols, rows)
    backend.feed((FIXTURES / f"{name}.raw").read_bytes())
    return score(backend_screen(backend), references)


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 40


@needs_ghostty
@pytest.mark.parametrize("name", CORPUS)
def test_ghostty_agrees_wherever_the_references_agree(name: str) -> None:
    result = screen_score("ghostty", name)
    wrong = set(result.wrong_lines)
    assert wrong == KNOWN_DEVIATIONS.get(name, set()), f"{name}: rows {sorted(wrong)} differ"


@needs_ghostty
def test_ghostty_colours_over_the_corpus() -> None:
    total = Score()
    worst: list[tuple[float, str]] = []
    for name in CORPUS:
        result = screen_score("ghostty", name)
        total.add(result)
        worst.append((result.colour_ratio, name))
    assert total.colour_ratio >= COLOUR_TARGET, sorted(worst)[:5]


@pytest.mark.parametrize("name", CORPUS)
def test_pyte_does_not_regress(name: str) -> None:
    baseline = json.loads(BASELINE.read_text())[name]
    result = screen_score("pyte", name)
    assert result.lines_matching >= baseline["lines"]
    assert result.cells_matching >= baseline["cells"]


@pytest.mark.skipif(
    shutil.which("node") is None or not (XTERM_REF / "node_modules").exists(),
    reason="xterm.js reference not installed (npm ci in tests/terminal/xterm_ref)",
)
def test_stored_xterm_references_are_what_xterm_js_shows() -> None:
    """The recorded data is xterm.js's own output (checked live where node is set up)."""
    names = CORPUS[:: max(1, len(CORPUS) // 6)]
    raws = [str(FIXTURES / f"{name}.raw") for name in names]
    out = subprocess.run(
        ["node", str(XTERM_REF / "screen.js"), "80", "24", *raws],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    ).stdout.splitlines()
    for name, line in zip(names, out, strict=True):
        live = [row.rstrip() for row in json.loads(line)["lines"]]
        assert live == load_references(name)[2]["xterm"].lines, name
