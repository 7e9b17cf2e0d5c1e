"""The dashboard's sessions follow the profile's `extensions` key (contract 3)."""

from __future__ import annotations

import pytest

from tests.support.platform import running_platform
from tui.app.config import AppConfig, Profile
from tui.app.factory import make_app


def _session(client: object, extensions: bool | None):  # -> TunnelSession
    profile = Profile("lab", "http://127.0.0.1:9", "p", extensions=extensions)
    config = AppConfig(profiles={"lab": profile}, refresh_interval=3600.0)
    app = make_app(client=client, config=config, profile_name="lab")  # type: ignore[arg-type]
    return app.session_factory(
        "ws://127.0.0.1:9/v5/iot/tunnels/t/source-connect",
        "token",
        on_event=lambda event: None,
        expires_at=None,
        device_id="boiler_0001",
    )


@pytest.mark.parametrize(("key", "allowed"), [(None, True), (True, True), (False, False)])
async def test_the_profile_key_decides_with_the_platform_header(
    key: bool | None, allowed: bool
) -> None:
    async with running_platform() as p, p.client() as client:
        await client.list_tunnels()  # the local platform says who it is on every answer
        assert client.platform_is_iotunnel is True
        assert _session(client, key).extensions_allowed is allowed


async def test_auto_is_off_before_the_platform_said_anything() -> None:
    async with running_platform() as p, p.client() as client:
        assert _session(client, None).extensions_allowed is False
