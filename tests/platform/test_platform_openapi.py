"""Schemathesis against the platform's own OpenAPI document: no 5xx, nothing off-schema.

The platform runs in a background thread (schemathesis drives it with blocking requests)
on real loopback sockets; examples are few and deadlines off, so this stays well under a
minute on a busy machine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.platform import SEED_FILE, running_platform
from tui.platform.config import load_seed
from tui.platform.openapi import openapi_document

SEED = load_seed(SEED_FILE)
schema = schemathesis.openapi.from_dict(openapi_document(SEED.project_id))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _PlatformThread:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.rest = ""
        self.token = ""
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_platform() as p:
            for device_id in p.device_ids[:3]:
                p.set_online(device_id)
            self.rest = p.endpoints.rest
            self.ready.set()
            await self._stop.wait()

    def __enter__(self) -> _PlatformThread:
        self._thread.start()
        assert self.ready.wait(60), "platform did not start"
        user = SEED.users[0]
        login = {"name": user.name, "password": user.password, "domain": {"name": user.domain}}
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": login}}}}
        answer = httpx.post(f"{self.rest}/v3/auth/tokens", json=body, timeout=30)
        self.token = answer.headers["X-Subject-Token"]
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)


@pytest.fixture(scope="module")
def platform_thread() -> Iterator[_PlatformThread]:
    with _PlatformThread() as running:
        yield running


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, platform_thread):
    response = case.call(
        base_url=platform_thread.rest, headers={"X-Auth-Token": platform_thread.token}
    )
    case.validate_response(response, checks=CHECKS)
    assert "x-request-id" in response.headers


def test_served_document_is_the_tested_one(platform_thread):
    served = httpx.get(f"{platform_thread.rest}/openapi.json", timeout=10).json()
    assert served == openapi_document(SEED.project_id)
