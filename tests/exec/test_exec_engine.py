"""exec_command end to end: local platform (REST, MQTT, relay) + real pty agents."""

from __future__ import annotations

import asyncio

from tests.exec.rig import OFFLINE_DEVICE, TIMEOUT, exec_rig
from tui.session.exec import ExecLogin, exec_command

DEVICE = "boiler_0001"


async def test_exit_status_and_output_pass_through() -> None:
    async with exec_rig() as rig:
        result = await exec_command(
            rig.client,
            DEVICE,
            ["sh", "-c", "echo out; echo err >&2; exit 7"],
            rig.login,
            timeout=TIMEOUT,
            token_store=rig.store,
        )
        assert (result.status, result.exit_code) == ("failed", 7), result
        assert result.output == b"out\nerr\n"
        ok = await exec_command(
            rig.client, DEVICE, ["true"], rig.login, timeout=TIMEOUT, token_store=rig.store
        )
        assert (ok.status, ok.exit_code, ok.output) == ("ok", 0, b"")


async def test_offline_and_wrong_password() -> None:
    async with exec_rig() as rig:
        offline = await exec_command(
            rig.client, OFFLINE_DEVICE, ["true"], rig.login, timeout=TIMEOUT, token_store=rig.store
        )
        assert offline.status == "offline" and offline.exit_code is None
        wrong = ExecLogin(rig.login.username, "not-the-password")
        failed = await exec_command(
            rig.client, DEVICE, ["true"], wrong, timeout=TIMEOUT, token_store=rig.store
        )
        assert failed.status == "login_failed", failed
        await asyncio.sleep(0)
        assert rig.tunnels() == []
