"""One device agent: an MQTT link that hears `tunnel_notify`, and the tunnels it opens."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from tui.agent.backends.base import ShellBackend
from tui.agent.config import AgentConfig, ssl_context
from tui.agent.mqtt_link import MqttLink
from tui.agent.shell import KeptShell
from tui.agent.tunnel import DeviceTunnel
from tui.iotda.mqtt import TunnelNotify
from tui.iotda.paths import tunnel_id_from_uri

log = logging.getLogger(__name__)


def make_backend(config: AgentConfig) -> ShellBackend:
    if config.backend == "pty":
        from tui.agent.backends.pty import PtyBackend

        assert config.login_user is not None and config.login_password is not None
        return PtyBackend(config.login_user, config.login_password, device_name=config.name)
    from tui.agent.backends.ssh import SshBackend

    return SshBackend(config.ssh_host, config.ssh_port)


class Agent:
    """Runs one device until stop(); can be taken offline and back (fleet, demo)."""

    def __init__(self, config: AgentConfig, backend: ShellBackend | None = None) -> None:
        self.config = config
        self.backend = backend or make_backend(config)
        needs_tls = config.mqtt.tls or config.ca_file is not None or config.insecure
        self._ssl: ssl.SSLContext | None = (
            ssl_context(config.ca_file, config.insecure) if needs_tls else None
        )
        self.tunnels: dict[str, DeviceTunnel] = {}
        self._tunnel_tasks: dict[str, asyncio.Task[None]] = {}
        self._kept: dict[str, KeptShell] = {}  # shells of tunnels between two links
        self._starting: set[asyncio.Task[None]] = set()
        self.mqtt: MqttLink | None = None
        self._mqtt_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.tunnel_changed = asyncio.Event()  # set whenever a tunnel starts (tests wait)

    def __repr__(self) -> str:
        return f"Agent({self.config.describe()}, online={self.online})"

    @property
    def device_id(self) -> str:
        return self.config.device_id

    @property
    def online(self) -> bool:
        return self._mqtt_task is not None and not self._mqtt_task.done()

    async def run(self) -> None:
        """Go online and serve until stop()."""
        await self.set_online(True)
        await self._stopped.wait()

    async def wait_connected(self, connections: int = 1) -> None:
        """Wait until the current MQTT link has been accepted `connections` times."""
        if self.mqtt is None:
            raise RuntimeError("the agent is not online")
        await self.mqtt.wait_connections(connections)

    async def stop(self) -> None:
        """Sessions get `disconnect`, tunnels close with 1000, MQTT disconnects cleanly."""
        await self.set_online(False)
        self._stopped.set()

    async def set_online(self, online: bool) -> None:
        if online and not self.online:
            self.mqtt = MqttLink(
                self.config.device_id,
                self.config.secret,
                self.config.mqtt,
                self._on_notify,
                ssl_context=self._ssl,
                insecure=self.config.insecure,
                keepalive=self.config.keepalive,
                backoff_initial=self.config.mqtt_backoff_initial,
                backoff_max=self.config.mqtt_backoff_max,
            )
            self._mqtt_task = asyncio.create_task(self.mqtt.run(), name=f"mqtt-{self.device_id}")
        elif not online and self.online:
            for starting in list(self._starting):  # no tunnel may start while going offline
                starting.cancel()
            await asyncio.gather(*(self._stop_tunnel(tid) for tid in list(self.tunnels)))
            kept, self._kept = list(self._kept.values()), {}
            await asyncio.gather(*(shell.close() for shell in kept))
            assert self.mqtt is not None and self._mqtt_task is not None
            await self.mqtt.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._mqtt_task), 10.0)
            if not self._mqtt_task.done():
                self._mqtt_task.cancel()
            log.info("device %s: offline", self.device_id)

    def _on_notify(self, notify: TunnelNotify) -> None:
        if not notify.tunnel_uri.startswith(("ws://", "wss://")) or not notify.tunnel_access_token:
            log.warning("device %s: tunnel_notify without a usable URI or token", self.device_id)
            return
        tunnel_id = tunnel_id_from_uri(notify.tunnel_uri)
        log.info("device %s: tunnel_notify for %s", self.device_id, tunnel_id)
        current = self.tunnels.get(tunnel_id)
        task = self._tunnel_tasks.get(tunnel_id)
        if (
            current is not None
            and task is not None
            and not task.done()
            and current.notify.tunnel_access_token == notify.tunnel_access_token
        ):
            return  # a repeat of the tunnel we already serve (or are connecting to)
        task = asyncio.get_running_loop().create_task(self._start_tunnel(tunnel_id, notify))
        self._starting.add(task)  # a reference, so the task is not garbage-collected
        task.add_done_callback(self._starting.discard)

    async def _start_tunnel(self, tunnel_id: str, notify: TunnelNotify) -> None:
        # the same tunnel with a new device token (e.g. the platform restarted): its shell
        # is kept for a resume over the new link
        shell = None
        old = self.tunnels.get(tunnel_id)
        if old is not None:
            shell = await old.retire()
            self._forget(old)
            task = self._tunnel_tasks.pop(tunnel_id, None)
            if task is not None and not task.done():
                task.cancel()
        if shell is None:
            shell = self._kept.pop(tunnel_id, None)
        if not self.online:
            if shell is not None:
                await shell.close()
            return
        tunnel = DeviceTunnel(
            notify,
            self.backend,
            ssl_context=self._ssl,
            idle_timeout=self.config.idle_timeout,
            cols=self.config.cols,
            rows=self.config.rows,
            retry_step=self.config.tunnel_retry_step,
            on_finished=self._finished,
            resume_grace=self.config.resume_grace,
            shell=shell,
        )
        self.tunnels[tunnel_id] = tunnel
        self._tunnel_tasks[tunnel_id] = asyncio.create_task(
            tunnel.run(), name=f"tunnel-{tunnel_id}"
        )
        self.tunnel_changed.set()

    def _finished(self, tunnel: DeviceTunnel) -> None:
        """A tunnel gave up its link: a shell it keeps waits here for the next notify."""
        if self.tunnels.get(tunnel.tunnel_id) is tunnel:
            shell = tunnel.take_shell()
            if shell is not None:
                self._kept[tunnel.tunnel_id] = shell
                shell.exited_callback(lambda: self._drop_kept(tunnel.tunnel_id, shell))
        self._forget(tunnel)

    def _drop_kept(self, tunnel_id: str, shell: KeptShell) -> None:
        if self._kept.get(tunnel_id) is shell:
            del self._kept[tunnel_id]

    def _forget(self, tunnel: DeviceTunnel) -> None:
        if self.tunnels.get(tunnel.tunnel_id) is tunnel:
            del self.tunnels[tunnel.tunnel_id]
            self._tunnel_tasks.pop(tunnel.tunnel_id, None)

    async def _stop_tunnel(self, tunnel_id: str) -> None:
        tunnel = self.tunnels.get(tunnel_id)
        task = self._tunnel_tasks.get(tunnel_id)
        if tunnel is None or task is None:
            return
        await tunnel.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), 10.0)
        except (TimeoutError, Exception):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._forget(tunnel)
