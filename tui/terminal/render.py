"""Styled runs -> Rich segments (the pane's drawing), kept apart so it is testable alone."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from wcwidth import wcwidth

from tui.terminal.backend import Attrs, Run

_CURSOR = Style(reverse=True)
_CURSOR_ON_REVERSE = Style(reverse=False)  # like xterm: the cursor inverts what is there


@lru_cache(maxsize=4096)
def style_for(attrs: Attrs) -> Style:
    """The Rich style of a cell; `default` colours are left to the widget's style."""
    return Style(
        color=None if attrs.fg == "default" else attrs.fg,
        bgcolor=None if attrs.bg == "default" else attrs.bg,
        bold=attrs.bold or None,
        dim=attrs.dim or None,
        italic=attrs.italics or None,
        underline=attrs.underscore or None,
        strike=attrs.strikethrough or None,
        reverse=attrs.reverse or None,
        blink=attrs.blink or None,
        conceal=attrs.conceal or None,
    )


def overlay(strip: Strip, style: Style) -> Strip:
    """`strip` with `style` on top (a highlight: search match, selection). Textual's
    `Strip.apply_style` puts a style underneath, where the pane's own colours, on every
    segment, would hide it."""
    segments = Segment.apply_style(iter(strip), post_style=style)
    return Strip(segments, strip.cell_length)


def with_meta(style: Style, meta: Style) -> Style:
    """`style + meta` for a meta-only `meta` (selection offsets), without Rich's generic
    addition: it hashes both styles into an LRU cache of 1,024, which a screen of
    styled segments (one per run and column) overflows every frame."""
    if style._meta is not None:
        return style + meta
    placed = style.copy()
    placed._meta = meta._meta
    placed._hash = None
    return placed


@lru_cache(maxsize=8192)
def fit_text(text: str) -> str:
    """Text as Rich will measure it on the emulator's cell grid.

    The emulator gives every code point its own wcwidth (like the remote's shell does),
    but Rich measures grapheme clusters: a ZWJ sequence or a VS16 emoji would take fewer
    or more cells and shift the rest of the row. Such runs are drawn without their
    zero-width joiners/selectors, and padded if they still come out short.
    """
    grid = sum(max(0, wcwidth(char)) for char in text)
    if cell_len(text) == grid:
        return text
    plain = "".join(char for char in text if wcwidth(char) > 0)
    width = cell_len(plain)
    return plain + " " * (grid - width) if width <= grid else plain


def runs_to_segments(
    runs: list[Run],
    style_of: Callable[[Attrs], Style],
    cursor_x: int | None = None,
    *,
    fit: Callable[[str], str] = fit_text,
) -> list[Segment]:
    """Segments for one row; the cell at `cursor_x` (if given) is drawn reversed.
    `fit` turns a non-ASCII run into text Rich draws as wide as the emulator placed it
    (the backend knows how: wcwidth for pyte, the cell grid for Ghostty)."""
    if cursor_x is None:  # most rows: one Segment per run, nothing else
        return [
            Segment(text if text.isascii() else fit(text), style_of(attrs)) for text, attrs in runs
        ]
    return row_segments(runs, lambda attrs, _x: style_of(attrs), cursor_x, fit=fit)


def row_segments(
    runs: list[Run],
    style_at: Callable[[Attrs, int], Style],
    cursor_x: int | None = None,
    *,
    fit: Callable[[str], str] = fit_text,
) -> list[Segment]:
    """Like `runs_to_segments`, with `style_at(attrs, offset)` given each segment's
    character offset in the row (what Textual's selection reads from the style's meta)."""
    segments: list[Segment] = []
    offset = 0  # characters, as `Strip.apply_offsets` counts them
    if cursor_x is None:
        for text, attrs in runs:
            if not text.isascii():
                text = fit(text)
            segments.append(Segment(text, style_at(attrs, offset)))
            offset += len(text)
        return segments
    x = 0  # cells
    for text, attrs in runs:
        if not text.isascii():
            text = fit(text)
        width = len(text) if text.isascii() else cell_len(text)
        if not x <= cursor_x < x + width:
            segments.append(Segment(text, style_at(attrs, offset)))
            offset += len(text)
            x += width
            continue
        before, at, after = _split_at_cell(text, cursor_x - x)
        if before:
            segments.append(Segment(before, style_at(attrs, offset)))
            offset += len(before)
        style = style_at(attrs, offset)
        cursor = _CURSOR_ON_REVERSE if style.reverse else _CURSOR
        segments.append(Segment(at or " ", style + cursor))
        offset += len(at or " ")
        if after:
            segments.append(Segment(after, style_at(attrs, offset)))
            offset += len(after)
        x += width
    return segments


def _split_at_cell(text: str, cell: int) -> tuple[str, str, str]:
    """Split text into (before, the character covering `cell`, after)."""
    if text.isascii():
        return text[:cell], text[cell : cell + 1], text[cell + 1 :]
    position = 0
    for index, char in enumerate(text):
        width = cell_len(char)
        if position + width > cell:
            return text[:index], char, text[index + 1 :]
        position += width
    return text, "", ""
