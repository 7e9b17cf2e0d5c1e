"""`iotunnel exec` and `iotunnel audit` as a user runs them: a separate process against
the local platform and a fleet of real pty agents."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal

import pytest

from tests.exec.cli import cli_argv, cli_env, run_cli, start_cli
from tests.exec.rig import OFFLINE_DEVICE, TIMEOUT, exec_rig

DEVICE = "boiler_0001"


async def test_one_device_streams_output_and_passes_the_exit_status() -> None:
    async with exec_rig() as rig:
        ran = await run_cli(rig, "exec", DEVICE, "--", "sh", "-c", "printf 'a|b'; exit 3")
        assert (ran.returncode, ran.stdout) == (3, b"a|b"), ran.stderr
        literal = await run_cli(rig, "exec", DEVICE, "--", "echo", "$HOME", "--json")
        assert (literal.returncode, literal.stdout) == (0, b"$HOME --json\n")
        pipeline = await run_cli(
            rig, "exec", "--json", DEVICE, "--", "sh", "-c", "echo x y | wc -w"
        )
        body = json.loads(pipeline.stdout)
        assert pipeline.returncode == 0
        assert body["status"] == "ok" and body["exit_code"] == 0
        assert body["output"].strip() == "2" and body["device_id"] == DEVICE
        assert set(body) == {"device_id", "status", "exit_code", "duration_ms", "output"}
        assert rig.tunnels() == []


async def test_one_device_that_cannot_run_is_not_exit_zero() -> None:
    async with exec_rig() as rig:
        offline = await run_cli(rig, "exec", OFFLINE_DEVICE, "--json", "--", "true")
        assert offline.returncode == 255
        assert json.loads(offline.stdout)["status"] == "offline"
        wrong = await run_cli(
            rig, "exec", DEVICE, "--", "true", IOTUNNEL_LOGIN_PASSWORD="wrong-password"
        )
        assert wrong.returncode == 255 and "login_failed" in wrong.stderr
        assert "wrong-password" not in wrong.stderr
        slow = await run_cli(rig, "exec", DEVICE, "--timeout", "2", "--", "sleep", "60")
        assert slow.returncode == 124 and "timeout" in slow.stderr
        assert rig.tunnels() == []


async def test_usage_errors_exit_2_with_one_line() -> None:
    async with exec_rig() as rig:
        for args in (
            ("exec", DEVICE),  # no command
            ("exec", "--", "true"),  # no device
            ("exec", DEVICE, "--all", "--", "true"),
            ("exec", "--all", "--concurrency", "101", "--", "true"),
            ("exec", DEVICE, "--login-password", "x", "--", "true"),
        ):
            ran = await run_cli(rig, *args)
            assert ran.returncode == 2, (args, ran.stderr)
            assert "Traceback" not in ran.stderr and ran.stderr.strip()


async def test_fleet_json_lines_and_exit_code() -> None:
    async with exec_rig() as rig:
        ran = await run_cli(rig, "exec", "--all", "--json", "--", "uname", "-s")
        lines = [json.loads(line) for line in ran.stdout.splitlines()]
        by_device = {line["device_id"]: line for line in lines}
        assert set(by_device) == set(rig.platform.device_ids)
        assert by_device[OFFLINE_DEVICE]["status"] == "offline"
        assert all(by_device[d]["output"] == "Linux\n" for d in rig.online)
        assert ran.returncode == 1  # one device offline: not everything ran
        boilers = await run_cli(rig, "exec", "--filter", "boiler", "--", "true")
        assert boilers.returncode == 0, boilers.stderr
        text = boilers.stdout.decode()
        assert "boiler_0001" in text and "boiler_0002" in text and "pump_0001" not in text
        assert "2 devices: 2 ok" in text
        assert rig.tunnels() == []


async def test_fleet_from_a_devices_file(tmp_path) -> None:
    async with exec_rig() as rig:
        listing = tmp_path / "devices.txt"
        listing.write_text("# site B\npump_0001\n\nboiler_0002  # the old one\n")
        ran = await run_cli(rig, "exec", "--devices-file", str(listing), "--", "echo", "hi")
        assert ran.returncode == 0, ran.stderr
        rows = ran.stdout.decode().splitlines()
        assert {row.split()[0] for row in rows[1:-1]} == {"pump_0001", "boiler_0002"}
        assert rows[-1].startswith("2 devices: 2 ok")


async def test_ctrl_c_closes_every_tunnel_the_fleet_opened() -> None:
    async with exec_rig() as rig:
        process = await start_cli(rig, "exec", "--all", "--json", "--", "sleep", "300")
        online = len(rig.online)

        def all_connected() -> bool:
            tunnels = rig.tunnels()
            return len(tunnels) == online and all(
                (t.source_state, t.device_state) == ("CONNECTED", "CONNECTED") for t in tunnels
            )

        await rig.platform.platform.wait_until(all_connected, TIMEOUT)
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 130, stderr
        assert b"Traceback" not in stderr
        assert rig.tunnels() == []
        audit = await run_cli(rig, "audit", "--json")
        records = [json.loads(line) for line in audit.stdout.splitlines()]
        interrupted = {r["device_id"] for r in records if r.get("outcome") == "interrupted"}
        assert interrupted == set(rig.online)
        created = {r["tunnel_id"] for r in records if r["action"] == "tunnel.create"}
        deleted = {r["tunnel_id"] for r in records if r["action"] == "tunnel.delete"}
        assert created == deleted and len(created) == len(rig.online)


async def test_audit_records_execs_without_secrets() -> None:
    async with exec_rig() as rig:
        await run_cli(rig, "exec", DEVICE, "--", "echo", "secret-output-text")
        await run_cli(rig, "exec", "boiler_0002", "--", "false")
        ran = await run_cli(rig, "audit", "--json", "--since", "1h")
        records = [json.loads(line) for line in ran.stdout.splitlines()]
        ends = [r for r in records if r["action"] == "exec.end"]
        assert [(r["device_id"], r["outcome"], r["exit_status"]) for r in ends] == [
            (DEVICE, "ok", 0),
            ("boiler_0002", "failed", 1),
        ]
        assert [r["action"] for r in records if r.get("device_id") == DEVICE] == [
            "exec.start",
            "tunnel.create",
            "tunnel.close",
            "tunnel.delete",
            "exec.end",
        ]
        first = ends[0]
        assert first["command"] == "echo secret-output-text"
        assert first["identity"] == f"AK {rig.platform.ak[:4]}…"
        assert first["endpoint"] == rig.platform.endpoints.rest
        assert "@" in first["local_user"] and first["time"].endswith("Z") and first["tunnel_id"]
        raw = ran.stdout.decode()
        for secret in (rig.login.password, rig.platform.sk, rig.platform.ak):
            assert secret not in raw
        assert "secret-output-text\n" not in raw  # the command line, never the output
        only = await run_cli(rig, "audit", "--json", "--device", "boiler_0002")
        assert {json.loads(line)["device_id"] for line in only.stdout.splitlines()} == {
            "boiler_0002"
        }
        human = await run_cli(rig, "audit")
        assert "exec.end `false`" in human.stdout.decode()
        future = await run_cli(rig, "audit", "--since", "2999-01-01T00:00:00")
        assert future.stdout == b"no audit records\n"
        bad = await run_cli(rig, "audit", "--since", "yesterday-ish")
        assert bad.returncode == 2


@pytest.mark.parametrize("form", [[DEVICE], ["--all"], ["--all", "--json"]])
async def test_a_reader_that_stops_early_is_no_error(form: list[str]) -> None:
    async with exec_rig() as rig:
        argv = " ".join(
            shlex.quote(word) for word in cli_argv("exec", *form, "--", "seq", "1", "50000")
        )
        process = await asyncio.create_subprocess_shell(
            f"{argv} | head -1",
            env=cli_env(rig),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert stdout.count(b"\n") == 1
        assert b"Traceback" not in stderr and b"Broken pipe" not in stderr, stderr
        assert rig.tunnels() == []


async def test_ctrl_c_on_one_device_gives_its_tunnel_back() -> None:
    async with exec_rig() as rig:
        process = await start_cli(rig, "exec", DEVICE, "--", "sh", "-c", "echo started; sleep 300")
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        assert first == b"started\n"  # the command runs: the tunnel is in use
        assert len(rig.tunnels()) == 1
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 130, stderr
        assert b"Traceback" not in stderr
        assert rig.tunnels() == []
