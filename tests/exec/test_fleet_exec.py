"""FleetExec against the local platform and a fleet of real pty agents."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from tests.agent.helpers import children_of, wait_exit
from tests.exec.rig import OFFLINE_DEVICE, TIMEOUT, exec_rig
from tui.session.exec import ExecLogin
from tui.session.fleet_exec import FINISHED, FleetExec, FleetProgress, list_targets


async def test_fleet_runs_everywhere_and_reports_offline_untried(relay_mode: str) -> None:
    async with exec_rig(relay_mode=relay_mode) as rig:
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


async def test_cancelled_fleet_closes_every_tunnel_it_opened(relay_mode: str) -> None:
    async with exec_rig(relay_mode=relay_mode) as rig:
        online = set(rig.online)
        started: set[str] = set()
        all_started = asyncio.Event()

        def output(device_id: str, data: bytes) -> None:
            if b"started" in data:
                started.add(device_id)
            if started == online:
                all_started.set()

        fleet = FleetExec(
            rig.client,
            ["sh", "-c", "echo started; sleep 300"],
            rig.login,
            concurrency=10,
            timeout=TIMEOUT,
            token_store=rig.store,
            on_output=output,
        )
        task = asyncio.create_task(fleet.run(await list_targets(rig.client)))
        await asyncio.wait_for(all_started.wait(), TIMEOUT)
        shells = children_of(os.getpid())
        assert len(shells) >= len(online)
        assert len(rig.tunnels()) == len(online)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)
        assert fleet.tunnels_in_use == set()
        assert len(fleet.tunnels_opened) == len(online)
        assert rig.tunnels() == []
        for pid in shells:  # the shells (and their `sleep`) end with their tunnels
            await wait_exit(pid, TIMEOUT)


@pytest.mark.parametrize("concurrency", [0, 101])
def test_concurrency_is_bounded_by_iotdas_login_limit(concurrency: int) -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        FleetExec(None, ["true"], ExecLogin("u", "p"), concurrency=concurrency)  # type: ignore[arg-type]


async def test_a_failing_progress_display_does_not_stop_the_fleet() -> None:
    async with exec_rig() as rig:

        def broken(progress: FleetProgress) -> None:
            raise RuntimeError("display bug")

        fleet = FleetExec(
            rig.client,
            ["true"],
            rig.login,
            timeout=TIMEOUT,
            token_store=rig.store,
            on_progress=broken,
        )
        results = await fleet.run(await list_targets(rig.client))
        assert sorted(r.status for r in results) == ["offline"] + ["ok"] * len(rig.online)
