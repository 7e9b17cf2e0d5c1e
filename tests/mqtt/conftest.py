"""The `live` fixture: a DeviceGateway on 127.0.0.1 with a small fleet, stopped after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mqtt_gateway_support import LiveGateway, start_gateway


@pytest.fixture
async def live() -> AsyncIterator[LiveGateway]:
    running = await start_gateway()
    try:
        yield running
    finally:
        await running.gateway.stop()
