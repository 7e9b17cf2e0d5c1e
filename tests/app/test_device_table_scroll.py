"""The highlighted row of the device list stays in sight (issue 8: after End, Home never
showed the first row again, and `c` acted on a hidden device)."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tui.app.config import Countdown
from tui.app.device_table import DeviceTable
from tui.iotda.models import Device


def devices(count: int) -> list[Device]:
    return [
        Device.from_json(
            {
                "device_id": f"pump_{i:03d}",
                "node_id": f"{i:03d}",
                "device_name": f"Pump {i:03d}",
                "product_id": "pump",
                "status": "ONLINE",
            }
        )
        for i in range(count)
    ]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DeviceTable(clock=lambda: 0.0, countdown=Countdown())

    def on_mount(self) -> None:
        table = self.query_one(DeviceTable)
        table.set_devices(devices(60))
        table.focus()


def cursor_row_visible(table: DeviceTable) -> bool:
    """The cursor's device is drawn on one of the lines under the header."""
    name = table.selected_device.display_name
    lines = [table.render_line(y).text for y in range(1, table.size.height)]
    return any(name in line for line in lines)


@pytest.mark.parametrize("size", [(80, 12), (80, 24), (120, 40)])
async def test_home_end_and_paging_keep_the_cursor_row_in_sight(size) -> None:
    app = TableApp()
    async with app.run_test(size=size) as pilot:
        table = app.query_one(DeviceTable)
        for keys, expected in (
            (("end",), "pump_059"),
            (("home",), "pump_000"),
            (("pagedown", "pagedown"), None),
            (("end", "pageup"), None),
            (("home", "down", "down"), "pump_002"),
            (("end", "home"), "pump_000"),
            (("end", "up"), "pump_058"),
        ):
            await pilot.press(*keys)
            await pilot.pause()
            if expected is not None:
                assert table.selected_device.device_id == expected
            assert cursor_row_visible(table), (keys, table.scroll_offset.y, table.cursor_row)


async def test_names_come_first_at_80_columns_cut_in_the_middle_and_no_match_is_said() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(DeviceTable)
        long = [
            Device.from_json(
                {
                    "device_id": f"heat-pump_{n}",
                    "node_id": n,
                    "device_name": f"Heat pump north wing {n}",
                    "product_id": "heat-pump",
                    "status": "ONLINE",
                }
            )
            for n in ("a17", "a18")
        ]
        table.set_devices(long)
        await pilot.pause()
        lines = [table.render_line(y).text for y in (1, 2)]
        assert lines[0].startswith(" Heat pump") and lines[0].split("  ")[0].endswith("a17")
        assert lines[1].split("  ")[0].endswith("a18")  # told apart by their ends
        table.set_filter("zzz")
        await pilot.pause()
        assert "no device matches “zzz”" in table.render_line(1).text


class ThemedTableApp(TableApp):
    # as the dashboard's stylesheet: a list background, a translucent cursor over it
    CSS = """
    DeviceTable { background: #101010; }
    DeviceTable > .device-table--cursor { background: #4060a0 50%; }
    DeviceTable > .device-table--status-online { color: green; text-style: bold; }
    """


async def test_the_highlight_covers_the_whole_row() -> None:
    # issue 8: the status (and token) cells kept the list's background on the cursor row
    app = ThemedTableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(DeviceTable)
        await pilot.press("down")
        row = table.cursor_row - int(table.scroll_offset.y) + 1  # line 0 is the header
        cursor_bg = table.get_component_rich_style("device-table--cursor").bgcolor
        backgrounds = {s.style.bgcolor for s in table.render_line(row) if s.text.strip()}
        assert backgrounds == {cursor_bg}
