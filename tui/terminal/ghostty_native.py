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
from rich.cells import cell_len, set_cell_size

from tui.terminal.backend import Attrs

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


class RowReader:
    """Reads rows of a render state as styled runs `(text, Attrs)`."""

    def __init__(self) -> None:
        self._iterator = _new(
            "GhosttyRenderStateRowIterator", lib.ghostty_render_state_row_iterator_new
        )
        self._cells = _new("GhosttyRenderStateRowCells", lib.ghostty_render_state_row_cells_new)
        self._view = ffi.new("GhosttyCellsView*")
        self._style = ffi.new("GhosttyStyle*")
        self._style.size = ffi.sizeof("GhosttyStyle")
        self._style_bytes = ffi.buffer(self._style)
        self._y = ffi.new("uint16_t*")
        self._attrs: dict[bytes, Attrs] = {}
        self._grapheme = ffi.new("GhosttyString*")

    def free(self) -> None:
        lib.ghostty_render_state_row_cells_free(self._cells[0])
        lib.ghostty_render_state_row_iterator_free(self._iterator[0])

    def dirty_rows(self, state: object) -> list[int]:
        check(
            lib.ghostty_render_state_get(
                state, lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR, self._iterator
            ),
            "row iterator",
        )
        rows: list[int] = []
        iterator, y = self._iterator[0], self._y
        while lib.ghostty_render_state_row_iterator_next_dirty(iterator, y):
            rows.append(y[0])
        return rows

    def read_rows(self, state: object, wanted: set[int] | None) -> dict[int, list]:
        """Runs of the rows in `wanted` (all rows if None), from one pass of the iterator."""
        check(
            lib.ghostty_render_state_get(
                state, lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR, self._iterator
            ),
            "row iterator",
        )
        iterator = self._iterator[0]
        out: dict[int, list] = {}
        y = -1
        last = max(wanted) if wanted else None
        while lib.ghostty_render_state_row_iterator_next(iterator):
            y += 1
            if wanted is not None and y not in wanted:
                if last is not None and y > last:
                    break
                continue
            out[y] = self._row(iterator)
        return out

    def _row(self, iterator: object) -> list:
        view = self._view
        check(
            lib.ghostty_render_state_row_get(
                iterator, lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS_RAW, view
            ),
            "row cells",
        )
        count = view.len
        if not count:
            return []
        raw = np.frombuffer(ffi.buffer(view.ptr, count * 8), dtype=np.uint64)
        tag = raw & _TAG_MASK
        content = (raw >> np.uint64(_CONTENT_LSB)) & _CONTENT_MASK
        bg_only = tag >= _TAG_BG_PALETTE
        # One key per distinct look: the style id, the hyperlink bit, and for cells that
        # only carry a background colour (erase with a coloured background) that colour.
        key = (raw >> np.uint64(_STYLE_LSB)) & np.uint64(0xFFFF)
        key |= ((raw >> np.uint64(_LINK_LSB)) & np.uint64(1)) << np.uint64(16)
        if bg_only.any():
            key = np.where(bg_only, key | ((raw & np.uint64(0x3FFFFFF)) << np.uint64(17)), key)
        wide = (raw >> np.uint64(_WIDE_LSB)) & np.uint64(3)
        tails = wide == _WIDE_TAIL
        has_tails = bool(tails.any())
        if has_tails:
            key[1:][tails[1:]] = key[:-1][tails[1:]]  # a wide char's tail goes with its head
        codepoints = (content & _CP_MASK).astype(np.uint32)
        codepoints[bg_only | (codepoints == 0)] = 32
        bad = (codepoints > 0x10FFFF) | ((codepoints >= 0xD800) & (codepoints < 0xE000))
        if bad.any():
            codepoints[bad] = 0xFFFD
        if has_tails:
            codepoints[tails] = 0  # dropped below: the head already covers two cells
        text = codepoints.tobytes().decode("utf-32-le")
        graphemes = np.flatnonzero(tag == _TAG_GRAPHEME) if (tag == _TAG_GRAPHEME).any() else ()
        chars: list[str] | None = None
        if len(graphemes):
            chars = list(text)
            for x in graphemes.tolist():
                chars[x] = self._grapheme_at(iterator, x) or chars[x]
        starts = [0, *(np.flatnonzero(key[1:] != key[:-1]) + 1).tolist()]
        ends = [*starts[1:], count]
        keys = key[starts].tolist()
        runs: list = []
        cells_loaded = False
        style_of: dict[int, tuple[Attrs, bool]] = {}
        for start, end, run_key in zip(starts, ends, keys, strict=True):
            looks = style_of.get(run_key)
            if looks is None:
                if not cells_loaded:
                    self._load_cells(iterator)
                    cells_loaded = True
                looks = style_of[run_key] = self._attrs_at(start, run_key)
            attrs, invisible = looks
            if invisible:  # concealed text (SGR 8) is not shown, as in xterm
                piece = " " * (end - start)
            else:
                piece = "".join(chars[start:end]) if chars is not None else text[start:end]
                if has_tails:
                    piece = piece.replace("\x00", "")
                if not piece.isascii():
                    _remember_display(piece, end - start)
            runs.append((piece, attrs))
        return runs

    def _load_cells(self, iterator: object) -> None:
        check(
            lib.ghostty_render_state_row_get(
                iterator, lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS, self._cells
            ),
            "row cells handle",
        )

    def _attrs_at(self, x: int, run_key: int) -> tuple[Attrs, bool]:
        cells = self._cells[0]
        check(lib.ghostty_render_state_row_cells_select(cells, x), "select cell")
        check(
            lib.ghostty_render_state_row_cells_get(
                cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_STYLE, self._style
            ),
            "cell style",
        )
        bg_cell = run_key >> 17
        cache_key = (
            self._style_bytes[:] + bg_cell.to_bytes(8, "little") + bytes([run_key >> 16 & 1])
        )
        attrs = self._attrs.get(cache_key)
        if attrs is None:
            if len(self._attrs) >= MAX_CACHED_STYLES:
                self._attrs.clear()  # bounded: truecolour output has endless styles
            attrs = self._attrs[cache_key] = _to_attrs(
                self._style, bg_cell, bool(run_key >> 16 & 1)
            )
        return attrs, bool(self._style.invisible)

    def _grapheme_at(self, iterator: object, x: int) -> str | None:
        self._load_cells(iterator)
        cells = self._cells[0]
        if lib.ghostty_render_state_row_cells_select(cells, x) != lib.GHOSTTY_SUCCESS:
            return None
        length = ffi.new("uint32_t*")
        if lib.ghostty_render_state_row_cells_get(
            cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_GRAPHEMES_LEN, length
        ):
            return None
        buf = ffi.new("uint32_t[]", max(1, length[0]))
        if lib.ghostty_render_state_row_cells_get(
            cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_GRAPHEMES_BUF, buf
        ):
            return None
        return "".join(chr(c) for c in buf[0 : length[0]] if 0 < c <= 0x10FFFF)


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
