"""IoTDA's two timestamp formats (docs/protocol.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime

COMPACT = "%Y%m%dT%H%M%SZ"  # 20261126T045300Z: tunnels, events, X-Sdk-Date
_MILLIS = "%Y-%m-%dT%H:%M:%S"  # 2026-11-26T04:53:00.123Z: device connection times


def format_compact(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(COMPACT)


def parse_compact(text: str) -> datetime:
    return datetime.strptime(text, COMPACT).replace(tzinfo=UTC)


def format_millis(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.strftime(_MILLIS)}.{moment.microsecond // 1000:03d}Z"
