"""Re-make the terminal fixtures: byte captures of real programs at 80x24.

Run by hand (not by pytest): `python tests/terminal/record_fixtures.py [curses]`. It needs vim,
top, less, ls and tmux; the captures and the tmux reference screens it writes are
committed, so the tests never need these programs.

Each capture is the raw bytes a program wrote to its pty (TERM=xterm-256color, 80x24).
For every capture `<name>.raw`, tmux's `capture-pane` of the same bytes in an 80x24 pane
is written to `<name>.tmux.txt`.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from pyte.charsets import VT100_MAP

FIXTURES = Path(__file__).parents[1] / "fixtures" / "terminal"
COLS, ROWS = 80, 24
QUIET = 0.6  # seconds without output that mean "the program is waiting"

ENV = {
    "TERM": "xterm-256color",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "COLUMNS": str(COLS),
    "LINES": str(ROWS),
}


def record(argv: list[str], steps: list[bytes], cwd: str, timeout: float = 20.0) -> list[bytes]:
    """Run argv on a pty; after each quiet period send the next step.

    Returns the output split at each step (one more part than steps).
    """
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        os.chdir(cwd)
        os.execvpe(argv[0], argv, ENV)
    parts: list[bytes] = [b""]
    pending = list(steps)
    last = time.monotonic()
    end = last + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            parts[-1] += data
            last = time.monotonic()
        elif pending and parts[-1] and time.monotonic() - last > QUIET:
            os.write(fd, pending.pop(0))
            parts.append(b"")
            last = time.monotonic()
    os.close(fd)
    os.waitpid(pid, 0)
    return parts


def tmux_screen(raw: Path) -> str:
    """What tmux shows after `cat`-ing the bytes into an 80x24 pane."""
    sock = os.path.join(tempfile.mkdtemp(prefix="iotunnel-tmux-"), "sock")
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    # no echo: the replies tmux gives to the programs' queries must not show up as text.
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
        subprocess.run([*tmux, "wait-for", "done"], check=True, timeout=20)
        # -e: tmux marks line-drawing cells with SO/SI; plain -p prints them as "lqqk".
        out = subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-t", "0"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        out = drawn_text(out)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
        shutil.rmtree(os.path.dirname(sock), ignore_errors=True)
    lines = [line.rstrip() for line in out.split("\n")][:ROWS]
    lines += [""] * (ROWS - len(lines))
    return "\n".join(lines) + "\n"


def drawn_text(capture: str) -> str:
    """`capture-pane -e` output as the characters on screen: no SGR, ACS drawn (the
    SO/SI state runs on across lines)."""
    capture = re.sub(r"\x1b\[[0-9;:]*m", "", capture)
    parts = re.split(r"([\x0e\x0f])", capture)
    shifted, out = False, []
    for part in parts:
        if part in ("\x0e", "\x0f"):
            shifted = part == "\x0e"
        else:
            out.append(part.translate(VT100_MAP) if shifted else part)
    return "".join(out)


def save(name: str, data: bytes) -> None:
    path = FIXTURES / f"{name}.raw"
    path.write_bytes(data)
    (FIXTURES / f"{name}.tmux.txt").write_text(tmux_screen(path), encoding="utf-8")
    print(f"{name}: {len(data)} bytes")


CURSES_APP = """\
import curses

def main(screen):
    curses.start_color()
    curses.use_default_colors()
    curses.init_pair(1, curses.COLOR_WHITE, curses.COLOR_BLUE)
    screen.border()
    screen.addstr(1, 2, "device gw-0042 " + "=" * 40)
    screen.addstr(2, 2, "-" * 70)
    screen.addstr(3, 2, " " * 30 + "status: online", curses.color_pair(1))
    screen.addstr(5, 2, "load " + "#" * 25 + "." * 25 + " 50%")
    screen.refresh()
    screen.getch()
    screen.addstr(7, 2, "x" * 60)
    screen.scrollok(True)
    screen.setscrreg(8, 12)
    for n in range(8):
        screen.addstr(12, 2, f"log line {n}")
        screen.scroll()
    screen.refresh()
    screen.getch()

curses.wrapper(main)
"""


def record_curses(work: str) -> None:
    """An ncurses program: it draws runs with REP and scrolls a region."""
    (Path(work) / "curses_app.py").write_text(CURSES_APP)
    parts = record([sys.executable, "curses_app.py"], [b" ", b"q"], work)
    save("curses", parts[0] + parts[1])


def main() -> int:
    if sys.argv[1:] == ["curses"]:  # add this capture alone; the others stay as committed
        work = tempfile.mkdtemp(prefix="iotunnel-rec-")
        record_curses(work)
        shutil.rmtree(work)
        return 0
    for tool in ("vim", "top", "less", "ls", "tmux"):
        if shutil.which(tool) is None:
            print(f"missing {tool}", file=sys.stderr)
            return 1
    FIXTURES.mkdir(exist_ok=True)
    work = tempfile.mkdtemp(prefix="iotunnel-rec-")
    base = Path(work)
    for d in ("docs", "src", "build"):
        (base / d).mkdir()
    for f in ("README.md", "notes.txt", "data.csv"):
        (base / f).write_text("x\n")
    script = base / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    (base / "link").symlink_to("notes.txt")
    (base / "poem.txt").write_text(
        "".join(
            f"line {i:03d}: the quick brown fox jumps over the lazy dog\n" for i in range(1, 101)
        )
    )
    (base / "cjk.txt").write_text(
        "中文字符测试：你好，世界！\n日本語のテキスト、カタカナとひらがな。\n"
        "한국어 텍스트 테스트입니다\n" + "混合mixed文字text" * 6 + "\nend of cjk\n",
        encoding="utf-8",
    )
    (base / "emoji.txt").write_text(
        "family: 👨\u200d👩\u200d👧\u200d👦 after family\n"
        "rainbow flag: 🏳\ufe0f\u200d🌈 after flag\n"
        "heart: ❤\ufe0f after heart\n"
        "thumbs: 👍🏽 after thumbs\n"
        "end of emoji\n",
        encoding="utf-8",
    )
    (base / "progress.py").write_text(
        "import sys\n"
        "for i in range(0, 101, 5):\n"
        "    bar = '#' * (i // 5) + '.' * (20 - i // 5)\n"
        "    sys.stdout.write(f'\\r\\x1b[32m[{bar}]\\x1b[0m {i:3d}%')\n"
        "    sys.stdout.flush()\n"
        "sys.stdout.write('\\r\\x1b[2Kdone: 100%\\n')\n"
    )

    save("ls_color", record(["ls", "--color=always", "-F"], [], work)[0])
    save("cjk", record(["cat", "cjk.txt"], [], work)[0])
    save("emoji", record(["cat", "emoji.txt"], [], work)[0])
    save("progress", record([sys.executable, "progress.py"], [], work)[0])
    shell = "echo before vim; vim -u NONE -N -i NONE poem.txt; echo after vim"
    opened, quit_ = record(["sh", "-c", shell], [b":q\r"], work)
    save("vim_open", opened)
    save("vim_quit", opened + quit_)
    parts = record(["less", "poem.txt"], [b" ", b"q"], work)
    save("less", parts[0] + parts[1])
    parts = record(["top", "-d", "10"], [b"q"], work)
    save("top", parts[0])
    record_curses(work)
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
