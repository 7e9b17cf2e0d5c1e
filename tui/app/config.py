"""The dashboard's TOML config: profiles, keymap, theme, countdown thresholds, refresh.

A bad config raises `ConfigError` naming the file, the key and the problem; the CLI
prints that one line and exits 2. Secrets are never read from the config itself: a
profile names an environment variable or a file only the user can read.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tui.iotda import secretfile
from tui.iotda.tomlpos import dotted_key_line

DEFAULT_THEME = "iotunnel-dark"
DEFAULT_REFRESH_INTERVAL = 10.0
DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_WARNING_SECONDS = 600
DEFAULT_CRITICAL_SECONDS = 60
AUTH_TYPES = ("token", "aksk", "iam")
EXTENSIONS_AUTO = "auto"
_PROFILE_KEYS = frozenset(
    {"endpoint", "project_id", "region", "instance_id", "auth", "extensions", "ca_file"}
)


class ConfigError(Exception):
    """A config problem: `file:line: key: problem`, one line for the user."""

    def __init__(self, path: str | Path, key: str, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


@dataclass(frozen=True)
class AuthConfig:
    """Where a profile's credentials come from; the values themselves stay outside."""

    type: str = "token"
    token_env: str | None = None
    token_file: str | None = None
    ak_env: str | None = None
    sk_env: str | None = None
    ak: str | None = None  # an AK is an identifier, not a secret
    sk_file: str | None = None
    username: str | None = None
    domain: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    iam_endpoint: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    endpoint: str
    project_id: str
    region: str | None = None
    instance_id: str | None = None
    auth: AuthConfig = field(default_factory=AuthConfig)
    # our wire extensions (resize, resume): None = auto, i.e. only where the platform says
    # it is an iotunnel platform (X-Iotunnel-Platform); True/False force them on or off
    extensions: bool | None = None
    ca_file: str | None = None  # CA bundle for a platform with its own certificate

    @property
    def verify(self) -> bool | str:
        """httpx's `verify`: the profile's CA bundle, else the system's."""
        return os.path.expanduser(self.ca_file) if self.ca_file else True


@dataclass(frozen=True)
class Countdown:
    warning_seconds: int = DEFAULT_WARNING_SECONDS
    critical_seconds: int = DEFAULT_CRITICAL_SECONDS


@dataclass(frozen=True)
class AppConfig:
    """Everything the dashboard reads from the config file (all has a default)."""

    theme: str = DEFAULT_THEME
    refresh_interval: float = DEFAULT_REFRESH_INTERVAL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    countdown: Countdown = field(default_factory=Countdown)
    keymap: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    default_profile: str | None = None
    path: str | None = None
    record_sessions: bool = False  # asciicast of every session's output, never its input
    confirm: bool = True  # ask before close/delete/renew/close all/quit end a live shell
    terminal_backend: str = "auto"  # the pane's emulator: auto (Ghostty's core), ghostty, pyte

    def profile(self, name: str | None) -> Profile:
        where = self.path or "config"
        chosen = name or self.default_profile
        if chosen is None:
            if len(self.profiles) == 1:
                return next(iter(self.profiles.values()))
            if not self.profiles:
                raise ConfigError(where, "profiles", "no profile configured")
            raise ConfigError(where, "default_profile", "several profiles: name one")
        if chosen not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(where, f"profiles.{chosen}", f"no such profile (configured: {known})")
        return self.profiles[chosen]


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "iotunnel"


def config_path() -> Path:
    override = os.environ.get("IOTUNNEL_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


class _Reader:
    """Typed access to one TOML table, with the dotted key kept for error messages."""

    def __init__(self, path: str, table: Any, prefix: str) -> None:
        if not isinstance(table, dict):
            raise ConfigError(path, prefix, "must be a table")
        self.path, self.table, self.prefix = path, table, prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.table.get(name)
        if value is None:
            if required:
                raise ConfigError(self.path, self.key(name), "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(self.path, self.key(name), "must be a non-empty string")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self.path, self.key(name), "must be a number")
        if value <= minimum:
            raise ConfigError(self.path, self.key(name), f"must be greater than {minimum:g}")
        return float(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(self.path, self.key(name), "must be true or false")
        return value

    def extensions(self, name: str) -> bool | None:
        value = self.table.get(name, EXTENSIONS_AUTO)
        if value == EXTENSIONS_AUTO:
            return None
        if not isinstance(value, bool):
            raise ConfigError(self.path, self.key(name), 'must be "auto", true or false')
        return value

    def sub(self, name: str) -> _Reader:
        return _Reader(self.path, self.table.get(name, {}), self.key(name))


def _auth(reader: _Reader) -> AuthConfig:
    kind = reader.str("type", "token")
    if kind not in AUTH_TYPES:
        choices = ", ".join(AUTH_TYPES)
        raise ConfigError(reader.path, reader.key("type"), f"must be one of {choices}")
    fields = {name: reader.str(name) for name in AuthConfig.__dataclass_fields__ if name != "type"}
    unknown = set(reader.table) - set(AuthConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(reader.path, reader.key(sorted(unknown)[0]), "unknown key")
    if "sk" in reader.table or "password" in reader.table or "token" in reader.table:
        raise ConfigError(reader.path, reader.prefix, "secrets go in the environment or a file")
    return AuthConfig(type=kind or "token", **fields)


def parse_config(data: dict[str, Any], path: str = "config") -> AppConfig:
    """Build an AppConfig from parsed TOML; raise ConfigError on the first problem."""
    top = _Reader(path, data, "")
    countdown = top.sub("countdown")
    warning = int(countdown.number("warning", DEFAULT_WARNING_SECONDS))
    critical = int(countdown.number("critical", DEFAULT_CRITICAL_SECONDS))
    if critical >= warning:
        raise ConfigError(path, "countdown.critical", "must be less than countdown.warning")
    keymap_table = top.sub("keymap").table
    keymap: dict[str, str] = {}
    for binding_id, keys in keymap_table.items():
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError(path, f"keymap.{binding_id}", "must be a key string like 'ctrl+o'")
        keymap[binding_id] = keys
    profiles: dict[str, Profile] = {}
    profiles_reader = top.sub("profiles")
    for name in profiles_reader.table:
        reader = profiles_reader.sub(name)
        unknown = sorted(set(reader.table) - _PROFILE_KEYS)
        if unknown:
            raise ConfigError(path, reader.key(unknown[0]), "unknown key")
        profiles[name] = Profile(
            name=name,
            endpoint=reader.str("endpoint", required=True) or "",
            project_id=reader.str("project_id", required=True) or "",
            region=reader.str("region"),
            instance_id=reader.str("instance_id"),
            auth=_auth(reader.sub("auth")),
            extensions=reader.extensions("extensions"),
            ca_file=reader.str("ca_file"),
        )
    default_profile = top.str("default_profile")
    if default_profile is not None and default_profile not in profiles:
        raise ConfigError(path, "default_profile", f"no profile named {default_profile!r}")
    theme = top.str("theme", DEFAULT_THEME) or DEFAULT_THEME
    if "theme" in top.table:
        _check_theme(theme, path)
    return AppConfig(
        theme=theme,
        refresh_interval=top.number("refresh_interval", DEFAULT_REFRESH_INTERVAL),
        connect_timeout=top.number("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
        countdown=Countdown(warning, critical),
        keymap=keymap,
        profiles=profiles,
        default_profile=default_profile,
        path=path,
        record_sessions=top.flag("record_sessions"),
        confirm=top.flag("confirm", True),
        terminal_backend=_terminal_backend(top.str("terminal_backend", "auto") or "auto", path),
    )


def _terminal_backend(name: str, path: str) -> str:
    from tui.terminal import BACKEND_NAMES

    chosen = name.strip().lower()
    if chosen not in BACKEND_NAMES:
        choices = ", ".join(BACKEND_NAMES)
        raise ConfigError(path, "terminal_backend", f"unknown backend {name!r}; one of {choices}")
    return chosen


def _check_theme(name: str, path: str) -> None:
    """An unknown theme is a config error listing the themes there are (shipped, the
    user's, Textual's own), rather than a silent fall-back in the dashboard."""
    from textual.theme import BUILTIN_THEMES

    from tui.app.themes import load_themes  # the app's own loader: the same list it shows

    ours = sorted(load_themes().themes)
    if name in ours or name in BUILTIN_THEMES:
        return
    listed = ", ".join([*ours, *sorted(BUILTIN_THEMES)])
    raise ConfigError(path, "theme", f"unknown theme {name!r}; themes: {listed}")


def load_config(path: Path | None = None) -> AppConfig:
    """Read the config file; a missing file is an empty config with defaults.

    A file named by IOTUNNEL_CONFIG must exist: the user asked for that one.
    """
    if path is None and os.environ.get("IOTUNNEL_CONFIG"):
        path = config_path()
        if not path.exists():
            raise ConfigError(path, "", "no such file (named by IOTUNNEL_CONFIG)")
    path = path or config_path()
    if not path.exists():
        return AppConfig(path=str(path))
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        return parse_config(data, str(path))
    except ConfigError as exc:
        if exc.line is None and exc.key and exc.path == str(path):
            line = dotted_key_line(text, exc.key)
            raise ConfigError(exc.path, exc.key, exc.problem, line) from None
        raise


def read_secret_file(path_text: str, key: str, config_file: str) -> str:
    """Read a secret from a file only its owner can read; refuse anything looser."""
    try:
        return secretfile.read_secret_file(path_text)
    except secretfile.SecretFileError as exc:
        raise ConfigError(config_file, key, str(exc)) from None


def read_secret_env(name: str, key: str, config_file: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(config_file, key, f"environment variable {name} is not set")
    return value


def build_auth(
    profile: Profile, config_file: str, *, clock: Callable[[], datetime] | None = None
) -> Any:
    """The httpx auth object for a profile, reading its secret from the env or a 0600 file.

    `clock` replaces the wall clock of signing and token renewal (`profiles check` tests).
    """
    from tui.iotda.auth import AkSkAuth, IamPasswordAuth, TokenAuth

    auth = profile.auth
    key = f"profiles.{profile.name}.auth"

    def secret(env: str | None, file: str | None, what: str) -> str:
        if env:
            return read_secret_env(env, f"{key}.{what}_env", config_file)
        if file:
            return read_secret_file(file, f"{key}.{what}_file", config_file)
        raise ConfigError(config_file, key, f"set {what}_env or {what}_file")

    if auth.type == "token":
        return TokenAuth(secret(auth.token_env, auth.token_file, "token"))
    if auth.type == "aksk":
        ak = auth.ak
        if not ak and auth.ak_env:
            ak = read_secret_env(auth.ak_env, f"{key}.ak_env", config_file)
        if not ak:
            raise ConfigError(config_file, key, "set ak or ak_env")
        sk = secret(auth.sk_env, auth.sk_file, "sk")
        return AkSkAuth(ak, sk, region=profile.region, clock=clock)
    if not auth.username or not auth.domain:
        raise ConfigError(config_file, key, "iam auth needs username and domain")
    iam = auth.iam_endpoint or (
        f"https://iam.{profile.region}.myhuaweicloud.com" if profile.region else None
    )
    if not iam:
        raise ConfigError(config_file, key, "iam auth needs iam_endpoint or the profile's region")
    return IamPasswordAuth(
        iam,
        username=auth.username,
        password=secret(auth.password_env, auth.password_file, "password"),
        domain=auth.domain,
        project_id=profile.project_id,
        clock=clock,
        verify=profile.verify,
    )
