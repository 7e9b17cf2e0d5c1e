"""Keystroke echo latency through `TunnelSession` (send_input → Output event).

Three set-ups, all on 127.0.0.1, each measured over several runs (median of the runs'
p50 and p99 is printed):
  baseline  a bare `websockets` client against an echo server (send → recv)
  session   TunnelSession against the same echo server: the session's own overhead
  e2e       TunnelSession → local platform relay → agent (pty backend, `cat` echoing in
            the pty): what a user feels. Target: p99 ≤ 16 ms.

    python bench/session_echo.py [--runs 5] [--keys 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import string
import time
from collections.abc import AsyncIterator

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from tui.agent.agent import Agent
from tui.agent.config import AgentConfig, MqttEndpoint
from tui.iotda.auth import AkSkAuth
from tui.iotda.client import IoTDAClient
from tui.iotda.frames import Op, TunnelFrame, command_frame, decode_frame
from tui.platform.config import Credential, PlatformConfig, Seed, SeedDevice
from tui.platform.server import Platform
from tui.session import DeviceReady, LoginAccepted, Output, SessionEvent, TunnelSession

KEYS = string.ascii_lowercase
USER, PASSWORD = "bench", "bench-password"


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[str]:
    """Plays platform + device: connect_tunnel at once, connect_response, command echo."""

    async def handler(ws: ServerConnection) -> None:
        await ws.send(TunnelFrame(Op.CONNECT_TUNNEL, "r" * 36).encode())
        async for message in ws:
            frame = decode_frame(message)
            if frame.operation_type == Op.CONNECT:
                await ws.send(TunnelFrame(Op.CONNECT_RESPONSE, frame.request_id).encode())
            elif frame.operation_type == Op.COMMAND:
                reply = TunnelFrame(Op.COMMAND_RESPONSE, frame.request_id, frame.data)
                await ws.send(reply.encode())

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v5/iot/tunnels/b/source-connect"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bare_echo(uri: str, keys: int) -> list[float]:
    samples = []
    async with connect(
        uri, compression=None, additional_headers={"tunnel_access_token": "t"}
    ) as ws:
        await ws.recv()  # connect_tunnel
        for i in range(keys):
            started = time.perf_counter()
            await ws.send(command_frame(KEYS[i % len(KEYS)]).encode())
            await ws.recv()
            samples.append(time.perf_counter() - started)
    return samples


class Typist:
    """Owns a TunnelSession; times each key from send_input to the next Output."""

    def __init__(self, uri: str, token: str) -> None:
        self.output = asyncio.Event()
        self.ready = asyncio.Event()
        self.seen = ""
        self.session = TunnelSession(uri, token, on_event=self.on_event)

    def on_event(self, event: SessionEvent) -> None:
        if isinstance(event, Output):
            self.seen += event.text
            self.output.set()
        elif isinstance(event, DeviceReady):
            self.session.login(USER, PASSWORD)
        elif isinstance(event, LoginAccepted):
            self.ready.set()

    async def wait_for_text(self, text: str) -> None:
        async with asyncio.timeout(20):
            while text not in self.seen:
                self.output.clear()
                await self.output.wait()

    async def type_keys(self, keys: int) -> list[float]:
        samples = []
        for i in range(keys):
            if i and i % 60 == 0:  # keep the pty's line short
                self.output.clear()
                self.session.send_input("\r")
                await asyncio.wait_for(self.output.wait(), 20)
            self.output.clear()
            started = time.perf_counter()
            self.session.send_input(KEYS[i % len(KEYS)])
            await asyncio.wait_for(self.output.wait(), 20)
            samples.append(time.perf_counter() - started)
        return samples


async def session_echo(uri: str, token: str, keys: int, *, shell: bool) -> list[float]:
    typist = Typist(uri, token)
    task = asyncio.create_task(typist.session.run())
    try:
        await asyncio.wait_for(typist.ready.wait(), 20)
        if shell:  # `cat` echoes every key through the tty line discipline
            typist.session.send_input("stty -icanon; exec cat\r")
            await typist.wait_for_text("exec cat\r\n")
            typist.seen = ""
        return await typist.type_keys(keys)
    finally:
        await typist.session.close()
        await task


@contextlib.asynccontextmanager
async def platform_with_agent() -> AsyncIterator[tuple[str, str]]:
    device = SeedDevice("bench_0001", "0001", "bench", "bench-secret")
    seed = Seed(
        "bench-project",
        "cn-north-4",
        credentials=(Credential("AKBENCH", "SKBENCH"),),
        devices=(device,),
    )
    platform = Platform(PlatformConfig(seed=seed))
    endpoints = await platform.start()
    agent = None
    try:
        assert endpoints.mqtt is not None, "the platform has no MQTT gateway"
        agent = Agent(
            AgentConfig(
                device_id=device.device_id,
                secret=device.secret,
                mqtt=MqttEndpoint.parse(endpoints.mqtt),
                backend="pty",
                login_user=USER,
                login_password=PASSWORD,
            )
        )
        await agent.set_online(True)
        assert agent.mqtt is not None
        await asyncio.wait_for(agent.mqtt.connected.wait(), 20)
        auth = AkSkAuth("AKBENCH", "SKBENCH", region="cn-north-4")
        async with IoTDAClient(endpoints.rest, seed.project_id, auth) as client:
            created = await client.create_tunnel(device.device_id)
        yield created.tunnel_uri, created.tunnel_access_token
    finally:
        if agent is not None:
            await agent.stop()
        await platform.stop()


async def main(runs: int, keys: int) -> None:
    results: dict[str, list[tuple[float, float]]] = {"baseline": [], "session": [], "e2e": []}
    async with echo_server() as uri:
        for _ in range(runs):
            for name, job in (
                ("baseline", bare_echo(uri, keys)),
                ("session", session_echo(uri, "t", keys, shell=False)),
            ):
                samples = await job
                results[name].append((percentile(samples, 0.5), percentile(samples, 0.99)))
    async with platform_with_agent() as (uri, token):
        for _ in range(runs):
            samples = await session_echo(uri, token, keys, shell=True)
            results["e2e"].append((percentile(samples, 0.5), percentile(samples, 0.99)))
    base50 = statistics.median(r[0] for r in results["baseline"])
    base99 = statistics.median(r[1] for r in results["baseline"])
    print(f"keystroke echo, {runs} runs x {keys} keys, medians of per-run percentiles")
    for name, rows in results.items():
        p50 = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        print(
            f"  {name:<9} p50 {p50 * 1000:7.3f} ms  p99 {p99 * 1000:7.3f} ms"
            f"   ratio vs baseline: p50 x{p50 / base50:5.2f}  p99 x{p99 / base99:5.2f}"
        )
    e2e99 = statistics.median(r[1] for r in results["e2e"])
    print(f"  e2e p99 target 16 ms: {'met' if e2e99 <= 0.016 else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=300)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(options.runs, options.keys))
