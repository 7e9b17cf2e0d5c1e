"""`iotunnel replay`: play a recording or raw capture in the terminal pane."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_OK, UsageError, require_terminal


def add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="play an asciicast v2 or raw capture in the pane")
    p.add_argument("file", help="asciicast v2 recording (.cast) or raw byte capture")
    p.add_argument("--cols", type=int, help="terminal width (default: recording's, else 80)")
    p.add_argument("--rows", type=int, help="terminal height (default: recording's, else 24)")
    p.add_argument("--speed", type=float, default=1.0, help="speed factor; 0 plays all at once")
    p.add_argument("--screen", action="store_true", help="print the final screen as text, no UI")
    p.add_argument(
        "--backend",
        choices=("auto", "ghostty", "pyte"),
        default=None,
        help="terminal emulator (default: auto, Ghostty's core where installed)",
    )
    p.set_defaults(run=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    from tui.terminal.recording import RecordingError, final_screen, load_recording

    for option in ("cols", "rows"):
        value = getattr(args, option)
        if value is not None and not 1 <= value <= 1000:
            raise UsageError(f"replay: --{option} must be between 1 and 1000")
    if args.speed < 0:
        raise UsageError("replay: --speed must be 0 or more")
    try:
        recording = load_recording(args.file)
    except RecordingError as exc:
        raise UsageError(f"replay: {exc}") from None
    if args.screen:
        screen = final_screen(recording, args.cols, args.rows, backend_name=args.backend)
        sys.stdout.write(screen + "\n")
        return EXIT_OK
    require_terminal("iotunnel replay (without --screen)")
    from tui.terminal.replay_app import ReplayApp

    app = ReplayApp(
        recording, cols=args.cols, rows=args.rows, speed=args.speed, backend_name=args.backend
    )
    app.run()
    return EXIT_OK
