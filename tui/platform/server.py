"""`Platform`: the local IoTDA in one process (REST, tunnel WebSockets, MQTT gateway, SQLite).

Used by `iotunnel platform`, by `iotunnel demo` and by tests (tests/support/platform.py).
REST and the relay are one Starlette app, served by two uvicorn servers (the REST and the
tunnel port, as the real cloud has separate API and tunnel hosts) inside the caller's
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from tui.iotda.frames import MAX_FRAME_BYTES
from tui.iotda.mqtt import TunnelNotify, events_down_topic
from tui.iotda.paths import DEVICE_SIDE, SOURCE_SIDE, tunnel_ws_path
from tui.iotda.redact import quiet_logger
from tui.platform.auth import RestAuth
from tui.platform.config import PlatformConfig
from tui.platform.http_deadline import with_header_timeout
from tui.platform.mqtt import DeviceGateway
from tui.platform.openapi import openapi_document
from tui.platform.ratelimit import SourceBuckets
from tui.platform.relay import relay_routes
from tui.platform.rest import RequestIdMiddleware, RestApi, http_exception_handler
from tui.platform.selfsigned import make_self_signed
from tui.platform.store import Store
from tui.platform.tunnels import TunnelService

log = logging.getLogger(__name__)

# uvicorn's WebSocket protocol logs every handshake header (a tunnel token) and every frame
# (a `connect` carries a password) at DEBUG on these loggers: they never go below INFO.
_WIRE_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
# uvicorn's websockets-sansio protocol logs this after every denial response (each 401 we
# send at an upgrade) although the client got its answer: uvicorn PR #3138, not an error.
_SPURIOUS_DENIAL_ERROR = "ASGI callable returned without completing handshake."
# A client's text frame that is not UTF-8: uvicorn closes it with 1007 (right) and logs an
# ERROR with a traceback (wrong: it is bad input, not our failure): made a plain warning.
_BAD_CLIENT_UTF8 = "Invalid UTF-8 sequence received from client."


class _WireLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _SPURIOUS_DENIAL_ERROR:
            return False
        if record.msg == _BAD_CLIENT_UTF8:
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_wire_logs() -> None:
    """Keep secrets out of uvicorn's DEBUG output, whatever level the root logger has."""
    for name in _WIRE_LOGGERS:
        logger = quiet_logger(name)
        if not any(isinstance(f, _WireLogFilter) for f in logger.filters):
            logger.addFilter(_WireLogFilter())


@dataclass(frozen=True)
class Endpoints:
    rest: str  # http(s)://host:port, also the IAM endpoint
    mqtt: str  # mqtt(s)://host:port
    ws: str  # ws(s)://host:port, base of the tunnel URIs
    ca: str | None = None  # the CA certificate to trust, with --tls-self-signed

    def ready_line(self) -> str:
        line = {"event": "ready", "rest": self.rest, "mqtt": self.mqtt, "ws": self.ws}
        if self.ca:
            line["ca"] = self.ca
        return json.dumps(line)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: the owner handles signals and says when to stop."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def _listen(host: str, port: int, receive_buffer: int | None = None) -> socket.socket:
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not in 0-65535")
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the proto
    # says TCP; with proto 0 every keep-alive response waited ~40 ms (Nagle + delayed ACK)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if receive_buffer:  # inherited by accepted sockets: a peer's pings wait behind little
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


ALL_INTERFACES = ("0.0.0.0", "::", "")


def advertised_host(bind_host: str, advertise_host: str | None = None) -> str:
    """The host name put in URIs, the ready line and tunnel_notify: what devices dial.

    Given, it is used as is; else the bind address, unless that is every interface, which
    nobody can dial: then this machine's name.
    """
    if advertise_host:
        return advertise_host
    if bind_host in ALL_INTERFACES:
        return socket.gethostname()
    return bind_host


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class Platform:
    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.seed = config.seed
        self.store: Store | None = None
        self.tunnels: TunnelService | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.endpoints: Endpoints | None = None
        self._gateway: DeviceGateway | None = None
        self._servers: list[tuple[_EmbeddedServer, asyncio.Task[None]]] = []
        self._secrets = {device.device_id: device.secret for device in config.seed.devices}
        self._waiters: list[asyncio.Future[None]] = []

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- device status: the MQTT gateway's callbacks ---------------------------------------

    def secret_for(self, device_id: str) -> str | None:
        return self._secrets.get(device_id)

    def set_device_online(self, device_id: str, online: bool) -> None:
        """Mark a device ONLINE/OFFLINE (the gateway calls this; demos and tests may too)."""
        if self.store is not None and self.store.set_device_online(device_id, online, time.time()):
            log.info("device %s is %s", device_id, "ONLINE" if online else "OFFLINE")
        if online and self.tunnels is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # called from outside the platform's loop: nothing waits anyway
            # a task: the gateway calls this before its CONNACK is written
            task = loop.create_task(self.tunnels.device_online(device_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait until `predicate()` holds, re-checked after every state change.

        For tests and demos: e.g. a device ONLINE, a tunnel side CONNECTED. Raises
        TimeoutError after `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while not predicate():
                waiter = loop.create_future()
                self._waiters.append(waiter)
                await waiter

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _notify(self, device_id: str, notice: TunnelNotify) -> bool:
        if self._gateway is None:
            return False
        topic = events_down_topic(device_id)
        return bool(await self._gateway.publish(device_id, topic, notice.to_payload(), qos=0))

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> Endpoints:
        cfg = self.config
        quiet_wire_logs()
        advertised = advertised_host(cfg.host, cfg.advertise_host)
        ca = None
        if cfg.tls_self_signed:
            bound = [] if cfg.host in ALL_INTERFACES else [cfg.host]
            files = make_self_signed(cfg.tls_self_signed, [advertised, *bound])
            cfg.tls_cert, cfg.tls_key, ca = str(files.cert), str(files.key), str(files.ca_cert)
            log.info("self-signed TLS: devices and clients trust %s", ca)
        tls = bool(cfg.tls_cert and cfg.tls_key)
        host = _url_host(advertised)
        now = time.time()
        self.store = Store(cfg.state_path)
        socks: list[socket.socket] = []
        try:
            self.store.add_listener(self._wake_waiters)
            self.store.seed_devices(cfg.seed.devices, now)
            self.store.reset_live_state(now)
            buffer = cfg.link_limits.socket_buffer
            socks.append(_listen(cfg.host, cfg.rest_port, buffer))
            socks.append(_listen(cfg.host, cfg.ws_port, buffer))
            rest_sock, ws_sock = socks
            ws_base = f"{'wss' if tls else 'ws'}://{host}:{ws_sock.getsockname()[1]}"
            rest_base = f"{'https' if tls else 'http'}://{host}:{rest_sock.getsockname()[1]}"
            self.tunnels = TunnelService(
                self.store,
                token_ttl=cfg.token_ttl,
                edition=cfg.seed.edition,
                source_uri=lambda tid: ws_base + tunnel_ws_path(tid, SOURCE_SIDE),
                device_uri=lambda tid: ws_base + tunnel_ws_path(tid, DEVICE_SIDE),
                notify=self._notify,
                relay_mode=cfg.relay_mode,
                limits=cfg.link_limits,
            )
            mqtt_url = await self._start_gateway(host, tls)
            self.tunnels.start()
            auth = RestAuth(cfg.seed, self.store, token_ttl=cfg.iam_token_ttl)
            names = {d.product_id: d.product_name for d in cfg.seed.devices if d.product_name}
            api = RestApi(
                cfg.seed.project_id,
                self.store,
                auth,
                self.tunnels,
                product_names=names,
                requests=SourceBuckets(cfg.rest_rate),
                auth_failures=SourceBuckets(cfg.auth_failure_rate),
                body_timeout=cfg.request_timeout,
            )
            handlers = {HTTPException: http_exception_handler}
            routes = api.routes(openapi_document(cfg.seed.project_id))
            # one ASGI app on both ports, as the real cloud has an API host and a tunnel host
            starlette = Starlette(
                routes=[*routes, *relay_routes(self.tunnels)],
                exception_handlers=handlers,  # type: ignore[arg-type]
            )
            # "/devices/" is not "/devices": a 404, not a redirect built from the Host header
            starlette.router.redirect_slashes = False
            app = RequestIdMiddleware(starlette)
            await self._serve(app, rest_sock)
            await self._serve(app, ws_sock)
        except BaseException:
            for sock in socks:
                sock.close()
            await self.stop()
            raise
        self.endpoints = Endpoints(rest_base, mqtt_url, ws_base, ca)
        log.info("platform ready: %s", self.endpoints)
        return self.endpoints

    async def _start_gateway(self, host: str, tls: bool) -> str:
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.config.tls_cert, self.config.tls_key)  # type: ignore[arg-type]
        self._gateway = DeviceGateway(
            self.secret_for,
            self.set_device_online,
            max_pending=self.config.mqtt_max_pending,
            auth_failures=SourceBuckets(self.config.auth_failure_rate),
        )
        port = await self._gateway.start(
            self.config.host, self.config.mqtt_port, ssl_context=context
        )
        return f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"

    async def _serve(self, app: Any, sock: socket.socket) -> None:
        cfg = self.config
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            # the relay drives this implementation's protocol directly (tui/platform/links.py)
            ws="websockets-sansio",
            ws_max_size=MAX_FRAME_BYTES,
            ws_per_message_deflate=False,  # docs/notes.md: deflate costs ~8× throughput
            ws_ping_interval=cfg.keepalive,
            ws_ping_timeout=cfg.keepalive,
            timeout_graceful_shutdown=5,
            http=with_header_timeout(cfg.request_timeout),
            ssl_certfile=cfg.tls_cert if cfg.tls_key else None,
            ssl_keyfile=cfg.tls_key if cfg.tls_cert else None,
        )
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not server.ready.is_set():
            ready.cancel()
            await task  # raises what made startup fail
            raise RuntimeError("uvicorn did not start")
        self._servers.append((server, task))

    async def stop(self) -> None:
        """Close tunnel links with 1001, stop the servers and the gateway, flush the store."""
        if self.tunnels is not None:
            await self.tunnels.stop()
        for server, _ in self._servers:
            server.should_exit = True
        for _, task in self._servers:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        self._servers.clear()
        if self._gateway is not None:
            with contextlib.suppress(Exception):
                await self._gateway.stop()
            self._gateway = None
        if self.store is not None:
            self.store.close()
            self.store = None
