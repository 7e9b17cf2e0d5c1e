"""Screen update rate: Textual paints at most TEXTUAL_FPS times a second (default 60).

At 60 fps a keystroke's echo may wait up to 16.7 ms for the next frame, which alone
breaks a 16 ms key-to-echo budget; 120 fps halves that wait. Textual reads the variable
once, at import, so this must run before anything imports textual.
"""

from __future__ import annotations

import os
import sys

DASHBOARD_FPS = 120


def prefer_fast_frames() -> None:
    """Ask for DASHBOARD_FPS unless the user chose a rate (or Textual is already loaded)."""
    if "textual" not in sys.modules:
        os.environ.setdefault("TEXTUAL_FPS", str(DASHBOARD_FPS))
