"""Tokens of the tunnels this client created, kept so that a still-valid one is reused.

The store is one JSON file (mode 0600, in a 0700 directory), re-read on every call so
that the CLI and a running dashboard see each other's changes; writes go through a
temporary file and `os.replace` so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui.iotda.localstate import locked_private, state_dir, write_private_json
from tui.iotda.models import TunnelCreated
from tui.iotda.redact import mask

log = logging.getLogger(__name__)

TOKENS_FILE = "tokens.json"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoredTunnel:
    endpoint: str
    project_id: str
    tunnel_id: str
    device_id: str
    token: str
    tunnel_uri: str
    expires_at: float  # wall-clock epoch seconds

    @property
    def key(self) -> str:
        return store_key(self.endpoint, self.project_id, self.tunnel_id)

    def is_valid(self, now: float, margin: float = 0.0) -> bool:
        return self.expires_at - margin > now

    def __repr__(self) -> str:  # the token never reaches a log through repr
        return (
            f"StoredTunnel(endpoint={self.endpoint!r}, project_id={self.project_id!r}, "
            f"tunnel_id={self.tunnel_id!r}, device_id={self.device_id!r}, "
            f"token={mask(self.token)!r}, tunnel_uri={self.tunnel_uri!r}, "
            f"expires_at={self.expires_at})"
        )

    @classmethod
    def from_created(
        cls,
        endpoint: str,
        project_id: str,
        device_id: str,
        created: TunnelCreated,
        *,
        now: float | None = None,
    ) -> StoredTunnel:
        started = time.time() if now is None else now
        return cls(
            endpoint=endpoint,
            project_id=project_id,
            tunnel_id=created.tunnel_id,
            device_id=device_id,
            token=created.tunnel_access_token,
            tunnel_uri=created.tunnel_uri,
            expires_at=started + created.expires_in,
        )

    @classmethod
    def from_json(cls, body: Any) -> StoredTunnel | None:
        if not isinstance(body, dict):
            return None
        try:
            fields = {
                name: body[name]
                for name in ("endpoint", "project_id", "tunnel_id", "device_id", "token")
            }
            fields["tunnel_uri"] = body["tunnel_uri"]
            expires_at = float(body["expires_at"])
        except (KeyError, TypeError, ValueError):
            return None
        if not all(isinstance(value, str) for value in fields.values()):
            return None
        return cls(expires_at=expires_at, **fields)


def store_key(endpoint: str, project_id: str, tunnel_id: str) -> str:
    return f"{endpoint.rstrip('/')}|{project_id}|{tunnel_id}"


class TokenStore:
    """`$XDG_STATE_HOME/iotunnel/tokens.json`, keyed by endpoint + project + tunnel id."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / TOKENS_FILE

    def get_for_device(
        self,
        endpoint: str,
        project_id: str,
        device_id: str,
        *,
        now: float | None = None,
        margin: float = 0.0,
    ) -> StoredTunnel | None:
        """The stored tunnel of that device whose token is valid at `now` (latest expiry)."""
        moment = time.time() if now is None else now
        endpoint = endpoint.rstrip("/")
        found = [
            entry
            for entry in self._load().values()
            if entry.endpoint.rstrip("/") == endpoint
            and entry.project_id == project_id
            and entry.device_id == device_id
            and entry.is_valid(moment, margin)
        ]
        return max(found, key=lambda entry: entry.expires_at) if found else None

    def get(self, endpoint: str, project_id: str, tunnel_id: str) -> StoredTunnel | None:
        return self._load().get(store_key(endpoint, project_id, tunnel_id))

    def entries(self) -> list[StoredTunnel]:
        return list(self._load().values())

    def put(self, stored: StoredTunnel) -> None:
        with self._locked():
            entries = self._load()
            entries[stored.key] = stored
            self._save(entries)
        log.debug("stored token %s for tunnel %s", mask(stored.token), stored.tunnel_id)

    def remove(self, endpoint: str, project_id: str, tunnel_id: str) -> None:
        with self._locked():
            entries = self._load()
            if entries.pop(store_key(endpoint, project_id, tunnel_id), None) is not None:
                self._save(entries)

    def prune(self, now: float) -> None:
        """Forget every entry whose token has expired at `now`."""
        with self._locked():
            entries = self._load()
            kept = {key: entry for key, entry in entries.items() if entry.is_valid(now)}
            if len(kept) != len(entries):
                self._save(kept)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between processes (the CLI and a dashboard)."""
        with locked_private(self.path):
            yield

    def _load(self) -> dict[str, StoredTunnel]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read token store %s: %s", self.path, exc)
            return {}
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            log.warning("token store %s is not JSON; ignoring it", self.path)
            return {}
        tunnels = body.get("tunnels") if isinstance(body, dict) else None
        if not isinstance(tunnels, list):
            return {}
        entries: dict[str, StoredTunnel] = {}
        for item in tunnels:
            entry = StoredTunnel.from_json(item)
            if entry is None:
                log.warning("dropping a malformed token store entry")
                continue
            entries[entry.key] = entry
        return entries

    def _save(self, entries: dict[str, StoredTunnel]) -> None:
        body = {"version": _FORMAT_VERSION, "tunnels": [asdict(e) for e in entries.values()]}
        write_private_json(self.path, body, indent=1)
