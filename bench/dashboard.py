"""Dashboard benchmark: first paint, 10,000 devices, filter keystrokes, key-to-echo.

    python bench/dashboard.py [--runs 3] [--echo-keys 200]

Everything runs on 127.0.0.1: the local platform, a real pty agent and the dashboard
(headless, through Textual's pilot). Each figure is the median of several runs, printed
with its target and with a ratio against a baseline measured in the same run:
- first paint / listing: against one bare `list_device_pages` pass of the same client;
- filter: against the bare filter function on the same rows;
- echo: against a bare `TunnelSession` round trip without the app.
"""

# ruff: noqa: E402  (the frame rate must be chosen before textual is imported)
from __future__ import annotations

from tui.app.pacing import prefer_fast_frames

prefer_fast_frames()  # as `iotunnel` does, before textual is imported

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from textual import events

from tests.app.support import big_fleet_seed
from tests.support.platform import running_platform
from tui.agent.agent import Agent
from tui.agent.config import AgentConfig, MqttEndpoint
from tui.agent.fleet import DEMO_PASSWORD, DEMO_USER
from tui.app.config import AppConfig
from tui.app.factory import make_app
from tui.app.filtering import filter_rows
from tui.session.events import LoginAccepted, Output, SessionEvent
from tui.session.session import TunnelSession

SIZE = (120, 40)
QUERIES = ["b", "bo", "boi", "boil", "boile", "boiler", "boiler !", "boiler !9"]


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def p99_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def time_listing(count: int, runs: int) -> tuple[list[float], list[float], list[float]]:
    """Start → first painted list, start → whole list painted, and the bare listing."""
    first, full, bare = [], [], []
    async with running_platform(big_fleet_seed(count)) as platform, platform.client() as client:
        for _ in range(runs):
            started = time.perf_counter()
            async for _page in client.list_device_pages():
                pass
            bare.append(time.perf_counter() - started)
            app = make_app(client=client, config=AppConfig(refresh_interval=3600.0))
            started = time.perf_counter()
            async with app.run_test(size=SIZE) as pilot:
                table = app.device_table
                await app.wait_until(lambda t=table: t.total > 0, 60)
                await repainted(app)  # the first rows are on the screen
                first.append(time.perf_counter() - started)
                await asyncio.wait_for(app.devices_done.wait(), 60)
                await repainted(app)
                full.append(time.perf_counter() - started)
                await pilot.pause()
                assert app.device_table.total == count
    return first, full, bare


async def time_filter(count: int) -> tuple[list[float], list[float]]:
    """Per keystroke through the pilot (key → table re-filtered → repaint), and bare."""
    per_key, bare = [], []
    async with running_platform(big_fleet_seed(count)) as platform, platform.client() as client:
        app = make_app(client=client, config=AppConfig(refresh_interval=3600.0))
        async with app.run_test(size=SIZE) as pilot:
            await asyncio.wait_for(app.devices_done.wait(), 60)
            rows = app.device_table._all
            for query in QUERIES:
                started = time.perf_counter()
                filter_rows(rows, query)
                bare.append(time.perf_counter() - started)
            table = app.device_table
            for _ in range(5):
                await pilot.press("slash")
                typed = ""
                for char in "boiler !9":
                    typed += char
                    started = time.perf_counter()
                    await send_key(app, "space" if char == " " else char, char)
                    await app.wait_until(lambda q=typed: table.query == q, 10)
                    await repainted(app)
                    per_key.append(time.perf_counter() - started)
                await pilot.press("escape")
    return per_key, bare


async def send_key(app: Any, key: str, char: str | None) -> None:
    """A key event as the terminal driver delivers it (the pilot's press adds ~40 ms of
    idle-waiting, which would swamp what is measured here)."""
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)
    await asyncio.sleep(0)


async def repainted(app: Any) -> None:
    """Until the screen has been refreshed after the change."""
    done = asyncio.Event()
    app.screen.call_after_refresh(done.set)
    await asyncio.wait_for(done.wait(), 10)


def _agent(platform: Any, device_id: str) -> Agent:
    return Agent(
        AgentConfig(
            device_id=device_id,
            secret=platform.secrets[device_id],
            mqtt=MqttEndpoint.parse(platform.endpoints.mqtt or ""),
            backend="pty",
            login_user=DEMO_USER,
            login_password=DEMO_PASSWORD,
        )
    )


async def _echo_waiter(check: Callable[[], bool], changed: asyncio.Event) -> None:
    while not check():
        changed.clear()
        await asyncio.wait_for(changed.wait(), 10)


async def time_echo(keys: int, key_gap: float) -> tuple[list[float], list[float]]:
    """Key press in the app → character on the pane's screen; and a bare session's echo."""
    in_app, bare = [], []
    async with running_platform() as platform, platform.client() as client:
        device_id = "boiler_0001"
        agent = _agent(platform, device_id)
        await agent.set_online(True)  # the link exists now; run() then waits for stop()
        runner = asyncio.create_task(agent.run())
        await asyncio.wait_for(agent.wait_connected(), 30)
        try:
            # baseline: a bare session, no app
            created = await client.create_tunnel(device_id)
            got = asyncio.Event()
            logged = asyncio.Event()
            seen: list[str] = []

            def on_event(event: SessionEvent) -> None:
                if isinstance(event, LoginAccepted):
                    logged.set()
                elif isinstance(event, Output):
                    seen.append(event.text)
                    got.set()

            session = TunnelSession(
                created.tunnel_uri, created.tunnel_access_token, on_event=on_event
            )
            task = asyncio.create_task(session.run())
            session.login(DEMO_USER, DEMO_PASSWORD)
            await asyncio.wait_for(logged.wait(), 30)
            await asyncio.wait_for(got.wait(), 30)
            for i in range(keys):
                char = "xy"[i % 2]
                seen.clear()
                got.clear()
                started = time.perf_counter()
                session.send_input(char)
                while char not in "".join(seen):
                    got.clear()
                    await asyncio.wait_for(got.wait(), 10)
                bare.append(time.perf_counter() - started)
                if i % 60 == 59:
                    session.send_input("\x15")  # ctrl+u: keep the line short
                await asyncio.sleep(key_gap)
            await session.close()
            await task
            await client.close_tunnel(created.tunnel_id)
            await client.delete_tunnel(created.tunnel_id)

            app = make_app(client=client, config=AppConfig(refresh_interval=3600.0))
            async with app.run_test(size=SIZE) as pilot:
                await asyncio.wait_for(app.devices_done.wait(), 30)
                await pilot.press("slash", *device_id, "enter", "enter")
                await app.wait_until(lambda: app.screen.query("#login-password"), 30)
                app.screen.query_one("#login-username").value = DEMO_USER
                app.screen.query_one("#login-password").focus()
                await pilot.press(*DEMO_PASSWORD, "enter")
                tab = app.tabs()[0]
                await app.wait_until(lambda: tab.phase == "connected", 30)
                await tab.pane.wait_drained()
                changed = asyncio.Event()
                tab._on_change = changed.set
                pane = tab.pane
                for i in range(keys):
                    char = "xy"[i % 2]
                    before = pane.screen_text().count(char)
                    started = time.perf_counter()
                    await send_key(app, char, char)

                    def echoed(c: str = char, n: int = before) -> bool:
                        return pane.pending_bytes == 0 and pane.screen_text().count(c) > n

                    while not echoed():
                        changed.clear()
                        if pane.pending_bytes:
                            await pane.wait_drained()
                            continue
                        await asyncio.wait_for(changed.wait(), 10)
                    await repainted(app)
                    in_app.append(time.perf_counter() - started)
                    if i % 60 == 59:
                        await pilot.press("ctrl+u")
                        await pane.wait_drained()
                    await asyncio.sleep(key_gap)  # typing pace, not a wait for state
                await tab.stop()
        finally:
            await agent.stop()
            await runner
    return in_app, bare


def report(name: str, value_ms: float, target_ms: float | None, baseline_ms: float) -> None:
    target = f"target ≤ {target_ms:g} ms" if target_ms else ""
    verdict = "" if target_ms is None else ("ok" if value_ms <= target_ms else "MISSED")
    ratio = value_ms / baseline_ms if baseline_ms else float("nan")
    print(
        f"{name:<44} {value_ms:9.1f} ms   baseline {baseline_ms:8.2f} ms   "
        f"×{ratio:6.2f}   {target} {verdict}"
    )


async def main(runs: int, echo_keys: int, key_gap: float) -> None:
    first12, _full12, bare12 = await time_listing(12, runs)
    report("first paint, 12 devices (median)", median_ms(first12), 500, median_ms(bare12))
    first10k, full10k, bare10k = await time_listing(10_000, runs)
    report("first paint, 10,000 devices (median)", median_ms(first10k), 500, median_ms(bare10k))
    report("all 10,000 devices listed (median)", median_ms(full10k), 3000, median_ms(bare10k))
    per_key, bare_filter = await time_filter(10_000)
    report("filter keystroke over 10,000 (median)", median_ms(per_key), 50, median_ms(bare_filter))
    report("filter keystroke over 10,000 (p99)", p99_ms(per_key), 50, median_ms(bare_filter))
    in_app, bare_echo = await time_echo(echo_keys, key_gap)
    report("key-to-echo through app (p50)", median_ms(in_app), None, median_ms(bare_echo))
    report("key-to-echo through app (p99)", p99_ms(in_app), 16, p99_ms(bare_echo))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--echo-keys", type=int, default=200)
    parser.add_argument(
        "--key-gap",
        type=float,
        default=0.05,
        help="seconds between echo keys (0.05 = 20 keys/s, faster than any typist)",
    )
    options = parser.parse_args()
    asyncio.run(main(options.runs, options.echo_keys, options.key_gap))
