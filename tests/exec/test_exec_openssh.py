"""exec through an agent whose shell is an OpenSSH login (as a C-SDK device's is): the
markers must work in a plain /bin/sh login behind sshd, with its banner and prompt."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests.exec.rig import TIMEOUT, ExecRig, exec_rig
from tests.support.agent import agent_config
from tests.support.openssh import PasswordUser, password_user, running_sshd
from tui.agent.agent import Agent
from tui.session.exec import ExecLogin, exec_command

DEVICE = "pump_0002"  # offline in the pty fleet: here it is the ssh agent's device


@contextlib.asynccontextmanager
async def ssh_device(
    tmp_path: Path, relay_mode: str = "iotunnel"
) -> AsyncIterator[tuple[ExecRig, PasswordUser]]:
    user = password_user()
    with running_sshd(tmp_path, password_users=[user.name]) as sshd:
        async with exec_rig(relay_mode=relay_mode) as rig:
            config = agent_config(
                rig.platform.endpoints.mqtt or "",
                rig.platform.secrets[DEVICE],
                DEVICE,
                backend="ssh",
                ssh_host="127.0.0.1",
                ssh_port=sshd.port,
            )
            # not tests.support.agent.running_agent: sshd is a child of this process too
            agent = Agent(config)
            await agent.set_online(True)
            try:
                await rig.platform.wait_device(DEVICE, "ONLINE")
                yield rig, user
            finally:
                await agent.stop()


async def test_exec_over_an_openssh_login_shell(tmp_path: Path, relay_mode: str) -> None:
    async with ssh_device(tmp_path, relay_mode) as (rig, user):
        login = ExecLogin(user.name, user.password)

        async def run(argv: list[str]):
            return await exec_command(
                rig.client, DEVICE, argv, login, timeout=TIMEOUT, token_store=rig.store
            )

        status = await run(["sh", "-c", "printf 'no newline'; exit 42"])
        assert (status.status, status.exit_code, status.output) == ("failed", 42, b"no newline")
        who = await run(["id", "-un"])
        assert (who.status, who.output) == ("ok", f"{user.name}\n".encode())
        quoted = await run(["echo", "$HOME", "|", "x"])
        assert quoted.output == b"$HOME | x\n"
        assert rig.tunnels() == []


async def test_wrong_password_over_openssh_is_login_failed(tmp_path: Path) -> None:
    async with ssh_device(tmp_path) as (rig, user):
        result = await exec_command(
            rig.client,
            DEVICE,
            ["true"],
            ExecLogin(user.name, "wrong-" + user.password),
            timeout=TIMEOUT,
            token_store=rig.store,
        )
        assert result.status == "login_failed", result
        assert user.password not in repr(result)
