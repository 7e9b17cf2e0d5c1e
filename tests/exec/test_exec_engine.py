"""exec_command end to end: local platform (REST, MQTT, relay) + real pty agents."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.agent.helpers import children_of, wait_exit
from tests.exec.rig import OFFLINE_DEVICE, TIMEOUT, ExecRig, exec_rig
from tests.support.tls import client_context, make_certificate
from tui.session.exec import ExecLogin, ExecResult, exec_command
from tui.session.exec_marker import MARKER_PREFIX

DEVICE = "boiler_0001"


async def run(rig: ExecRig, argv: list[str], **kwargs: object) -> ExecResult:
    options: dict[str, object] = {"timeout": TIMEOUT, "token_store": rig.store}
    options.update(kwargs)
    device = str(options.pop("device", DEVICE))
    login = options.pop("login", rig.login)
    return await exec_command(rig.client, device, argv, login, **options)  # type: ignore[arg-type]


async def test_exit_status_and_output_pass_through(relay_mode: str) -> None:
    async with exec_rig(relay_mode=relay_mode) as rig:
        result = await run(rig, ["sh", "-c", "echo out; echo err >&2; exit 7"])
        assert (result.status, result.exit_code) == ("failed", 7), result
        assert result.output == b"out\nerr\n"
        ok = await run(rig, ["true"])
        assert (ok.status, ok.exit_code, ok.output) == ("ok", 0, b"")
        top = await run(rig, ["sh", "-c", "exit 255"])
        assert (top.status, top.exit_code) == ("failed", 255)
        # `exit` ends the command, not the login shell the markers come from
        builtin = await run(rig, ["exit", "3"])
        assert (builtin.status, builtin.exit_code) == ("failed", 3)
        assert rig.tunnels() == []


@pytest.mark.parametrize(
    "payload",
    [
        b"no final newline",
        b"two\nlines\n\n",
        b"crlf stays\r\nas written\r\n",
        f"{MARKER_PREFIX} and {MARKER_PREFIX}0123_E5_ look like markers".encode(),
        "ünïcode ✓ 漢字\ttab".encode(),
        b"",
    ],
)
async def test_output_is_byte_exact(payload: bytes) -> None:
    async with exec_rig() as rig:
        streamed: list[bytes] = []
        # printf's %b turns the escapes back into the exact bytes on the device
        escaped = "".join(f"\\{byte:03o}" for byte in payload)
        result = await run(rig, ["printf", "%b", escaped], on_output=streamed.append)
        assert result.status == "ok", result
        assert result.output == payload
        assert b"".join(streamed) == payload


async def test_large_output_streams_in_order() -> None:
    async with exec_rig() as rig:
        streamed: list[bytes] = []
        result = await run(rig, ["seq", "1", "20000"], on_output=streamed.append)
        expected = "".join(f"{n}\n" for n in range(1, 20001)).encode()
        assert result.output == expected
        assert b"".join(streamed) == expected
        assert len(streamed) > 1  # it came as it was produced, not all at the end


async def test_argv_is_quoted_for_the_remote_shell() -> None:
    async with exec_rig() as rig:
        literal = await run(rig, ["echo", "$HOME", "a;b", "`id`", "*"])
        assert literal.output == b"$HOME a;b `id` *\n"
        pipeline = await run(rig, ["sh", "-c", "echo one two | wc -w"])
        assert pipeline.output.strip() == b"2"
        quotes = await run(rig, ["printf", "%s|", "it's", 'say "hi"', ""])
        assert quotes.output == b'it\'s|say "hi"||'


async def test_command_reading_stdin_gets_end_of_file() -> None:
    async with exec_rig() as rig:
        result = await run(rig, ["cat"])
        assert (result.status, result.output) == ("ok", b"")


async def test_timeout_ends_cleanly(relay_mode: str) -> None:
    async with exec_rig(relay_mode=relay_mode) as rig:
        before = set(children_of(os.getpid()))
        result = await run(rig, ["sh", "-c", "echo started; sleep 300"], timeout=6.0)
        assert result.status == "timeout" and result.exit_code is None
        assert result.output == b"started\n"
        assert rig.tunnels() == []  # the tunnel it created is deleted again
        for pid in set(children_of(os.getpid())) - before:
            await wait_exit(pid, TIMEOUT)  # the shell and its sleep end with the tunnel


async def test_offline_and_wrong_password(relay_mode: str) -> None:
    async with exec_rig(relay_mode=relay_mode) as rig:
        offline = await run(rig, ["true"], device=OFFLINE_DEVICE)
        assert offline.status == "offline" and offline.exit_code is None
        assert offline.tunnel_id is None
        wrong = ExecLogin(rig.login.username, "not-the-password")
        failed = await run(rig, ["true"], login=wrong)
        assert failed.status == "login_failed", failed
        assert "not-the-password" not in repr(failed) + repr(wrong)
        assert rig.tunnels() == []


async def test_unknown_device_is_an_error_with_the_platform_message() -> None:
    async with exec_rig() as rig:
        result = await run(rig, ["true"], device="no_such_device")
        assert result.status == "error"
        assert result.error and "HTTP 404" in result.error


async def test_device_lost_midway_is_an_error_not_a_timeout() -> None:
    async with exec_rig() as rig:
        started = asyncio.Event()
        task = asyncio.create_task(
            run(
                rig,
                ["sh", "-c", "echo started; sleep 300"],
                on_output=lambda data: started.set(),
                timeout=TIMEOUT,
            )
        )
        await asyncio.wait_for(started.wait(), TIMEOUT)
        await rig.fleet.set_online(DEVICE, False)
        result = await asyncio.wait_for(task, TIMEOUT)
        assert result.status == "error", result
        assert result.error and "disconnected" in result.error
        assert result.output.startswith(b"started\n")  # (the shell may add "Hangup")
        assert rig.tunnels() == []


async def test_over_tls_with_the_platforms_ca(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    async with exec_rig(tls=(cert, key)) as rig:
        assert rig.platform.endpoints.ws.startswith("wss://")
        result = await run(rig, ["echo", "over wss"], ssl_context=client_context(cert))
        assert (result.status, result.output) == ("ok", b"over wss\n")
