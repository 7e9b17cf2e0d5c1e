"""Theme files: one TOML file per theme, shipped ones and the user's own.

A theme file holds Textual's theme colours, the app's own variables (status and token
colours) and a 16-colour palette that the terminal pane's ANSI colours follow. A broken
file is reported as a `ThemeProblem` and skipped; loading never raises.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rich.color import Color as RichColor
from rich.color import ColorParseError
from rich.terminal_theme import TerminalTheme
from textual.color import Color
from textual.color import ColorParseError as TextualColorParseError
from textual.theme import Theme

from tui.app.config import config_dir

log = logging.getLogger(__name__)

# App variables with literal defaults (docs/notes.md: "$warning" would not parse here).
APP_VARIABLE_DEFAULTS: dict[str, str] = {
    "status-online": "#4EBF71",
    "status-offline": "#8A8F98",
    "status-abnormal": "#E0A03A",
    "status-inactive": "#6C7A89",
    "status-frozen": "#5FA8D3",
    "token-ok": "#4EBF71",
    "token-expiring": "#E0A03A",
    "token-critical": "#E5534B",
    "token-expired": "#E5534B",
}
_THEME_COLOURS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


@dataclass(frozen=True)
class ThemeSpec:
    theme: Theme
    terminal: TerminalTheme
    source: str


@dataclass(frozen=True)
class ThemeProblem:
    path: str
    problem: str

    def __str__(self) -> str:
        return f"theme {self.path}: {self.problem}"


@dataclass
class ThemeSet:
    themes: dict[str, ThemeSpec] = field(default_factory=dict)
    problems: list[ThemeProblem] = field(default_factory=list)


def shipped_theme_dirs() -> list[Path]:
    """The wheel ships themes as tui/_themes; an editable install reads the repo's themes/."""
    package_root = Path(__file__).resolve().parent.parent
    return [package_root / "_themes", package_root.parent / "themes"]


def user_theme_dir() -> Path:
    return config_dir() / "themes"


def _rgb(text: object, key: str) -> tuple[int, int, int]:
    if not isinstance(text, str):
        raise ValueError(f"{key}: must be a colour string")
    try:
        triplet = RichColor.parse(text).get_truecolor()
    except ColorParseError:
        raise ValueError(f"{key}: {text!r} is not a colour") from None
    return (triplet.red, triplet.green, triplet.blue)


def _colour(text: object, key: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{key}: must be a colour string")
    try:
        Color.parse(text)
    except TextualColorParseError:
        raise ValueError(f"{key}: {text!r} is not a colour") from None
    return text


def parse_theme(data: dict, source: str) -> ThemeSpec:
    """Build a ThemeSpec from a parsed theme file; ValueError says what is wrong."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("name: required")
    known = {"name", "dark", "variables", "terminal", *_THEME_COLOURS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key")
    if "primary" not in data:
        raise ValueError("primary: required")
    colours = {key: _colour(data[key], key) for key in _THEME_COLOURS if key in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ValueError("dark: must be true or false")
    variables_in = data.get("variables", {})
    if not isinstance(variables_in, dict):
        raise ValueError("variables: must be a table")
    variables = {k: _colour(v, f"variables.{k}") for k, v in variables_in.items()}
    terminal = data.get("terminal")
    if not isinstance(terminal, dict):
        raise ValueError("terminal: a table with foreground, background and palette is required")
    palette = terminal.get("palette")
    if not isinstance(palette, list) or len(palette) != 16:
        raise ValueError("terminal.palette: must list 16 colours")
    rgb = [_rgb(c, f"terminal.palette[{i}]") for i, c in enumerate(palette)]
    term = TerminalTheme(
        _rgb(terminal.get("background"), "terminal.background"),
        _rgb(terminal.get("foreground"), "terminal.foreground"),
        rgb[:8],
        rgb[8:],
    )
    theme = Theme(name=name, dark=dark, variables=variables, **colours)
    return ThemeSpec(theme, term, source)


def load_theme_file(path: Path) -> ThemeSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror}") from None
    return parse_theme(data, str(path))


def load_themes(extra_dirs: list[Path] | None = None) -> ThemeSet:
    """Shipped themes first, then the user's (a user theme may replace a shipped one)."""
    result = ThemeSet()
    seen_dirs: set[Path] = set()
    for directory in [*shipped_theme_dirs(), user_theme_dir(), *(extra_dirs or [])]:
        directory = directory.resolve()
        if directory in seen_dirs or not directory.is_dir():
            continue
        seen_dirs.add(directory)
        for path in sorted(directory.glob("*.toml")):
            try:
                spec = load_theme_file(path)
            except ValueError as exc:
                log.warning("theme %s skipped: %s", path, exc)
                result.problems.append(ThemeProblem(str(path), str(exc)))
                continue
            result.themes[spec.theme.name] = spec
    return result
