"""A command on the marked devices, from the dashboard (issue 11 §2): the prompt (with
history), the live results table, a device's full output.

The work is the exec engine's (`tui.session.fleet_exec.FleetExec`): the results screen
runs it in a worker and shows its progress as it comes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from tui.app.host import DashboardHost
from tui.iotda.localstate import locked_private, state_dir, write_private_json
from tui.session.audit import AuditLog
from tui.session.exec import ExecLogin, ExecResult
from tui.session.exec_tunnel import ExecApi
from tui.session.fleet_exec import FINISHED, FleetExec, FleetProgress, FleetTarget
from tui.session.tokens import TokenStore

log = logging.getLogger(__name__)

HISTORY_SIZE = 50


class ExecHistory:
    """Commands run from the dashboard, newest last (0600 JSON in the state dir)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / "exec_history.json"

    def entries(self) -> list[str]:
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [e for e in body if isinstance(e, str)] if isinstance(body, list) else []

    def add(self, command: str) -> None:
        entries = [e for e in self.entries() if e != command] + [command]
        try:
            with locked_private(self.path):
                write_private_json(self.path, entries[-HISTORY_SIZE:])
        except OSError as exc:
            log.warning("cannot save the command history to %s: %s", self.path, exc)


@dataclass(frozen=True)
class ExecRequest:
    """What the prompt collected; the password goes to the engine and nowhere else."""

    command: str
    login: ExecLogin


class HistoryInput(Input):
    """The command line: up/down walk through earlier commands."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier", show=False, id="exec.history_back"),
        Binding("down", "history(1)", "Later", show=False, id="exec.history_forward"),
    ]

    def __init__(self, history: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history = list(history)
        self._at = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._at = max(0, min(len(self.history), self._at + step))
        self.value = self.history[self._at] if self._at < len(self.history) else ""
        self.cursor_position = len(self.value)


class ExecPrompt(ModalScreen[ExecRequest | None]):
    """Command, device login and password for a command on the marked devices."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="exec.cancel"),
        Binding("tab", "next_field(1)", "Next field", show=False, priority=True, id="exec.next"),
        Binding(
            "shift+tab",
            "next_field(-1)",
            "Previous field",
            show=False,
            priority=True,
            id="exec.prev",
        ),
    ]
    FIELDS = ("#exec-command", "#exec-username", "#exec-password")

    def __init__(self, device_names: Sequence[str], history: Sequence[str], username: str) -> None:
        super().__init__()
        self.device_names = list(device_names)
        self.history = list(history)
        self.username = username

    def compose(self) -> ComposeResult:
        count = len(self.device_names)
        names = ", ".join(self.device_names[:4]) + (" …" if count > 4 else "")
        with Vertical(id="exec-dialog", classes="dialog"):
            yield Label(f"Run on {count} device{'s' if count != 1 else ''}", classes="dialog-title")
            yield Static(names, classes="dialog-hint")
            yield Label("Command")
            yield HistoryInput(self.history, placeholder="e.g. uptime", id="exec-command")
            yield Label("Device login")
            yield Input(self.username, placeholder="username", id="exec-username")
            yield Input(placeholder="password", password=True, id="exec-password")
            yield Static(
                "up/down: earlier commands · tab: next field · enter: run · esc: cancel",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#exec-command", Input))

    def action_next_field(self, step: int) -> None:
        # set_focus acts now (a burst "uptime\tdemo\tdemo\r" lands field by field)
        fields = [self.query_one(f, Input) for f in self.FIELDS]
        at = fields.index(self.focused) if self.focused in fields else 0
        self.set_focus(fields[(at + step) % len(fields)])

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        values = {f: self.query_one(f, Input).value for f in self.FIELDS}
        for field in self.FIELDS:  # the first empty field gets the focus
            if not values[field].strip():
                self.set_focus(self.query_one(field, Input))
                return
        self.query_one("#exec-password", Input).value = ""
        login = ExecLogin(values["#exec-username"].strip(), values["#exec-password"])
        self.dismiss(ExecRequest(values["#exec-command"].strip(), login))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _status_text(result: ExecResult | None, running: bool) -> Text:
    if result is None:
        return Text("running" if running else "waiting", style="dim")
    style = {"ok": "bold green", "failed": "bold yellow"}.get(result.status, "bold red")
    return Text(result.status, style=style)


class FleetResultsScreen(Screen[None]):
    """The same table as `iotunnel exec --all`, live: one row per device."""

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="results.close"),
        Binding("enter", "show_output", "Output", id="results.output"),
        Binding("o", "open_shell", "Shell", id="results.shell"),
    ]

    class OpenShell(Message):
        """Open a shell (a tunnel tab) on this device."""

        def __init__(self, device_id: str) -> None:
            self.device_id = device_id
            super().__init__()

    def __init__(
        self,
        request: ExecRequest,
        targets: Sequence[FleetTarget],
        names: dict[str, str],
        make_runner: Callable[..., FleetExec],
    ) -> None:
        super().__init__()
        self.request = request
        self.targets = list(targets)
        self.names = names
        self._make_runner = make_runner
        self.results: dict[str, ExecResult] = {}
        self.running: set[str] = set()
        self.done = False

    def compose(self) -> ComposeResult:
        yield Static(id="results-title")
        yield DataTable(id="results-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (
            ("device", "DEVICE"),
            ("status", "STATUS"),
            ("exit", "EXIT"),
            ("time", "TIME"),
            ("last", "LAST LINE"),
        ):
            table.add_column(label, key=key)
        for target in self.targets:
            name = self.names.get(target.device_id, target.device_id)
            table.add_row(name, _status_text(None, False), "", "", "", key=target.device_id)
        self.set_focus(table)
        self._update_title()
        self.run_fleet()

    def _update_title(self) -> None:
        total = len(self.targets)
        counts: dict[str, int] = {}
        for result in self.results.values():
            counts[result.status] = counts.get(result.status, 0) + 1
        tally = " · ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        state = "done" if self.done else f"{len(self.results)}/{total}"
        self.query_one("#results-title", Static).update(
            f" $ {self.request.command}  ·  {state}" + (f"  ·  {tally}" if tally else "")
        )

    @work(exclusive=True, group="fleet-exec", exit_on_error=False)
    async def run_fleet(self) -> None:
        runner = self._make_runner(
            self.request.command, self.request.login, on_progress=self._progress
        )
        try:
            await runner.run(self.targets)
        except Exception as exc:
            log.exception("fleet exec failed")
            self.notify(f"{type(exc).__name__}: {exc}", title="Run failed", severity="error")
        self.done = True
        self._update_title()

    def _progress(self, progress: FleetProgress) -> None:
        table = self.query_one(DataTable)
        device_id = progress.device_id
        if progress.phase != FINISHED or progress.result is None:
            self.running.add(device_id)
            table.update_cell(device_id, "status", _status_text(None, True), update_width=True)
            return
        result = progress.result
        self.running.discard(device_id)
        self.results[device_id] = result
        table.update_cell(device_id, "status", _status_text(result, False), update_width=True)
        table.update_cell(
            device_id, "exit", "" if result.exit_code is None else str(result.exit_code)
        )
        table.update_cell(
            device_id, "time", f"{result.duration_ms / 1000:.1f} s", update_width=True
        )
        table.update_cell(device_id, "last", result.error or result.last_line(), update_width=True)
        self._update_title()

    def _selected_device(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_show_output(self) -> None:
        device_id = self._selected_device()
        if device_id is None:
            return
        result = self.results.get(device_id)
        name = self.names.get(device_id, device_id)
        self.app.push_screen(OutputScreen(name, self.request.command, result))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_show_output()

    def action_open_shell(self) -> None:
        device_id = self._selected_device()
        if device_id is not None:
            self.dismiss()
            self.app.post_message(self.OpenShell(device_id))

    def action_close(self) -> None:
        self.dismiss()


class OutputScreen(ModalScreen[None]):
    """One device's whole output of the command."""

    BINDINGS = [Binding("escape,q,enter", "close", "Back", id="output.close")]

    def __init__(self, name: str, command: str, result: ExecResult | None) -> None:
        super().__init__()
        self.device_name = name
        self.command = command
        self.result = result

    def compose(self) -> ComposeResult:
        result = self.result
        if result is None:
            head, body = "still running", ""
        else:
            code = "" if result.exit_code is None else f", exit {result.exit_code}"
            head = f"{result.status}{code}, {result.duration_ms / 1000:.1f} s"
            body = result.output.decode("utf-8", "replace")
            if result.error:
                body = f"{result.error}\n{body}"
        with Vertical(id="output-dialog", classes="dialog"):
            yield Label(f"{self.device_name} · $ {self.command} · {head}", classes="dialog-title")
            with VerticalScroll(id="output-scroll"):
                yield Static(Text(body or "(no output)"), id="output-text")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#output-scroll"))

    def action_close(self) -> None:
        self.dismiss()


class FleetCommands:
    """`x` in the device list: the prompt, then the results screen running the engine."""

    def __init__(self, host: DashboardHost, audit: AuditLog, history: ExecHistory) -> None:
        self.host = host
        self.audit = audit
        self.history = history

    def make_runner(self, command: str, login: ExecLogin, **kwargs: Any) -> FleetExec:
        # the line typed is run by the device's shell, pipes and all
        return FleetExec(
            cast(ExecApi, self.host.client),
            ["sh", "-c", command],
            login,
            token_store=cast(TokenStore, self.host.token_store),
            audit=self.audit,
            **kwargs,
        )

    def run_on_marked(self) -> None:
        table = self.host.device_table
        selected = table.selected_device
        devices = table.marked_devices() or ([selected] if selected is not None else [])
        if not devices:
            return
        names = {d.device_id: d.display_name for d in devices}
        # offline devices are reported as such, not tried (as `iotunnel exec --all`)
        targets = [FleetTarget(d.device_id, str(d.status)) for d in devices]

        def answered(request: ExecRequest | None) -> None:
            if request is not None:
                self.history.add(request.command)
                screen = FleetResultsScreen(request, targets, names, self.make_runner)
                self.host.push_screen(screen)

        username = self.host.usernames.get(devices[0].device_id)
        prompt = ExecPrompt(list(names.values()), self.history.entries(), username)
        self.host.push_screen(prompt, answered)
