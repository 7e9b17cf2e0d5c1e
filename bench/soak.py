"""Soak: many tunnels streaming for a long time with random drops, checked end to end.

    python bench/soak.py [--tunnels 1000] [--minutes 10] [--drops-per-minute 30]
                         [--lines 20000] [--clients 4]

Starts the local platform (`iotunnel platform`) and a simulated fleet (`iotunnel fleet`,
a real PTY shell per device) as child processes on 127.0.0.1, then `--clients` client
processes, each driving its share of the tunnels through `TunnelSession` (the dashboard's
own session code). Every session logs in and runs rounds of `seq 1 LINES` between two
markers; each round's output is checked with SHA-256 against the expected bytes, so a
lost, duplicated or reordered byte is an error. Meanwhile WebSockets are dropped at
random (the client's TCP connection aborted) and the sessions find their way back
(reconnect; with the `resume` extension the round goes on, else a new login and round).

Prints throughput, checksum errors, interrupted rounds, reconnects, and RSS and open file
descriptors of the platform, the fleet and the clients at the start and at the end of
the streaming period; the platform and the fleet also before the first tunnel and after
the last one is gone. "fleet" counts the fleet's process and its shells, "fleet-own" its
process alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AK, SK = "AKSOAK00000000000001", "SKSOAKSECRET000000000001"
PROJECT, REGION = "soak-project", "cn-north-4"
LOGIN = ("demo", "demo")  # the fleet's default login
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


# --- processes and their figures --------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def tree_pids(pid: int) -> list[int]:
    """The process and all its descendants (the fleet's shells count as the fleet's)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def sample(name: str, pid: int, *, tree: bool = True) -> dict[str, Any]:
    pids = tree_pids(pid) if tree else [pid]
    rss = fds = 0.0
    for p in pids:
        try:
            rss += rss_mb(p)
            fds += open_fds(p)
        except OSError:
            continue
    return {"name": name, "processes": len(pids), "rss_mb": round(rss, 1), "fds": int(fds)}


def write_seed(path: Path, count: int) -> list[str]:
    lines = [
        f'project_id = "{PROJECT}"',
        f'region = "{REGION}"',
        "[[credentials]]",
        f'ak = "{AK}"',
        f'sk = "{SK}"',
    ]
    ids = []
    for index in range(count):
        node = f"{index:04d}"
        ids.append(f"soak_{node}")
        lines += [
            "[[devices]]",
            f'node_id = "{node}"',
            'product_id = "soak"',
            f'secret = "{secrets.token_hex(12)}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return ids


async def start(*argv: str, log: Path) -> asyncio.subprocess.Process:
    handle = open(log, "wb")  # noqa: SIM115 (kept open for the child's lifetime)
    return await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=handle, env=ENV,
        stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def stop(proc: asyncio.subprocess.Process, timeout: float = 20.0) -> None:
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()


# --- the client side: one process drives many sessions ---------------------------------


@dataclass
class Stats:
    sessions: int = 0
    logged_in: int = 0
    rounds_ok: int = 0
    rounds_bad: int = 0  # checksum mismatch: lost, duplicated or changed bytes
    rounds_interrupted: int = 0  # a new shell started before the round ended
    bytes_verified: int = 0
    bytes_received: int = 0
    reconnects: int = 0
    resumes: int = 0  # shells that survived a drop (extension `resume`)
    device_drops: int = 0  # the relay said the device side left (disconnect 410)
    drops_injected: int = 0
    logins: int = 0
    ended: int = 0  # sessions that gave up before the end
    create_retries: int = 0
    errors: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text)


class Stream:
    """One session running rounds of `seq 1 LINES` between markers, hashing as it reads."""

    def __init__(self, device_id: str, lines: int, stats: Stats) -> None:
        self.device_id = device_id
        self.stats = stats
        self.expected = hashlib.sha256(
            "".join(f"{i}\r\n" for i in range(1, lines + 1)).encode()
        ).hexdigest()
        self.lines = lines
        self.session: Any = None
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.tag = 0
        self.pending = ""
        self.digest: Any = None  # None: waiting for the start marker
        self.in_round = False  # a round's command was typed and its end not yet seen
        self.resuming = False  # a drop happened: the next answer may be a resumed shell
        self.size = 0
        self.ready = asyncio.Event()
        self.stopping = False

    async def connect(self, *args: Any, **kwargs: Any) -> Any:
        import websockets

        self.ws = await websockets.connect(*args, **kwargs)
        return self.ws

    def drop(self) -> bool:
        ws = self.ws
        if ws is None or ws.transport is None or ws.transport.is_closing():
            return False
        ws.transport.abort()
        return True

    def on_event(self, event: Any) -> None:
        from tui.session import DeviceReady, Ended, LoginAccepted, Output, Reconnecting

        # Resumed, NewShell and PeerDisconnected are matched by name: the bench also runs
        # on code that predates them
        name = type(event).__name__
        if isinstance(event, Output):
            self.stats.bytes_received += len(event.text)
            self.feed(event.text)
        elif isinstance(event, DeviceReady) or (
            name == "PeerDisconnected" and event.status_code == "400" and self.resuming
        ):
            # a first login, a new shell, or a resume the device refused: log in
            self.resuming = False
            if not self.stopping:
                self.session.login(*LOGIN)
                self.stats.logins += 1
        elif name == "PeerDisconnected" and event.status_code == "410":
            self.stats.device_drops += 1
        elif name == "Resumed":
            self.resuming = True
            self.stats.resumes += 1
        elif isinstance(event, LoginAccepted):
            self.ready.set()
            if self.resuming:  # same shell, missed output replayed: the round goes on
                self.resuming = False
                return
            if self.in_round:  # the shell that ran it is gone
                self.stats.rounds_interrupted += 1
            self.next_round()
        elif isinstance(event, Reconnecting):
            self.stats.reconnects += 1
            self.resuming = True  # until the device says otherwise
        elif isinstance(event, Ended) and not self.stopping:
            self.stats.ended += 1
            self.stats.error(f"{self.device_id}: session ended: {event.reason}")

    def next_round(self) -> None:
        if self.stopping:
            return
        self.tag += 1
        self.in_round = True
        self.pending, self.digest, self.size = "", None, 0
        tag = self.tag
        self.session.send_input(f"echo B$(({tag}+0))X; seq 1 {self.lines}; echo E$(({tag}+0))X\r")

    def feed(self, text: str) -> None:
        self.pending += text
        start, end = f"B{self.tag}X\r\n", f"E{self.tag}X"
        if self.digest is None:
            at = self.pending.find(start)
            if at < 0:
                self.pending = self.pending[-len(start) :]
                return
            self.digest = hashlib.sha256()
            self.pending = self.pending[at + len(start) :]
        at = self.pending.find(end)
        if at < 0:
            keep = len(end) + 1
            body, self.pending = self.pending[:-keep], self.pending[-keep:]
            self.digest.update(body.encode())
            self.size += len(body)
            return
        self.digest.update(self.pending[:at].encode())
        self.size += at
        self.in_round = False
        if self.digest.hexdigest() == self.expected:
            self.stats.rounds_ok += 1
            self.stats.bytes_verified += self.size
        else:
            self.stats.rounds_bad += 1
            self.stats.error(f"{self.device_id}: round {self.tag} checksum mismatch")
        self.next_round()


async def open_stream(client: Any, stream: Stream, stats: Stats) -> None:
    from tui.iotda.errors import IoTDAError
    from tui.session import TunnelSession

    for tunnel in await client.list_tunnels(stream.device_id):  # left over by a crash
        if tunnel.is_open:
            await client.close_tunnel(tunnel.tunnel_id)
        await client.delete_tunnel(tunnel.tunnel_id)
    for attempt in range(20):
        try:
            created = await client.create_tunnel(stream.device_id)
            break
        except IoTDAError:  # rate limited or busy: back off, as a client should
            stats.create_retries += 1
            if attempt == 19:
                raise
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0))
    options: dict[str, Any] = {"max_reconnects": 1_000}
    accepted = inspect.signature(TunnelSession).parameters
    if "allow_extensions" in accepted:  # resume where the code has it; no REST polling
        options = {"max_reconnects": None, "allow_extensions": True}
    stream.session = TunnelSession(
        created.tunnel_uri,
        created.tunnel_access_token,
        on_event=stream.on_event,
        expires_at=time.time() + created.expires_in,
        connect=stream.connect,
        **options,
    )
    stream.task = asyncio.create_task(stream.session.run())


async def run_client(config: dict[str, Any]) -> None:
    from tui.iotda.auth import AkSkAuth
    from tui.iotda.client import IoTDAClient

    stats = Stats()
    rng = random.Random(config["seed"])
    streams = [Stream(d, config["lines"], stats) for d in config["devices"]]
    stats.sessions = len(streams)
    auth = AkSkAuth(AK, SK, region=REGION)
    async with IoTDAClient(config["rest"], PROJECT, auth, timeout=60.0) as client:
        gate = asyncio.Semaphore(20)

        async def opened(stream: Stream) -> None:
            async with gate:
                await open_stream(client, stream, stats)

        await asyncio.gather(*(opened(s) for s in streams))
        login_deadline = time.monotonic() + config["login_timeout"]
        for stream in streams:
            left = max(0.1, login_deadline - time.monotonic())
            try:
                await asyncio.wait_for(stream.ready.wait(), left)
            except TimeoutError:
                stats.error(f"{stream.device_id}: no login within {config['login_timeout']} s")
        stats.logged_in = sum(s.ready.is_set() for s in streams)
        print(json.dumps({"event": "streaming", "logged_in": stats.logged_in}), flush=True)
        end = time.monotonic() + config["seconds"]
        per_second = config["drops_per_minute"] / 60.0
        while (left := end - time.monotonic()) > 0:
            pause = rng.expovariate(per_second) if per_second > 0 else left
            await asyncio.sleep(min(pause, left))
            if time.monotonic() < end and per_second > 0 and rng.choice(streams).drop():
                stats.drops_injected += 1
        for stream in streams:
            stream.stopping = True
        print(json.dumps({"event": "stats", **asdict(stats)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await asyncio.gather(
            *(s.session.close() for s in streams if s.session), return_exceptions=True
        )

        async def cleaned(stream: Stream) -> None:
            async with gate:
                for tunnel in await client.list_tunnels(stream.device_id):
                    if tunnel.is_open:
                        await client.close_tunnel(tunnel.tunnel_id)
                    await client.delete_tunnel(tunnel.tunnel_id)

        await asyncio.gather(*(cleaned(s) for s in streams), return_exceptions=True)


# --- the orchestra -------------------------------------------------------------------------


async def wait_online(rest: str, count: int, timeout: float) -> int:
    from tui.iotda.auth import AkSkAuth
    from tui.iotda.client import IoTDAClient

    deadline = time.monotonic() + timeout
    online = 0
    async with IoTDAClient(rest, PROJECT, AkSkAuth(AK, SK, region=REGION)) as client:
        while time.monotonic() < deadline:
            online = 0
            async for device in client.list_devices():
                online += device.status == "ONLINE"
            if online >= count:
                return online
            await asyncio.sleep(1.0)  # polling a REST API: there is no event to wait on
    return online


async def read_event(proc: asyncio.subprocess.Process, name: str, timeout: float) -> dict:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
        if not line:
            raise RuntimeError(f"a client ended before {name!r}")
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == name:
            return event


def print_figures(label: str, samples: list[dict[str, Any]]) -> None:
    print(f"{label}:")
    for s in samples:
        procs, rss, fds = s["processes"], s["rss_mb"], s["fds"]
        print(f"  {s['name']:<10} {procs:>5} procs  {rss:>8.1f} MB RSS  {fds:>6} fds")


def print_trend(during: list[tuple[float, list[dict[str, Any]]]]) -> None:
    """RSS (MB) and fds of each process at every sample taken while streaming."""
    if not during:
        return
    names = [s["name"] for s in during[0][1]]
    print("while streaming, MB RSS / fds:")
    print("  " + " " * 7 + "".join(f"{name:>16}" for name in names))
    for at, figures in during:
        cells = "".join(f"{s['rss_mb']:>9.0f} /{s['fds']:>5}" for s in figures)
        print(f"  {at:>5.0f} s{cells}")


async def orchestrate(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="iotunnel-soak-"))
    seed = work / "seed.toml"
    devices = write_seed(seed, args.tunnels)
    python = sys.executable
    verbose = ["-" + "v" * args.verbose] if args.verbose else []
    platform = await start(
        python, "-m", "tui", *verbose, "platform", "--seed", str(seed),
        "--state", str(work / "state.db"), log=work / "platform.log",
    )  # fmt: skip
    procs: list[asyncio.subprocess.Process] = [platform]
    try:
        assert platform.stdout is not None
        ready = json.loads(await asyncio.wait_for(platform.stdout.readline(), 60))
        fleet = await start(
            python, "-m", "tui", *verbose, "fleet", "--seed", str(seed),
            "--mqtt", ready["mqtt"], log=work / "fleet.log",
        )  # fmt: skip
        procs.append(fleet)
        t0 = time.monotonic()
        online = await wait_online(ready["rest"], args.tunnels, args.startup_timeout)
        print(f"{online}/{args.tunnels} devices online in {time.monotonic() - t0:.1f} s")
        idle = [sample("platform", platform.pid), sample("fleet", fleet.pid)]
        idle.append(sample("fleet-own", fleet.pid, tree=False))
        shares = [devices[i :: args.clients] for i in range(args.clients)]
        clients = []
        for index, share in enumerate(shares):
            config = {
                "rest": ready["rest"],
                "devices": share,
                "lines": args.lines,
                "seconds": args.minutes * 60,
                "drops_per_minute": args.drops_per_minute / args.clients,
                "login_timeout": args.startup_timeout,
                "seed": index,
            }
            proc = await start(
                python, str(Path(__file__).resolve()), "--client", json.dumps(config),
                log=work / f"client{index}.log",
            )  # fmt: skip
            clients.append(proc)
            procs.append(proc)
        started = [await read_event(c, "streaming", args.startup_timeout + 120) for c in clients]
        logged_in = sum(e["logged_in"] for e in started)
        print(f"{logged_in}/{args.tunnels} sessions logged in; streaming {args.minutes:g} min")
        named = [("platform", platform.pid, True), ("fleet", fleet.pid, True)]
        named.append(("fleet-own", fleet.pid, False))  # the agents' process without shells
        named += [(f"client{i}", c.pid, True) for i, c in enumerate(clients)]
        at_start = [sample(name, pid, tree=tree) for name, pid, tree in named]
        t_stream = time.monotonic()
        during: list[tuple[float, list[dict[str, Any]]]] = []

        async def sample_periodically() -> None:  # a trend, not just two points
            period = max(5.0, args.minutes * 60 / 10)
            while True:
                await asyncio.sleep(period)  # a bench's sampling period, not a wait for state
                figures = [sample(name, pid, tree=tree) for name, pid, tree in named]
                during.append((time.monotonic() - t_stream, figures))

        sampler = asyncio.create_task(sample_periodically())
        results = [await read_event(c, "stats", args.minutes * 60 + 300) for c in clients]
        elapsed = time.monotonic() - t_stream
        sampler.cancel()
        at_end = [sample(name, pid, tree=tree) for name, pid, tree in named]
        total = {key: sum(r[key] for r in results) for key in asdict(Stats()) if key != "errors"}
        errors = [e for r in results for e in r["errors"]]
        print(f"streamed {elapsed:.0f} s with {logged_in} sessions")
        print(
            f"throughput: {total['bytes_verified'] / elapsed / 1e6:.2f} MB/s verified, "
            f"{total['bytes_received'] / elapsed / 1e6:.2f} MB/s received "
            f"({total['bytes_received'] / 1e6:.0f} MB in all)"
        )
        print(
            f"rounds: {total['rounds_ok']} ok, {total['rounds_bad']} checksum errors, "
            f"{total['rounds_interrupted']} interrupted by a new shell"
        )
        print(
            f"drops injected: {total['drops_injected']}, reconnects: {total['reconnects']}, "
            f"device links lost: {total['device_drops']}, shells resumed: {total['resumes']}, "
            f"logins: {total['logins']}, "
            f"sessions given up: {total['ended']}, "
            f"create retries: {total['create_retries']}"
        )
        print_figures("start", at_start)
        print_figures("end", at_end)
        print_trend(during)
        for error in errors[:10]:
            print(f"  error: {error}")
        for client in clients:
            assert client.stdin is not None
            client.stdin.write(b"bye\n")
            await client.stdin.drain()
        await asyncio.gather(
            *(asyncio.wait_for(c.wait(), 120) for c in clients), return_exceptions=True
        )
        # every tunnel closed and deleted: the fleet's shells and sockets must be gone again
        settle_deadline = time.monotonic() + 60
        while time.monotonic() < settle_deadline and (
            len(tree_pids(fleet.pid)) > 1 or open_fds(fleet.pid) > idle[1]["fds"]
        ):
            await asyncio.sleep(0.5)  # polling /proc: a bench, not a test
        after = [sample("platform", platform.pid), sample("fleet", fleet.pid)]
        after.append(sample("fleet-own", fleet.pid, tree=False))
        print_figures("before any tunnel (devices online)", idle)
        print_figures("after every tunnel was closed and deleted", after)
        print(f"logs in {work}")
        return 0 if total["rounds_bad"] == 0 and total["ended"] == 0 else 1
    finally:
        for proc in reversed(procs):
            await stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunnels", type=int, default=1000, help="devices and tunnels (≤ 1000)")
    parser.add_argument("--minutes", type=float, default=10.0, help="streaming time")
    parser.add_argument("--drops-per-minute", type=float, default=30.0, help="random WS drops")
    parser.add_argument("--lines", type=int, default=20_000, help="`seq` lines per round")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="platform and fleet log at INFO (-v) or DEBUG (-vv) into the logs' folder",
    )  # fmt: skip
    parser.add_argument("--client", help=argparse.SUPPRESS)  # a client process's config
    args = parser.parse_args()
    if args.client:
        asyncio.run(run_client(json.loads(args.client)))
        return 0
    return asyncio.run(orchestrate(args))


if __name__ == "__main__":
    raise SystemExit(main())
