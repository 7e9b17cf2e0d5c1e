"""`iotunnel demo`: 12 devices, two offline, the welcome notice, nothing left behind."""

from __future__ import annotations

import os

from tests.app.support import wait_for
from tui.cli.demo import DEMO_FLEET, OFFLINE, demo_environment


def our_listening_sockets() -> set[int]:
    """Inodes of sockets in LISTEN state that this process holds open."""
    listening: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as table:
                next(table)
                for line in table:
                    fields = line.split()
                    if fields[3] == "0A":
                        listening.add(int(fields[9]))
        except OSError:
            continue
    ours: set[int] = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(int(target[8:-1]))
    return listening & ours


def child_pids() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            if fields[1].decode() == me and fields[0] != b"Z":
                found.add(int(entry))
    return found


async def test_demo_lists_the_fleet_and_leaves_nothing_behind() -> None:
    before = our_listening_sockets()
    async with demo_environment(flap=False) as env:
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(app, lambda: app.devices_done.is_set())
            devices = app.device_table.visible_devices()
            assert len(devices) == len(DEMO_FLEET) == 12
            assert any("username demo, password demo" in n.message for n in app._notifications)
            assert "password demo" in (app.login_hint or "")  # shown in the login modal too
            offline = {d.device_id for d in devices if d.status == "OFFLINE"}
            assert offline == OFFLINE
            assert our_listening_sockets() - before  # the platform listens while it runs
            await pilot.press("q")
    assert not our_listening_sockets() - before
    assert not child_pids()
