"""Keys, mouse, paste and focus for the Ghostty backend, encoded by libghostty-vt.

The encoders read the terminal's own modes (`setopt_from_terminal`): application
cursor/keypad, the kitty keyboard protocol, mouse tracking and format, bracketed paste.
What stays here is the translation from Textual's key names to Ghostty's physical keys,
and two xterm habits Ghostty's legacy encoding lacks (ctrl+? = DEL, f13-f24 as shifted
f1-f12, which is what xterm-256color's terminfo tells the remote to expect).
"""

from __future__ import annotations

from pyghostty import ffi, lib

from tui.terminal.ghostty_native import (
    MODS_ALT,
    MODS_CTRL,
    MODS_SHIFT,
    MODS_SUPER,
    check,
    encode_into,
)

_MODS = {"shift": MODS_SHIFT, "ctrl": MODS_CTRL, "alt": MODS_ALT, "meta": MODS_SUPER}

_NAMED: dict[str, str] = {
    "enter": "ENTER",
    "tab": "TAB",
    "escape": "ESCAPE",
    "backspace": "BACKSPACE",
    "space": "SPACE",
    "delete": "DELETE",
    "insert": "INSERT",
    "home": "HOME",
    "end": "END",
    "pageup": "PAGE_UP",
    "pagedown": "PAGE_DOWN",
    "up": "ARROW_UP",
    "down": "ARROW_DOWN",
    "left": "ARROW_LEFT",
    "right": "ARROW_RIGHT",
    **{f"f{n}": f"F{n}" for n in range(1, 25)},
}

# Punctuation by Textual name: (Ghostty's physical key, the unshifted character, shifted).
_PUNCT: dict[str, tuple[str, str, bool]] = {
    "left_square_bracket": ("BRACKET_LEFT", "[", False),
    "right_square_bracket": ("BRACKET_RIGHT", "]", False),
    "backslash": ("BACKSLASH", "\\", False),
    "slash": ("SLASH", "/", False),
    "minus": ("MINUS", "-", False),
    "equals_sign": ("EQUAL", "=", False),
    "semicolon": ("SEMICOLON", ";", False),
    "apostrophe": ("QUOTE", "'", False),
    "grave_accent": ("BACKQUOTE", "`", False),
    "comma": ("COMMA", ",", False),
    "full_stop": ("PERIOD", ".", False),
    "@": ("DIGIT_2", "2", True),
    "at": ("DIGIT_2", "2", True),
    "circumflex_accent": ("DIGIT_6", "6", True),
    "underscore": ("MINUS", "-", True),
    "question_mark": ("SLASH", "/", True),
}

# xterm's own answers where Ghostty's legacy encoding differs or has none. f13-f24 are
# what xterm sends and what xterm-256color's terminfo (kf13..kf24) tells the remote.
_XTERM_LEGACY: dict[str, bytes] = {
    "ctrl+question_mark": b"\x7f",
    "ctrl+shift+question_mark": b"\x7f",
    "ctrl+slash": b"\x1f",
    "ctrl+minus": b"\x1f",
    "ctrl+@": b"\x00",
    "ctrl+at": b"\x00",
    "ctrl+left_square_bracket": b"\x1b",
    "ctrl+circumflex_accent": b"\x1e",
    "ctrl+underscore": b"\x1f",
    **{f"f{12 + n}": f"\x1b[1;2{final}".encode() for n, final in enumerate("PQRS", 1)},
    **{
        f"f{16 + n}": f"\x1b[{code};2~".encode()
        for n, code in enumerate((15, 17, 18, 19, 20, 21, 23, 24), 1)
    },
}
# Keys whose modified forms xterm sends as the plain key (Ghostty: CSI 27;m;c ~).
_PLAIN_BASES = frozenset({"enter", "tab", "backspace", "escape", "space"})

_BUTTONS = {0: "LEFT", 1: "MIDDLE", 2: "RIGHT", 64: "FOUR", 65: "FIVE"}


def _key_code(name: str) -> int:
    return getattr(lib, f"GHOSTTY_KEY_{name}")


class InputEncoder:
    """Key, mouse, paste and focus encoding for one terminal."""

    def __init__(self, terminal: object) -> None:
        self._t = terminal
        encoder = ffi.new("GhosttyKeyEncoder*")
        check(lib.ghostty_key_encoder_new(ffi.NULL, encoder), "key_encoder_new")
        self._keys = ffi.gc(encoder[0], lib.ghostty_key_encoder_free)
        event = ffi.new("GhosttyKeyEvent*")
        check(lib.ghostty_key_event_new(ffi.NULL, event), "key_event_new")
        self._key_event = ffi.gc(event[0], lib.ghostty_key_event_free)
        mouse = ffi.new("GhosttyMouseEncoder*")
        check(lib.ghostty_mouse_encoder_new(ffi.NULL, mouse), "mouse_encoder_new")
        self._mouse = ffi.gc(mouse[0], lib.ghostty_mouse_encoder_free)
        mouse_event = ffi.new("GhosttyMouseEvent*")
        check(lib.ghostty_mouse_event_new(ffi.NULL, mouse_event), "mouse_event_new")
        self._mouse_event = ffi.gc(mouse_event[0], lib.ghostty_mouse_event_free)
        self._flags = ffi.new("uint8_t*")

    def kitty_flags(self) -> int:
        check(
            lib.ghostty_terminal_get(
                self._t, lib.GHOSTTY_TERMINAL_DATA_KITTY_KEYBOARD_FLAGS, self._flags
            ),
            "kitty flags",
        )
        return self._flags[0]

    # --- keys -----------------------------------------------------------------------

    def encode_key(self, key: str, character: str | None) -> bytes | None:
        """The bytes for one key press (Textual's key name), or None if it sends nothing."""
        legacy = not self.kitty_flags()
        if legacy and key in _XTERM_LEGACY:
            return _XTERM_LEGACY[key]
        parts = key.split("+")
        base = parts[-1]
        mods = 0
        for part in parts[:-1]:
            mods |= _MODS.get(part, 0)
        text = character if character and character.isprintable() else ""
        code, unshifted = lib.GHOSTTY_KEY_UNIDENTIFIED, 0
        if base in _NAMED:
            code = _key_code(_NAMED[base])
            unshifted = 32 if base == "space" else 0
            text = " " if base == "space" and not mods & ~MODS_SHIFT else ""
        elif len(base) == 1 and base.isascii() and base.isalnum():
            lower = base.lower()
            code = _key_code(lower.upper() if lower.isalpha() else f"DIGIT_{lower}")
            unshifted = ord(lower)
            if base.isupper():
                mods |= MODS_SHIFT
            text = text or (base if not mods & (MODS_CTRL | MODS_SUPER) else "")
        elif base in _PUNCT:
            name, plain, shifted = _PUNCT[base]
            code, unshifted = _key_code(name), ord(plain)
            if shifted:
                mods |= MODS_SHIFT
        elif not text and len(base) == 1 and base.isprintable():
            text = base
        if mods & (MODS_CTRL | MODS_SUPER):
            if code == lib.GHOSTTY_KEY_UNIDENTIFIED:
                return None  # xterm has no control form for it either
            text = ""  # the encoder derives ctrl sequences from the key itself
        if not text and code == lib.GHOSTTY_KEY_UNIDENTIFIED:
            return None
        data = self._encode_key_event(code, mods, text, unshifted)
        if legacy and (not data or data.startswith(b"\x1b[27;")):
            # xterm without modifyOtherKeys: shift+enter is enter, ctrl+tab is tab,
            # ctrl+shift+a is ctrl+a (shift+tab keeps its own code).
            keep = mods & (MODS_ALT | MODS_CTRL)
            if base in _PLAIN_BASES:
                keep = mods & MODS_ALT | (mods & MODS_SHIFT if base == "tab" else 0)
                keep |= mods & MODS_CTRL if base == "backspace" else 0
            data = self._encode_key_event(code, keep, text, unshifted)
        return data or None

    def _encode_key_event(self, code: int, mods: int, text: str, unshifted: int) -> bytes:
        event = self._key_event
        lib.ghostty_key_encoder_setopt_from_terminal(self._keys, self._t)
        lib.ghostty_key_event_set_action(event, lib.GHOSTTY_KEY_ACTION_PRESS)
        lib.ghostty_key_event_set_key(event, code)
        lib.ghostty_key_event_set_mods(event, mods)
        # Shift already applied to the text (A, !) is consumed by it.
        lib.ghostty_key_event_set_consumed_mods(event, mods & MODS_SHIFT if text else 0)
        utf8 = text.encode()
        lib.ghostty_key_event_set_utf8(event, utf8, len(utf8))
        lib.ghostty_key_event_set_unshifted_codepoint(event, unshifted)
        return encode_into(
            lambda buf, size, written: lib.ghostty_key_encoder_encode(
                self._keys, event, buf, size, written
            ),
            "key_encoder_encode",
        )

    # --- mouse ----------------------------------------------------------------------

    def encode_mouse(
        self,
        button: int,
        x: int,
        y: int,
        *,
        pressed: bool = True,
        motion: bool = False,
        shift: bool = False,
        meta: bool = False,
        ctrl: bool = False,
        columns: int = 80,
        lines: int = 24,
    ) -> bytes | None:
        """A mouse event in the form the remote enabled, or None (same arguments as
        `keys.encode_mouse`; button 3 = no button)."""
        encoder, event = self._mouse, self._mouse_event
        lib.ghostty_mouse_encoder_setopt_from_terminal(encoder, self._t)
        size = ffi.new("GhosttyMouseEncoderSize*")
        size.size = ffi.sizeof("GhosttyMouseEncoderSize")
        size.screen_width, size.screen_height = columns, lines
        size.cell_width = size.cell_height = 1
        lib.ghostty_mouse_encoder_setopt(encoder, lib.GHOSTTY_MOUSE_ENCODER_OPT_SIZE, size)
        if motion:
            action = lib.GHOSTTY_MOUSE_ACTION_MOTION
        else:
            action = lib.GHOSTTY_MOUSE_ACTION_PRESS if pressed else lib.GHOSTTY_MOUSE_ACTION_RELEASE
        lib.ghostty_mouse_event_set_action(event, action)
        if button in _BUTTONS:
            lib.ghostty_mouse_event_set_button(
                event, getattr(lib, f"GHOSTTY_MOUSE_BUTTON_{_BUTTONS[button]}")
            )
        else:
            lib.ghostty_mouse_event_clear_button(event)
        pressed_any = ffi.new("bool*", motion and button in (0, 1, 2))
        lib.ghostty_mouse_encoder_setopt(
            encoder, lib.GHOSTTY_MOUSE_ENCODER_OPT_ANY_BUTTON_PRESSED, pressed_any
        )
        mods = (MODS_SHIFT if shift else 0) | (MODS_ALT if meta else 0) | (MODS_CTRL if ctrl else 0)
        lib.ghostty_mouse_event_set_mods(event, mods)
        position = ffi.new("GhosttyMousePosition*")
        position.x, position.y = x + 0.5, y + 0.5
        lib.ghostty_mouse_event_set_position(event, position[0])
        data = encode_into(
            lambda buf, n, written: lib.ghostty_mouse_encoder_encode(
                encoder, event, buf, n, written
            ),
            "mouse_encoder_encode",
        )
        return data or None

    # --- paste and focus ------------------------------------------------------------

    @staticmethod
    def paste_is_safe(text: str) -> bool:
        """False for a paste that could run commands unseen (newlines, the end marker)."""
        data = text.encode()
        return bool(lib.ghostty_paste_is_safe(data, len(data)))

    @staticmethod
    def encode_paste(text: str, bracketed: bool) -> bytes:
        data = text.encode()
        source = ffi.new("char[]", data)  # the encoder rewrites its input in place
        return encode_into(
            lambda buf, n, written: lib.ghostty_paste_encode(
                source, len(data), bracketed, buf, n, written
            ),
            "paste_encode",
            size=len(data) + 16,
        )

    @staticmethod
    def encode_focus(gained: bool) -> bytes:
        event = lib.GHOSTTY_FOCUS_GAINED if gained else lib.GHOSTTY_FOCUS_LOST
        return encode_into(
            lambda buf, n, written: lib.ghostty_focus_encode(event, buf, n, written),
            "focus_encode",
            size=8,
        )
