"""FleetExec against the local platform and a fleet of real pty agents."""

from __future__ import annotations

import asyncio
import contextlib
import os

from tests.agent.helpers import children_of, wait_exit
from tests.exec.rig import OFFLINE_DEVICE, TIMEOUT, exec_rig
from tui.session.fleet_exec import FINISHED, FleetExec, FleetProgress, list_targets


async def test_fleet_runs_everywhere_and_reports_offline_untried() -> None:
    async with exec_rig() as rig:
        progress: list[FleetProgress] = []
        fleet = FleetExec(
            rig.client,
            ["sh", "-c", 'printf "%s" "$((6*7))"'],
            rig.login,
            concurrency=2,
            timeout=TIMEOUT,
            token_store=rig.store,
            on_progress=progress.append,
        )
        targets = await list_targets(rig.client)
        results = await fleet.run(targets)
        by_device = {r.device_id: r for r in results}
        assert set(by_device) == set(rig.platform.device_ids)
        assert by_device[OFFLINE_DEVICE].status == "offline"
        assert by_device[OFFLINE_DEVICE].tunnel_id is None  # not tried
        for device_id in rig.online:
            assert (by_device[device_id].status, by_device[device_id].output) == ("ok", b"42")
        finished = [p for p in progress if p.phase == FINISHED]
        assert [p.done for p in finished] == list(range(1, len(results) + 1))
        assert fleet.summary()["ok"] == len(rig.online)
        assert fleet.summary()["offline"] == 1
        assert len(fleet.tunnels_opened) == len(rig.online)
        assert rig.tunnels() == []  # every tunnel it created is gone again


async def test_cancelled_fleet_closes_every_tunnel_it_opened() -> None:
    async with exec_rig() as rig:
        fleet = FleetExec(
            rig.client,
            ["sleep", "300"],
            rig.login,
            concurrency=10,
            timeout=TIMEOUT,
            token_store=rig.store,
        )
        task = asyncio.create_task(fleet.run(await list_targets(rig.client)))
        online = len(rig.online)

        def all_connected() -> bool:
            tunnels = rig.tunnels()
            return len(tunnels) == online and all(
                (t.source_state, t.device_state) == ("CONNECTED", "CONNECTED") for t in tunnels
            )

        await rig.platform.platform.wait_until(all_connected, TIMEOUT)
        shells = children_of(os.getpid())
        assert shells
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)
        assert fleet.tunnels_in_use == set()
        assert len(fleet.tunnels_opened) == online
        assert rig.tunnels() == []
        for pid in shells:  # the shells (and their `sleep`) end with their tunnels
            await wait_exit(pid, TIMEOUT)
