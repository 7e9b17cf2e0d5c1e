"""The same command on many devices (issue 11 §2): bounded concurrency, offline devices
reported without a try, a progress callback per device, and on cancellation (ctrl+c)
every tunnel it opened given back before `run` returns.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tui.session.audit import AuditLog
from tui.session.exec import (
    DEFAULT_TIMEOUT,
    OFFLINE,
    STATUSES,
    ExecLogin,
    ExecResult,
    exec_command,
)
from tui.session.exec_tunnel import ExecApi, ExecTunnels
from tui.session.tokens import TokenStore

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 10
MAX_CONCURRENCY = 100  # IoTDA's limit of concurrent remote logins per instance

STARTED = "started"
FINISHED = "finished"


@dataclass(frozen=True)
class FleetTarget:
    device_id: str
    status: str | None = None  # as listed; None: asked before the exec


@dataclass(frozen=True)
class FleetProgress:
    """One device started or finished; `done` of `total` devices have finished."""

    device_id: str
    phase: str  # STARTED | FINISHED
    done: int
    total: int
    result: ExecResult | None = None


ProgressCallback = Callable[[FleetProgress], None]


class FleetExec:
    def __init__(
        self,
        client: ExecApi,
        argv: Sequence[str],
        login: ExecLogin,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT,
        token_store: TokenStore | None = None,
        on_progress: ProgressCallback | None = None,
        on_output: Callable[[str, bytes], None] | None = None,
        audit: AuditLog | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be 1 to {MAX_CONCURRENCY}")
        self.client = client
        self.argv = list(argv)
        self.login = login
        self.concurrency = concurrency
        self.timeout = timeout
        self._tunnels = ExecTunnels(
            client, token_store or TokenStore(), on_rate_limited=self._rate_limited, audit=audit
        )
        self._on_progress = on_progress
        self._on_output = on_output
        self._audit = audit
        self._ssl = ssl_context
        self.results: dict[str, ExecResult] = {}
        self.tunnels_in_use: set[str] = set()
        self.tunnels_opened: set[str] = set()
        self.rate_limited = 0
        self._total = 0

    def summary(self) -> dict[str, int]:
        """Count of results per status, every status present (0 when none)."""
        counts = Counter(result.status for result in self.results.values())
        return {status: counts.get(status, 0) for status in STATUSES}

    async def run(self, targets: Iterable[FleetTarget]) -> list[ExecResult]:
        """Results in the order of `targets` (each device once)."""
        unique = list({target.device_id: target for target in targets}.values())
        self._total = len(unique)
        queue: asyncio.Queue[FleetTarget] = asyncio.Queue()
        for target in unique:
            if target.status is not None and target.status != "ONLINE":
                self._finished(_offline(target))
            else:
                queue.put_nowait(target)
        workers = [
            asyncio.create_task(self._work(queue), name=f"fleet-exec-{n}")
            for n in range(min(self.concurrency, queue.qsize()))
        ]
        try:
            await asyncio.gather(*workers)
        except Exception:
            for worker in workers:  # a bug in one exec: stop the others (not on a cancel:
                worker.cancel()  # gather has done it, and a second cancel helps nobody)
            raise
        finally:
            # each exec gives its tunnel back as it is cancelled: wait for all of them
            await asyncio.wait(workers)
        return [self.results[t.device_id] for t in unique if t.device_id in self.results]

    async def _work(self, queue: asyncio.Queue[FleetTarget]) -> None:
        while not queue.empty():
            target = queue.get_nowait()
            self._report(FleetProgress(target.device_id, STARTED, len(self.results), self._total))
            on_output = None
            if self._on_output is not None:
                on_output = _bound(self._on_output, target.device_id)
            result = await exec_command(
                self.client,
                target.device_id,
                self.argv,
                self.login,
                timeout=self.timeout,
                on_output=on_output,
                device_status=target.status,
                audit=self._audit,
                ssl_context=self._ssl,
                tunnels=self._tunnels,
                on_tunnel=self._tunnel_changed,
            )
            self._finished(result)

    def _tunnel_changed(self, tunnel_id: str, held: bool) -> None:
        if held:
            self.tunnels_in_use.add(tunnel_id)
            self.tunnels_opened.add(tunnel_id)
        else:
            self.tunnels_in_use.discard(tunnel_id)

    def _rate_limited(self, delay: float) -> None:
        self.rate_limited += 1

    def _finished(self, result: ExecResult) -> None:
        self.results[result.device_id] = result
        self._report(
            FleetProgress(result.device_id, FINISHED, len(self.results), self._total, result)
        )

    def _report(self, progress: FleetProgress) -> None:
        if self._on_progress is None:
            return
        try:
            self._on_progress(progress)
        except Exception:  # a display bug must not stop the fleet
            log.exception("fleet progress callback failed")


def _offline(target: FleetTarget) -> ExecResult:
    return ExecResult(
        target.device_id, OFFLINE, None, 0, b"", f"device is {target.status}; not tried"
    )


def _bound(callback: Callable[[str, bytes], None], device_id: str) -> Callable[[bytes], None]:
    return lambda data: callback(device_id, data)


async def list_targets(
    client: ExecApi,
    *,
    match: Callable[[object], bool] | None = None,
) -> list[FleetTarget]:
    """Every device of the project (paged), or those `match(device)` accepts, with the
    status the listing gave."""
    list_devices = getattr(client, "list_devices")  # noqa: B009 - IoTDAClient's pager
    started = time.monotonic()
    targets = [
        FleetTarget(device.device_id, str(device.status))
        async for device in list_devices(limit=50)
        if match is None or match(device)
    ]
    log.info("listed %d devices in %.2fs", len(targets), time.monotonic() - started)
    return targets
