"""The theme last switched to in the dashboard, remembered across runs (0600 JSON file)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tui.iotda.localstate import locked_private, state_dir, write_private_json

log = logging.getLogger(__name__)


class RememberedTheme:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / "theme.json"

    def get(self) -> str | None:
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        name = body.get("theme") if isinstance(body, dict) else None
        return name if isinstance(name, str) and name else None

    def put(self, name: str) -> None:
        if self.get() == name:
            return
        try:
            with locked_private(self.path):
                write_private_json(self.path, {"theme": name})
        except OSError as exc:
            log.warning("cannot remember the theme in %s: %s", self.path, exc)
