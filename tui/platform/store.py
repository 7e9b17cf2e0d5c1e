"""SQLite state of the local platform: devices, tunnels and token hashes.

Only SHA-256 hashes of tokens and passwords are stored, never the secrets themselves.
Every write commits at once (autocommit), so a killed platform loses nothing it answered.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from tui.iotda.localstate import touch_private
from tui.iotda.models import TUNNEL_LIST_MAX, DeviceStatus, LinkStatus, TunnelStatus
from tui.platform.config import SeedDevice

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    record_id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL UNIQUE,
    node_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    device_name TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    create_time REAL NOT NULL,
    status_time REAL,
    active_time REAL
);
CREATE TABLE IF NOT EXISTS tunnels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tunnel_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    status TEXT NOT NULL,
    create_time REAL NOT NULL,
    update_time REAL NOT NULL,
    expires_at REAL NOT NULL,
    source_state TEXT NOT NULL,
    source_time REAL NOT NULL,
    device_state TEXT NOT NULL,
    device_time REAL NOT NULL,
    source_token_hash TEXT NOT NULL,
    device_token_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS iam_tokens (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def record_marker(record_id: int) -> str:
    """The 24-hex `marker` of a device record, ordered like the record ids."""
    return f"{record_id:024x}"


@dataclass(frozen=True)
class DeviceRecord:
    record_id: int
    device_id: str
    node_id: str
    product_id: str
    device_name: str | None
    tags: tuple[tuple[str, str], ...]
    status: str
    create_time: float
    status_time: float | None
    active_time: float | None


@dataclass(frozen=True)
class TunnelRecord:
    tunnel_id: str
    device_id: str
    status: str
    create_time: float
    update_time: float
    expires_at: float
    source_state: str
    source_time: float
    device_state: str
    device_time: float
    source_token_hash: str
    device_token_hash: str


@dataclass(frozen=True)
class DeviceFilter:
    product_id: str | None = None
    node_id: str | None = None
    device_name: str | None = None
    gateway_id: str | None = None
    app_id: str | None = None
    start_time: float | None = None
    end_time: float | None = None


_TUNNEL_COLUMNS = (
    "tunnel_id, device_id, status, create_time, update_time, expires_at, source_state, "
    "source_time, device_state, device_time, source_token_hash, device_token_hash"
)
_DEVICE_COLUMNS = (
    "record_id, device_id, node_id, product_id, device_name, tags, status, create_time, "
    "status_time, active_time"
)


def _device(row: tuple) -> DeviceRecord:
    tags = tuple((str(k), str(v)) for k, v in json.loads(row[5]))
    return DeviceRecord(row[0], row[1], row[2], row[3], row[4], tags, *row[6:])


class Store:
    """Synchronous SQLite access; calls are short, so the event loop runs them inline."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        path = str(path)
        if path != ":memory:":
            # 0600 before SQLite opens it (its -wal/-shm files copy this mode)
            touch_private(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL survives a killed process (not a power cut) without an fsync a write
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every write (the platform's waiters hang on it)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def close(self) -> None:
        self._db.close()

    # --- devices ---------------------------------------------------------------------------

    def seed_devices(self, devices: Iterable[SeedDevice], now: float) -> None:
        """Add seed devices not yet known; refresh name and tags of known ones."""
        for dev in devices:
            tags = json.dumps([list(tag) for tag in dev.tags])
            self._db.execute(
                "INSERT INTO devices (device_id, node_id, product_id, device_name, tags, status,"
                " create_time) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE"
                " SET device_name = excluded.device_name, tags = excluded.tags",
                (
                    dev.device_id,
                    dev.node_id,
                    dev.product_id,
                    dev.device_name,
                    tags,
                    DeviceStatus.INACTIVE,
                    now,
                ),
            )

    def reset_live_state(self, now: float) -> None:
        """At start nothing is connected: ONLINE devices become OFFLINE, links DISCONNECTED."""
        self._db.execute(
            "UPDATE devices SET status = ?, status_time = ? WHERE status = ?",
            (DeviceStatus.OFFLINE, now, DeviceStatus.ONLINE),
        )
        for side in ("source", "device"):
            self._db.execute(
                f"UPDATE tunnels SET {side}_state = ?, {side}_time = ? WHERE {side}_state = ?",
                (LinkStatus.DISCONNECTED, now, LinkStatus.CONNECTED),
            )

    def get_device(self, device_id: str) -> DeviceRecord | None:
        row = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,)
        ).fetchone()
        return _device(row) if row else None

    def set_device_online(self, device_id: str, online: bool, now: float) -> bool:
        status = DeviceStatus.ONLINE if online else DeviceStatus.OFFLINE
        if online:
            sql = (
                "UPDATE devices SET status = ?, status_time = ?, active_time = ?"
                " WHERE device_id = ?"
            )
            args: tuple = (status, now, now, device_id)
        else:
            sql = "UPDATE devices SET status = ?, status_time = ? WHERE device_id = ?"
            args = (status, now, device_id)
        changed = self._db.execute(sql, args).rowcount > 0
        self._changed()
        return changed

    def query_devices(
        self, flt: DeviceFilter, below: int, offset: int, limit: int
    ) -> tuple[list[DeviceRecord], int]:
        """Newest first, record ids below `below`; returns (page, total matching count)."""
        where: list[str] = []
        args: list = []
        for column in ("product_id", "node_id", "device_name"):
            value = getattr(flt, column)
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if flt.gateway_id is not None:
            # every local device connects directly: a GATEWAY whose gateway_id is itself
            where.append("device_id = ?")
            args.append(flt.gateway_id)
        if flt.app_id is not None:
            where.append("0")  # every local device belongs to the default app
        if flt.start_time is not None:
            where.append("create_time >= ?")
            args.append(flt.start_time)
        if flt.end_time is not None:
            where.append("create_time <= ?")
            args.append(flt.end_time)
        # count is every match, as IoTDA reports it; the page starts below the marker
        clause = " AND ".join(where) or "1"
        count = self._db.execute(f"SELECT COUNT(*) FROM devices WHERE {clause}", args).fetchone()[0]
        rows = self._db.execute(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE {clause} AND record_id < ?"
            " ORDER BY record_id DESC LIMIT ? OFFSET ?",
            [*args, below, limit, offset],
        ).fetchall()
        return [_device(row) for row in rows], count

    # --- tunnels ---------------------------------------------------------------------------

    def add_tunnel(self, tunnel: TunnelRecord) -> None:
        self._db.execute(
            f"INSERT INTO tunnels ({_TUNNEL_COLUMNS}) VALUES ({', '.join('?' * 12)})",
            (
                tunnel.tunnel_id,
                tunnel.device_id,
                tunnel.status,
                tunnel.create_time,
                tunnel.update_time,
                tunnel.expires_at,
                tunnel.source_state,
                tunnel.source_time,
                tunnel.device_state,
                tunnel.device_time,
                tunnel.source_token_hash,
                tunnel.device_token_hash,
            ),
        )
        self._changed()

    def save_tunnel(self, tunnel: TunnelRecord) -> None:
        self._db.execute(
            "UPDATE tunnels SET status = ?, update_time = ?, source_state = ?, source_time = ?,"
            " device_state = ?, device_time = ?, device_token_hash = ? WHERE tunnel_id = ?",
            (
                tunnel.status,
                tunnel.update_time,
                tunnel.source_state,
                tunnel.source_time,
                tunnel.device_state,
                tunnel.device_time,
                tunnel.device_token_hash,
                tunnel.tunnel_id,
            ),
        )
        self._changed()

    def get_tunnel(self, tunnel_id: str) -> TunnelRecord | None:
        row = self._db.execute(
            f"SELECT {_TUNNEL_COLUMNS} FROM tunnels WHERE tunnel_id = ?", (tunnel_id,)
        ).fetchone()
        return TunnelRecord(*row) if row else None

    def list_tunnels(
        self, device_id: str | None = None, limit: int = TUNNEL_LIST_MAX
    ) -> list[TunnelRecord]:
        sql = f"SELECT {_TUNNEL_COLUMNS} FROM tunnels"
        args: list = []
        if device_id is not None:
            sql += " WHERE device_id = ?"
            args.append(device_id)
        rows = self._db.execute(f"{sql} ORDER BY seq DESC LIMIT ?", [*args, limit]).fetchall()
        return [TunnelRecord(*row) for row in rows]

    def all_tunnels(self) -> list[TunnelRecord]:
        rows = self._db.execute(f"SELECT {_TUNNEL_COLUMNS} FROM tunnels").fetchall()
        return [TunnelRecord(*row) for row in rows]

    def count_tunnels(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM tunnels").fetchone()[0]

    def tunnel_of_device(self, device_id: str) -> TunnelRecord | None:
        found = self.list_tunnels(device_id, limit=1)
        return found[0] if found else None

    def delete_tunnel(self, tunnel_id: str) -> None:
        self._db.execute("DELETE FROM tunnels WHERE tunnel_id = ?", (tunnel_id,))
        self._changed()

    # --- IAM tokens ------------------------------------------------------------------------

    def add_iam_token(self, token: str, user_name: str, expires_at: float, now: float) -> None:
        """Store a token's hash; tokens expired by `now` go at the same time."""
        self.prune_iam_tokens(now)
        self._db.execute(
            "INSERT OR REPLACE INTO iam_tokens VALUES (?, ?, ?)",
            (token_hash(token), user_name, expires_at),
        )

    def prune_iam_tokens(self, now: float) -> int:
        """Forget expired IAM tokens; returns how many."""
        return self._db.execute("DELETE FROM iam_tokens WHERE expires_at <= ?", (now,)).rowcount

    def count_iam_tokens(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM iam_tokens").fetchone()[0]

    def iam_token_valid(self, token: str, now: float) -> bool:
        row = self._db.execute(
            "SELECT expires_at FROM iam_tokens WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()
        return bool(row) and row[0] > now


def with_link(tunnel: TunnelRecord, side: str, connected: bool, now: float) -> TunnelRecord:
    """The tunnel with one side's connect state changed (and its update time)."""
    state = LinkStatus.CONNECTED if connected else LinkStatus.DISCONNECTED
    if side == "source":
        return replace(tunnel, source_state=state, source_time=now, update_time=now)
    return replace(tunnel, device_state=state, device_time=now, update_time=now)


def with_status(tunnel: TunnelRecord, status: TunnelStatus, now: float) -> TunnelRecord:
    return replace(tunnel, status=status, update_time=now)
