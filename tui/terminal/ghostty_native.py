"""The thin layer over libghostty-vt's C API (pyghostty's raw `ffi`/`lib`).

Everything that touches a native handle lives here; `ghostty_backend` turns it into the
pane's backend interface. Importing this module fails with ImportError where pyghostty
(or numpy) is not installed: `backends.make_backend` then falls back to pyte.

Rows are read in bulk: one call gives a borrowed view of the row's packed 64-bit cells
(`GHOSTTY_RENDER_STATE_ROW_DATA_CELLS_RAW`); numpy splits it into code points and style
keys, and only one style lookup per run of equal cells crosses the FFI boundary.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import numpy as np
from pyghostty import ffi, lib
from pyghostty._ffi import union_fn
from rich.cells import cell_len, set_cell_size

from tui.terminal.backend import DEFAULT_ATTRS, Attrs

log = logging.getLogger(__name__)

# ABI-mode cffi cannot pass a struct holding a union by value: declare a twin with the
# same layout (tag, then 16 bytes of value), as pyghostty does for GhosttyPoint.
try:
    ffi.cdef(
        "typedef struct { GhosttyTerminalScrollViewportTag tag; int64_t value; uint64_t _pad; }"
        " IotunnelScrollViewportS;"
    )
except Exception:  # already declared: the module was reloaded
    pass
assert ffi.sizeof("IotunnelScrollViewportS") == ffi.sizeof("GhosttyTerminalScrollViewport")
_scroll_viewport = ffi.cast(
    "void(*)(GhosttyTerminal, IotunnelScrollViewportS)",
    ffi.addressof(lib, "ghostty_terminal_scroll_viewport"),
)


class NativeError(RuntimeError):
    """A libghostty-vt call returned an error code."""


def check(result: int, what: str) -> None:
    if result != lib.GHOSTTY_SUCCESS:
        raise NativeError(f"libghostty-vt: {what} failed ({result})")


def _cell_layout() -> tuple[int, int, int, int, int]:
    """Bit positions of the packed cell, read from the library's own type manifest
    (they are not part of the ABI, so never hard-code them)."""
    types = json.loads(ffi.string(lib.ghostty_type_json()).decode())["types"]
    bits = types["GhosttyCell"]["bits"]
    return (
        bits["content"]["lsb"],
        bits["style_id"]["lsb"],
        bits["wide"]["lsb"],
        bits["hyperlink"]["lsb"],
        bits["content_tag"]["width"],
    )


_CONTENT_LSB, _STYLE_LSB, _WIDE_LSB, _LINK_LSB, _TAG_BITS = _cell_layout()
_TAG_MASK = np.uint64((1 << _TAG_BITS) - 1)
_CP_MASK = np.uint64(0x1FFFFF)
_CONTENT_MASK = np.uint64((1 << (_STYLE_LSB - _CONTENT_LSB)) - 1)
_TAG_GRAPHEME = lib.GHOSTTY_CELL_CONTENT_CODEPOINT_GRAPHEME
_TAG_BG_PALETTE = lib.GHOSTTY_CELL_CONTENT_BG_COLOR_PALETTE
_TAG_BG_RGB = lib.GHOSTTY_CELL_CONTENT_BG_COLOR_RGB
_WIDE_TAIL = lib.GHOSTTY_CELL_WIDE_SPACER_TAIL

_ANSI = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
PALETTE_NAMES = (
    *_ANSI,
    *(f"bright_{name}" for name in _ANSI),
    *tuple(f"color({n})" for n in range(16, 256)),
)
MAX_CACHED_STYLES = 4096

MODS_SHIFT, MODS_CTRL, MODS_ALT, MODS_SUPER = 1, 2, 4, 8


def _new(ctype: str, creator: Callable, *args: object) -> object:
    handle = ffi.new(ctype + "*")
    check(creator(ffi.NULL, *args, handle) if args else creator(ffi.NULL, handle), ctype)
    return handle


grid_ref = union_fn(
    "ghostty_terminal_grid_ref", "GhosttyResult(*)(GhosttyTerminal, GhosttyPointS, GhosttyGridRef*)"
)
_U64 = np.uint64
_BG_KEY_SHIFT = 17


class RowReader:
    """Reads the rows of a render state as styled runs `(text, Attrs)`.

    All wanted rows are read in one pass: one call per row for its packed cells, then
    numpy over the whole block, then a Python loop over runs (not cells). A style is
    looked up only for a run whose style id is new in this update (one call through a
    grid ref of the row's page; ids are page-local, so the page is part of the key).
    """

    def __init__(self, terminal: object) -> None:
        self._t = terminal
        self._iterator = _new(
            "GhosttyRenderStateRowIterator", lib.ghostty_render_state_row_iterator_new
        )
        self._view = ffi.new("GhosttyCellsView*")
        self._style = ffi.new("GhosttyStyle*")
        self._style.size = ffi.sizeof("GhosttyStyle")
        self._style_bytes = ffi.buffer(self._style)
        self._y = ffi.new("uint16_t*")
        self._point = ffi.new("GhosttyPointS*")
        self._point.tag = lib.GHOSTTY_POINT_TAG_VIEWPORT
        self._ref = ffi.new("GhosttyGridRef*")
        self._ref.size = ffi.sizeof("GhosttyGridRef")
        self._attrs: dict[bytes, Attrs] = {}  # style bytes -> Attrs, across updates
        self._looks: dict[tuple[int, int], Attrs] = {}  # this update only
        self._ref_row = -1
        self._ref_node = 0

    def free(self) -> None:
        lib.ghostty_render_state_row_iterator_free(self._iterator[0])

    def new_update(self) -> None:
        """The render state was updated: style ids may mean other styles now."""
        self._looks.clear()

    def _rows(self, state: object) -> object:
        check(
            lib.ghostty_render_state_get(
                state, lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR, self._iterator
            ),
            "row iterator",
        )
        return self._iterator[0]

    def dirty_rows(self, state: object) -> list[int]:
        iterator, y = self._rows(state), self._y
        rows: list[int] = []
        while lib.ghostty_render_state_row_iterator_next_dirty(iterator, y):
            rows.append(y[0])
        return rows

    def read_rows(self, state: object, wanted: set[int] | None) -> dict[int, list]:
        """Runs of the rows in `wanted` (all rows if None), from one pass of the iterator."""
        iterator, view = self._rows(state), self._view
        last = max(wanted) if wanted else None
        ys: list[int] = []
        blocks: list[np.ndarray] = []
        y = -1
        while lib.ghostty_render_state_row_iterator_next(iterator):
            y += 1
            if wanted is not None and y not in wanted:
                if last is not None and y > last:
                    break
                continue
            check(
                lib.ghostty_render_state_row_get(
                    iterator, lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS_RAW, view
                ),
                "row cells",
            )
            ys.append(y)
            blocks.append(np.frombuffer(ffi.buffer(view.ptr, view.len * 8), dtype=_U64))
        if not ys:
            return {}
        return self._runs(ys, np.stack(blocks))

    def _runs(self, ys: list[int], raw: np.ndarray) -> dict[int, list]:
        count, columns = raw.shape
        raw = raw.reshape(-1)
        tag = raw & _TAG_MASK
        content = (raw >> _U64(_CONTENT_LSB)) & _CONTENT_MASK
        bg_only = tag >= _TAG_BG_PALETTE
        # One key per distinct look: the style id, the hyperlink bit, and for cells that
        # only carry a background colour (erase with a coloured background) that colour.
        key = (raw >> _U64(_STYLE_LSB)) & _U64(0xFFFF)
        key |= ((raw >> _U64(_LINK_LSB)) & _U64(1)) << _U64(16)
        any_bg = bool(bg_only.any())
        if any_bg:
            bg_key = (raw & _U64(0x3FFFFFF)) << _U64(_BG_KEY_SHIFT)
            key = np.where(bg_only, key | bg_key, key)
        tails = ((raw >> _U64(_WIDE_LSB)) & _U64(3)) == _WIDE_TAIL
        has_tails = bool(tails.any())
        if has_tails:
            # A wide character's tail goes with its head (never a run boundary).
            tail_at = np.flatnonzero(tails)
            tail_at = tail_at[tail_at % columns != 0]
            key[tail_at] = key[tail_at - 1]
        codepoints = (content & _CP_MASK).astype(np.uint32)
        blank = codepoints == 0
        if any_bg:
            blank |= bg_only
        codepoints[blank] = 32
        bad = (codepoints > 0x10FFFF) | ((codepoints >= 0xD800) & (codepoints < 0xE000))
        if bad.any():
            codepoints[bad] = 0xFFFD
        if has_tails:
            codepoints[tails] = 0  # dropped below: the head already covers two cells
        text = codepoints.tobytes().decode("utf-32-le")
        grapheme_cells = np.flatnonzero(tag == _TAG_GRAPHEME)
        chars = None  # per cell, where a cell holds a whole grapheme cluster
        if len(grapheme_cells):
            chars = self._with_graphemes(text, grapheme_cells.tolist(), ys, columns)
        change = np.empty(raw.shape, dtype=bool)
        change[0] = True
        np.not_equal(key[1:], key[:-1], out=change[1:])
        change[::columns] = True  # every row starts a run
        starts = np.flatnonzero(change)
        run_keys = key[starts].tolist()
        starts_list = starts.tolist()
        ends_list = [*starts_list[1:], count * columns]
        out: dict[int, list] = {y: [] for y in ys}
        self._ref_row = -1
        looks = self._looks
        for start, end, run_key in zip(starts_list, ends_list, run_keys, strict=True):
            row = start // columns
            y = ys[row]
            if run_key == 0:
                attrs = DEFAULT_ATTRS
            else:
                styled = run_key & 0xFFFF
                look_key = (self._row_ref(y), run_key) if styled else (0, run_key)
                found = looks.get(look_key)
                if found is None:
                    if styled:
                        self._ref.x = start - row * columns  # the row's ref is current
                    found = looks[look_key] = self._look(run_key)
                attrs = found
            piece = text[start:end] if chars is None else "".join(chars[start:end])
            if has_tails:
                piece = piece.replace("\x00", "")
            if not piece.isascii():
                _remember_display(piece, end - start)
            out[y].append((piece, attrs))
        return out

    def _row_ref(self, y: int) -> int:
        """Point the grid ref at row `y` of the viewport; its page node is the identity
        that makes a style id meaningful."""
        if self._ref_row != y:
            self._point.value.x, self._point.value.y = 0, y
            check(grid_ref(self._t, self._point[0], self._ref), "grid_ref")
            self._ref_row = y
            self._ref_node = int(ffi.cast("uintptr_t", self._ref.node))
        return self._ref_node

    def _look(self, run_key: int) -> Attrs:
        if run_key & 0xFFFF:
            check(lib.ghostty_grid_ref_style(self._ref, self._style), "cell style")
        else:
            lib.ghostty_style_default(self._style)
            self._style.size = ffi.sizeof("GhosttyStyle")
        style = self._style
        bg_cell = run_key >> _BG_KEY_SHIFT
        link = bool(run_key >> 16 & 1)
        cache_key = self._style_bytes[:] + bg_cell.to_bytes(8, "little") + bytes([link])
        attrs = self._attrs.get(cache_key)
        if attrs is None:
            if len(self._attrs) >= MAX_CACHED_STYLES:
                self._attrs.clear()  # bounded: truecolour output has endless styles
            attrs = self._attrs[cache_key] = _to_attrs(style, bg_cell, link)
        return attrs

    def _with_graphemes(
        self, text: str, cells: list[int], ys: list[int], columns: int
    ) -> list[str]:
        chars = list(text)
        length = ffi.new("size_t*")
        buf = ffi.new("uint32_t[]", 16)
        for flat in cells:
            row, x = divmod(flat, columns)
            self._point.value.x, self._point.value.y = x, ys[row]
            if grid_ref(self._t, self._point[0], self._ref):
                continue
            result = lib.ghostty_grid_ref_graphemes(self._ref, buf, 16, length)
            if result == lib.GHOSTTY_SUCCESS:
                chars[flat] = (
                    "".join(chr(c) for c in buf[0 : length[0]] if 0 < c <= 0x10FFFF) or chars[flat]
                )
        return chars


# Text -> how to draw it on the grid, for the few runs Rich would measure otherwise.
# Runs keep the real text (copy, search, screen_text); the renderer asks `display_text`.
_DISPLAY: dict[str, str] = {}


def _remember_display(text: str, cells: int) -> None:
    if text in _DISPLAY or cell_len(text) == cells:
        return
    if len(_DISPLAY) >= MAX_CACHED_STYLES:
        _DISPLAY.clear()
    _DISPLAY[text] = fit_cells(text, cells)


def display_text(text: str) -> str:
    """The text of a run as the renderer should draw it (see `fit_cells`)."""
    return _DISPLAY.get(text, text)


def fit_cells(text: str, cells: int) -> str:
    """Text that Rich draws exactly `cells` wide. Rich measures some clusters (ZWJ
    sequences, VS16 emoji) other than the terminal placed them: drop the zero-width
    joiners and pad, so the rest of the row stays in its columns."""
    if cell_len(text) == cells:
        return text
    plain = "".join(char for char in text if cell_len(char) > 0)
    return set_cell_size(plain, cells)


def _colour(colour: object) -> str:
    if colour.tag == lib.GHOSTTY_STYLE_COLOR_PALETTE:
        return PALETTE_NAMES[colour.value.palette]
    if colour.tag == lib.GHOSTTY_STYLE_COLOR_RGB:
        rgb = colour.value.rgb
        return f"#{rgb.r:02x}{rgb.g:02x}{rgb.b:02x}"
    return "default"


def _to_attrs(style: object, bg_cell: int, link: bool) -> Attrs:
    bg = _colour(style.bg_color)
    if bg_cell:
        tag = bg_cell & ((1 << _TAG_BITS) - 1)
        value = bg_cell >> _CONTENT_LSB
        if tag == _TAG_BG_PALETTE:
            bg = PALETTE_NAMES[value & 0xFF]
        elif tag == _TAG_BG_RGB:
            bg = f"#{value & 0xFF:02x}{value >> 8 & 0xFF:02x}{value >> 16 & 0xFF:02x}"
    return Attrs(
        fg=_colour(style.fg_color),
        bg=bg,
        bold=bool(style.bold),
        italics=bool(style.italic),
        underscore=bool(style.underline) or link,
        strikethrough=bool(style.strikethrough),
        reverse=bool(style.inverse),
        blink=bool(style.blink),
        dim=bool(style.faint),
        conceal=bool(style.invisible),
    )


def scroll_viewport(terminal: object, tag: int, value: int = 0) -> None:
    behaviour = ffi.new("IotunnelScrollViewportS*")
    behaviour.tag = tag
    behaviour.value = value
    _scroll_viewport(terminal, behaviour[0])


def encode_into(call: Callable[[object, int, object], int], what: str, size: int = 64) -> bytes:
    """Run an encoder that writes into a caller buffer, growing it once if too small."""
    written = ffi.new("size_t*")
    buf = ffi.new("char[]", size)
    result = call(buf, size, written)
    if result == lib.GHOSTTY_OUT_OF_SPACE:
        buf = ffi.new("char[]", written[0])
        result = call(buf, written[0], written)
    check(result, what)
    return ffi.buffer(buf, written[0])[:]
