"""Which tunnel an exec uses, and how it leaves it (real platform and agents)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from tests.exec.rig import TIMEOUT, ExecRig, exec_rig
from tui.session.exec import exec_command
from tui.session.session import TunnelSession
from tui.session.tokens import StoredTunnel

DEVICE = "boiler_0002"


async def hold_tunnel(rig: ExecRig) -> StoredTunnel:
    """A tunnel this client created and keeps (as `iotunnel tunnels create` does)."""
    started = time.time()
    created = await rig.client.create_tunnel(DEVICE)
    stored = StoredTunnel.from_created(
        rig.client.endpoint, rig.client.project_id, DEVICE, created, now=started
    )
    rig.store.put(stored)
    return stored


def status_of(rig: ExecRig, tunnel_id: str) -> str | None:
    assert rig.platform.platform.store is not None
    tunnel = rig.platform.platform.store.get_tunnel(tunnel_id)
    return None if tunnel is None else str(tunnel.status)


async def test_reuses_a_held_open_tunnel_and_leaves_it_open() -> None:
    async with exec_rig() as rig:
        held = await hold_tunnel(rig)
        result = await exec_command(
            rig.client, DEVICE, ["echo", "hi"], rig.login, timeout=TIMEOUT, token_store=rig.store
        )
        assert (result.status, result.tunnel_id) == ("ok", held.tunnel_id)
        assert status_of(rig, held.tunnel_id) == "OPEN"
        assert rig.store.get(held.endpoint, held.project_id, held.tunnel_id) == held


async def test_reused_closed_tunnel_is_closed_again() -> None:
    async with exec_rig() as rig:
        held = await hold_tunnel(rig)
        # closed once the device side is there (else its late connect re-opens it)
        await rig.platform.wait_tunnel(held.tunnel_id, device="CONNECTED")
        await rig.client.close_tunnel(held.tunnel_id)
        await rig.platform.wait_tunnel(held.tunnel_id, status="CLOSED")
        result = await exec_command(
            rig.client, DEVICE, ["true"], rig.login, timeout=TIMEOUT, token_store=rig.store
        )
        assert (result.status, result.tunnel_id) == ("ok", held.tunnel_id)
        assert status_of(rig, held.tunnel_id) == "CLOSED"


async def test_a_foreign_tunnel_is_not_touched() -> None:
    async with exec_rig() as rig:
        foreign = await rig.client.create_tunnel(DEVICE)  # no token stored here
        result = await exec_command(
            rig.client, DEVICE, ["true"], rig.login, timeout=TIMEOUT, token_store=rig.store
        )
        assert result.status == "error"
        assert result.error and "no token" in result.error
        assert status_of(rig, foreign.tunnel_id) == "OPEN"


async def test_a_tunnel_with_a_live_session_is_not_taken_over() -> None:
    async with exec_rig() as rig:
        held = await hold_tunnel(rig)
        live = TunnelSession(held.tunnel_uri, held.token, on_event=lambda event: None)
        task = asyncio.create_task(live.run())
        try:
            await rig.platform.wait_tunnel(held.tunnel_id, source="CONNECTED")
            result = await exec_command(
                rig.client, DEVICE, ["true"], rig.login, timeout=TIMEOUT, token_store=rig.store
            )
            assert result.status == "error"
            assert result.error and "live session" in result.error
            assert live.state != "ended"
        finally:
            await live.close()
            await asyncio.wait_for(task, TIMEOUT)


async def test_our_tunnel_with_an_expired_token_is_replaced() -> None:
    async with exec_rig() as rig:
        held = await hold_tunnel(rig)
        rig.store.put(dataclasses.replace(held, expires_at=time.time() - 1))  # ran out
        result = await exec_command(
            rig.client, DEVICE, ["true"], rig.login, timeout=TIMEOUT, token_store=rig.store
        )
        assert result.status == "ok", result
        assert result.tunnel_id != held.tunnel_id
        assert status_of(rig, held.tunnel_id) is None  # the old one was deleted
        assert rig.tunnels() == []  # and the new one after the exec
