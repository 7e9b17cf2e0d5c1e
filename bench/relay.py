"""Relay benchmark: the platform's tunnel relay against a bare `websockets` relay.

Prints, in one run: throughput (MB/s) of IoTDA-shaped frames (JSON text, 2 KB of data
each) device → app through one tunnel, echo round trip (p50, p99) of a keystroke, the
same through a bare `websockets` relay as the baseline and the ratios; then 200 tunnels
streaming at once through the platform (errors, aggregate MB/s) and the peak RSS.
Every figure is the median of several runs. Everything runs on 127.0.0.1.

    python bench/relay.py [--runs 5] [--frames 4000] [--tunnels 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from tui.iotda.auth import AkSkAuth
from tui.iotda.client import IoTDAClient
from tui.iotda.frames import TOKEN_HEADER, Op, TunnelFrame, command_frame, new_request_id
from tui.iotda.mqtt import TunnelNotify, client_id, hour_stamp, mqtt_password
from tui.platform.config import Credential, PlatformConfig, Seed, SeedDevice
from tui.platform.mqtt.codec import Connect, Publish, encode, read_packet
from tui.platform.server import Platform

DATA = "x" * 2048
FRAME = TunnelFrame(Op.COMMAND_RESPONSE, new_request_id(), DATA).encode()
# the echo of a keystroke: a small, whole frame (the platform drops frames that are not JSON)
ECHO = TunnelFrame(Op.COMMAND_RESPONSE, new_request_id(), "l").encode()


# --- the two relays ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def bare_relay() -> AsyncIterator[str]:
    """A minimal verbatim relay: /{id}/source and /{id}/device are paired by id."""
    sides: dict[str, dict[str, ServerConnection]] = {}

    async def handler(ws: ServerConnection) -> None:
        _, tunnel, side = ws.request.path.split("/")
        pair = sides.setdefault(tunnel, {})
        pair[side] = ws
        other = "device" if side == "source" else "source"
        async for message in ws:
            peer = pair.get(other)
            if peer is not None:
                await peer.send(message)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=10 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def _link(uri: str, token: str | None = None) -> ClientConnection:
    headers = {TOKEN_HEADER: token} if token else None
    return await connect(uri, additional_headers=headers, compression=None, max_size=None)


class PlatformBench:
    """The platform with N online devices (real MQTT logins) and a tunnel factory."""

    def __init__(self, n_devices: int) -> None:
        devices = tuple(
            SeedDevice(f"bench_{i:04d}", f"{i:04d}", "bench", f"secret-{i}")
            for i in range(n_devices)
        )
        self.seed = Seed(
            "bench", "cn-north-4", "standard", (Credential("AKB", "SKB"),), (), devices
        )
        self.platform = Platform(PlatformConfig(seed=self.seed))
        self.notices: dict[str, asyncio.Queue[TunnelNotify]] = {}
        self._mqtt: list[asyncio.StreamWriter] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> PlatformBench:
        self.endpoints = await self.platform.start()
        host, port = self.endpoints.mqtt.removeprefix("mqtt://").split(":")
        hour = hour_stamp(datetime.now(UTC))
        for device in self.seed.devices:
            reader, writer = await asyncio.open_connection(host, int(port))
            password = mqtt_password(device.secret, hour).encode()
            cid = client_id(device.device_id, hour)
            writer.write(encode(Connect("MQTT", 4, cid, 300, True, device.device_id, password)))
            await read_packet(reader)
            queue: asyncio.Queue[TunnelNotify] = asyncio.Queue()
            self.notices[device.device_id] = queue
            self._mqtt.append(writer)
            self._tasks.append(asyncio.create_task(self._listen(reader, queue)))
        self.client = IoTDAClient(
            self.endpoints.rest, "bench", AkSkAuth("AKB", "SKB", region="cn-north-4")
        )
        return self

    @staticmethod
    async def _listen(reader: asyncio.StreamReader, queue: asyncio.Queue[TunnelNotify]) -> None:
        with contextlib.suppress(Exception):
            while True:
                packet = await read_packet(reader)
                if isinstance(packet, Publish):
                    for notice in TunnelNotify.find_in(packet.payload):
                        queue.put_nowait(notice)

    async def tunnel(self, index: int) -> tuple[ClientConnection, ClientConnection]:
        device_id = self.seed.devices[index].device_id
        for old in await self.client.list_tunnels(device_id):
            await self.client.close_tunnel(old.tunnel_id)
            await self.client.delete_tunnel(old.tunnel_id)
        created = await self.client.create_tunnel(device_id)
        notice = await asyncio.wait_for(self.notices[device_id].get(), 30)
        app = await _link(created.tunnel_uri, created.tunnel_access_token)
        device = await _link(notice.tunnel_uri, notice.tunnel_access_token)
        await app.recv()  # connect_tunnel
        return app, device

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        for task in self._tasks:
            task.cancel()
        for writer in self._mqtt:
            writer.close()
        await self.platform.stop()


# --- measurements ------------------------------------------------------------------------


async def stream(app: ClientConnection, device: ClientConnection, frames: int) -> float:
    """Device → app, `frames` frames of 2 KB; returns MB/s of frame bytes."""

    async def send() -> None:
        for _ in range(frames):
            await device.send(FRAME)

    async def receive() -> None:
        for _ in range(frames):
            await app.recv()

    start = time.perf_counter()
    await asyncio.gather(send(), receive())
    return frames * len(FRAME) / (time.perf_counter() - start) / 1e6


async def echo(app: ClientConnection, device: ClientConnection, rounds: int) -> list[float]:
    """Keystroke round trips app → device → app, in milliseconds."""

    async def echo_device() -> None:
        for _ in range(rounds):
            await app_bound.put(await device.recv())
            await device.send(ECHO)

    app_bound: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(echo_device())
    times = []
    key = command_frame("l").encode()
    for _ in range(rounds):
        start = time.perf_counter()
        await app.send(key)
        await app.recv()
        times.append((time.perf_counter() - start) * 1000)
    await task
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    app: ClientConnection, device: ClientConnection, args
) -> tuple[float, float, float]:
    rates, p50s, p99s = [], [], []
    for _ in range(args.runs):
        rates.append(await stream(app, device, args.frames))
        rtts = await echo(app, device, args.rounds)
        p50s.append(_p(rtts, 0.50))
        p99s.append(_p(rtts, 0.99))
    return statistics.median(rates), statistics.median(p50s), statistics.median(p99s)


async def many_tunnels(bench: PlatformBench, count: int, frames: int) -> tuple[int, float]:
    links = [await bench.tunnel(i) for i in range(count)]
    errors = 0

    async def one(app: ClientConnection, device: ClientConnection) -> None:
        nonlocal errors
        try:
            await asyncio.wait_for(stream(app, device, frames), 120)
        except Exception:
            errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(one(app, device) for app, device in links))
    rate = count * frames * len(FRAME) / (time.perf_counter() - start) / 1e6
    for app, device in links:
        await app.close()
        await device.close()
    return errors, rate


async def main(args: argparse.Namespace) -> None:
    async with bare_relay() as base:
        app = await _link(f"{base}/t1/source")
        device = await _link(f"{base}/t1/device")
        bare = await measure(app, device, args)
        await app.close()
        await device.close()
    async with PlatformBench(max(1, args.tunnels)) as bench:
        app, device = await bench.tunnel(0)
        relay = await measure(app, device, args)
        await app.close()
        await device.close()
        errors, aggregate = await many_tunnels(bench, args.tunnels, args.frames_each)
    print(f"frame: {len(FRAME)} bytes of JSON text (2048 data bytes); median of {args.runs} runs")
    print(f"{'':24}{'MB/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'bare websockets relay':24}{bare[0]:10.1f}{bare[1]:10.3f}{bare[2]:10.3f}")
    print(f"{'platform relay':24}{relay[0]:10.1f}{relay[1]:10.3f}{relay[2]:10.3f}")
    print(f"throughput ratio platform/bare: {relay[0] / bare[0]:.2f} (target >= 0.70)")
    print(f"p50 round-trip ratio platform/bare: {relay[1] / bare[1]:.2f}")
    print(
        f"{args.tunnels} tunnels streaming at once ({args.frames_each} frames each): "
        f"{errors} errors, {aggregate:.1f} MB/s aggregate"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (bench + platform in one process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=4000, help="frames per throughput run")
    parser.add_argument("--rounds", type=int, default=500, help="round trips per echo run")
    parser.add_argument("--tunnels", type=int, default=200)
    parser.add_argument("--frames-each", type=int, default=200, help="frames per tunnel")
    asyncio.run(main(parser.parse_args()))
