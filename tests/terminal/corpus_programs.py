"""The programs of the fidelity corpus and the files they work on (see record_corpus.py,
which records them). Each entry: argv, and the keys sent after each quiet period."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PY = sys.executable
SAMPLE_PY = '''"""A sample module for syntax colours."""
import os


class Device:
    def __init__(self, name: str, port: int = 22) -> None:
        self.name = name  # the device id
        self.port = port

    def address(self) -> str:
        return f"{self.name}:{self.port}"


def main() -> int:
    for i in range(10):
        print(Device(f"gw-{i:04d}").address(), os.getpid())
    return 0
'''

RICH_TABLE = """
from rich.console import Console
from rich.table import Table
console = Console(force_terminal=True, color_system="256", width=80)
table = Table(title="Fleet")
for col, style in (("device", "cyan"), ("status", "green"), ("rtt", "magenta")):
    table.add_column(col, style=style)
for i in range(8):
    table.add_row(f"gw-{i:04d}", "online" if i % 3 else "[red]offline", f"{i * 7} ms")
console.print(table)
"""
RICH_SYNTAX = """
from rich.console import Console
from rich.syntax import Syntax
console = Console(force_terminal=True, color_system="truecolor", width=80)
console.print(Syntax(open("sample.py").read(), "python", line_numbers=True))
"""
RICH_PANEL = """
from rich.console import Console
from rich.panel import Panel
from rich.tree import Tree
console = Console(force_terminal=True, color_system="truecolor", width=80)
tree = Tree("[bold]fleet")
for region in ("eu", "ap"):
    branch = tree.add(f"[yellow]{region}")
    for i in range(3):
        branch.add(f"[green]gw-{i}[/] [dim]online[/]")
console.print(Panel(tree, title="regions", border_style="blue", style="on grey11"))
console.print("[reverse]reverse[/] [underline]under[/] [strike]strike[/] [blink]blink[/]")
"""
RICH_PROGRESS = """
import time
from rich.progress import Progress
with Progress(refresh_per_second=50) as progress:
    task = progress.add_task("[cyan]uploading", total=40)
    for _ in range(40):
        progress.advance(task)
        time.sleep(0.01)
"""
CURSES_BCE = """
import curses
def main(s):
    curses.start_color()
    curses.init_pair(1, curses.COLOR_YELLOW, curses.COLOR_BLUE)
    curses.init_pair(2, curses.COLOR_BLACK, curses.COLOR_CYAN)
    s.bkgd(" ", curses.color_pair(1))
    s.erase()
    s.addstr(1, 2, "background colour erase", curses.A_BOLD)
    s.scrollok(True)
    s.setscrreg(4, 12)
    for n in range(14):
        s.addstr(12, 2, f"scrolling line {n}", curses.color_pair(2))
        s.scroll()
    s.move(15, 10)
    s.clrtoeol()
    s.insertln()
    s.addstr(16, 4, "inserted above")
    s.refresh()
    s.getch()
curses.wrapper(main)
"""

PRINTF: dict[str, str] = {
    "scroll_region": r"\e[2J\e[H"
    + "".join(rf"line {i}\r\n" for i in range(20))
    + r"\e[5;15r\e[15;1H\e[44mafter region\n\n\n\e[0m\e[5;1H\eM\eM\e[3S\e[2T\e[r\e[24;1Hend",
    "insert_delete": r"\e[2J\e[H"
    + "".join(rf"row {i:02d} abcdefghijklmnopqrstuvwxyz\r\n" for i in range(12))
    + r"\e[3;5H\e[4@\e[5;5H\e[6P\e[7;1H\e[2L\e[10;1H\e[3M"
    + r"\e[12;3H\e[5X\e[41m\e[2;1H\e[3@\e[0m",
    "dcs_apc_probes": r"before\eP$q\"p\e\\\eP+q544e;636f6c6f7273\e\\"
    + r"\e_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\e\\"
    + r"\e^private message\e\\\eXstart of string\e\\\e[>0q\e[?u\e[>c after\r\nnext line\r\n",
    "colon_sgr": r"\e[4:3mcurly\e[0m \e[38:2::255:0:0mtrue red\e[0m \e[48:5:22mbg 22\e[0m "
    + r"\e[58:2::0:255:0;4munderline colour\e[0m \e[38:5:208mp208\e[0m \e[1;38;2;1;2;3mrgb\e[0m\r\n"
    + r"\e[21mdouble\e[24m \e[53mover\e[55m \e[2;3mdim it\e[0m\r\n",
    "pending_wrap": r"\e[2J\e[H"
    + "x" * 80
    + r"\rA\r\n"
    + "y" * 80
    + r"B"
    + r"\e[4;1H"
    + "z" * 79
    + r"\e[?7l"
    + "WXYZ"
    + r"\e[?7h\r\n"
    + "w" * 80
    + r"\e[K\r\nlast",
    "origin_mode": r"\e[2J\e[5;10r\e[?6h\e[1;1Htop of region\e[20;1Hclamped\e[?6l\e[1;1Hhome"
    + r"\e[r\e[22;1H\e[5;10r\e[24;1Hbelow region\e[Ado-not-pull\e[r",
    "nel_hpa_vpa": r"\e[2J\e[Hfirst\eEsecond\e[20`col20\e[5dvpa5\e[3;40Hmid"
    + r"\e[10Gcol10\e[2b\r\n\e[e\e[2aend",
    "deccolm": r"\e[2Jwide\e[?3hafter 132\e[?3lafter 80\r\nstill 80 columns" + "." * 70,
    "wide_overwrite": r"\e[2J\e[H中文字符\r\e[2CX\r\n中文字符\e[1;7HY\r\n\e[79G中\r\n" + "文" * 41,
    "conceal": r"shown \e[8mhidden secret\e[28m shown again\r\n\e[8;31mred hidden\e[0m end",
    "erase_attrs": r"\e[2J\e[7mreverse\e[K\e[0m\r\n\e[4munder\e[K\e[24m\r\n\e[43myellow\e[K\r\n"
    + r"\e[J\e[0m\e[10;1H\e[7m\e[2K\e[0mafter\e[1;4m\e[12;1H\e[1J\e[0m",
    "tabs": r"\e[2J\e[Ha\tb\tc\r\n\e[3g\e[10G\eH\e[30G\eH\r\tx\ty\tz\r\n\e[2I2tabs\e[Zback",
    "alt_screen_nested": r"main text\r\n\e[?1049h\e[Halt one\e[?1049lback\r\n\e[?47halt47\e[?47l"
    + r"\e[?1047hone-047\e[?1047ldone",
}

OWN_SLEEPERS = "sleep 60 & a=$!; sleep 61 & b=$!"

SHELL_SESSION = [
    b"ls --color=always -F\r",
    b"printf '\\033[1;32mok\\033[0m %s\\n' a b c\r",
    b"echo $((6*7)) \\\r",
    b"  done\r",
    b"\x0c",  # ctrl+l clears
    b"for i in 1 2 3; do echo line $i; done\r",
]


def programs(work: Path) -> dict[str, tuple[list[str], list[bytes]]]:
    """name -> (argv, keys sent after each quiet period); recorded until exit/timeout."""
    vim = ["vim", "-u", "NONE", "-N", "-i", "NONE", "-c", "syntax on"]
    py = [PY, "-c"]
    out: dict[str, tuple[list[str], list[bytes]]] = {
        "vim_desert": ([*vim, "-c", "colorscheme desert", "sample.py"], []),
        "vim_blue": ([*vim, "-c", "colorscheme blue", "sample.py"], []),
        "vim_habamax": ([*vim, "-c", "colorscheme habamax", "sample.py"], []),
        "vim_termguicolors": (
            [*vim, "-c", "set termguicolors", "-c", "colorscheme lunaperche", "sample.py"],
            [],
        ),
        "vim_split": (
            [*vim, "-c", "colorscheme elflord", "-c", "vsplit", "-c", "split", "sample.py"],
            [],
        ),
        "vim_scroll": ([*vim, "poem.txt"], [b"\x05\x05\x05\x05", b"50%", b"\x19\x19"]),
        "vim_insert_lines": ([*vim, "poem.txt"], [b"5G", b"Onew line one\x1b", b"Onew two\x1b"]),
        "vim_delete_lines": ([*vim, "-c", "set number", "poem.txt"], [b"3G", b"4dd"]),
        "less_search": (["less", "poem.txt"], [b"/fox\r", b"n"]),
        "less_chop": (["less", "-S", "-N", "sample.py"], [b"G"]),
        "man_ls": (["man", "ls"], [b" "]),
        "top_colour": (["top", "-d", "10"], [b"z", b"x"]),
        # Only processes of its own (-p): the machine's process list is nobody's business.
        "htop": (["sh", "-c", f"{OWN_SLEEPERS}; exec htop -d 100 -p $a,$b,$$"], []),
        "htop_tree": (["sh", "-c", f"{OWN_SLEEPERS}; exec htop -d 100 -t -p $a,$b,$$"], []),
        "mc": (["mc", "-d", "--nosubshell", str(work)], []),
        "dialog_menu": (
            [
                "dialog",
                "--menu",
                "Pick a device",
                "15",
                "50",
                "5",
                "gw-1",
                "online",
                "gw-2",
                "offline",
                "gw-3",
                "online",
            ],
            [],
        ),
        "dialog_gauge": (["sh", "-c", "echo 42 | dialog --gauge 'Uploading firmware' 10 60 0"], []),
        "dialog_yesno": (
            ["dialog", "--title", "Renew", "--yesno", "Renew the token?", "8", "40"],
            [],
        ),
        "whiptail_msgbox": (
            ["whiptail", "--title", "Notice", "--msgbox", "Tunnel closed.", "10", "50"],
            [],
        ),
        "whiptail_checklist": (
            [
                "whiptail",
                "--checklist",
                "Features",
                "15",
                "50",
                "4",
                "ssh",
                "shell",
                "ON",
                "sftp",
                "files",
                "OFF",
                "tun",
                "tunnel",
                "ON",
            ],
            [],
        ),
        "tmux_inside": (
            [
                "tmux",
                "-L",
                "iotunnel-corpus",
                "-f",
                "/dev/null",
                "new-session",
                "sh -c 'ls --color=always -F; echo; seq 1 5; sleep 30'",
            ],
            [b'\x02"', b"\x02%"],
        ),
        "git_log": (
            [
                "git",
                "--no-pager",
                "log",
                "--graph",
                "--oneline",
                "--decorate",
                "--color=always",
                "--all",
            ],
            [],
        ),
        "git_diff": (["git", "--no-pager", "diff", "--color=always", "HEAD~1"], []),
        "grep_color": (["grep", "--color=always", "-n", "-E", "fox|dog", "poem.txt"], []),
        "rich_table": ([*py, RICH_TABLE], []),
        "rich_syntax": ([*py, RICH_SYNTAX], []),
        "rich_panel": ([*py, RICH_PANEL], []),
        "rich_progress": ([*py, RICH_PROGRESS], []),
        "curses_bce": ([*py, CURSES_BCE], [b"q"]),
        "bash_session": (["bash", "--norc", "--noprofile", "-i"], [*SHELL_SESSION, b"exit\r"]),
        "python_repl": (
            [PY, "-q", "-i"],
            [b"print('x' * 100)\r", b"[i * i for i in range(30)]\r", b"\x04"],
        ),
        "seq_scroll": (["seq", "1", "3000"], []),
        "column_table": (["column", "-t", "-s", ",", "table.csv"], []),
        "diff_color": (["diff", "--color=always", "-u", "a.txt", "b.txt"], []),
        "tput_script": (["sh", "tput.sh"], []),
        "cjk_wrap": (["cat", "cjk_long.txt"], []),
    }
    for name, text in PRINTF.items():
        out[name] = (["printf", text.replace(r"\e", r"\033")], [])
    return out


def prepare(work: Path) -> None:
    (work / "sample.py").write_text(SAMPLE_PY)
    (work / "poem.txt").write_text(
        "".join(
            f"line {i:03d}: the quick brown fox jumps over the lazy dog\n" for i in range(1, 101)
        )
    )
    (work / "table.csv").write_text(
        "device,status,region,rtt\n"
        + "".join(f"gw-{i},online,eu-{i % 3},{i * 3} ms\n" for i in range(12))
    )
    (work / "a.txt").write_text("".join(f"line {i}\n" for i in range(20)))
    (work / "b.txt").write_text(
        "".join(f"line {i}{' changed' if i % 7 == 3 else ''}\n" for i in range(22))
    )
    (work / "cjk_long.txt").write_text(
        "長い行：" + "漢字とかなの混在テキスト" * 12 + "\nend\n", encoding="utf-8"
    )
    (work / "tput.sh").write_text(
        "tput clear; tput cup 3 10; tput bold; echo bold; tput sgr0; tput cup 5 10;"
        " tput setaf 1; tput setab 7; echo red on white; tput sgr0; tput smso; echo standout;"
        " tput rmso; tput cup 10 0; tput el; tput rev; echo reversed; tput sgr0\n"
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    git = ["git", "-C", str(work)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, env=env)
    subprocess.run([*git, "add", "."], check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True, env=env)
    for i in range(1, 6):
        if i == 3:
            subprocess.run([*git, "checkout", "-q", "-b", "feature"], check=True, env=env)
        (work / "sample.py").write_text(SAMPLE_PY.replace("range(10)", f"range({10 + i})"))
        subprocess.run([*git, "commit", "-q", "-am", f"change {i}"], check=True, env=env)
    subprocess.run([*git, "tag", "v1.0"], check=True, env=env)
