"""An endpoint that does not answer is one persistent line in the header, retried with a
capped backoff, not a toast every refresh (issue 8 §5)."""

from __future__ import annotations

import socket

from tests.app.support import wait_for
from tests.app.test_behaviour_more import MovableClock
from tests.support.platform import running_platform
from tui.app.config import AppConfig
from tui.app.factory import make_app
from tui.iotda.client import IoTDAClient


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def summary(app) -> str:
    return str(app.query_one("#summary").render())


async def test_unreachable_endpoint_is_one_header_line_with_capped_backoff() -> None:
    port = closed_port()
    clock = MovableClock()
    async with IoTDAClient(f"http://127.0.0.1:{port}", "p", None, retries=0) as client:
        app = make_app(client=client, clock=clock, config=AppConfig(refresh_interval=1.0))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(app, lambda: f"cannot reach 127.0.0.1:{port}" in summary(app))
            assert "retrying in 2 s" in summary(app)
            delays = []
            for _ in range(6):
                tries = app.listing.failed_tries
                clock.offset += app.listing.retry_at - clock() + 0.01
                app.tick()
                await wait_for(app, lambda tries=tries: app.listing.failed_tries == tries + 1)
                delays.append(round(app.listing.retry_at - clock()))
            assert delays[:3] == [4, 8, 16] and delays[-1] == 60
            await pilot.pause()
            assert not [n for n in app._notifications if n.severity == "error"]


async def test_the_header_line_goes_when_the_endpoint_answers() -> None:
    async with running_platform() as platform, platform.client() as client:
        app = make_app(client=client, config=AppConfig(refresh_interval=60.0))
        async with app.run_test(size=(80, 24)):
            await wait_for(app, lambda: app.devices_done.is_set())
            app.listing.unreachable, app.listing.retry_at = "cannot reach 127.0.0.1:9", 0.0
            app.listing.retry_if_due()
            await wait_for(app, lambda: app.listing.unreachable is None)
            assert "cannot reach" not in summary(app)
