"""asciicast v2 recordings: output only, 0600, under $XDG_STATE_HOME/iotunnel/recordings."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

from tests.session.relay import PASSWORD, EventLog, FakeRelay
from tui.session import LoginAccepted, Recorder, TunnelSession


def read_cast(path: Path) -> tuple[dict, list[list]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def test_recorder_writes_asciicast_v2(tmp_path: Path) -> None:
    ticks = iter([10.0, 10.5, 11.25, 12.0])
    rec = Recorder(
        tmp_path / "r.cast",
        width=100,
        height=30,
        monotonic=lambda: next(ticks),
        wall_clock=lambda: 1_764_000_000.0,
        title="dev",
    )
    rec.output("hello ")
    rec.resize(120, 40)
    rec.output("wörld\r\n")
    rec.close()
    rec.output("after close is ignored")
    header, events = read_cast(tmp_path / "r.cast")
    assert header["version"] == 2 and header["width"] == 100 and header["height"] == 30
    assert header["timestamp"] == 1_764_000_000 and header["title"] == "dev"
    assert events == [[0.5, "o", "hello "], [1.25, "r", "120x40"], [2.0, "o", "wörld\r\n"]]
    assert stat.S_IMODE((tmp_path / "r.cast").stat().st_mode) == 0o600


def test_for_device_uses_state_dir_and_unique_names() -> None:
    first = Recorder.for_device("prod_node/../1", wall_clock=lambda: 0.0)
    second = Recorder.for_device("prod_node/../1", wall_clock=lambda: 0.0)
    first.close()
    second.close()
    folder = Path(os.environ["XDG_STATE_HOME"]) / "iotunnel" / "recordings"
    assert first.path.parent == folder and second.path.parent == folder
    assert first.path != second.path and "/" not in first.path.name.replace(".cast", "")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


async def test_session_records_output_but_never_input(tmp_path: Path) -> None:
    async with FakeRelay() as relay:
        log = EventLog()
        recorder = Recorder(tmp_path / "s.cast")
        session = TunnelSession(relay.uri, relay.token, on_event=log, recorder=recorder)
        task = asyncio.create_task(session.run())
        session.login("root", PASSWORD)
        await log.wait_kind(LoginAccepted)
        session.send_input("typed-secret\r")
        await log.wait_for(lambda: "echo:typed-secret" in log.text())
        await session.close()
        await asyncio.wait_for(task, 15)
    assert recorder.closed
    text = (tmp_path / "s.cast").read_text()
    assert PASSWORD not in text
    _, events = read_cast(tmp_path / "s.cast")
    # the relay echoes input as "echo:…": only that output is recorded, not the keys
    assert [e[2] for e in events if e[1] == "o"] == ["echo:typed-secret\r"]
