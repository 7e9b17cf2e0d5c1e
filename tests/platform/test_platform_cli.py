"""`iotunnel platform` as a subprocess: ready line, clean SIGTERM/SIGINT, seed errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import platform as support

SEED_FILE = support.SEED_FILE  # replaced by a private copy for each test (see below)


@pytest.fixture(autouse=True)
def _private_seed_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """`iotunnel platform` refuses a seed others may read: every test runs on a 0600 copy."""
    copy = support.private_seed(tmp_path_factory.mktemp("seed"))
    monkeypatch.setattr(sys.modules[__name__], "SEED_FILE", copy)


def _start(*extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "platform", "--seed", str(SEED_FILE), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_ready_line_then_clean_exit(tmp_path, sig, code):
    """SIGTERM is a normal stop (0); ctrl+c stops as cleanly but exits 130, as README says."""
    proc = _start("--state", str(tmp_path / "state.sqlite3"))
    try:
        line = proc.stdout.readline()
        ready = json.loads(line)
        assert ready["event"] == "ready"
        assert ready["rest"].startswith("http://127.0.0.1:")
        assert ready["mqtt"].startswith("mqtt://127.0.0.1:")
        assert ready["ws"].startswith("ws://127.0.0.1:")
        answer = httpx.get(f"{ready['rest']}/openapi.json", timeout=10)
        assert answer.status_code == 200
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == code, err
        assert out == ""  # exactly one line on stdout
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (tmp_path / "state.sqlite3").exists()


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "platform", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('region = "r"\n', "'project_id'"),
        ('project_id = "p"\nregion = "r"\nedition = "gold"\n', "'edition'"),
        (
            'project_id = "p"\nregion = "r"\n[[devices]]\nnode_id = "1"\nsecret = "s"\n',
            "product_id",
        ),
        ('project_id = "p"\nregion = "r"\n[[credentials]]\nak = "A"\n', "'sk'"),
        ("project_id = \n", "line 1"),
    ],
)
def test_seed_errors_are_one_line_exit_2(tmp_path: Path, text, expected):
    seed = tmp_path / "seed.toml"
    seed.write_text(text)
    seed.chmod(0o600)
    result = _run("--seed", str(seed), "--state", ":memory:")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(seed) in lines[0] and expected in lines[0]


def test_a_seed_others_can_read_is_refused_exit_2(tmp_path):
    seed = support.private_seed(tmp_path)
    seed.chmod(0o644)
    result = _run("--seed", str(seed), "--state", ":memory:")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(seed) in lines[0] and "chmod 600" in lines[0], result.stderr


def test_missing_seed_file_is_exit_2(tmp_path):
    result = _run("--seed", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert "absent.toml" in result.stderr and "Traceback" not in result.stderr


async def test_sigterm_closes_live_tunnel_links_with_1001(tmp_path):
    from types import SimpleNamespace
    from urllib.parse import urlsplit

    from tests.support.device import mqtt_device
    from tests.support.tunnel_ws import close_code, open_link
    from tui.iotda.auth import AkSkAuth
    from tui.iotda.client import IoTDAClient
    from tui.platform.config import load_seed

    seed = load_seed(SEED_FILE)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui.cli",
        "platform",
        "--seed",
        str(SEED_FILE),
        "--state",
        str(tmp_path / "state.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        mqtt = urlsplit(ready["mqtt"])
        running = SimpleNamespace(
            mqtt_host=mqtt.hostname,
            mqtt_port=mqtt.port,
            secrets={d.device_id: d.secret for d in seed.devices},
        )
        auth = AkSkAuth(seed.credentials[0].ak, seed.credentials[0].sk, region=seed.region)
        async with (
            mqtt_device(running, "boiler_0001"),
            IoTDAClient(ready["rest"], seed.project_id, auth) as client,
        ):
            created = await client.create_tunnel("boiler_0001")
            app = await open_link(created.tunnel_uri, created.tunnel_access_token)
            proc.send_signal(signal.SIGTERM)
            assert await close_code(app, timeout=30) == 1001
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err
        assert b"Traceback" not in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--rest-port", "70000"], "--rest-port"),
        (["--ws-port", "-1"], "--ws-port"),
        (["--token-ttl", "0"], "--token-ttl"),
        (["--tls-cert", "cert.pem"], "--tls-key"),
        (["--mqtt-port", "many"], "--mqtt-port"),
    ],
)
def test_bad_options_are_one_line_exit_2(extra, expected):
    result = _run("--seed", str(SEED_FILE), "--state", ":memory:", *extra)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_unusable_state_or_busy_port_is_one_line_exit_1(tmp_path):
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_text("not a database")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        for extra in (["--state", str(corrupt)], ["--state", ":memory:", "--ws-port", port]):
            result = _run("--seed", str(SEED_FILE), *extra)
            assert result.returncode == 1, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "cannot start" in lines[0], result.stderr


async def test_default_state_path_tls_and_token_ttl(tmp_path):
    """No --state: the file lands under $XDG_STATE_HOME; TLS URIs; tunnels live --token-ttl."""
    from types import SimpleNamespace
    from urllib.parse import urlsplit

    from tests.support.device import mqtt_device
    from tests.support.tls import client_context, make_certificate
    from tui.iotda.auth import AkSkAuth
    from tui.iotda.client import IoTDAClient
    from tui.platform.config import load_seed

    cert, key = make_certificate(tmp_path)
    context = client_context(cert)
    seed = load_seed(SEED_FILE)
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tui.cli", "platform", "--seed", str(SEED_FILE)],
        *["--tls-cert", str(cert), "--tls-key", str(key), "--token-ttl", "60"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        assert ready["rest"].startswith("https://127.0.0.1:")
        assert ready["mqtt"].startswith("mqtts://") and ready["ws"].startswith("wss://")
        mqtt = urlsplit(ready["mqtt"])
        running = SimpleNamespace(
            mqtt_host=mqtt.hostname,
            mqtt_port=mqtt.port,
            secrets={d.device_id: d.secret for d in seed.devices},
        )
        auth = AkSkAuth(seed.credentials[0].ak, seed.credentials[0].sk, region=seed.region)
        async with (
            mqtt_device(running, "boiler_0001", ssl=context) as device,
            IoTDAClient(ready["rest"], seed.project_id, auth, verify=context) as client,
        ):
            created = await client.create_tunnel("boiler_0001")
            assert created.expires_in == 60
            assert created.tunnel_uri.startswith(ready["ws"] + "/v5/iot/tunnels/")
            notice = await device.next_notify()
            assert notice.expires_in <= 60 and notice.tunnel_uri.startswith("wss://")
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    state = Path(os.environ["XDG_STATE_HOME"]) / "iotunnel" / "platform.sqlite3"
    assert state.exists() and state.stat().st_mode & 0o077 == 0
    assert state.parent.stat().st_mode & 0o077 == 0  # the state dir is created 0700
