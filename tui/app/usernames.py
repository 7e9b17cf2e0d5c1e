"""The last username used per device (never a password), kept in a 0600 JSON file."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from tui.session.paths import ensure_private_dir, open_private, state_dir

log = logging.getLogger(__name__)


class UsernameStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / "usernames.json"

    def get(self, device_id: str) -> str:
        value = self._load().get(device_id, "")
        return value if isinstance(value, str) else ""

    def put(self, device_id: str, username: str) -> None:
        entries = self._load()
        if entries.get(device_id) == username:
            return
        entries[device_id] = username
        try:
            ensure_private_dir(self.path.parent)
            with os.fdopen(open_private(self.path), "w", encoding="utf-8") as handle:
                json.dump(entries, handle)
        except OSError as exc:
            log.warning("cannot save usernames to %s: %s", self.path, exc)

    def _load(self) -> dict[str, str]:
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return body if isinstance(body, dict) else {}
