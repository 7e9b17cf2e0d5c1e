"""Issue 8 §5: the command line's errors and output are clear, as a user types it.

Each test here failed on 4b93c9c (main before issue 8): see the docstrings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.session.test_cli import cli
from tests.support.platform import RunningPlatform, running_platform
from tui.app.config import ConfigError, load_config
from tui.cli import main
from tui.iotda.redact import mask
from tui.session import TokenStore


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _local_profile(p: RunningPlatform, name: str = "lab") -> str:
    return (
        f'[profiles.{name}]\nendpoint = "{p.endpoints.rest}"\nproject_id = "{p.project_id}"\n'
        f'region = "{p.region}"\n[profiles.{name}.auth]\ntype = "aksk"\n'
        f'ak = "{p.ak}"\nsk_env = "LAB_SK"\n'
    )


def test_an_unknown_theme_is_a_config_error_listing_the_themes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Main fell back to iotunnel-dark with a toast inside the dashboard."""
    path = _config(tmp_path, 'refresh_interval = 5\ntheme = "iotunnel-purple"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "theme" and caught.value.line == 2
    assert "iotunnel-light" in caught.value.problem and "iotunnel-dark" in caught.value.problem
    monkeypatch.setenv("IOTUNNEL_CONFIG", str(path))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: theme:" in err and "iotunnel-high-contrast" in err


def test_a_user_theme_and_textual_themes_are_known(tmp_path: Path) -> None:
    themes = Path(__import__("os").environ["XDG_CONFIG_HOME"]) / "iotunnel" / "themes"
    themes.mkdir(parents=True)
    shipped = Path(__file__).resolve().parents[2] / "themes" / "iotunnel-dark.toml"
    (themes / "mine.toml").write_text(
        shipped.read_text().replace('name = "iotunnel-dark"', 'name = "mine"')
    )
    assert load_config(_config(tmp_path, 'theme = "mine"')).theme == "mine"
    assert load_config(_config(tmp_path, 'theme = "nord"')).theme == "nord"


def test_an_unknown_profile_lists_the_configured_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Main said only `profiles.nope: no such profile`."""
    text = '[profiles.lab]\nendpoint = "http://x"\nproject_id = "p"\n'
    text += '[profiles.cloud]\nendpoint = "https://y"\nproject_id = "q"\n'
    monkeypatch.setenv("IOTUNNEL_CONFIG", str(_config(tmp_path, text)))
    assert main(["--profile", "nope"]) == 2
    assert "configured: cloud, lab" in capsys.readouterr().err


def test_iotunnel_config_naming_a_missing_file_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Main took a missing IOTUNNEL_CONFIG for an empty config ("no profile configured")."""
    missing = tmp_path / "typo.toml"
    monkeypatch.setenv("IOTUNNEL_CONFIG", str(missing))
    assert main([]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file" in err and "IOTUNNEL_CONFIG" in err


def test_the_profile_extensions_key(tmp_path: Path) -> None:
    base = '[profiles.x]\nendpoint = "e"\nproject_id = "p"\n'
    for written, parsed in (("", None), ('"auto"', None), ("true", True), ("false", False)):
        text = base + (f"extensions = {written}\n" if written else "")
        assert load_config(_config(tmp_path, text)).profile("x").extensions is parsed
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, base + 'extensions = "yes"\n'))
    assert caught.value.key == "profiles.x.extensions" and caught.value.line == 4
    assert '"auto", true or false' in caught.value.problem
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, base + "extension = true\n"))
    assert caught.value.key == "profiles.x.extension" and caught.value.problem == "unknown key"


async def test_profile_is_accepted_after_the_sub_command(tmp_path: Path) -> None:
    """Main: `iotunnel devices list --profile lab` → unrecognized arguments, exit 2."""
    async with running_platform() as p:
        path = _config(tmp_path, _local_profile(p, "lab") + _local_profile(p, "other"))
        result = await cli(
            None, "devices", "list", "--profile", "lab", "--json",
            IOTUNNEL_CONFIG=str(path), LAB_SK=p.sk,
        )  # fmt: skip
        assert result.code == 0, result.err
        assert len(result.json()) == len(p.device_ids)
        before = await cli(
            None, "--profile", "nope", "devices", "list", IOTUNNEL_CONFIG=str(path), LAB_SK=p.sk
        )
        assert before.code == 2 and "configured: lab, other" in before.err


async def test_devices_show_prints_human_text() -> None:
    """Main printed Python reprs: `tags: [{'tag_key': 'site', ...}]`, `auth_info: {...}`."""
    async with running_platform() as p:
        shown = await cli(p, "devices", "show", "boiler_0001")
        assert shown.code == 0, shown.err
        assert "{" not in shown.out and "[" not in shown.out and "'" not in shown.out
        lines = shown.out.splitlines()
        assert "tags: site=berlin" in lines
        assert "auth_info.auth_type: SECRET" in lines
        assert "device_id: boiler_0001" in lines


async def test_show_token_wherever_a_token_is_shown() -> None:
    """Main: `tunnels show/list` knew no --show-token (exit 2) and never showed the token."""
    async with running_platform() as p:
        p.set_online("pump_0001")
        created = await cli(p, "tunnels", "create", "pump_0001", "--json")
        tunnel_id = created.json()["tunnel_id"]
        stored = TokenStore().get_for_device(p.endpoints.rest, p.project_id, "pump_0001")
        assert stored is not None
        for args in (("show", tunnel_id), ("list",)):
            masked = await cli(p, "tunnels", *args)
            assert masked.code == 0 and stored.token not in masked.out
            assert mask(stored.token) in masked.out  # which token it is, not the token
            shown = await cli(p, "tunnels", *args, "--show-token")
            assert shown.code == 0, shown.err
            assert stored.token in shown.out
            as_json = await cli(p, "tunnels", *args, "--show-token", "--json")
            body = as_json.json()
            body = body if isinstance(body, dict) else body[0]
            assert body["tunnel_access_token"] == stored.token


async def test_an_open_tunnel_has_no_closed_time_in_json() -> None:
    """Main printed the platform's `closed_time` (its last-update time) for OPEN tunnels."""
    async with running_platform() as p:
        p.set_online("pump_0002")
        created = await cli(p, "tunnels", "create", "pump_0002", "--json")
        tunnel_id = created.json()["tunnel_id"]
        shown = (await cli(p, "tunnels", "show", tunnel_id, "--json")).json()
        assert shown["status"] == "OPEN" and "closed_time" not in shown
        listed = (await cli(p, "tunnels", "list", "--json")).json()
        assert all("closed_time" not in t for t in listed)
        await cli(p, "tunnels", "close", tunnel_id)
        closed = (await cli(p, "tunnels", "show", tunnel_id, "--json")).json()
        assert closed["status"] == "CLOSED" and closed["closed_time"]


async def test_a_profile_ca_file_trusts_a_platform_certificate(tmp_path: Path) -> None:
    from tests.support.tls import make_certificate

    cert, key = make_certificate(tmp_path)
    async with running_platform(tls=(cert, key)) as p:
        plain = _local_profile(p, "lab")
        untrusted = _config(tmp_path, plain)
        refused = await cli(None, "devices", "list", IOTUNNEL_CONFIG=str(untrusted), LAB_SK=p.sk)
        assert refused.code == 1 and "cannot reach" in refused.err
        trusted = _config(
            tmp_path,
            plain.replace("[profiles.lab.auth]", f'ca_file = "{cert}"\n[profiles.lab.auth]'),
        )
        listed = await cli(
            None, "devices", "list", "--json", IOTUNNEL_CONFIG=str(trusted), LAB_SK=p.sk
        )
        assert listed.code == 0, listed.err
        assert len(listed.json()) == len(p.device_ids)


@pytest.mark.parametrize(
    "argv", [["demo"], [], ["replay", "tests/fixtures/terminal/vim_quit.raw"]], ids=str
)
def test_full_screen_commands_refuse_without_a_terminal(argv: list[str], tmp_path: Path) -> None:
    """Main drew into the pipe and sat at "loading devices…" at 99% CPU, never exiting."""
    import subprocess
    import sys

    profile = (
        '[profiles.lab]\nendpoint = "https://127.0.0.1:9"\nproject_id = "p1"\n'
        'region = "cn-north-4"\n[profiles.lab.auth]\ntype = "aksk"\nak = "AK1"\n'
        'sk_env = "LAB_SK"\n'
    )
    config = _config(tmp_path, profile)  # a good one: the dashboard checks the config first
    env = {**__import__("os").environ, "IOTUNNEL_CONFIG": str(config), "LAB_SK": "sk"}
    done = subprocess.run(
        [sys.executable, "-m", "tui", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 2, done.stderr
    assert "needs a terminal" in done.stderr and "stdin and stdout are not one" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
