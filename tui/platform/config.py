"""Configuration of the local platform: the seed TOML file and the runtime options."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.iotda.localstate import state_dir
from tui.iotda.models import DEFAULT_TOKEN_TTL, default_device_id, is_valid_device_id
from tui.iotda.redact import mask
from tui.iotda.secretfile import SecretFileError, check_private_file
from tui.iotda.tomlpos import TablePath, key_line
from tui.platform.links import LinkLimits
from tui.platform.ratelimit import AUTH_FAILURES, REST_REQUESTS, RateLimit

EDITIONS = ("basic", "standard", "enterprise")
# docs/protocol.md §5.1: "iotunnel" repeats connect_tunnel to a late app, tells the device when
# its app left (410) and relays our extensions; "documented" does only what Huawei documents
RELAY_IOTUNNEL = "iotunnel"
RELAY_DOCUMENTED = "documented"
RELAY_MODES = (RELAY_IOTUNNEL, RELAY_DOCUMENTED)


class SeedError(ValueError):
    """A seed file that cannot be used; the message names the file, the line if known, the key."""

    def __init__(self, message: str, *, table: TablePath = (), key: str | None = None) -> None:
        super().__init__(message)
        self.table = table  # where in the TOML: ("devices", 2) is the third [[devices]]
        self.key = key


@dataclass(frozen=True)
class Credential:
    ak: str
    sk: str

    def __repr__(self) -> str:
        return f"Credential(ak={self.ak!r}, sk={mask(self.sk)!r})"


@dataclass(frozen=True)
class IamUser:
    name: str
    password: str
    domain: str

    def __repr__(self) -> str:
        return f"IamUser(name={self.name!r}, domain={self.domain!r}, password='***')"


@dataclass(frozen=True)
class SeedDevice:
    device_id: str
    node_id: str
    product_id: str
    secret: str
    device_name: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    product_name: str | None = None  # default: derived from product_id ("Smart Boiler")

    def __repr__(self) -> str:
        return f"SeedDevice(device_id={self.device_id!r}, secret='***')"


@dataclass(frozen=True)
class Seed:
    project_id: str
    region: str
    edition: str = "standard"
    credentials: tuple[Credential, ...] = ()
    users: tuple[IamUser, ...] = ()
    devices: tuple[SeedDevice, ...] = ()


@dataclass
class PlatformConfig:
    """Everything `Platform` needs; ports 0 mean any free port."""

    seed: Seed
    state_path: str = ":memory:"
    host: str = "127.0.0.1"
    rest_port: int = 0
    mqtt_port: int = 0
    ws_port: int = 0
    token_ttl: int = DEFAULT_TOKEN_TTL
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_self_signed: str | None = None  # a folder: make (or reuse) a CA and a server cert there
    advertise_host: str | None = None  # the host in URIs; default: bind host or machine name
    iam_token_ttl: int = 86_400
    relay_mode: str = RELAY_IOTUNNEL
    # WebSocket keepalive of tunnel links: ping every `keepalive` s, drop after as long again
    keepalive: float = 20.0
    link_limits: LinkLimits = field(default_factory=LinkLimits)
    # per source address: REST calls, and failed logins (REST and MQTT) on top
    rest_rate: RateLimit = REST_REQUESTS
    auth_failure_rate: RateLimit = AUTH_FAILURES
    request_timeout: float = 10.0  # REST/WS request headers, and a REST body, must be in by then
    mqtt_max_pending: int = 1024  # MQTT connections not yet authenticated (fleets log in at once)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.relay_mode not in RELAY_MODES:
            raise ValueError(f"relay_mode must be one of {', '.join(RELAY_MODES)}")


def default_state_path() -> Path:
    return state_dir() / "platform.sqlite3"


def _need_str(
    table: dict[str, Any], key: str, where: str, *, optional: bool = False, at: TablePath = ()
) -> str | None:
    value = table.get(key)
    if value is None:
        if optional:
            return None
        raise SeedError(f"{where}: missing key {key!r}", table=at)
    if not isinstance(value, str) or not value:
        raise SeedError(f"{where}: key {key!r} must be a non-empty string", table=at, key=key)
    return value


def _tables(body: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SeedError(f"{path}: key {key!r} must be an array of tables ([[{key}]])", key=key)
    return value


def parse_seed(body: dict[str, Any], path: str = "<seed>") -> Seed:
    """Build a Seed from parsed TOML; raises SeedError naming the file and key."""
    project_id = _need_str(body, "project_id", path)
    region = _need_str(body, "region", path)
    edition = _need_str(body, "edition", path, optional=True) or "standard"
    if edition not in EDITIONS:
        raise SeedError(
            f"{path}: key 'edition' must be one of {', '.join(EDITIONS)}", key="edition"
        )
    credentials = []
    for index, table in enumerate(_tables(body, "credentials", path)):
        where, at = f"{path}: credentials[{index}]", ("credentials", index)
        credentials.append(
            Credential(_need_str(table, "ak", where, at=at), _need_str(table, "sk", where, at=at))
        )
    users = []
    for index, table in enumerate(_tables(body, "users", path)):
        where, at = f"{path}: users[{index}]", ("users", index)
        users.append(
            IamUser(
                _need_str(table, "name", where, at=at),
                _need_str(table, "password", where, at=at),
                _need_str(table, "domain", where, at=at),
            )
        )
    devices: list[SeedDevice] = []
    seen: set[str] = set()
    for index, table in enumerate(_tables(body, "devices", path)):
        where, at = f"{path}: devices[{index}]", ("devices", index)
        node_id = _need_str(table, "node_id", where, at=at)
        product_id = _need_str(table, "product_id", where, at=at)
        device_id = _need_str(table, "device_id", where, optional=True, at=at) or default_device_id(
            product_id, node_id
        )
        if not is_valid_device_id(device_id):
            raise SeedError(
                f"{where}: key 'device_id' must be ≤128 chars of [A-Za-z0-9_-]",
                table=at,
                key="device_id",
            )
        if device_id in seen:
            raise SeedError(
                f"{where}: key 'device_id' {device_id!r} is repeated", table=at, key="device_id"
            )
        seen.add(device_id)
        tags = table.get("tags", {})
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise SeedError(f"{where}: key 'tags' must be a table of strings", table=at, key="tags")
        devices.append(
            SeedDevice(
                device_id=device_id,
                node_id=node_id,
                product_id=product_id,
                secret=_need_str(table, "secret", where, at=at),
                device_name=_need_str(table, "device_name", where, optional=True, at=at),
                tags=tuple(sorted(tags.items())),
                product_name=_need_str(table, "product_name", where, optional=True, at=at),
            )
        )
    return Seed(project_id, region, edition, tuple(credentials), tuple(users), tuple(devices))


def load_seed(path: str | Path, *, private: bool = False) -> Seed:
    """Read a seed TOML file; every problem is a SeedError naming the file (and line).

    `private`: the file holds secrets (SK, IAM passwords, device secrets), so refuse it
    unless only its owner can read it, like every secret file (`iotunnel platform` does).
    """
    name = str(path)
    if private:
        try:
            check_private_file(path)
        except SecretFileError as exc:
            raise SeedError(f"{name}: {exc}") from None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{name}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise SeedError(f"{name}: not UTF-8 text") from None
    try:
        body = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SeedError(f"{name}: {exc}") from None
    try:
        return parse_seed(body, name)
    except SeedError as exc:
        line = key_line(text, exc.table, exc.key)
        message = str(exc)
        if line is None or not message.startswith(f"{name}: "):
            raise
        raise SeedError(
            f"{name}:{line}: {message.removeprefix(f'{name}: ')}", table=exc.table, key=exc.key
        ) from None
