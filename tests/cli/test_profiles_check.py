"""`iotunnel profiles check`: each fault injected into a real local platform on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.session.test_cli import cli
from tests.support.platform import SEED_FILE, RunningPlatform, running_platform
from tests.support.tls import make_certificate
from tui.cli.profiles import profile_target
from tui.platform.config import load_seed
from tui.session.diagnose import Diagnosis, diagnose

SK_ENV = "CHECK_SK"
PASSWORD_ENV = "CHECK_PASSWORD"


def aksk_profile(p: RunningPlatform, **overrides: str) -> str:
    fields = {
        "endpoint": p.endpoints.rest,
        "project_id": p.project_id,
        "region": p.region,
        **overrides,
    }
    body = "".join(f'{key} = "{value}"\n' for key, value in fields.items())
    return f'[profiles.lab]\n{body}[profiles.lab.auth]\ntype = "aksk"\nak = "{p.ak}"\n' + (
        f'sk_env = "{SK_ENV}"\n'
    )


def iam_profile(p: RunningPlatform) -> str:
    return (
        f'[profiles.lab]\nendpoint = "{p.endpoints.rest}"\nproject_id = "{p.project_id}"\n'
        f'[profiles.lab.auth]\ntype = "iam"\nusername = "{p.user.name}"\n'
        f'domain = "{p.user.domain}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'iam_endpoint = "{p.endpoints.rest}"\n'
    )


@pytest.fixture
def use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text)
        monkeypatch.setenv("IOTUNNEL_CONFIG", str(path))
        return path

    return write


async def check(
    clock: Callable[[], datetime.datetime] | None = None, timeout: float = 5.0
) -> Diagnosis:
    return await diagnose(profile_target("lab", clock=clock), clock=clock, timeout=timeout)


def status(diagnosis: Diagnosis) -> dict[str, str]:
    return {step.name: step.status for step in diagnosis.steps}


def failed(diagnosis: Diagnosis) -> list[str]:
    return [step.name for step in diagnosis.steps if step.status == "fail"]


def step(diagnosis: Diagnosis, name: str):  # -> Step
    return next(s for s in diagnosis.steps if s.name == name)


def assert_only_failure(diagnosis: Diagnosis, name: str) -> None:
    """`name` failed, everything before it passed, everything after it was skipped."""
    names = [s.name for s in diagnosis.steps]
    at = names.index(name)
    assert not diagnosis.ok
    assert failed(diagnosis) == [name], diagnosis.to_json()
    assert all(s.status in ("ok", "n/a") for s in diagnosis.steps[:at])
    assert all(s.status == "skipped" for s in diagnosis.steps[at + 1 :])
    assert step(diagnosis, name).fix


async def test_a_good_aksk_profile_passes_every_step(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_platform() as p:
        use_config(aksk_profile(p))
        monkeypatch.setenv(SK_ENV, p.sk)
        diagnosis = await check()
    assert diagnosis.ok, diagnosis.to_json()
    assert list(status(diagnosis)) == [
        "config", "dns", "tcp", "tls", "auth", "project", "instance", "devices", "edition",
        "tunnels", "platform",
    ]  # fmt: skip
    assert status(diagnosis)["tls"] == "n/a"  # plain http on loopback
    assert "V11-HMAC-SHA256" in step(diagnosis, "config").detail  # 127.0.0.1 is no region host
    assert "5 device(s)" in step(diagnosis, "devices").detail
    assert "agrees with the server" in step(diagnosis, "auth").detail  # skew measured on Date
    assert "local iotunnel platform" in step(diagnosis, "platform").detail
    assert "(resize, resume) on (extensions = auto)" in step(diagnosis, "platform").detail


async def test_wrong_sk(use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_platform() as p:
        use_config(aksk_profile(p))
        monkeypatch.setenv(SK_ENV, "not-the-secret-key-at-all")
        diagnosis = await check()
    assert_only_failure(diagnosis, "auth")
    auth = step(diagnosis, "auth")
    assert "HTTP 401" in auth.detail and "SK" in auth.fix and p.ak in auth.fix
    assert "not-the-secret-key-at-all" not in str(diagnosis.to_json())


async def test_skewed_clock(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def twenty_minutes_fast() -> datetime.datetime:
        return datetime.datetime.now(UTC) + timedelta(minutes=20)

    async with running_platform() as p:
        use_config(aksk_profile(p))
        monkeypatch.setenv(SK_ENV, p.sk)
        diagnosis = await check(clock=twenty_minutes_fast)
    assert_only_failure(diagnosis, "auth")
    auth = step(diagnosis, "auth")
    assert "ahead of the server" in auth.detail
    seconds = int(auth.detail.split("clock is ")[1].split(" s ")[0])
    assert 1190 <= seconds <= 1210
    assert "clock" in auth.fix and "15 minutes" in auth.fix


async def test_wrong_project(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_platform() as p:
        use_config(aksk_profile(p, project_id="someone-elses-project"))
        monkeypatch.setenv(SK_ENV, p.sk)
        diagnosis = await check()
    assert_only_failure(diagnosis, "project")
    assert "someone-elses-project" in step(diagnosis, "project").detail
    assert "Projects" in step(diagnosis, "project").fix


async def test_basic_edition(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    basic = dataclasses.replace(load_seed(SEED_FILE), edition="basic")
    async with running_platform(seed=basic) as p:
        use_config(aksk_profile(p))
        monkeypatch.setenv(SK_ENV, p.sk)
        diagnosis = await check()
    assert_only_failure(diagnosis, "edition")
    assert status(diagnosis)["devices"] == "ok"
    assert "Basic edition" in step(diagnosis, "edition").fix


async def test_unreachable_endpoint(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with running_platform() as p:
        use_config(aksk_profile(p, endpoint=f"http://127.0.0.1:{port}"))
        monkeypatch.setenv(SK_ENV, p.sk)
        diagnosis = await check(timeout=2.0)
    assert_only_failure(diagnosis, "tcp")
    assert f"127.0.0.1:{port}" in step(diagnosis, "tcp").fix
    assert "iotunnel platform" in step(diagnosis, "tcp").fix


def other_host_certificate(folder: Path) -> tuple[Path, Path]:
    """A CA-flagged certificate for `elsewhere.example` only: not for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "elsewhere")])
    now = datetime.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("elsewhere.example"),
                    x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "other.pem", folder / "other.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


async def test_bad_certificate_then_trusted_with_ca_file(
    tmp_path: Path, use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = make_certificate(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with running_platform(tls=(cert, key)) as p:
        assert p.endpoints.rest.startswith("https://")
        monkeypatch.setenv(SK_ENV, p.sk)
        use_config(aksk_profile(p))
        untrusted = await check()
        use_config(aksk_profile(p, ca_file=str(cert)))
        trusted = await check()
    assert_only_failure(untrusted, "tls")
    tls = step(untrusted, "tls")
    assert "self-signed" in tls.detail and "ca_file" in tls.fix
    assert trusted.ok, trusted.to_json()
    assert "TLS" in step(trusted, "tls").detail and str(cert) in step(trusted, "tls").detail


async def test_certificate_for_another_host(
    tmp_path: Path, use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = other_host_certificate(tmp_path)
    async with running_platform(tls=(cert, key)) as p:
        monkeypatch.setenv(SK_ENV, p.sk)
        use_config(aksk_profile(p, ca_file=str(cert)))
        diagnosis = await check()
    assert_only_failure(diagnosis, "tls")
    tls = step(diagnosis, "tls")
    assert "does not name this host" in tls.detail and "host name" in tls.fix


async def test_iam_user_good_then_wrong_password(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_platform() as p:
        use_config(iam_profile(p))
        monkeypatch.setenv(PASSWORD_ENV, p.user.password)
        good = await check()
        monkeypatch.setenv(PASSWORD_ENV, "wrong horse battery staple")
        wrong = await check()
    assert good.ok, good.to_json()
    assert f"IAM user {p.user.name}" in step(good, "config").detail
    assert_only_failure(wrong, "auth")
    auth = step(wrong, "auth")
    assert "IAM refused" in auth.detail and "password" in auth.fix
    assert "wrong horse" not in str(wrong.to_json())


async def test_unreadable_secret_fails_the_first_step(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_platform() as p:
        path = use_config(aksk_profile(p))
        monkeypatch.delenv(SK_ENV, raising=False)
        diagnosis = await check()
    assert_only_failure(diagnosis, "config")
    assert (
        str(path) in step(diagnosis, "config").detail and SK_ENV in step(diagnosis, "config").detail
    )


async def test_the_command_exit_codes_json_and_list(tmp_path: Path) -> None:
    async with running_platform() as p:
        config = tmp_path / "config.toml"
        config.write_text(aksk_profile(p))
        env = {"IOTUNNEL_CONFIG": str(config), SK_ENV: p.sk}
        green = await cli(None, "profiles", "check", "lab", **env)
        assert green.code == 0, green.out + green.err
        assert "all checks passed" in green.out and "[ ok ] DNS" in green.out
        as_json = await cli(None, "profiles", "check", "--json", **env)  # the only profile
        assert as_json.code == 0 and as_json.json()["ok"] is True
        red = await cli(None, "profiles", "check", "lab", "--json", **{**env, SK_ENV: "nope"})
        assert red.code == 1
        body = red.json()
        assert body["ok"] is False
        assert [s["name"] for s in body["steps"] if s["status"] == "fail"] == ["auth"]
        via_flag = await cli(None, "profiles", "check", "--profile", "lab", **env)
        assert via_flag.code == 0
        unknown = await cli(None, "profiles", "check", "nope", **env)
        assert unknown.code == 2 and "configured: lab" in unknown.err
        listed = await cli(None, "profiles", "list", **env)
        assert listed.code == 0 and "* lab" in listed.out and p.endpoints.rest in listed.out
        listed_json = await cli(None, "profiles", "list", "--json", **env)
        assert listed_json.json()[0]["name"] == "lab"
        assert listed_json.json()[0]["extensions"] == "auto"


async def test_output_into_a_closed_pipe_is_no_internal_error(tmp_path: Path) -> None:
    """`iotunnel profiles list --json | head -1` printed "internal error (BrokenPipeError)"."""
    config = tmp_path / "config.toml"
    profile = '[profiles.p{}]\nendpoint = "http://x"\nproject_id = "p"\n'
    config.write_text("".join(profile.format(i) for i in range(3000)))
    env = {**os.environ, "IOTUNNEL_CONFIG": str(config), "PYTHONPATH": os.getcwd()}
    read, write = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui", "profiles", "list", "--json",
        stdout=write, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    os.close(write)
    os.read(read, 10)
    os.close(read)  # the reader leaves, as `head` does
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert b"internal error" not in err and b"Traceback" not in err, err


async def test_a_host_name_is_resolved_and_reported(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_platform() as p:
        port = p.endpoints.rest.rsplit(":", 1)[1]
        use_config(aksk_profile(p, endpoint=f"http://localhost:{port}"))
        monkeypatch.setenv(SK_ENV, p.sk)
        diagnosis = await check()
    assert diagnosis.ok, diagnosis.to_json()
    assert "localhost → " in step(diagnosis, "dns").detail
    assert "127.0.0.1" in step(diagnosis, "dns").detail
    assert "connected to 127.0.0.1" in step(diagnosis, "tcp").detail


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"endpoint": "iotda.example.com"}, "https://HOST"),
        ({"endpoint": "https://iotda.example.com/v5/iot"}, "without a path"),
        ({"region": None}, "set region"),
    ],
)
async def test_a_profile_that_cannot_work_fails_before_the_network(
    use_config: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, str | None],
    expected: str,
) -> None:
    async with running_platform() as p:
        text = aksk_profile(p, **{k: v for k, v in change.items() if v is not None})
        if change.get("region", "") is None:
            text = text.replace(f'region = "{p.region}"\n', "")
        use_config(text)
        monkeypatch.setenv(SK_ENV, p.sk)
        diagnosis = await check()
    assert_only_failure(diagnosis, "config")
    assert expected in step(diagnosis, "config").fix


async def test_a_refused_token(
    use_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_platform() as p:
        use_config(
            f'[profiles.lab]\nendpoint = "{p.endpoints.rest}"\nproject_id = "{p.project_id}"\n'
            '[profiles.lab.auth]\ntype = "token"\ntoken_env = "CHECK_TOKEN"\n'
        )
        monkeypatch.setenv("CHECK_TOKEN", "MIIexpired-or-made-up-token-0123456789")
        diagnosis = await check()
    assert_only_failure(diagnosis, "auth")
    assert "new IAM token" in step(diagnosis, "auth").fix
    assert "made-up" not in str(diagnosis.to_json())
