"""Terminal pane benchmark: `python bench/terminal.py [--runs 5] [--mb 20]`.

Prints, in one run, medians of `--runs` runs measured on this machine (and, where load
from other processes would skew wall-clock ratios, the ratio of CPU times as well):
- ingest (MB/s) of plain / coloured / cursor-heavy input at 80x24 and 200x50: 2 KB
  frames (as the WebSocket delivers them) through the pane's feeder into its Ghostty
  backend, dirty rows read after every 4 ms slice; the same library fed in one call;
  as a ratio, one backend call per 2 KB frame ("per frame": the cost of a call inside
  the library, which is why the feeder joins frames); tmux (when installed: the bytes
  `cat` into a detached tmux pane of the same size); the pyte fallback (on `--pyte-mb`,
  it is ~50x slower);
- the pane as a whole (headless app, 120x40: backend + dirty-row rendering at the frame
  rate) draining a flood, beside the backend alone on the same bytes;
- key delay (p50/p99) while that flood arrives;
- full repaint (every row rebuilt from the emulator, then drawn) at 80x24 and 200x50;
- RSS per open tab holding 10,000 lines of scrollback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.terminal.backends import make_backend
from tui.terminal.feeder import PIECE_BYTES, OutputQueue

CHUNK = 2048  # what the pane feeds the emulator per call
SIZES = ((80, 24), (200, 50))


# --- payloads -------------------------------------------------------------------------


def plain_log(size: int, cols: int = 80, rows: int = 24) -> bytes:
    """Log lines: every line scrolls the screen."""
    rng = random.Random(1)
    words = ["device", "gateway", "tunnel", "opened", "closed", "heartbeat", "ok", "retry"]
    out = bytearray()
    n = 0
    while len(out) < size:
        n += 1
        line = f"2026-11-26 05:{n % 60:02d}:{n % 60:02d} INFO " + " ".join(
            rng.choice(words) for _ in range(9)
        )
        out += line.encode() + b"\r\n"
    return bytes(out[:size])


def coloured(size: int, cols: int = 80, rows: int = 24) -> bytes:
    """ls/git/grep-like output: an SGR every few characters, 256 colours."""
    rng = random.Random(2)
    out = bytearray()
    while len(out) < size:
        parts = []
        for _ in range(8):
            word = rng.choice(["ok", "warn", "err", "fine"])
            parts.append(f"\x1b[{rng.choice([1, 2, 4])};3{rng.randrange(8)}m{word}")
            parts.append(f"\x1b[38;5;{rng.randrange(256)}m value\x1b[0m ")
        out += "".join(parts).encode() + b"\r\n"
    return bytes(out[:size])


def redraws(size: int, cols: int = 80, rows: int = 24) -> bytes:
    """top/htop-like full-screen frames: cursor addressing, reverse video, erase."""
    rng = random.Random(3)
    out = bytearray()
    while len(out) < size:
        frame = ["\x1b[H"]
        for r in range(1, rows + 1):
            text = "".join(rng.choice("abcdef 0123456789%.") for _ in range(cols - 10))
            frame.append(f"\x1b[{r};1H\x1b[7m{r:3d}\x1b[0m {text}\x1b[K")
        frame.append(f"\x1b[{rng.randrange(1, rows)};{rng.randrange(1, cols)}H")
        out += "".join(frame).encode()
    return bytes(out[:size])


PAYLOADS: dict[str, Callable[..., bytes]] = {
    "plain": plain_log,
    "colour": coloured,
    "cursor": redraws,
}


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- ingest ---------------------------------------------------------------------------


CPU_SECONDS: list[float] = []  # process time of the last timed call, beside wall time


def as_frames(data: bytes) -> list[bytes]:
    """The payload as the WebSocket delivers it, before the pane has it (not timed)."""
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def backend_slices(data: bytes, cols: int, rows: int, name: str = "ghostty") -> float:
    """The pane's path: 2 KB frames (as the WebSocket delivers them) queued for the
    pane's feeder, which joins them into calls of up to the backend's `piece_bytes` and
    reads the dirty rows after every 4 ms slice."""
    backend = make_backend(cols, rows, name=name)
    piece = getattr(backend, "piece_bytes", PIECE_BYTES)  # as the pane picks it
    queue = OutputQueue(backend.feed, backend.take_dirty, piece_bytes=piece)
    loop = asyncio.new_event_loop()
    frames = as_frames(data)
    gc.collect()
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for frame in frames:
            queue.append(frame)
        loop.run_until_complete(queue.drain())
        CPU_SECONDS.append(time.process_time() - cpu)
        return time.perf_counter() - start
    finally:
        loop.close()


def backend_per_frame(data: bytes, cols: int, rows: int, name: str = "ghostty") -> float:
    """One backend call per 2 KB frame (what the feeder did before it joined frames)."""
    backend = make_backend(cols, rows, name=name)
    frames = as_frames(data)
    gc.collect()
    start = time.perf_counter()
    for frame in frames:
        backend.feed(frame)
    backend.take_dirty()
    return time.perf_counter() - start


def library_one_call(data: bytes, cols: int, rows: int) -> float:
    """The same library, configured as the backend configures it, in one write."""
    from pyghostty import lib

    from tui.terminal.ghostty_backend import GhosttyBackend

    backend = GhosttyBackend(cols, rows)
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    lib.ghostty_terminal_vt_write(backend._t, data, len(data))
    elapsed = time.perf_counter() - start
    CPU_SECONDS.append(time.process_time() - cpu)
    backend.close()
    return elapsed


def tmux_ingest(path: Path, cols: int, rows: int, tmp: Path) -> float:
    """Time from `cat` starting to tmux having read the last byte, in a private server."""
    sock = tempfile.mkdtemp(dir=tmp) + "/tmux.sock"  # a fresh server each run
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    cmd = (
        f"stty -echo -opost -onlcr; tmux -S {sock} wait-for go; cat {path}; "
        f"tmux -S {sock} wait-for -S done; sleep 600"
    )
    subprocess.run([*tmux, "new-session", "-d", "-x", str(cols), "-y", str(rows), cmd], check=True)
    try:
        time.sleep(0.3)  # the shell reaches `wait-for go` (startup is not what we time)
        start = time.perf_counter()
        subprocess.run([*tmux, "wait-for", "-S", "go"], check=True)
        subprocess.run([*tmux, "wait-for", "done"], check=True, timeout=600)
        return time.perf_counter() - start
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


def bench_ingest(runs: int, size: int, pyte_size: int, ghostty: bool) -> None:
    have_tmux = shutil.which("tmux") is not None
    print(f"ingest MB/s, {size / 1e6:.0f} MB per payload, median of {runs} runs")
    print(
        f"  {'payload':<8} {'size':>7} {'ghostty 2KB':>12} {'lib 1 call':>11} {'ratio':>6}"
        f" {'(CPU)':>6} {'per frame':>9} {'tmux':>7} {'vs tmux':>8} {'pyte':>6}"
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for cols, rows in SIZES:
            for name, make in PAYLOADS.items():
                data = make(size, cols, rows)
                mb = len(data) / 1e6
                ours = lib = per_frame = tmux = cpu_ratio = float("nan")
                if ghostty:
                    # Interleaved, so that load from elsewhere hits all three alike.
                    walls: dict[str, list[float]] = {"ours": [], "lib": [], "frame": []}
                    cpus: dict[str, list[float]] = {"ours": [], "lib": []}
                    for _ in range(runs):
                        for key, run in (
                            ("ours", backend_slices),
                            ("lib", library_one_call),
                            ("frame", backend_per_frame),
                        ):
                            CPU_SECONDS.clear()
                            walls[key].append(run(data, cols, rows))
                            if key in cpus:
                                cpus[key].append(CPU_SECONDS[-1])
                    ours, lib, per_frame = (mb / median(walls[k]) for k in ("ours", "lib", "frame"))
                    cpu_ratio = median(cpus["lib"]) / median(cpus["ours"])
                if have_tmux:
                    path = tmp / f"{name}.bin"
                    path.write_bytes(data)
                    tmux = mb / median([tmux_ingest(path, cols, rows, tmp) for _ in range(runs)])
                small = data[:pyte_size]
                pyte_runs = max(1, runs // 2)
                pyte = (len(small) / 1e6) / median(
                    [backend_slices(small, cols, rows, "pyte") for _ in range(pyte_runs)]
                )
                print(
                    f"  {name:<8} {cols}x{rows:<4} {ours:12.1f} {lib:11.1f} {ours / lib:6.2f}"
                    f" {cpu_ratio:6.2f} {per_frame / lib:9.2f} {tmux:7.1f} {ours / tmux:8.2f}"
                    f" {pyte:6.2f}"
                )


# --- the pane as a whole -------------------------------------------------------------


@dataclass
class Drain:
    drained: float  # seconds until the pane's emulator had every byte
    on_screen: float  # ... and the last frame was painted (a flood paints at 20 fps)
    delays: list[float]  # key delays, when keys were pressed meanwhile
    cpu: float  # CPU seconds (robust to other processes on a shared machine)


async def pane_drain(data: bytes, backend_name: str, keys: bool) -> Drain:
    """`data` through a mounted pane at 120x40, in 64 KB reads as backpressure allows."""
    from textual import events
    from textual.app import App, ComposeResult

    from tui.terminal.pane import TerminalPane

    delays: list[float] = []
    pressed: list[float] = []
    writable = asyncio.Event()
    writable.set()

    def on_backlog(high: bool) -> None:
        # What a session does: stop reading its WebSocket while the emulator is behind.
        if high:
            writable.clear()
        else:
            writable.set()

    def on_input(data: bytes) -> None:
        if data == b"k" and pressed:
            delays.append(time.perf_counter() - pressed.pop(0))

    class FloodApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TerminalPane(on_input=on_input, on_backlog=on_backlog, backend_name=backend_name)

    app = FloodApp()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.focus()
        await pane.wait_drained(10)
        start = time.perf_counter()
        cpu_start = time.process_time()

        async def transport() -> None:
            # Output arrives in 64 KB reads as fast as the pane's backpressure lets it in.
            for i in range(0, len(data), 65536):
                await writable.wait()
                pane.feed(data[i : i + 65536])
                await asyncio.sleep(0)

        feeder = asyncio.create_task(transport())
        while keys and (not feeder.done() or pane.pending_bytes):
            pressed.append(time.perf_counter())
            app.post_message(events.Key("k", "k"))  # through the App, as a real key
            await asyncio.sleep(0.01)
        await feeder
        await pane.wait_drained(60)
        drained = time.perf_counter() - start
        while pane._paint_timer is not None or pane._dirty:  # the last frame is due
            await asyncio.sleep(0.001)
        await pilot.pause()  # and painted
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    return Drain(drained, elapsed, delays, cpu)


def bench_pane(runs: int, size: int, backend_name: str) -> None:
    data = b"".join(make(size // 3, 120, 40) for make in PAYLOADS.values())
    mb = len(data) / 1e6
    alone_wall, alone_cpu = [], []
    for _ in range(runs):
        CPU_SECONDS.clear()
        alone_wall.append(backend_slices(data, 120, 40, backend_name))
        alone_cpu.append(CPU_SECONDS[-1])  # the timed part only, as for the pane
    drains = [asyncio.run(pane_drain(data, backend_name, keys=False)) for _ in range(runs)]
    alone = mb / median(alone_wall)
    drained = mb / median([d.drained for d in drains])
    shown = mb / median([d.on_screen for d in drains])
    cpu_ratio = median(alone_cpu) / median([d.cpu for d in drains])
    print(
        f"pane 120x40 ({backend_name}), {mb:.0f} MB mixed flood: drained {drained:.1f} MB/s"
        f" (last frame on screen: {shown:.1f}), backend alone {alone:.1f} MB/s,"
        f" ratio {drained / alone:.2f} ({shown / alone:.2f}; CPU time ratio {cpu_ratio:.2f})"
    )
    all_delays: list[float] = []
    for _ in range(runs):
        all_delays += asyncio.run(pane_drain(data, backend_name, keys=True)).delays
    all_delays.sort()
    p50 = median(all_delays) * 1000
    p99 = all_delays[min(len(all_delays) - 1, int(len(all_delays) * 0.99))] * 1000
    print(
        f"  key delay under that flood ({len(all_delays)} keys over {runs} runs):"
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {all_delays[-1] * 1000:.1f} ms"
    )


# --- repaint --------------------------------------------------------------------------


async def repaint_once(cols: int, rows: int, backend_name: str, runs: int) -> dict[str, float]:
    """Median seconds of a full repaint: the pane's rows as painting builds them after a
    screen of new output and after a theme change, and the former through Textual's
    `render_lines` (what the compositor calls)."""
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from tui.terminal.pane import TerminalPane

    class RepaintApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TerminalPane(backend_name=backend_name)

    app = RepaintApp()
    async with app.run_test(size=(cols, rows)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.focus()
        pane.feed(coloured(cols * rows * 12))
        await pane.wait_drained(120)
        await pilot.pause()
        backend = pane.backend

        def new_screen() -> None:
            # A screen of new output (or a resize): every row is read from the emulator
            # again (its style ids may mean other styles now) and drawn; the looks and
            # their Rich styles stay cached, as they do in the pane.
            pane._strips.clear()
            pane._styles_cache.clear()
            if hasattr(backend, "_rows"):
                backend._rows.clear()
                backend._reader.new_update()

        def new_theme() -> None:
            new_screen()
            pane._styles.clear()  # a theme change: every Rich style is made again

        def rows_painted() -> None:
            pane._painting = True  # as inside `render_lines`: no selection offsets
            try:
                for y in range(rows):
                    pane.render_line(y)
            finally:
                pane._painting = False

        def through_textual() -> None:
            pane.render_lines(Region(0, 0, cols, rows))

        cases = {
            "screen": (new_screen, rows_painted),
            "theme": (new_theme, rows_painted),
            "textual": (new_screen, through_textual),
        }
        times: dict[str, list[float]] = {key: [] for key in cases}
        for _ in range(runs * 10):
            for key, (prepare, paint) in cases.items():
                prepare()
                start = time.perf_counter()
                paint()
                times[key].append(time.perf_counter() - start)
        return {key: median(values) for key, values in times.items()}


def bench_repaint(runs: int, backends: list[str]) -> None:
    print(
        f"full repaint of a screen of new output (every row read and drawn), median of"
        f" {runs * 10}; in brackets, after a theme change, and through Textual's render_lines"
    )
    for backend_name in backends:
        figures = []
        for cols, rows in SIZES:
            seconds = asyncio.run(repaint_once(cols, rows, backend_name, runs))
            ms = {key: value * 1000 for key, value in seconds.items()}
            figures.append(
                f"{cols}x{rows} {ms['screen']:.2f} ms ({ms['theme']:.2f}; {ms['textual']:.2f})"
            )
        print(f"  {backend_name:<8} " + ", ".join(figures))


# --- memory ---------------------------------------------------------------------------


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench_memory(backends: list[str], tabs: int = 8) -> None:
    # 10,500 coloured log lines of under 100 columns.
    lines = b"".join(
        b"\x1b[3%dm%05d\x1b[0m 2026-11-26 05:%02d INFO tunnel gw-%04d opened, rtt %d ms\r\n"
        % (n % 8, n, n % 60, n % 1000, n % 97)
        for n in range(10_500)
    )
    print(f"RSS per tab, 120x40 with 10,000 lines of scrollback printed ({tabs} tabs)")
    for backend_name in backends:
        gc.collect()
        before = rss_kb()
        keep = []
        for _ in range(tabs):
            backend = make_backend(120, 40, 10_000, name=backend_name)
            for i in range(0, len(lines), 65536):
                backend.feed(lines[i : i + 65536])
            backend.take_dirty()
            keep.append(backend)
        gc.collect()
        per_tab = (rss_kb() - before) / tabs / 1024
        held = keep[0].history_len
        print(f"  {backend_name:<8} {per_tab:.1f} MB per tab ({held} lines held)")
        del keep


# --- end to end ------------------------------------------------------------------------


async def bench_end_to_end(megabytes: int, runs: int) -> None:
    """`cat` of a file in a device shell through agent, platform and a TerminalPane,
    beside bench/session.py's bare tunnel (the same stack, its source client reading
    the frames and dropping them) in the same run."""
    sys.path.insert(0, str(Path(__file__).parent))
    import session as bare_bench  # bench/session.py: its stack and its measurement
    from textual.app import App, ComposeResult

    from tui.terminal.pane import TerminalPane

    readable = asyncio.Event()
    readable.set()

    def on_backlog(high: bool) -> None:
        # What the dashboard's session does: stop reading the WebSocket meanwhile.
        if high:
            readable.clear()
        else:
            readable.set()

    class SessionApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TerminalPane(on_backlog=on_backlog)

    async def through_pane(tunnel: object, pane: TerminalPane, path: Path, tag: int) -> float:
        await bare_bench.settle(tunnel, tag)
        marker = f"C{tag}D"
        start = time.perf_counter()
        await tunnel.type(f"cat {path}; echo C$(({tag}+0))D\r")
        tail = ""
        while marker not in tail:
            await readable.wait()
            chunk = await tunnel.read()
            pane.feed(chunk.encode())
            tail = (tail + chunk)[-4096:]
        await pane.wait_drained(120)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="iotunnel-bench-") as tmp:
        workdir = Path(tmp)
        text = workdir / "text.txt"
        mb = bare_bench.make_text(text, megabytes) / 1e6
        async with bare_bench.stack(workdir) as tunnel:
            bare = [await bare_bench.throughput(tunnel, text, i) for i in range(runs)]
            app = SessionApp()
            async with app.run_test(size=(120, 40)):
                pane = app.query_one(TerminalPane)
                ours = [await through_pane(tunnel, pane, text, 100 + i) for i in range(runs)]
    bare_rate, pane_rate = mb / median(bare), mb / median(ours)
    print(
        f"end to end, cat {mb:.0f} MB through agent + platform, median of {runs}:"
        f" bare tunnel {bare_rate:.1f} MB/s, into a TerminalPane (120x40) {pane_rate:.1f}"
        f" MB/s, ratio {pane_rate / bare_rate:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=float, default=20.0, help="MB per ingest payload")
    parser.add_argument("--pyte-mb", type=float, default=1.0, help="MB for the slow pyte figure")
    parser.add_argument("--flood-mb", type=float, default=20.0)
    parser.add_argument("--skip", default="", help="comma list: ingest,pane,repaint,memory")
    parser.add_argument(
        "--e2e-mb", type=int, default=0, help="also cat this many MB through agent+platform"
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    from tui.terminal.backends import ghostty_available

    ghostty = ghostty_available()
    backends = ["ghostty", "pyte"] if ghostty else ["pyte"]
    print(f"backends: {', '.join(backends)}; tmux: {shutil.which('tmux') or 'not installed'}")
    if "ingest" not in skip:
        bench_ingest(args.runs, int(args.mb * 1e6), int(args.pyte_mb * 1e6), ghostty)
    if "pane" not in skip:
        bench_pane(args.runs, int(args.flood_mb * 1e6), backends[0])
    if "repaint" not in skip:
        bench_repaint(args.runs, backends)
    if "memory" not in skip:
        bench_memory(backends)
    if args.e2e_mb:
        asyncio.run(bench_end_to_end(args.e2e_mb, args.runs))


if __name__ == "__main__":
    main()
