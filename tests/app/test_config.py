"""Config file parsing, secrets from env or 0600 files, and `iotunnel` exiting 2 on a bad one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.app.config import ConfigError, build_auth, load_config, parse_config
from tui.cli import main
from tui.iotda.redact import mask

GOOD = """
default_profile = "lab"
theme = "iotunnel-light"
refresh_interval = 15
connect_timeout = 20

[countdown]
warning = 900
critical = 120

[keymap]
"tunnel.open" = "o"
"app.quit" = "ctrl+x"

[profiles.lab]
endpoint = "http://127.0.0.1:8080"
project_id = "p1"
region = "cn-north-4"
[profiles.lab.auth]
type = "aksk"
ak = "AKLAB"
sk_env = "LAB_SK"

[profiles.cloud]
endpoint = "https://iotda.cn-north-4.myhuaweicloud.com"
project_id = "p2"
region = "cn-north-4"
instance_id = "inst-1"
[profiles.cloud.auth]
type = "token"
token_file = "TOKEN_FILE"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_full_config_is_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.theme == "iotunnel-light"
    assert config.refresh_interval == 15.0
    assert config.connect_timeout == 20.0
    assert (config.countdown.warning_seconds, config.countdown.critical_seconds) == (900, 120)
    assert config.keymap == {"tunnel.open": "o", "app.quit": "ctrl+x"}
    assert config.profile(None).name == "lab"
    assert config.profile("cloud").instance_id == "inst-1"


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.toml")
    assert config.theme == "iotunnel-dark" and config.countdown.warning_seconds == 600
    with pytest.raises(ConfigError, match="no profile configured"):
        config.profile(None)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("refresh_interval = 'soon'", "refresh_interval", "must be a number"),
        ("[countdown]\nwarning = 60\ncritical = 120", "countdown.critical", "less than"),
        ("[keymap]\n'app.quit' = 3", "keymap.app.quit", "key string"),
        ("[profiles.x]\nproject_id = 'p'", "profiles.x.endpoint", "is required"),
        (
            "[profiles.x]\nendpoint='e'\nproject_id='p'\n[profiles.x.auth]\ntype='magic'",
            "profiles.x.auth.type",
            "must be one of",
        ),
        (
            "[profiles.x]\nendpoint='e'\nproject_id='p'\n[profiles.x.auth]\nsk='plain'",
            "profiles.x.auth.sk",
            "unknown key",
        ),
        ("default_profile = 'nope'", "default_profile", "no profile named"),
        ("theme = [", "", "not valid TOML"),
        ("terminal_backend = 'xterm'", "terminal_backend", "one of auto, ghostty, pyte"),
    ],
)
def test_a_bad_config_names_file_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.path == str(path)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_secrets_come_from_the_environment_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("TOKEN-FROM-FILE-0123456789\n")
    os.chmod(token_file, 0o644)
    config = parse_config(parse_toml(GOOD.replace("TOKEN_FILE", str(token_file))), "cfg")
    with pytest.raises(ConfigError, match="readable by others"):
        build_auth(config.profile("cloud"), "cfg")
    os.chmod(token_file, 0o600)
    auth = build_auth(config.profile("cloud"), "cfg")
    assert "TOKEN-FROM-FILE-0123456789" not in repr(auth)
    with pytest.raises(ConfigError, match="LAB_SK is not set"):
        build_auth(config.profile("lab"), "cfg")
    monkeypatch.setenv("LAB_SK", "very-secret-sk-value")
    auth = build_auth(config.profile("lab"), "cfg")
    assert "very-secret-sk-value" not in repr(auth) and mask("very-secret-sk-value") in repr(auth)


def parse_toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def test_iotunnel_exits_2_on_a_bad_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[countdown]\nwarning = 'x'")
    monkeypatch.setenv("IOTUNNEL_CONFIG", str(path))
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert str(path) in err and "countdown.warning" in err and "must be a number" in err


def test_iotunnel_without_profile_points_to_the_demo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 2
    assert "iotunnel demo" in capsys.readouterr().err


def test_unknown_profile_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOTUNNEL_CONFIG", str(write(tmp_path, GOOD)))
    assert main(["--profile", "nope"]) == 2
    assert "profiles.nope" in capsys.readouterr().err


def test_confirm_questions_are_on_by_default_and_can_be_turned_off() -> None:
    assert parse_config({}).confirm is True
    assert parse_config({"confirm": False}).confirm is False
    with pytest.raises(ConfigError, match="confirm: must be true or false"):
        parse_config({"confirm": "no"}, "cfg.toml")
