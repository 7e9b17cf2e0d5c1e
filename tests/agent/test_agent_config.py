"""AgentConfig from options, TOML and the environment; secret files must be private."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.agent.config import ConfigError, MqttEndpoint, build_config, load_toml, read_secret_file


def secret_file(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> str:
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_mqtt_urls() -> None:
    assert MqttEndpoint.parse("mqtt://127.0.0.1:1883") == MqttEndpoint("127.0.0.1", 1883, False)
    assert MqttEndpoint.parse("mqtts://iot.example") == MqttEndpoint("iot.example", 8883, True)
    for bad in ("http://x:1", "mqtt://", "mqtt://h:notaport"):
        with pytest.raises(ConfigError):
            MqttEndpoint.parse(bad)


def test_secret_file_must_not_be_readable_by_others(tmp_path: Path) -> None:
    loose = secret_file(tmp_path, "loose", "s3cret\n", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_secret_file(loose)
    assert read_secret_file(secret_file(tmp_path, "tight", "s3cret\n")) == "s3cret"
    with pytest.raises(ConfigError, match="empty"):
        read_secret_file(secret_file(tmp_path, "empty", "\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        read_secret_file(tmp_path / "missing")


def test_build_from_options_and_env(tmp_path: Path) -> None:
    options = {
        "device_id": "dev_1",
        "mqtt": "mqtt://127.0.0.1:1883",
        "backend": "pty",
        "login_user": "demo",
        "secret_file": secret_file(tmp_path, "secret", "device-secret"),
    }
    config = build_config(options, env={"IOTUNNEL_LOGIN_PASSWORD": "pw-from-env"})
    assert (config.secret, config.login_password) == ("device-secret", "pw-from-env")
    assert "device-secret" not in repr(config) and "pw-from-env" not in repr(config)
    assert "device-secret" not in config.describe()
    env_only = build_config(
        {**options, "secret_file": None, "backend": "ssh"}, env={"IOTUNNEL_DEVICE_SECRET": "e"}
    )
    assert (env_only.secret, env_only.backend, env_only.ssh_port) == ("e", "ssh", 22)


def test_missing_pieces_are_clear_errors(tmp_path: Path) -> None:
    base = {"device_id": "dev_1", "mqtt": "mqtt://127.0.0.1:1883"}
    with pytest.raises(ConfigError, match="secret"):
        build_config(base, env={})
    with pytest.raises(ConfigError, match="login"):
        build_config({**base, "backend": "pty"}, env={"IOTUNNEL_DEVICE_SECRET": "x"})
    with pytest.raises(ConfigError, match="MQTT"):
        build_config({"device_id": "d"}, env={"IOTUNNEL_DEVICE_SECRET": "x"})
    with pytest.raises(ConfigError, match="backend"):
        build_config({**base, "backend": "telnet"}, env={"IOTUNNEL_DEVICE_SECRET": "x"})
    with pytest.raises(ConfigError):
        build_config({**base, "ssh_port": "x"}, env={"IOTUNNEL_DEVICE_SECRET": "x"})
    with pytest.raises(ConfigError, match="--idle-timeout"):
        build_config({**base, "idle_timeout": "nan"}, env={"IOTUNNEL_DEVICE_SECRET": "x"})
    with pytest.raises(ConfigError, match="--ssh-port"):
        build_config({**base, "ssh_port": 99999}, env={"IOTUNNEL_DEVICE_SECRET": "x"})


def test_toml_config(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[agent]\ndevice_id = "dev_1"\nmqtt = "mqtts://iot.example:8883"\n'
        'backend = "ssh"\nssh_port = 2222\nidle_timeout = 60\n'
    )
    options = load_toml(path)
    config = build_config(options, env={"IOTUNNEL_DEVICE_SECRET": "x"})
    assert (config.ssh_port, config.idle_timeout, config.mqtt.tls) == (2222, 60.0, True)
    path.write_text('device_id = "d"\nsecret = "inline"\n')
    with pytest.raises(ConfigError, match="secret files"):
        load_toml(path)
    path.write_text('device_id = "d"\ncolour = 1\n')
    with pytest.raises(ConfigError, match="unknown"):
        load_toml(path)
    path.write_text("device_id = \n")
    with pytest.raises(ConfigError, match="TOML"):
        load_toml(path)


def test_toml_dashed_keys_and_typed_insecure(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('device-id = "dev_1"\nmqtt = "mqtt://127.0.0.1:1883"\nkeepalive = 30\n')
    config = build_config(load_toml(path), env={"IOTUNNEL_DEVICE_SECRET": "x"})
    assert (config.device_id, config.keepalive) == ("dev_1", 30)
    path.write_text('login-password = "inline"\n')
    with pytest.raises(ConfigError, match="secret files"):
        load_toml(path)
    # a string would be truthy: "false" must not switch certificate checks off
    path.write_text('insecure = "false"\n')
    with pytest.raises(ConfigError, match="insecure"):
        load_toml(path)
    with pytest.raises(ConfigError, match="--keepalive"):
        build_config(
            {"device_id": "d", "mqtt": "mqtt://h:1", "keepalive": 5},
            env={"IOTUNNEL_DEVICE_SECRET": "x"},
        )
