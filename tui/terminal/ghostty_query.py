"""Whole-terminal queries on libghostty-vt: the text of scrollback and screen (for
search) and the OSC 8 target of a cell."""

from __future__ import annotations

from collections.abc import Callable

from pyghostty import ffi, lib

from tui.terminal.ghostty_native import check, grid_ref


def _point_ref(terminal: object, tag: int, x: int, y: int) -> object | None:
    point = ffi.new("GhosttyPointS*")
    point.tag = tag
    point.value.x, point.value.y = x, y
    ref = ffi.new("GhosttyGridRef*")
    ref.size = ffi.sizeof("GhosttyGridRef")
    if grid_ref(terminal, point[0], ref) != lib.GHOSTTY_SUCCESS:
        return None
    return ref


def _read_buffer(call: Callable[[object, int, object], int]) -> bytes | None:
    """The C API's size-query-then-fill dance; None when there is no value."""
    size = ffi.new("size_t*")
    result = call(ffi.NULL, 0, size)
    if result == lib.GHOSTTY_NO_VALUE:
        return None
    if result not in (lib.GHOSTTY_SUCCESS, lib.GHOSTTY_OUT_OF_SPACE):
        check(result, "buffer size")
    buf = ffi.new("uint8_t[]", max(1, size[0]))
    result = call(buf, len(buf), size)
    if result == lib.GHOSTTY_NO_VALUE:
        return None
    check(result, "buffer")
    return ffi.buffer(buf, size[0])[:]


def format_rows(terminal: object, columns: int, lines: int) -> list[str]:
    """Plain text of scrollback and screen, one string per row as displayed (soft
    wraps kept), trailing blanks trimmed."""
    start = _point_ref(terminal, lib.GHOSTTY_POINT_TAG_SCREEN, 0, 0)
    end = _point_ref(terminal, lib.GHOSTTY_POINT_TAG_ACTIVE, columns - 1, lines - 1)
    if start is None or end is None:
        return []
    selection = ffi.new("GhosttySelection*")
    selection.size = ffi.sizeof("GhosttySelection")
    selection.start, selection.end = start[0], end[0]
    options = ffi.new("GhosttyTerminalSelectionFormatOptions*")
    options.size = ffi.sizeof("GhosttyTerminalSelectionFormatOptions")
    options.emit = lib.GHOSTTY_FORMATTER_FORMAT_PLAIN
    options.unwrap, options.trim, options.selection = False, True, selection
    data = _read_buffer(
        lambda buf, n, out: lib.ghostty_terminal_selection_format_buf(
            terminal, options[0], buf, n, out
        )
    )
    return data.decode("utf-8", "replace").split("\n") if data else []


def hyperlink_at(terminal: object, x: int, y: int) -> str | None:
    ref = _point_ref(terminal, lib.GHOSTTY_POINT_TAG_ACTIVE, x, y)
    if ref is None:
        return None
    data = _read_buffer(lambda buf, n, out: lib.ghostty_grid_ref_hyperlink_uri(ref, buf, n, out))
    return data.decode("utf-8", "replace") if data else None
