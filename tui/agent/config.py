"""Agent configuration: command-line options, a TOML file and the environment.

Secrets (the device secret, the pty login password) come from files that only their
owner can read, or from the environment; never from the command line alone, where any
local user could read them in `ps`.
"""

from __future__ import annotations

import os
import ssl
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui.iotda import secretfile
from tui.iotda.mqtt import KEEPALIVE_DEFAULT, KEEPALIVE_MAX, KEEPALIVE_MIN
from tui.iotda.redact import mask

ENV_DEVICE_SECRET = "IOTUNNEL_DEVICE_SECRET"
ENV_LOGIN_PASSWORD = "IOTUNNEL_LOGIN_PASSWORD"
DEFAULT_IDLE_TIMEOUT = 30 * 60.0
DEFAULT_RESUME_GRACE = 120.0
BACKENDS = ("ssh", "pty")


class ConfigError(Exception):
    """A bad option, config file or secret file; the message is one line for the user."""


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> MqttEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ConfigError(f"--mqtt must be mqtt://host:port or mqtts://host:port, not {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        if not parts.hostname:
            raise ConfigError(f"--mqtt has no host: {url!r}")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ConfigError(f"--mqtt has a bad port: {url!r}") from exc
        return cls(parts.hostname, port, tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class AgentConfig:
    """Everything one device agent needs. `repr` never shows a secret."""

    device_id: str
    secret: str = field(repr=False)
    mqtt: MqttEndpoint
    backend: str = "ssh"
    ssh_host: str = "127.0.0.1"
    ssh_port: int = 22
    login_user: str | None = None
    login_password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure: bool = False
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    # seconds a shell is kept for a resume after its link drops (0: no resume extension)
    resume_grace: float = DEFAULT_RESUME_GRACE
    device_name: str | None = None
    keepalive: int = KEEPALIVE_DEFAULT
    cols: int = 128
    rows: int = 30
    # reconnect pacing; tests shorten it, production keeps the C SDK's 1 s, 2 s, … 10 s
    tunnel_retry_step: float = 1.0
    mqtt_backoff_initial: float = 1.0
    mqtt_backoff_max: float = 60.0

    def __post_init__(self) -> None:
        if not self.device_id:
            raise ConfigError("a device id is required (--device-id)")
        if not self.secret:
            raise ConfigError(
                f"a device secret is required (--secret-file FILE or ${ENV_DEVICE_SECRET})"
            )
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}")
        if self.backend == "pty" and (not self.login_user or not self.login_password):
            raise ConfigError(
                "the pty backend needs --login-user and --login-password-file "
                f"(or ${ENV_LOGIN_PASSWORD})"
            )
        if not KEEPALIVE_MIN <= self.keepalive <= KEEPALIVE_MAX:
            raise ConfigError(f"--keepalive must be {KEEPALIVE_MIN}–{KEEPALIVE_MAX} s")
        if not 1 <= self.ssh_port <= 65535:
            raise ConfigError("--ssh-port must be a port number from 1 to 65535")
        if not self.idle_timeout > 0:  # also refuses NaN
            raise ConfigError("--idle-timeout must be positive")
        if not 0 <= self.resume_grace <= 24 * 3600:  # also refuses NaN
            raise ConfigError("--resume-grace must be 0–86400 s (0 turns resume off)")
        if self.ca_file and self.insecure:
            raise ConfigError("--ca and --insecure exclude each other")

    @property
    def name(self) -> str:
        return self.device_name or self.device_id

    def describe(self) -> str:
        return (
            f"device {self.device_id} via {self.mqtt}, backend {self.backend}, "
            f"secret {mask(self.secret)}"
        )


def read_secret_file(path: str | os.PathLike[str]) -> str:
    """The first line of a secret file that is not readable by group or others."""
    try:
        return secretfile.read_secret_file(path)
    except secretfile.SecretFileError as exc:
        raise ConfigError(str(exc)) from None


_TOML_KEYS = {
    "device_id",
    "secret_file",
    "mqtt",
    "backend",
    "ssh_host",
    "ssh_port",
    "login_user",
    "login_password_file",
    "ca",
    "insecure",
    "idle_timeout",
    "resume_grace",
    "device_name",
    "keepalive",
}


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Agent settings from a TOML file: top-level keys or an `[agent]` table."""
    try:
        with open(Path(path).expanduser(), "rb") as fh:
            body = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
    table = body.get("agent", body)
    if not isinstance(table, dict):
        raise ConfigError(f"config {path}: [agent] must be a table")
    options = {str(k).replace("-", "_"): v for k, v in table.items()}
    if "secret" in options or "login_password" in options:
        raise ConfigError(f"config {path}: put secrets in secret files, not in the config")
    unknown = sorted(set(options) - _TOML_KEYS)
    if unknown:
        raise ConfigError(f"config {path}: unknown keys {', '.join(unknown)}")
    if not isinstance(options.get("insecure", False), bool):
        raise ConfigError(f"config {path}: insecure must be true or false")
    return options


def build_config(
    options: dict[str, Any], env: dict[str, str] | None = None, **overrides: Any
) -> AgentConfig:
    """Merge options (command line over TOML) with secrets from files or the environment.

    `options` uses the TOML/option names: device_id, secret_file, mqtt, backend, ssh_host,
    ssh_port, login_user, login_password_file, ca, insecure, idle_timeout, resume_grace,
    device_name, keepalive. `None` values are treated as unset.
    """
    env = dict(os.environ) if env is None else env
    opts = {k: v for k, v in options.items() if v is not None}
    if opts.get("secret_file"):
        secret = read_secret_file(opts["secret_file"])
    else:
        secret = env.get(ENV_DEVICE_SECRET, "")
    password: str | None = None
    if opts.get("login_password_file"):
        password = read_secret_file(opts["login_password_file"])
    elif env.get(ENV_LOGIN_PASSWORD):
        password = env[ENV_LOGIN_PASSWORD]
    if not opts.get("mqtt"):
        raise ConfigError("an MQTT endpoint is required (--mqtt mqtt[s]://host:port)")
    try:
        values: dict[str, Any] = {
            "device_id": str(opts.get("device_id", "")),
            "secret": secret,
            "mqtt": MqttEndpoint.parse(str(opts["mqtt"])),
            "backend": str(opts.get("backend", "ssh")),
            "ssh_host": str(opts.get("ssh_host", "127.0.0.1")),
            "ssh_port": int(opts.get("ssh_port", 22)),
            "login_user": opts.get("login_user"),
            "login_password": password,
            "ca_file": opts.get("ca"),
            "insecure": bool(opts.get("insecure", False)),
            "idle_timeout": float(opts.get("idle_timeout", DEFAULT_IDLE_TIMEOUT)),
            "resume_grace": float(opts.get("resume_grace", DEFAULT_RESUME_GRACE)),
            "device_name": opts.get("device_name"),
            "keepalive": int(opts.get("keepalive", KEEPALIVE_DEFAULT)),
        }
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad option value: {exc}") from exc
    known = {f.name for f in fields(AgentConfig)}
    values.update({k: v for k, v in overrides.items() if k in known})
    return AgentConfig(**values)


def ssl_context(ca_file: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """TLS for MQTTS and wss: certificates checked by default, against `ca_file` if given."""
    if insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA file {ca_file}: {exc}") from exc
