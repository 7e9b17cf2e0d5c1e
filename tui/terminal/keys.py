"""Textual key names -> the bytes an xterm would send to the remote.

Keys are translated by `event.key` through explicit tables, never by `event.character`
alone: under the pilot (and some terminals) `ctrl+a` and `enter` carry no character.
"""

from __future__ import annotations

from tui.terminal.backend import MOUSE_ANY, MOUSE_BUTTON, MOUSE_OFF, TerminalModes

CSI = "\x1b["
SS3 = "\x1bO"
PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"

# Keys whose bytes never change with modes or modifiers.
_PLAIN: dict[str, str] = {
    "enter": "\r",
    "tab": "\t",
    "shift+tab": CSI + "Z",
    "escape": "\x1b",
    "backspace": "\x7f",
    "ctrl+h": "\x08",
    "space": " ",
    "ctrl+@": "\x00",
    "ctrl+space": "\x00",
    "ctrl+backslash": "\x1c",
    "ctrl+right_square_bracket": "\x1d",
    "ctrl+circumflex_accent": "\x1e",
    "ctrl+underscore": "\x1f",
    "ctrl+slash": "\x1f",  # undo in emacs and nano
    "ctrl+minus": "\x1f",
    "ctrl+left_square_bracket": "\x1b",
    # xterm's control digits (VT220 heritage): ctrl+2 NUL ... ctrl+8 DEL; ctrl+? is DEL.
    "ctrl+2": "\x00",
    "ctrl+3": "\x1b",
    "ctrl+4": "\x1c",
    "ctrl+5": "\x1d",
    "ctrl+6": "\x1e",
    "ctrl+7": "\x1f",
    "ctrl+8": "\x7f",
    "ctrl+question_mark": "\x7f",
    "ctrl+shift+question_mark": "\x7f",
}

# f13-f24 as xterm sends them (xterm-256color's kf13..kf24: shifted f1-f12); exact names
# only, their modified forms have no code.
_HIGH_F: dict[str, str] = {
    "f13": CSI + "1;2P",
    "f14": CSI + "1;2Q",
    "f15": CSI + "1;2R",
    "f16": CSI + "1;2S",
    "f17": CSI + "15;2~",
    "f18": CSI + "17;2~",
    "f19": CSI + "18;2~",
    "f20": CSI + "19;2~",
    "f21": CSI + "20;2~",
    "f22": CSI + "21;2~",
    "f23": CSI + "23;2~",
    "f24": CSI + "24;2~",
}

# The ctrl forms of plain keys that xterm tells apart; other shift/ctrl forms of plain
# keys (shift+enter, shift+space, ctrl+tab, ...) send the plain key's bytes, as in xterm.
# Textual reports them under the kitty keyboard protocol (kitty, WezTerm, foot, ...):
# dropping them would lose the space typed while shift is still held.
_CTRL_FORMS: dict[str, str] = {"backspace": "\x08", "space": "\x00"}

# Cursor keys: final byte; CSI in normal mode, SS3 in application-cursor mode.
_CURSOR: dict[str, str] = {
    "up": "A",
    "down": "B",
    "right": "C",
    "left": "D",
    "home": "H",
    "end": "F",
}

# Keys sent as CSI n ~ (modifiers go in as CSI n ; m ~).
_TILDE: dict[str, int] = {
    "insert": 2,
    "delete": 3,
    "pageup": 5,
    "pagedown": 6,
    "f5": 15,
    "f6": 17,
    "f7": 18,
    "f8": 19,
    "f9": 20,
    "f10": 21,
    "f11": 23,
    "f12": 24,
}

# F1-F4 are SS3 P..S unmodified, CSI 1 ; m P..S with modifiers.
_PF: dict[str, str] = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}

_MODIFIER_BITS = {"shift": 1, "alt": 2, "ctrl": 4, "meta": 8}


def _split(key: str) -> tuple[frozenset[str], str]:
    parts = key.split("+")
    mods = frozenset(p for p in parts[:-1] if p in _MODIFIER_BITS)
    return mods, parts[-1]


def _xterm_modifier(mods: frozenset[str]) -> int:
    return 1 + sum(_MODIFIER_BITS[m] for m in mods)


def encode_key(key: str, character: str | None, modes: TerminalModes | None = None) -> bytes | None:
    """The bytes for one key press, or None when the key means nothing to a terminal."""
    modes = modes or TerminalModes()
    plain = _PLAIN.get(key) or _HIGH_F.get(key)
    if plain is not None:
        return plain.encode()
    mods, base = _split(key)
    if base in _PLAIN and "alt" not in mods:
        if "ctrl" in mods and base in _CTRL_FORMS:
            return _CTRL_FORMS[base].encode()
        return (CSI + "Z" if base == "tab" and "shift" in mods else _PLAIN[base]).encode()
    if base in _CURSOR:
        final = _CURSOR[base]
        if mods:
            return f"{CSI}1;{_xterm_modifier(mods)}{final}".encode()
        return ((SS3 if modes.app_cursor else CSI) + final).encode()
    if base in _TILDE:
        number = _TILDE[base]
        if mods:
            return f"{CSI}{number};{_xterm_modifier(mods)}~".encode()
        return f"{CSI}{number}~".encode()
    if base in _PF:
        if mods:
            return f"{CSI}1;{_xterm_modifier(mods)}{_PF[base]}".encode()
        return (SS3 + _PF[base]).encode()
    ascii_letter = len(base) == 1 and base.isascii() and base.isalpha()
    if ascii_letter and "ctrl" in mods and mods <= {"ctrl", "shift"}:
        return bytes([ord(base.lower()) - ord("a") + 1])
    if "alt" in mods:
        rest = "+".join([*sorted(mods - {"alt"}), base])
        inner = encode_key(rest, character, modes)
        if inner is None and character and character.isprintable():
            inner = character.encode()
        return b"\x1b" + inner if inner is not None else None
    if character and character.isprintable():
        return character.encode()
    if len(base) == 1 and not mods:
        return base.encode()
    return None


def encode_paste(text: str, modes: TerminalModes | None = None) -> bytes:
    """Pasted text: newlines as CR (like a typed enter), bracketed if the remote asked."""
    modes = modes or TerminalModes()
    body = text.replace("\r\n", "\r").replace("\n", "\r").encode()
    if modes.bracketed_paste:
        # A paste that contains the end marker could break out of the bracket.
        body = body.replace(PASTE_END, b"")
        return PASTE_START + body + PASTE_END
    return body


MOUSE_LEFT, MOUSE_MIDDLE, MOUSE_RIGHT = 0, 1, 2
WHEEL_UP, WHEEL_DOWN = 64, 65


def encode_mouse(
    button: int,
    x: int,
    y: int,
    *,
    pressed: bool = True,
    motion: bool = False,
    shift: bool = False,
    meta: bool = False,
    ctrl: bool = False,
    modes: TerminalModes,
) -> bytes | None:
    """A mouse event in the form the remote enabled (SGR 1006 or legacy X10), or None.

    `button` is 0/1/2 for left/middle/right, 3 for "no button" (motion), 64/65 for the
    wheel; x and y are 0-based cells.
    """
    tracking = modes.mouse_tracking
    if tracking == MOUSE_OFF:
        return None
    if motion and tracking not in (MOUSE_BUTTON, MOUSE_ANY):
        return None
    if motion and tracking == MOUSE_BUTTON and button == 3:
        return None
    code = button + (4 if shift else 0) + (8 if meta else 0) + (16 if ctrl else 0)
    code += 32 if motion else 0
    if modes.mouse_sgr:
        final = "M" if pressed or motion else "m"
        return f"{CSI}<{code};{x + 1};{y + 1}{final}".encode()
    if not pressed and not motion:
        code = 3 + (code & ~3)  # legacy release carries no button number
    if x > 222 or y > 222:
        return None  # legacy encoding cannot express it
    return b"\x1b[M" + bytes([32 + code, 33 + x, 33 + y])
