"""The device list: a Line-API table that stays fast with tens of thousands of rows.

Only visible rows are rendered (`render_line`), so adding a page of devices or applying
a filter costs a list operation, not a widget per cell. Colours come from component
classes whose styles use theme variables ($status-online, $token-expiring, …).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.app.config import Countdown
from tui.app.countdown import format_countdown, seconds_left, token_level
from tui.app.filtering import filter_rows, make_haystack
from tui.iotda.models import Device

SORT_KEYS: tuple[str, ...] = ("name", "device id", "product", "status")
_STATUS_CLASSES = ("online", "offline", "abnormal", "inactive", "frozen")
STRIP_CACHE_SIZE = 4_000


@dataclass(frozen=True)
class TunnelBadge:
    """What the table shows of a device's tunnel: its state word and token end."""

    state: str
    expires_at: float | None = None


@dataclass(frozen=True)
class DeviceRow:
    device: Device
    haystack: str

    @classmethod
    def of(cls, device: Device) -> DeviceRow:
        tags = " ".join(f"{k}={v}" for k, v in device.tag_dict().items())
        return cls(
            device,
            make_haystack(
                (
                    device.display_name,
                    device.device_id,
                    device.product_name or device.product_id,
                    str(device.status),
                    tags,
                )
            ),
        )


def _sort_key(name: str) -> Callable[[DeviceRow], str]:
    if name == "device id":
        return lambda row: row.device.device_id
    if name == "product":
        return lambda row: (row.device.product_name or row.device.product_id).lower()
    if name == "status":
        return lambda row: str(row.device.status)
    return lambda row: row.device.display_name.lower()


def _middle_cell(text: str, width: int) -> str:
    """A name cut in the middle: "Heat pump A17" and "Heat pump A18" stay apart when the
    column is narrow (their ends differ, not their starts)."""
    if len(text) <= width or width < 5:
        return _cell(text, width)
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]


def _cell(text: str, width: int) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width > 1 else text[:width]
    return text.ljust(width)


class DeviceTable(ScrollView, can_focus=True):
    """Devices, one per line, with a cursor; `enter`/`t` asks to open a tunnel."""

    BINDINGS = [
        Binding("enter,t", "open_tunnel", "Open tunnel", id="tunnel.open"),
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home", "jump(0)", "First", show=False, id="table.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="table.last"),
        Binding("s", "cycle_sort", "Sort", id="table.sort"),
        Binding("space", "toggle_mark", "Mark", show=False, id="table.mark"),
        Binding(
            "asterisk",
            "mark_shown",
            "Mark shown",
            show=False,
            key_display="*",
            id="table.mark_shown",
        ),
    ]
    COMPONENT_CLASSES = {
        "device-table--header",
        "device-table--cursor",
        *(f"device-table--status-{name}" for name in _STATUS_CLASSES),
        "device-table--token-ok",
        "device-table--token-warning",
        "device-table--token-critical",
        "device-table--token-expired",
        "device-table--tunnel",
    }

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)

    class MarksChanged(Message):
        """Devices were marked or unmarked (for a command on many devices)."""

    class OpenRequested(Message):
        def __init__(self, device: Device) -> None:
            self.device = device
            super().__init__()

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        countdown: Countdown,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self._countdown = countdown
        self._all: list[DeviceRow] = []
        self._index: dict[str, int] = {}
        self._rows: list[DeviceRow] = []
        self._sorted: list[DeviceRow] | None = None
        self._style_cache: dict[str, Style] | None = None
        self._strips: dict[tuple[object, ...], Strip] = {}
        self._badges: dict[str, TunnelBadge] = {}
        self._query = ""
        self.marked: set[str] = set()  # device ids marked with space / *
        self.sort_key = "name"
        self.sort_reverse = False

    # --- data ---------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self._all)

    @property
    def shown(self) -> int:
        return len(self._rows)

    @property
    def query(self) -> str:
        return self._query

    @property
    def selected_device(self) -> Device | None:
        if 0 <= self.cursor_row < len(self._rows):
            return self._rows[self.cursor_row].device
        return None

    def visible_devices(self) -> list[Device]:
        return [row.device for row in self._rows]

    def device(self, device_id: str) -> Device | None:
        index = self._index.get(device_id)
        return self._all[index].device if index is not None else None

    def set_devices(self, devices: Iterable[Device]) -> None:
        """Replace the whole list (a refresh); the cursor stays on the same device."""
        self._all = [DeviceRow.of(d) for d in devices]
        self._rebuild()

    def add_devices(self, devices: Iterable[Device]) -> None:
        """Append a page as it arrives; a device already listed is updated in place."""
        for device in devices:
            index = self._index.get(device.device_id)
            if index is None:
                self._index[device.device_id] = len(self._all)
                self._all.append(DeviceRow.of(device))
            else:
                self._all[index] = DeviceRow.of(device)
        self._rebuild()

    def set_filter(self, query: str) -> None:
        self._query = query
        self._rebuild(resort=False)  # a keystroke re-filters; the sort order stands

    def set_badges(self, badges: dict[str, TunnelBadge]) -> None:
        self._badges = dict(badges)
        self.refresh()

    def action_cycle_sort(self) -> None:
        index = SORT_KEYS.index(self.sort_key)
        if self.sort_reverse:
            self.sort_key, self.sort_reverse = SORT_KEYS[(index + 1) % len(SORT_KEYS)], False
        else:
            self.sort_reverse = True
        self._rebuild()

    def _rebuild(self, *, resort: bool = True) -> None:
        selected = self.selected_device
        if resort or self._sorted is None:
            self._index = {row.device.device_id: i for i, row in enumerate(self._all)}
            self._sorted = sorted(
                self._all, key=_sort_key(self.sort_key), reverse=self.sort_reverse
            )
        self._rows = filter_rows(self._sorted, self._query)
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)
        if selected is not None:
            for i, row in enumerate(self._rows):
                if row.device.device_id == selected.device_id:
                    self.cursor_row = i
                    break
            else:
                self.cursor_row = min(self.cursor_row, max(0, len(self._rows) - 1))
        else:
            self.cursor_row = 0
        self.refresh()

    # --- cursor ----------------------------------------------------------------------------

    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, len(self._rows) - 1)) if self._rows else 0

    def watch_cursor_row(self, old: int, new: int) -> None:
        # Line 0 of the view is always the header (drawn over virtual line 0 whatever the
        # scroll), so row n shows iff scroll_y <= n <= scroll_y + height - 2.
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, force=True)
        elif new > top + visible - 1:
            self.scroll_to(y=new - visible + 1, animate=False, force=True)
        self.refresh()
        if old != new and self.is_mounted:
            self.refresh_bindings()  # the footer's keys depend on the selected device

    def select(self, device_id: str) -> bool:
        """Put the cursor on a device; False when the filter hides it."""
        for i, row in enumerate(self._rows):
            if row.device.device_id == device_id:
                self.cursor_row = i
                return True
        return False

    def marked_devices(self) -> list[Device]:
        """Marked devices in the table's order (marks hidden by the filter count too)."""
        return [
            row.device for row in self._sorted or self._all if row.device.device_id in self.marked
        ]

    def action_toggle_mark(self) -> None:
        device = self.selected_device
        if device is None:
            return
        self.marked ^= {device.device_id}
        self.cursor_row += 1  # like a file manager: space, space, space marks a run
        self._marks_changed()

    def action_mark_shown(self) -> None:
        """Mark every device the filter shows; if all are marked already, unmark them."""
        shown = {row.device.device_id for row in self._rows}
        self.marked = self.marked - shown if shown <= self.marked else self.marked | shown
        self._marks_changed()

    def _marks_changed(self) -> None:
        self.refresh()
        self.post_message(self.MarksChanged())

    def action_cursor(self, delta: int) -> None:
        self.cursor_row += delta

    def action_page(self, direction: int) -> None:
        self.cursor_row += direction * max(1, self.size.height - 2)

    def action_jump(self, where: int) -> None:
        self.cursor_row = 0 if where == 0 else len(self._rows) - 1

    def action_open_tunnel(self) -> None:
        device = self.selected_device
        if device is not None:
            self.post_message(self.OpenRequested(device))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.cursor_row = int(self.scroll_offset.y) + event.y - 1

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self._rows) + 1)

    # --- rendering -------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        fixed = [9, 10, 9]  # status, tunnel, token
        flexible = max(12, width - sum(fixed) - 7)  # a leading space and six gaps
        # people know devices by name: the name column comes first, up to 32 columns
        name = min(max(flexible * 45 // 100, 12), 32)
        product = (flexible - name) * 35 // 100
        return [name, flexible - name - product, product, *fixed]

    def _styles(self) -> dict[str, Style]:
        """Every style a row needs, resolved once per theme/CSS change (not per line)."""
        if self._style_cache is None:
            base = self.rich_style
            cursor = base + self.get_component_rich_style("device-table--cursor")
            styles = {"base": base, "cursor": cursor}
            for name in self.COMPONENT_CLASSES - {"device-table--cursor"}:
                # only what the component sets (colour, bold): its full style carries the
                # list's background, which would punch holes in the cursor row's highlight
                part = self.get_component_rich_style(name, partial=True)
                short = name.removeprefix("device-table--")
                styles[short] = base + part
                styles[f"cursor:{short}"] = cursor + part
            self._style_cache = styles
        return self._style_cache

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header(width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._rows):
            if index == 0 and self._query and self._all:
                note = f" no device matches “{self._query}” · / then escape clears the filter"
                return Strip([Segment(_cell(note, width), self._styles()["tunnel"])], width)
            return Strip.blank(width, self._styles()["base"])
        row = self._rows[index]
        is_cursor = index == self.cursor_row
        badge = self._badges.get(row.device.device_id)
        token = ""
        if badge is not None and badge.expires_at is not None:
            token = format_countdown(seconds_left(badge.expires_at, self._clock()))
        # a row's picture depends only on these: re-filtering reuses what was drawn
        marked = row.device.device_id in self.marked
        key = (id(row), is_cursor, badge, token, width, marked)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > STRIP_CACHE_SIZE:
                self._strips.clear()
            strip = self._strips[key] = self._row_strip(row, is_cursor, badge, width, marked)
        return strip

    def _header(self, width: int) -> Strip:
        titles = ["NAME", "DEVICE ID", "PRODUCT", "STATUS", "TUNNEL", "TOKEN"]
        arrow = " ▼" if self.sort_reverse else " ▲"
        sort_column = {"name": 0, "device id": 1, "product": 2, "status": 3}[self.sort_key]
        titles[sort_column] += arrow
        style = self._styles()["header"]
        text = " ".join(_cell(t, w) for t, w in zip(titles, self._widths(width), strict=True))
        return Strip([Segment(_cell(" " + text, width), style)], width)

    def _row_strip(
        self,
        row: DeviceRow,
        is_cursor: bool,
        badge: TunnelBadge | None,
        width: int,
        marked: bool = False,
    ) -> Strip:
        device = row.device
        styles = self._styles()
        prefix = "cursor:" if is_cursor else ""
        base = styles["cursor" if is_cursor else "base"]
        status = str(device.status)
        status_class = status.lower() if status.lower() in _STATUS_CLASSES else "inactive"
        tunnel_text, token_text, token_style = "", "", base
        if badge is not None:
            tunnel_text = badge.state
            if badge.expires_at is not None:
                left = seconds_left(badge.expires_at, self._clock())
                token_text = format_countdown(left)
                level = token_level(left, self._countdown)
                token_style = styles[f"{prefix}token-{level}"]
        cells = (
            (_middle_cell(device.display_name, self._widths(width)[0]), base),
            (device.device_id, base),
            (device.product_name or device.product_id, base),
            (status, styles[f"{prefix}status-{status_class}"]),
            (tunnel_text, styles[f"{prefix}tunnel"]),
            (token_text, token_style),
        )
        segments = [Segment("●" if marked else " ", styles[f"{prefix}tunnel"] if marked else base)]
        used = 1
        for (text, style), cell_width in zip(cells, self._widths(width), strict=True):
            segments.append(Segment(_cell(text, cell_width), style))
            segments.append(Segment(" ", base))
            used += cell_width + 1
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        strip = Strip(segments, max(used, width))
        return strip if used <= width else strip.crop(0, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache = None
        self._strips.clear()
        self.refresh()
