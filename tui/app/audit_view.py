"""The palette's "Audit log": who opened which tunnel and ran what, as a table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.session.audit import AuditLog, AuditRecord

SHOWN_RECORDS = 500  # the newest; `iotunnel audit` reads them all


class AuditScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "close", "Back", id="audit.close")]

    def __init__(self, audit: AuditLog) -> None:
        super().__init__()
        self.audit = audit

    def compose(self) -> ComposeResult:
        yield Static(id="audit-title")
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        records = self.audit.read()[-SHOWN_RECORDS:]
        table = self.query_one(DataTable)
        table.add_columns("TIME (UTC)", "ACTION", "DEVICE", "OUTCOME", "EXIT", "WHO", "DETAIL")
        for record in reversed(records):  # newest first
            table.add_row(*_cells(record))
        where = self.audit.path
        self.query_one("#audit-title", Static).update(
            f" Audit log · {len(records)} record{'s' if len(records) != 1 else ''} · {where}"
            if records
            else f" Audit log · nothing recorded yet · {where}"
        )
        self.set_focus(table)

    def action_close(self) -> None:
        self.dismiss()


def _cells(record: AuditRecord) -> tuple[str, ...]:
    moment = record.time.replace("T", " ")[:19]
    detail = record.command or record.detail or ""
    who = record.identity or record.local_user
    exit_status = "" if record.exit_status is None else str(record.exit_status)
    return (
        moment,
        record.action,
        record.device_id or "",
        record.outcome or "",
        exit_status,
        who,
        detail,
    )
