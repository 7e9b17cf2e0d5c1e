"""The dashboard's sessions follow the profile's `extensions` key (contract 3)."""

from __future__ import annotations

import time

import pytest

from tests.support.platform import running_platform
from tui.app.factory import default_session_factory


@pytest.mark.parametrize(("key", "allowed"), [(None, True), (True, True), (False, False)])
async def test_the_profile_key_decides_with_the_platform_header(
    key: bool | None, allowed: bool
) -> None:
    async with running_platform() as p, p.client() as client:
        await client.list_tunnels()  # the local platform says who it is on every answer
        assert client.platform_is_iotunnel is True
        make = default_session_factory(time.time, client=client, allow_extensions=key)
        session = make(
            "ws://127.0.0.1:9/v5/iot/tunnels/t/source-connect",
            "token",
            on_event=lambda event: None,
            expires_at=None,
            device_id="boiler_0001",
        )
        assert session.extensions_allowed is allowed


async def test_auto_is_off_before_the_platform_said_anything() -> None:
    async with running_platform() as p, p.client() as client:
        make = default_session_factory(time.time, client=client)
        session = make(
            "ws://127.0.0.1:9/x", "token", on_event=lambda e: None, expires_at=None, device_id="d"
        )
        assert session.extensions_allowed is False
