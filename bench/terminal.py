"""Terminal pane benchmark: `python bench/terminal.py [--runs N] [--flood-mb MB]`.

Prints, in one run:
- ingest speed (MB/s) of the pyte backend for plain log text, heavily coloured text and
  cursor-heavy full-screen redraws, beside bare pyte (`Screen` + `ByteStream`) on the
  same bytes, with the ratio (target >= 0.9);
- the cost of a full repaint of the pane at 80x24 and 200x50;
- the delay between a key pressed and its bytes reaching the transport while a flood of
  output arrives (p50, p99; target p99 <= 50 ms).
Figures are medians of several runs, measured on this machine in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time

import pyte

from tui.terminal.pyte_backend import PyteBackend

CHUNK = 2048  # what the pane feeds the emulator per call


def plain_log(size: int) -> bytes:
    rng = random.Random(1)
    words = [
        "device",
        "gateway",
        "tunnel",
        "opened",
        "closed",
        "heartbeat",
        "ok",
        "retry",
        "timeout",
        "sensor",
    ]
    out = bytearray()
    n = 0
    while len(out) < size:
        n += 1
        line = f"2026-11-26 05:{n % 60:02d}:{n % 60:02d} INFO " + " ".join(
            rng.choice(words) for _ in range(9)
        )
        out += line.encode() + b"\r\n"
    return bytes(out[:size])


def coloured(size: int) -> bytes:
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


def bare_pyte_ingest(data: bytes) -> float:
    screen = pyte.Screen(80, 24)
    stream = pyte.ByteStream(screen)
    start = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        stream.feed(data[i : i + CHUNK])
    return time.perf_counter() - start


def backend_ingest(data: bytes) -> float:
    backend = PyteBackend(80, 24)
    start = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        backend.feed(data[i : i + CHUNK])
    backend.take_dirty()
    return time.perf_counter() - start


def bench_ingest(runs: int, size: int) -> None:
    print(f"ingest, {size / 1e6:.1f} MB per run, median of {runs} runs")
    print(f"  {'payload':<10} {'backend MB/s':>13} {'bare pyte MB/s':>15} {'ratio':>7}")
    for name, make in (("plain", plain_log), ("coloured", coloured), ("redraws", redraws)):
        data = make(size)
        ours, bare = [], []
        for _ in range(runs):
            bare.append(bare_pyte_ingest(data))
            ours.append(backend_ingest(data))
        mb = len(data) / 1e6
        ours_rate, bare_rate = mb / statistics.median(ours), mb / statistics.median(bare)
        print(f"  {name:<10} {ours_rate:13.2f} {bare_rate:15.2f} {ours_rate / bare_rate:7.2f}")


async def bench_repaint(runs: int) -> None:
    from textual.app import App, ComposeResult

    from tui.terminal.pane import TerminalPane

    class RepaintApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TerminalPane()

    print(f"full repaint (render_line of every row, strip cache cold), median of {runs} runs")
    for cols, rows in ((80, 24), (200, 50)):
        app = RepaintApp()
        async with app.run_test(size=(cols, rows)) as pilot:
            pane = app.query_one(TerminalPane)
            pane.focus()
            pane.feed(coloured(cols * rows * 12))
            await pane.wait_drained(120)
            await pilot.pause()
            times = []
            for _ in range(runs * 5):
                pane._strips.clear()
                start = time.perf_counter()
                for y in range(rows):
                    pane.render_line(y)
                times.append(time.perf_counter() - start)
            print(f"  {cols}x{rows}: {statistics.median(times) * 1000:.2f} ms")


async def bench_key_delay(flood_mb: float) -> None:
    from textual import events
    from textual.app import App, ComposeResult

    from tui.terminal.pane import TerminalPane

    delays: list[float] = []
    pressed: list[float] = []
    writable = asyncio.Event()
    writable.set()
    peak = 0

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
            yield TerminalPane(on_input=on_input, on_backlog=on_backlog)

    payload = coloured(1_000_000) + plain_log(1_000_000) + redraws(1_000_000)
    total = int(flood_mb * 1e6)
    app = FloodApp()
    async with app.run_test(size=(80, 24)):
        pane = app.query_one(TerminalPane)
        pane.focus()
        start = time.perf_counter()

        async def transport() -> None:
            # Output arrives in 64 KB frames as fast as the pane's backpressure lets it in.
            nonlocal peak
            sent = 0
            while sent < total:
                for i in range(0, len(payload), 65536):
                    await writable.wait()
                    pane.feed(payload[i : i + 65536])
                    peak = max(peak, pane.pending_bytes)
                    sent += 65536
                    await asyncio.sleep(0)
                    if sent >= total:
                        break

        feeder = asyncio.create_task(transport())
        while not feeder.done() or pane.pending_bytes:
            pressed.append(time.perf_counter())
            app.post_message(events.Key("k", "k"))  # through the App, as a real key
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - start
        await feeder
    delays.sort()
    p50 = statistics.median(delays) * 1000
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000
    print(
        f"key delay under a {flood_mb:g} MB flood ({len(delays)} keys, flood took {elapsed:.1f} s):"
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {delays[-1] * 1000:.1f} ms;"
        f" peak backlog {peak / 1e6:.2f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mb", type=float, default=1.0)
    parser.add_argument("--flood-mb", type=float, default=20.0)
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() first, as an app could at start"
    )
    args = parser.parse_args()
    if args.gc_freeze:
        gc.freeze()
    bench_ingest(args.runs, int(args.size_mb * 1e6))
    asyncio.run(bench_repaint(args.runs))
    asyncio.run(bench_key_delay(args.flood_mb))


if __name__ == "__main__":
    main()
