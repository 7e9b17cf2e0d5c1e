"""SQLite state: a restarted platform knows every device and tunnel; no secret is stored."""

from __future__ import annotations

import os
import stat

from tests.support.device import mqtt_device
from tests.support.platform import running_platform
from tests.support.tunnel_ws import next_frame, open_link
from tui.iotda.frames import Op
from tui.platform.store import Store


async def test_restart_loses_nothing_and_stores_only_hashes(tmp_path):
    state = tmp_path / "platform.sqlite3"
    async with running_platform(state_path=state) as p, p.client() as client:
        async with mqtt_device(p, "boiler_0001") as device:
            created = await client.create_tunnel("boiler_0001")
            notice = await device.next_notify()
            app = await open_link(created.tunnel_uri, created.tunnel_access_token)
            dev = await open_link(notice.tunnel_uri, notice.tunnel_access_token)
            assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
            await app.close()
            await dev.close()
        p.set_online("pump_0001")
        closed = await client.create_tunnel("pump_0001")
        await client.close_tunnel(closed.tunnel_id)
        before_devices = {d.device_id: d.status async for d in client.list_devices()}
        before_tunnels = {t.tunnel_id: t.status for t in await client.list_tunnels()}
        before_detail = await client.show_device("boiler_0001")
    assert state.stat().st_mode & 0o077 == 0
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    for secret in (created.tunnel_access_token, notice.tunnel_access_token, p.sk):
        assert secret.encode() not in raw

    async with running_platform(state_path=state) as p2, p2.client() as client:
        after_devices = {d.device_id: d.status async for d in client.list_devices()}
        assert set(after_devices) == set(before_devices)
        assert after_devices["boiler_0001"] == "OFFLINE"  # was connected once; not now
        assert after_devices["pump_0002"] == "INACTIVE"  # never connected
        detail = await client.show_device("boiler_0001")
        assert detail.create_time == before_detail.create_time
        assert detail.active_time == before_detail.active_time
        after_tunnels = {t.tunnel_id: t.status for t in await client.list_tunnels()}
        assert after_tunnels == before_tunnels
        tunnel = await client.show_tunnel(created.tunnel_id)
        assert not tunnel.source_connect_state.connected
        # the app's token still works after the restart; the device gets a fresh notify
        async with mqtt_device(p2, "boiler_0001") as device:
            app = await open_link(
                created.tunnel_uri.replace(p.endpoints.ws, p2.endpoints.ws),
                created.tunnel_access_token,
            )
            await client.close_tunnel(created.tunnel_id)
            await app.wait_closed()
            app = await open_link(
                created.tunnel_uri.replace(p.endpoints.ws, p2.endpoints.ws),
                created.tunnel_access_token,
            )
            again = await device.next_notify()
            dev = await open_link(again.tunnel_uri, again.tunnel_access_token)
            assert (await next_frame(app))["operation_type"] == Op.CONNECT_TUNNEL
            await app.close()
            await dev.close()


def test_store_creates_its_dir_0700_and_files_0600_before_sqlite_writes(tmp_path):
    old = os.umask(0o022)  # the usual umask would leave everything world-readable
    try:
        store = Store(tmp_path / "fresh" / "platform.sqlite3")
        store.close()
    finally:
        os.umask(old)
    folder = tmp_path / "fresh"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), files
