"""Issue 12 §3 and §7 on the MQTT side: before a client has logged in it gets little, and
a password guesser is refused; a CONNECT whose ONLINE cannot be recorded is refused."""

from __future__ import annotations

import asyncio

from mqtt_gateway_support import SECRETS, RawClient, Recorder, credentials, start_gateway

from tui.platform.mqtt import DeviceGateway
from tui.platform.mqtt.codec import ConnackCode
from tui.platform.ratelimit import RateLimit, SourceBuckets

PROMPT = 5.0  # hang guard: the old gateway waited 10 s for a declared 1 MB CONNECT


async def test_an_oversized_connect_is_refused_before_it_is_read(live) -> None:
    client = await RawClient.open(live.port)
    # CONNECT with a remaining length of 100 KB (0x80 0x8d 0x06), and not one byte of it
    await client.send(bytes([0x10, 0x80, 0x8D, 0x06]))
    async with asyncio.timeout(PROMPT):
        assert await client.wait_closed() == b""
    await client.close()


async def test_unauthenticated_connections_are_capped() -> None:
    live = await start_gateway(max_pending=3, connect_timeout=60.0)
    try:
        silent = [await RawClient.open(live.port) for _ in range(3)]
        extra = await RawClient.open(live.port)
        async with asyncio.timeout(PROMPT):
            assert await extra.wait_closed() == b""
        for client in silent:
            await client.close()
        # once they are gone, a device logs in as usual
        device = await RawClient.open(live.port)
        ack = await device.connect(credentials("prod_dev1", SECRETS["prod_dev1"]))
        assert ack.code == ConnackCode.ACCEPTED
        await device.close()
    finally:
        await live.gateway.stop()


async def test_password_guessing_is_refused_per_source() -> None:
    guesses = SourceBuckets(RateLimit(rate=0.01, burst=3))
    live = await start_gateway(auth_failures=guesses)
    try:
        codes = []
        for n in range(4):
            client = await RawClient.open(live.port)
            codes.append((await client.connect(credentials("prod_dev1", f"guess-{n}"))).code)
            await client.close()
        assert codes == [ConnackCode.BAD_CREDENTIALS] * 3 + [ConnackCode.SERVER_UNAVAILABLE]
        # the right secret from the guessing address gets the same refusal, and no session
        client = await RawClient.open(live.port)
        ack = await client.connect(credentials("prod_dev1", SECRETS["prod_dev1"]))
        assert ack.code == ConnackCode.SERVER_UNAVAILABLE
        await client.close()
        assert live.recorder.status == []
    finally:
        await live.gateway.stop()


async def test_a_connect_whose_online_cannot_be_recorded_is_refused() -> None:
    recorder = Recorder()

    def failing_store(device_id: str, online: bool) -> None:
        raise OSError(28, "No space left on device")

    gateway = DeviceGateway(SECRETS.get, failing_store, recorder.on_uplink)
    port = await gateway.start()
    try:
        client = await RawClient.open(port)
        ack = await client.connect(credentials("prod_dev1", SECRETS["prod_dev1"], hour=_hour()))
        assert ack.code == ConnackCode.SERVER_UNAVAILABLE
        assert not gateway.is_online("prod_dev1")
        await client.close()
    finally:
        await gateway.stop()


def _hour() -> str:
    from datetime import UTC, datetime

    from tui.iotda.mqtt import hour_stamp

    return hour_stamp(datetime.now(UTC))
