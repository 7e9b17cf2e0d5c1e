"""Filter, countdown and theme files: the pure parts of the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tui.app.config import Countdown
from tui.app.countdown import TokenLevel, format_countdown, seconds_left, token_level
from tui.app.filtering import filter_rows, make_haystack
from tui.app.themes import load_theme_file, load_themes, shipped_theme_dirs, user_theme_dir


@dataclass
class Row:
    name: str
    haystack: str


ROWS = [
    Row(n, make_haystack(fields))
    for n, fields in [
        ("b1", ["Boiler room 1", "boiler_0001", "boiler", "ONLINE", "site=berlin"]),
        ("p1", ["Pump A", "pump_0001", "pump", "OFFLINE", "site=hamburg"]),
        ("s1", ["Server room sensor", "sensor_s-12", "sensor", "ONLINE", "site=berlin"]),
    ]
]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", ["b1", "p1", "s1"]),
        ("blr", ["b1"]),  # fuzzy: letters in order within one field
        ("berl", ["b1", "s1"]),
        ("berl !boiler", ["s1"]),
        ("!online", ["p1"]),
        ("ONLINE", ["b1", "s1"]),  # case does not matter
        ("!", ["b1", "p1", "s1"]),  # a bare ! is not a term yet
        ("zzz", []),
    ],
)
def test_filter(query: str, names: list[str]) -> None:
    assert [r.name for r in filter_rows(ROWS, query)] == names


def test_fuzzy_does_not_match_across_fields() -> None:
    # "1p" would match "…0001" followed by "pump" only across the NUL separator
    assert [r.name for r in filter_rows(ROWS, "1pum")] == []


@pytest.mark.parametrize(
    ("left", "text", "level"),
    [
        (86_400, "24:00:00", TokenLevel.OK),
        (601, "00:10:01", TokenLevel.OK),
        (600, "00:10:00", TokenLevel.WARNING),
        (61, "00:01:01", TokenLevel.WARNING),
        (60, "00:01:00", TokenLevel.CRITICAL),
        (1, "00:00:01", TokenLevel.CRITICAL),
        (0, "expired", TokenLevel.EXPIRED),
    ],
)
def test_countdown(left: int, text: str, level: TokenLevel) -> None:
    assert format_countdown(left) == text
    assert token_level(left, Countdown(600, 60)) == level


def test_seconds_left_rounds_up_and_stops_at_zero() -> None:
    assert seconds_left(100.0, 99.2) == 1
    assert seconds_left(100.0, 150.0) == 0


def test_three_shipped_themes_with_16_colour_palettes() -> None:
    themes = load_themes()
    assert not themes.problems
    names = set(themes.themes)
    assert {"iotunnel-dark", "iotunnel-light", "iotunnel-high-contrast"} <= names
    assert not themes.themes["iotunnel-light"].theme.dark
    for spec in themes.themes.values():
        assert len(spec.terminal.ansi_colors._colors) == 16


def test_loader_looks_in_the_wheel_and_the_repo() -> None:
    dirs = shipped_theme_dirs()
    assert dirs[0].name == "_themes" and dirs[1].name == "themes"


def test_user_themes_load_and_broken_ones_are_reported(tmp_path: Path) -> None:
    shipped = next(d for d in shipped_theme_dirs() if d.is_dir())
    directory = user_theme_dir()
    directory.mkdir(parents=True)
    text = (shipped / "iotunnel-dark.toml").read_text()
    (directory / "mine.toml").write_text(text.replace('"iotunnel-dark"', '"mine"'))
    (directory / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (directory / "garbage.toml").write_text("name = [")
    themes = load_themes()
    assert "mine" in themes.themes
    problems = {Path(p.path).name: p.problem for p in themes.problems}
    assert set(problems) == {"broken.toml", "garbage.toml"}
    assert "not a colour" in problems["broken.toml"]
    assert "not valid TOML" in problems["garbage.toml"]
    with pytest.raises(ValueError, match="palette"):
        bad = tmp_path / "short.toml"
        bad.write_text(text.replace('"#1D2128", ', ""))
        load_theme_file(bad)


def test_usernames_are_remembered_per_device_in_a_private_file() -> None:
    import stat

    from tui.app.usernames import UsernameStore

    store = UsernameStore()
    assert store.get("boiler_0001") == ""
    store.put("boiler_0001", "engineer")
    store.put("pump_0001", "root")
    again = UsernameStore()
    assert again.get("boiler_0001") == "engineer" and again.get("pump_0001") == "root"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert "iotunnel" in str(store.path.parent)


def test_usernames_are_replaced_atomically_not_truncated_in_place() -> None:
    from tui.app.usernames import UsernameStore

    store = UsernameStore()
    store.put("boiler_0001", "engineer")
    before = store.path.stat().st_ino
    store.put("boiler_0001", "root")
    # a new file moved into place (os.replace): a reader never sees a truncated one
    assert store.path.stat().st_ino != before
    assert UsernameStore().get("boiler_0001") == "root"
    leftovers = [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
