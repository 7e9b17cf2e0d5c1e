"""The last username used per device (never a password), kept in a 0600 JSON file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tui.iotda.localstate import locked_private, state_dir, write_private_json

log = logging.getLogger(__name__)


class UsernameStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / "usernames.json"

    def get(self, device_id: str) -> str:
        value = self._load().get(device_id, "")
        return value if isinstance(value, str) else ""

    def put(self, device_id: str, username: str) -> None:
        try:
            # locked and replaced atomically, like the token store: two dashboards (or a
            # crash mid-write) never leave a torn or truncated file
            with locked_private(self.path):
                entries = self._load()
                if entries.get(device_id) == username:
                    return
                entries[device_id] = username
                write_private_json(self.path, entries)
        except OSError as exc:
            log.warning("cannot save usernames to %s: %s", self.path, exc)

    def _load(self) -> dict[str, str]:
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return body if isinstance(body, dict) else {}
