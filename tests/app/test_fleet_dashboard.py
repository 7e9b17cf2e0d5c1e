"""Issue 11 in the dashboard: mark devices, run a command on them, read the results live,
a device's full output, a shell from there; the audit log in the palette. Against the real
local platform and real pty agents."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.app.support import burst, dashboard_env, typed, wait_for, wait_for_dialog
from tests.app.test_behaviour import SIZE, phase
from tui.app.audit_view import AuditScreen
from tui.app.dialogs import LoginScreen
from tui.app.fleet_views import ExecPrompt, FleetResultsScreen, OutputScreen

AGENTS = ("boiler_0001", "pump_0001")


def results(app) -> dict[str, str]:
    screen = app.screen
    if not isinstance(screen, FleetResultsScreen):
        return {}
    return {device_id: r.status for device_id, r in screen.results.items()}


async def test_mark_run_read_results_open_output_and_a_shell_then_the_audit_log() -> None:
    async with dashboard_env(agents=AGENTS) as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(app, lambda: app.devices_done.is_set())
            table = app.device_table
            # mark the two devices with agents: filter, * marks what is shown
            burst(app, *typed("/0001\r"), "asterisk")
            await wait_for(app, lambda: set(table.marked) >= set(AGENTS))
            marked = set(table.marked)
            # the summary follows the marks on the next message (MarksChanged)
            await wait_for(app, lambda: "marked" in str(app.query_one("#summary").render()))
            burst(app, "x")
            await wait_for_dialog(app, ExecPrompt)
            burst(app, *typed("echo fleet-$((20+22)); hostname >/dev/null\tdemo\tdemo\r"))
            await wait_for(app, lambda: isinstance(app.screen, FleetResultsScreen))
            screen = app.screen
            await wait_for(app, lambda: screen.done, timeout=60)
            assert {d: s for d, s in results(app).items() if d in AGENTS} == dict.fromkeys(
                AGENTS, "ok"
            )
            for device_id in marked - set(AGENTS):  # seeded devices without an agent
                assert results(app)[device_id] != "ok"
            grid = screen.query_one(DataTable)
            assert grid.row_count == len(marked)
            # enter on a row: the device's whole output
            grid.move_cursor(row=grid.get_row_index("boiler_0001"))
            await pilot.press("enter")
            await wait_for(app, lambda: isinstance(app.screen, OutputScreen))
            assert b"fleet-42" in app.screen.result.output
            await pilot.press("escape")
            await wait_for(app, lambda: app.screen is screen)
            # o: a shell on that device
            await pilot.press("o")
            await wait_for_dialog(app, LoginScreen)
            await pilot.press("escape")
            await wait_for(app, lambda: phase(app) is not None)
            # the command is remembered for the next prompt (history)
            assert app.exec_history.entries()[-1].startswith("echo fleet-")
            # the palette's audit log lists the exec
            app.action_audit_log()
            await wait_for(
                app,
                lambda: (
                    isinstance(app.screen, AuditScreen)
                    and bool(app.screen.query(DataTable))
                    and app.screen.query_one(DataTable).row_count >= 2
                ),
            )
            audit_rows = app.screen.query_one(DataTable)
            actions = {str(audit_rows.get_row_at(i)[1]) for i in range(audit_rows.row_count)}
            assert {"exec.start", "exec.end"} <= actions


async def test_broadcast_types_once_into_every_marked_session_until_ctrl_close_bracket() -> None:
    from tests.app.test_behaviour import open_and_login, tab

    async with dashboard_env(agents=AGENTS) as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            first = await open_and_login(app, pilot, "boiler_0001")
            await pilot.press("ctrl+right_square_bracket")
            second = await open_and_login(app, pilot, "pump_0001")
            app.broadcast.all_tabs()  # the palette's "Broadcast to all tabs"
            await pilot.pause()
            assert "BROADCAST to 2" in str(first.query_one("#tab-status").render())
            assert second.pane.has_focus
            burst(app, *typed("echo bc-$((3*3))\r"))
            await wait_for(app, lambda: "bc-9" in first.pane.screen_text())
            await wait_for(app, lambda: "bc-9" in second.pane.screen_text())
            await pilot.press("ctrl+right_square_bracket")  # ends the broadcast
            assert not app.broadcast.active
            assert "BROADCAST" not in str(second.query_one("#tab-status").render())
            # b on a tab's status line adds it; a session that ends leaves with a notice
            app.activate_tab(first)
            await pilot.pause()
            first.query_one("#tab-status").focus()
            await pilot.press("b")
            await wait_for(app, lambda: app.broadcast.members == {first.id})
            await first.stop()
            await wait_for(app, lambda: not app.broadcast.active)
            assert any("left the broadcast" in n.message for n in app._notifications)
            assert tab(app, "pump_0001") is second
    actions = [r.action for r in app.audit.read()]
    assert actions.count("broadcast.on") >= 2 and "broadcast.off" in actions


async def test_the_dashboard_audits_tunnels_and_sessions() -> None:
    from tests.app.test_behaviour import open_and_login, tab
    from tui.app.dialogs import ConfirmScreen

    async with dashboard_env(agents=("boiler_0001",)) as env:
        app = env.app()
        async with app.run_test(size=SIZE) as pilot:
            await open_and_login(app, pilot, "boiler_0001")
            await pilot.press("ctrl+right_square_bracket", "c")
            await wait_for_dialog(app, ConfirmScreen)
            await pilot.press("y")
            await wait_for(app, lambda: tab(app) is None)
    records = [r for r in app.audit.read() if r.device_id == "boiler_0001"]
    actions = [r.action for r in records]
    assert actions[:2] == ["tunnel.create", "session.login"]
    assert "session.end" in actions and actions[-1] == "tunnel.close"
    login = records[1]
    assert login.detail == "login user demo" and "demo" not in (login.command or "")
    assert all(r.endpoint == env.client.endpoint for r in records)
