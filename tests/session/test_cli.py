"""`iotunnel devices …` / `iotunnel tunnels …` as subprocesses against the local platform."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.platform import RunningPlatform, running_platform
from tui.session import TokenStore

TIMEOUT = 60.0


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


async def cli(p: RunningPlatform | None, *args: str, **env: str) -> Result:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IOTUNNEL_")}
    if p is not None:
        environ.update(
            IOTUNNEL_ENDPOINT=p.endpoints.rest,
            IOTUNNEL_PROJECT_ID=p.project_id,
            IOTUNNEL_AK=p.ak,
            IOTUNNEL_SK=p.sk,
            IOTUNNEL_REGION=p.region,  # a loopback host gets derived (V11) signing
        )
    environ.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "Traceback" not in err.decode(), err.decode()
    return Result(proc.returncode or 0, out.decode(), err.decode())


async def test_devices_list_show_and_filters() -> None:
    async with running_platform() as p:
        listed = await cli(p, "devices", "list", "--json")
        assert listed.code == 0, listed.err
        assert sorted(d["device_id"] for d in listed.json()) == sorted(p.device_ids)
        assert {"device_id", "status", "product_id", "tags"} <= set(listed.json()[0])

        limited = await cli(p, "devices", "list", "--limit", "2", "--json")
        assert len(limited.json()) == 2

        pumps = await cli(p, "devices", "list", "--product-id", "pump", "--json")
        assert {d["product_id"] for d in pumps.json()} == {"pump"}
        assert len(pumps.json()) == 2

        human = await cli(p, "devices", "list")
        assert human.out.splitlines()[0].split() == ["DEVICE_ID", "STATUS", "NAME", "PRODUCT_ID"]
        assert "boiler_0001" in human.out

        shown = await cli(p, "devices", "show", "boiler_0001", "--json")
        assert shown.code == 0 and shown.json()["device_id"] == "boiler_0001"
        assert p.secrets["boiler_0001"] not in shown.out  # auth_info.secret is masked

        missing = await cli(p, "devices", "show", "no_such_device")
        assert missing.code == 1 and "HTTP 404" in missing.err and missing.out == ""


async def test_tunnel_lifecycle_and_token_store() -> None:
    async with running_platform() as p:
        device = "pump_0001"
        offline = await cli(p, "tunnels", "create", device, "--json")
        assert offline.code == 1 and "HTTP 400" in offline.err

        p.set_online(device)
        created = await cli(p, "tunnels", "create", device, "--json")
        assert created.code == 0, created.err
        body = created.json()
        tunnel_id = body["tunnel_id"]
        stored = TokenStore().get_for_device(p.endpoints.rest, p.project_id, device)
        assert stored is not None and stored.tunnel_id == tunnel_id
        assert stored.token not in created.out  # masked unless --show-token
        assert body["tunnel_access_token"] != stored.token
        assert body["tunnel_uri"] == stored.tunnel_uri and body["expires_in"] > 0
        assert stat.S_IMODE(TokenStore().path.stat().st_mode) == 0o600

        listed = await cli(p, "tunnels", "list", "--device-id", device, "--json")
        assert [t["tunnel_id"] for t in listed.json()] == [tunnel_id]
        shown = await cli(p, "tunnels", "show", tunnel_id, "--json")
        assert shown.json()["status"] == "OPEN"

        not_closed = await cli(p, "tunnels", "delete", tunnel_id)
        assert not_closed.code == 1 and "HTTP 400" in not_closed.err
        closed = await cli(p, "tunnels", "close", tunnel_id, "--json")
        assert closed.code == 0 and closed.json() == {"tunnel_id": tunnel_id, "closed": True}
        assert (await cli(p, "tunnels", "show", tunnel_id, "--json")).json()["status"] == "CLOSED"
        deleted = await cli(p, "tunnels", "delete", tunnel_id)
        assert deleted.code == 0 and tunnel_id in deleted.out
        assert TokenStore().get_for_device(p.endpoints.rest, p.project_id, device) is None
        gone = await cli(p, "tunnels", "show", tunnel_id)
        assert gone.code == 1 and "HTTP 404" in gone.err


async def test_show_token_prints_the_stored_token() -> None:
    async with running_platform() as p:
        p.set_online("boiler_0002")
        created = await cli(p, "tunnels", "create", "boiler_0002", "--show-token")
        assert created.code == 0, created.err
        stored = TokenStore().get_for_device(p.endpoints.rest, p.project_id, "boiler_0002")
        assert stored is not None and f"tunnel_access_token: {stored.token}" in created.out


async def test_usage_and_auth_errors(tmp_path: Path) -> None:
    no_config = await cli(None, "tunnels", "list")
    assert no_config.code == 2 and "missing --endpoint" in no_config.err
    bad_args = await cli(None, "devices", "list", "--limit", "0")
    assert bad_args.code == 2
    async with running_platform() as p:
        half = await cli(p, "devices", "list", IOTUNNEL_SK="")
        assert half.code == 2 and "AK/SK" in half.err
        wrong = await cli(p, "devices", "list", IOTUNNEL_SK="not-the-secret-key")
        assert wrong.code == 1 and "HTTP 401" in wrong.err
        assert "not-the-secret-key" not in wrong.err


async def test_profile_from_config_file(tmp_path: Path) -> None:
    async with running_platform() as p:
        config = tmp_path / "config.toml"
        config.write_text(
            f'default_profile = "local"\n[profiles.local]\nendpoint = "{p.endpoints.rest}"\n'
            f'project_id = "{p.project_id}"\nregion = "{p.region}"\n'
            f'[profiles.local.auth]\ntype = "aksk"\n'
            f'ak = "{p.ak}"\nsk_env = "LOCAL_SK"\n'
        )
        result = await cli(
            None, "devices", "list", "--json", IOTUNNEL_CONFIG=str(config), LOCAL_SK=p.sk
        )
        assert result.code == 0, result.err
        assert len(result.json()) == len(p.device_ids)
        broken = await cli(None, "devices", "list", IOTUNNEL_CONFIG=str(config))
        assert broken.code == 2 and "LOCAL_SK" in broken.err


async def test_secrets_come_from_0600_files_never_from_flags(tmp_path: Path) -> None:
    async with running_platform() as p:
        sk_file = tmp_path / "sk"
        sk_file.write_text(p.sk + "\n")
        sk_file.chmod(0o600)
        good = await cli(p, "devices", "list", "--json", "--sk-file", str(sk_file), IOTUNNEL_SK="")
        assert good.code == 0, good.err
        assert len(good.json()) == len(p.device_ids)
        sk_file.chmod(0o644)
        loose = await cli(p, "devices", "list", "--sk-file", str(sk_file), IOTUNNEL_SK="")
        assert loose.code == 2 and "chmod 600" in loose.err
        token_file = tmp_path / "token"
        token_file.write_text("not-a-valid-token-0123456789")
        token_file.chmod(0o600)
        refused = await cli(p, "devices", "list", "--token-file", str(token_file))
        assert refused.code == 1 and "HTTP 401" in refused.err
        assert "not-a-valid-token-0123456789" not in refused.err
    for flag in ("--sk", "--token"):  # a secret on the command line shows in `ps`
        gone = await cli(None, "devices", "list", flag, "secret-value")
        assert gone.code == 2 and "-file" in gone.err and "secret-value" not in gone.err


async def test_log_file_is_created_private(tmp_path: Path) -> None:
    log_file = tmp_path / "debug.log"
    result = await cli(None, "--log-file", str(log_file), "devices", "list")
    assert result.code == 2  # no connection settings: the log file exists all the same
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
