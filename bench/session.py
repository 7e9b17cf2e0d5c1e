"""End-to-end session figures: app ← platform ← agent ← shell, beside a bare local PTY.

    python bench/session.py [--mb 20] [--runs 3] [--keys 200]

Starts the local platform in this process, the device agent (`iotunnel agent`, pty
backend) as a child process, and a bare `websockets` source client here. Prints:
- throughput: `cat` of a generated text file in the device shell, until the last byte
  reaches the source client; the same `cat` read straight from a local PTY as baseline;
- keystroke echo round trip (p50, p99): one key typed, until its echo arrives; same
  baseline. Medians over the runs, and the ratio against the baseline of the same run.

To profile the agent, put a prefix before its `-m tui`, e.g.
`BENCH_AGENT_PREFIX="-m cProfile -o /tmp/agent.prof" python bench/session.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import ClientConnection, connect

from tui.agent.backends.pty import PtyBackend, PtySession
from tui.iotda.auth import AkSkAuth
from tui.iotda.client import IoTDAClient
from tui.iotda.frames import (
    TOKEN_HEADER,
    Op,
    command_frame,
    connect_frame,
    decode_frame,
)
from tui.platform.config import Credential, PlatformConfig, Seed, SeedDevice
from tui.platform.server import Platform

PROFILER = os.environ.get("BENCH_AGENT_PREFIX", "").split()  # see the docstring
DEVICE = "bench_0001"
SECRET = "bench-device-secret"
LOGIN = ("bench", "bench-password")
AK, SK = "AKBENCH0000000001", "SKBENCHSECRET00000001"


def make_text(path: Path, megabytes: int) -> int:
    """A text file of `megabytes` MB: ASCII lines with some multi-byte characters."""
    line = ("The quick brown fox jumps over the lazy dog 0123456789 — äöü €\n").encode()
    count = megabytes * 1_000_000 // len(line)
    path.write_bytes(line * count)
    return len(line) * count


# --- the two ends being compared -------------------------------------------------------


class TunnelShell:
    """A logged-in shell on the device, seen from the source side of the tunnel."""

    def __init__(self, ws: ClientConnection, agent_pid: int | None = None) -> None:
        self.ws = ws
        self.agent_pid = agent_pid

    async def type(self, keys: str) -> None:
        await self.ws.send(command_frame(keys).encode())

    async def read(self) -> str:
        while True:
            frame = decode_frame(await self.ws.recv())
            if frame.operation_type == Op.COMMAND_RESPONSE and isinstance(frame.data, str):
                return frame.data
            if frame.operation_type == Op.DISCONNECT:
                raise RuntimeError(f"session ended: {frame.data}")


class LocalShell:
    """The same shell on a local PTY, read directly: the baseline."""

    def __init__(self, session: PtySession) -> None:
        self.session = session
        self._decoder = __import__("codecs").getincrementaldecoder("utf-8")("replace")

    async def type(self, keys: str) -> None:
        self.session.write(keys.encode())

    async def read(self) -> str:
        data = await self.session.read()
        if not data:
            raise RuntimeError("local shell ended")
        return self._decoder.decode(data)


Shell = TunnelShell | LocalShell


async def read_until(shell: Shell, marker: str) -> int:
    """Read output until `marker`; returns the number of characters read."""
    seen, tail, keep = 0, "", len(marker) - 1
    while True:
        chunk = await shell.read()
        seen += len(chunk)
        # only what a marker split across two reads needs: the measuring must cost little
        window = tail + chunk
        if marker in window:
            return seen
        tail = window[-keep:] if keep else ""


async def settle(shell: Shell, tag: int) -> None:
    await shell.type(f"echo R$(({tag}+0))Y\r")
    await read_until(shell, f"R{tag}Y")


async def throughput(shell: Shell, path: Path, tag: int) -> float:
    """Seconds from typing `cat` to the marker after the last byte."""
    await settle(shell, tag)
    start = time.perf_counter()
    await shell.type(f"cat {path}; echo C$(({tag}+0))D\r")
    await read_until(shell, f"C{tag}D")
    return time.perf_counter() - start


async def echo_times(shell: Shell, keys: int) -> list[float]:
    """Round trip of single keystrokes: `x` is echoed, backspace erases it again."""
    await settle(shell, 7)
    samples = []
    for i in range(keys):
        key = "x" if i % 2 == 0 else "\x7f"
        start = time.perf_counter()
        await shell.type(key)
        out = ""
        while not (("x" in out) if key == "x" else ("\b" in out)):
            out += await shell.read()
        samples.append(time.perf_counter() - start)
    if keys % 2:
        await shell.type("\x7f")
    return samples


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a process: this one when pid is None."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- setting up the stack --------------------------------------------------------------


@contextlib.asynccontextmanager
async def stack(workdir: Path) -> AsyncIterator[TunnelShell]:
    seed = Seed(
        project_id="bench-project",
        region="cn-north-4",
        credentials=(Credential(AK, SK),),
        devices=(SeedDevice(DEVICE, "0001", "bench", SECRET, "Bench device"),),
    )
    platform = Platform(PlatformConfig(seed=seed))
    endpoints = await platform.start()
    secret_file, login_file = workdir / "secret", workdir / "login"
    for path, text in ((secret_file, SECRET), (login_file, LOGIN[1])):
        path.write_text(text)
        os.chmod(path, 0o600)
    log = open(workdir / "agent.log", "wb")  # noqa: SIM115
    agent = await asyncio.create_subprocess_exec(
        sys.executable, *PROFILER, "-m", "tui", "--log-file", str(workdir / "agent-debug.log"),
        "agent",
        "--device-id", DEVICE, "--secret-file", str(secret_file), "--mqtt", endpoints.mqtt,
        "--backend", "pty", "--login-user", LOGIN[0], "--login-password-file", str(login_file),
        stdout=log, stderr=log,
    )  # fmt: skip
    client = IoTDAClient(endpoints.rest, seed.project_id, AkSkAuth(AK, SK, region=seed.region))
    ws: ClientConnection | None = None
    try:
        deadline = time.monotonic() + 30
        while (await client.show_device(DEVICE)).device.status != "ONLINE":
            if time.monotonic() > deadline:
                raise RuntimeError("the agent did not come online; see agent.log")
            await asyncio.sleep(0.1)
        created = await client.create_tunnel(DEVICE)
        ws = await connect(
            created.tunnel_uri,
            additional_headers={TOKEN_HEADER: created.tunnel_access_token},
            compression=None,
            max_size=None,
        )
        while decode_frame(await ws.recv()).operation_type != Op.CONNECT_TUNNEL:
            pass
        await ws.send(connect_frame(*LOGIN).encode())
        yield TunnelShell(ws, agent.pid)
    finally:
        if ws is not None:
            await ws.close()
        agent.terminate()
        await agent.wait()
        log.close()
        await client.aclose()
        await platform.stop()


@contextlib.asynccontextmanager
async def local_shell() -> AsyncIterator[LocalShell]:
    session = await PtyBackend(*LOGIN, device_name="local").open(*LOGIN, 128, 30)
    try:
        yield LocalShell(session)
    finally:
        await session.close()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="iotunnel-bench-") as tmp:
        workdir = Path(tmp)
        text = workdir / "text.txt"
        size = make_text(text, args.mb)
        mb = size / 1e6
        results: dict[str, dict[str, float]] = {}
        async with local_shell() as local, stack(workdir) as tunnel:
            shells = {"bare pty": local, "tunnel": tunnel}
            # Runs alternate between the two, so that load from elsewhere on a shared
            # machine falls on both alike; the tunnel's CPU is counted per process.
            seconds: dict[str, list[float]] = {name: [] for name in shells}
            cpu_here = cpu_agent = 0.0
            for i in range(args.runs):
                for name, shell in shells.items():
                    here, agent = cpu_seconds(None), cpu_seconds(tunnel.agent_pid)
                    seconds[name].append(await throughput(shell, text, i))
                    if shell is tunnel:
                        cpu_here += cpu_seconds(None) - here
                        cpu_agent += cpu_seconds(tunnel.agent_pid) - agent
            cpu_note = (
                f"CPU a run: agent {cpu_agent / args.runs:.2f} s,"
                f" platform+source {cpu_here / args.runs:.2f} s"
            )
            for name, shell in shells.items():
                med = statistics.median(seconds[name])
                p50s, p99s = [], []
                for _ in range(args.runs):
                    samples = await echo_times(shell, args.keys)
                    p50s.append(percentile(samples, 0.50))
                    p99s.append(percentile(samples, 0.99))
                results[name] = {
                    "mbps": mb / med,
                    "p50": statistics.median(p50s) * 1000,
                    "p99": statistics.median(p99s) * 1000,
                }
                runs = ", ".join(f"{v:.2f}" for v in seconds[name])
                print(
                    f"{name:9s} cat {mb:.1f} MB: median {med:.2f} s ({runs}) = {mb / med:.1f} MB/s"
                )
        bare, tun = results["bare pty"], results["tunnel"]
        print()
        print(f"{'':9s} {'MB/s':>8s} {'echo p50 ms':>12s} {'echo p99 ms':>12s}")
        for name in ("bare pty", "tunnel"):
            r = results[name]
            print(f"{name:9s} {r['mbps']:8.1f} {r['p50']:12.3f} {r['p99']:12.3f}")
        print(
            f"{'ratio':9s} {tun['mbps'] / bare['mbps']:8.2f} {tun['p50'] / bare['p50']:12.1f}"
            f" {tun['p99'] / bare['p99']:12.1f}   (tunnel / bare pty)"
        )
        print(f"tunnel {cpu_note}")
        print(f"\n{args.runs} runs each; echo: {args.keys} keystrokes a run; medians of runs.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=20, help="size of the text file (20)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (3)")
    parser.add_argument("--keys", type=int, default=200, help="keystrokes per echo run (200)")
    asyncio.run(main(parser.parse_args()))
