"""Line numbers for config errors: where in a TOML file a table or key was written.

tomllib parses without positions; this finds the line of a key inside a table (or the
table's header when the key is missing) so that an error names file, line and key.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*(?:"([^"]+)"|\'([^\']+)\'|([A-Za-z0-9_.-]+))\s*=')

TablePath = tuple[str | int, ...]


def _parts(name: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', name)]


def key_line(text: str, table: TablePath, key: str | None = None) -> int | None:
    """1-based line of `key` in `table` (e.g. ("devices", 2) for the third [[devices]]).

    Without `key`, or when the key is not written there, the table header's line.
    """
    found, header = _find(text, table, key)
    return found or header


def dotted_key_line(text: str, dotted: str) -> int | None:
    """The line of a dotted key such as "profiles.prod.auth.type" (quoted parts allowed)."""
    parts = dotted.split(".")
    # binding ids contain dots too ("keymap.tunnel.close"): try every split point
    for split in range(len(parts) - 1, -1, -1):
        found, _ = _find(text, tuple(parts[:split]), ".".join(parts[split:]))
        if found is not None:
            return found
    for end in range(len(parts), 0, -1):  # else the nearest table that is written
        _, header = _find(text, tuple(parts[:end]), None)
        if header is not None:
            return header
    return None


def _find(text: str, table: TablePath, key: str | None) -> tuple[int | None, int | None]:
    """(line of the key in the table, line of the table's header)."""
    current: TablePath = ()
    counts: dict[tuple[str, ...], int] = {}
    header_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            names = tuple(_parts(header.group(2)))
            if header.group(1) == "[[":
                index = counts.get(names, -1) + 1
                counts[names] = index
                current = (*names, index)
            else:
                current = names
            if current == table:
                header_line = number
            continue
        if key is None or current != table:
            continue
        match = _KEY.match(line)
        if match and (match.group(1) or match.group(2) or match.group(3)) == key:
            return number, header_line
    return None, header_line
