"""Chaos (issue 12 §3): a swarm of unauthenticated MQTT clients against a real platform
process. Each declares a 1 MB CONNECT and sends it, or says nothing; the platform's memory
grows by a bounded amount, and a real device still logs in once the swarm is gone.

The old gateway read every declared CONNECT in full before authenticating: 1,000 such
clients took it from 40 MB to 1.1 GB.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.device import mqtt_device
from tests.support.platform_process import platform_process

SWARM = 200
DECLARED = 1024 * 1024  # the largest packet MQTT 3.1.1 lets a client declare is 256 MB
GROWTH_LIMIT_KB = 64 * 1024  # the old gateway would hold SWARM x 1 MB = 200 MB here


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


async def _swarm_client(port: int, payload: bytes, opened: asyncio.Queue) -> None:
    """One attacker: connect, send a CONNECT header declaring 1 MB, then the megabyte."""
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        await opened.put(None)
        return
    await opened.put(writer)
    with contextlib.suppress(OSError):
        writer.write(bytes([0x10]) + _remaining_length(DECLARED))
        writer.write(payload)
        await writer.drain()


async def test_an_unauthenticated_swarm_costs_bounded_memory(tmp_path):
    async with platform_process(tmp_path) as proc:
        port = proc.mqtt.mqtt_port
        before = proc.rss_kb()
        payload = b"\x00" * DECLARED
        opened: asyncio.Queue = asyncio.Queue()
        tasks = [asyncio.create_task(_swarm_client(port, payload, opened)) for _ in range(SWARM)]
        writers = [await asyncio.wait_for(opened.get(), 60) for _ in range(SWARM)]
        await asyncio.wait(tasks, timeout=30)  # every attacker sent what it could
        peak = proc.rss_kb()
        for writer in writers:
            if writer is not None:
                writer.transport.abort()
        for task in tasks:
            task.cancel()
        assert peak - before < GROWTH_LIMIT_KB, (before, peak)
        # the gateway still serves devices
        async with mqtt_device(proc.mqtt, "boiler_0001"):
            pass
        code, err = await proc.stop(30)
        assert code == 0 and b"Traceback" not in err
