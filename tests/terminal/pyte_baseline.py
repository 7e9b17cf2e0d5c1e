"""Write the pyte fallback's scores on the corpus (tests/fixtures/terminal/
pyte_baseline.json), the floor test_terminal_corpus holds it to. Run by hand after
re-recording the corpus or after a deliberate change to the pyte backend:

    python tests/terminal/pyte_baseline.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.terminal.corpus import FIXTURES, backend_screen, captures, load_references, score
from tui.terminal.pyte_backend import PyteBackend


def main() -> int:
    baseline = {}
    for name in captures():
        cols, rows, references = load_references(name)
        backend = PyteBackend(cols, rows)
        backend.feed((FIXTURES / f"{name}.raw").read_bytes())
        result = score(backend_screen(backend), references)
        baseline[name] = {"lines": result.lines_matching, "cells": result.cells_matching}
        print(
            f"{name}: {result.lines_matching}/{result.lines_compared} lines,"
            f" {result.cells_matching}/{result.cells_compared} colours"
        )
    path = FIXTURES / "pyte_baseline.json"
    path.write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
