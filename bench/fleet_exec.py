"""Fleet exec benchmark: `uname -a` on N simulated devices over tunnels (issue 11).

    python bench/fleet_exec.py [--devices 1000] [--levels 10,50,100] [--runs 1]
                               [--sequential-sample 100]

Three processes on 127.0.0.1, as a user would run them: `iotunnel platform` (local
IoTDA), `iotunnel fleet` (N pty agents in one process) and the CLI under test,
`iotunnel exec --all --json --concurrency C -- uname -a`. For each level: wall time of
the whole command (median of --runs), per-device p50/p99 of `duration_ms`, errors (any
status but ok), peak RSS of the CLI, platform and fleet (the latter two reset before each
level through /proc/PID/clear_refs). Baseline measured in the same run: the same command
as one `iotunnel exec DEVICE -- uname -a` process per device, one after another (what a
shell loop gives); with --sequential-sample S < N only S devices are run and the total is
extrapolated linearly (printed as such).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AK, SK = "AKBENCH000000001", "SKBENCHSECRET0001"
LOGIN_USER, LOGIN_PASSWORD = "bench", "bench-password"
COMMAND = ["uname", "-a"]


def write_seed(path: Path, count: int) -> list[str]:
    lines = [
        'project_id = "bench"',
        'region = "local-1"',
        'edition = "standard"',
        "[[credentials]]",
        f'ak = "{AK}"',
        f'sk = "{SK}"',
    ]
    ids = []
    for i in range(count):
        ids.append(f"dev_{i:05d}")
        lines += [
            "[[devices]]",
            f'node_id = "{i:05d}"',
            'product_id = "dev"',
            f'secret = "secret-{i:05d}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it holds secrets: the platform and the fleet refuse it otherwise
    return ids


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", *args]


def env(endpoint: str | None = None) -> dict[str, str]:
    values = dict(os.environ)
    values["PYTHONPATH"] = str(REPO)
    values["IOTUNNEL_LOGIN_PASSWORD"] = LOGIN_PASSWORD
    if endpoint:
        values.update(
            IOTUNNEL_ENDPOINT=endpoint,
            IOTUNNEL_PROJECT_ID="bench",
            IOTUNNEL_AK=AK,
            IOTUNNEL_SK=SK,
            IOTUNNEL_REGION="local-1",
            IOTUNNEL_LOGIN_USER=LOGIN_USER,
        )
    return values


@contextlib.contextmanager
def service(argv: list[str], ready: str, environ: dict[str, str]) -> Iterator[tuple[int, str]]:
    """Start a long-lived command; yield (pid, its ready line); stop it with SIGTERM."""
    process = subprocess.Popen(
        argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"{argv[3]} exited before it was ready")
            if ready in line:
                yield process.pid, line
                break
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):  # not allowed everywhere: the peak is then cumulative
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class Run:
    wall: float
    durations_ms: list[int]
    errors: int
    statuses: dict[str, int]
    cli_rss_mb: float
    cli_cpu: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (the fleet's shells)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_cli(argv: list[str], environ: dict[str, str]) -> tuple[int, bytes, float, float, float]:
    """(exit code, stdout, wall seconds, peak RSS MB, CPU seconds) of one CLI process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return process.returncode, out, wall, usage.ru_maxrss / 1024, cpu


def fleet_run(concurrency: int, environ: dict[str, str]) -> Run:
    argv = cli("exec", "--all", "--json", "--concurrency", str(concurrency), "--", *COMMAND)
    _, out, wall, rss, cpu = run_cli(argv, environ)
    results = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    errors = sum(1 for r in results if r["status"] != "ok")
    return Run(wall, [r["duration_ms"] for r in results], errors, statuses, rss, cpu)


def percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(len(ordered) * share))]) if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--levels", default="10,50,100")
    parser.add_argument("--runs", type=int, default=1, help="runs per level (median wall)")
    parser.add_argument("--sequential-sample", type=int, default=100)
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.toml"
        ids = write_seed(seed, args.devices)
        base_env = env()
        base_env["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        platform_argv = cli("platform", "--seed", str(seed), "--state", ":memory:")
        with service(platform_argv, '"event": "ready"', base_env) as (platform_pid, line):
            endpoints = json.loads(line)
            fleet_argv = cli("fleet", "--seed", str(seed), "--mqtt", endpoints["mqtt"])
            fleet_argv += ["--username", LOGIN_USER]
            started = time.perf_counter()
            with service(fleet_argv, "fleet ready", base_env) as (fleet_pid, _):
                print(
                    f"{args.devices} devices online in {time.perf_counter() - started:.1f}s "
                    f"(platform pid {platform_pid}, fleet pid {fleet_pid})"
                )
                run_env = env(endpoints["rest"])
                run_env["XDG_STATE_HOME"] = base_env["XDG_STATE_HOME"]
                report(levels, args, ids, run_env, platform_pid, fleet_pid)


def report(
    levels: list[int],
    args: argparse.Namespace,
    ids: list[str],
    run_env: dict[str, str],
    platform_pid: int,
    fleet_pid: int,
) -> None:
    print(f"\nfleet exec `{' '.join(COMMAND)}` on {len(ids)} devices, {args.runs} run(s) per level")
    header = (
        f"{'conc':>5} {'total s':>8} {'dev/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'cli MB':>7} {'platf MB':>8} {'fleet MB':>8}"
    )
    print(header)
    totals: dict[int, float] = {}
    for level in levels:
        reset_peak(platform_pid)
        reset_peak(fleet_pid)
        cpu_before = cpu_seconds(platform_pid), cpu_seconds(fleet_pid)
        runs = [fleet_run(level, run_env) for _ in range(args.runs)]
        cpu_after = cpu_seconds(platform_pid), cpu_seconds(fleet_pid)
        execs = len(ids) * len(runs)
        cpu_ms = [
            sum(run.cli_cpu for run in runs) * 1000 / execs,
            (cpu_after[0] - cpu_before[0]) * 1000 / execs,
            (cpu_after[1] - cpu_before[1]) * 1000 / execs,
        ]
        wall = statistics.median(run.wall for run in runs)
        totals[level] = wall
        durations = [d for run in runs for d in run.durations_ms]
        errors = sum(run.errors for run in runs)
        print(
            f"{level:>5} {wall:>8.1f} {len(ids) / wall:>7.1f} {percentile(durations, 0.5):>7.0f} "
            f"{percentile(durations, 0.99):>7.0f} {errors:>6} "
            f"{max(run.cli_rss_mb for run in runs):>7.1f} {peak_rss_mb(platform_pid):>8.1f} "
            f"{peak_rss_mb(fleet_pid):>8.1f}"
        )
        print(
            f"      CPU per device: CLI {cpu_ms[0]:.1f} ms, platform {cpu_ms[1]:.1f} ms, "
            f"fleet {cpu_ms[2]:.1f} ms (with its shells); {os.cpu_count()} cores"
        )
        if errors:
            print(f"      statuses: {runs[-1].statuses}")

    sample = ids[: min(args.sequential_sample, len(ids))]
    walls, failures = [], 0
    started = time.perf_counter()
    for device_id in sample:
        code, _, wall, _, _ = run_cli(cli("exec", device_id, "--", *COMMAND), run_env)
        walls.append(wall)
        failures += code != 0
    elapsed = time.perf_counter() - started
    estimate = elapsed * len(ids) / len(sample)
    how = "measured" if len(sample) == len(ids) else f"extrapolated from {len(sample)}"
    print(
        f"\nbaseline: one `iotunnel exec DEVICE` process per device, one after another: "
        f"{estimate:.1f}s for {len(ids)} devices ({how}; per call p50 "
        f"{statistics.median(walls) * 1000:.0f} ms, {failures} errors)"
    )
    for level, wall in totals.items():
        print(f"  concurrency {level:>3}: {estimate / wall:5.1f}x faster than the baseline")


if __name__ == "__main__":
    main()
