"""Run OpenSSH's `sshd` for a test, on a free port of 127.0.0.1.

    from tests.support.openssh import running_sshd, password_user

    def test_something(tmp_path):
        with running_sshd(tmp_path) as sshd:
            sshd.port, sshd.client_key        # key login as the user running the tests
            subprocess.run(sshd.ssh_argv("true"))   # `ssh … -- true`, host key pinned

    async def test_login(tmp_path):
        user = password_user()            # ("iotunnel-test", random password) or pytest.skip
        with running_sshd(tmp_path, password_users=[user.name]) as sshd:
            ...                           # asyncssh.connect("127.0.0.1", port=sshd.port, ...)

Options: `force_command="…"` runs that instead of any requested command (OpenSSH
`ForceCommand`); `set_env={"K": "V"}` puts variables into every session (sshd starts
sessions with a clean environment); `password_users` allows password login for those
users (key login is always on for the current user). The helper is synchronous, so it
works from plain and async tests alike; `running_sshd` stops sshd and every session it
started when the block ends, even on failure.

Needs `/usr/sbin/sshd` and `ssh-keygen` (Debian `openssh-server`, installed by `.ci/run`);
without them the test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
TEST_USER = "iotunnel-test"
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class PasswordUser:
    name: str
    password: str = field(repr=False)


@dataclass
class Sshd:
    host: str
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    host_public_key: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def ssh_options(self) -> list[str]:
        """Client options that use only our key and pin our host key (no user config)."""
        return [
            "-F",
            "/dev/null",
            "-p",
            str(self.port),
            "-i",
            str(self.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ]

    def ssh_argv(self, *command: str, tty: bool = False, user: str | None = None) -> list[str]:
        """`ssh` argv that logs in with the client key (``tty``: ``-tt``)."""
        argv = ["ssh", *self.ssh_options()]
        if tty:
            argv.append("-tt")
        argv.append(f"{user or self.user}@{self.host}")
        if command:
            argv += ["--", *command]
        return argv

    def log(self) -> str:
        """What sshd wrote so far (`-e`: its log goes to stderr, kept in a file)."""
        return self.log_path.read_text(errors="replace")


def require_openssh() -> None:
    """Skip the test, with the reason, when OpenSSH is not installed."""
    if not Path(SSHD).exists():
        pytest.skip(f"{SSHD} not found (Debian package openssh-server)")
    for tool in ("ssh-keygen", "ssh"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found (Debian packages openssh-client/openssh-server)")


def password_user(name: str = TEST_USER) -> PasswordUser:
    """A local user with a fresh random password, created on demand (needs root).

    The password changes on every call, so concurrent test runs never share one.
    Skips the test when not running as root (useradd/chpasswd and sshd's password check
    against /etc/shadow need it).
    """
    if os.geteuid() != 0:
        pytest.skip("password login needs a local user created as root (useradd/chpasswd)")
    for tool in ("useradd", "chpasswd"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found")
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/sh", name],
            check=True,
            capture_output=True,
        )
    password = secrets.token_urlsafe(18)
    subprocess.run(
        ["chpasswd"], input=f"{name}:{password}\n".encode(), check=True, capture_output=True
    )
    return PasswordUser(name, password)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)


def _quote_config(value: str) -> str:
    # sshd_config takes a double-quoted argument; a literal quote cannot be escaped there.
    if '"' in value or "\n" in value:
        raise ValueError("sshd_config values cannot contain double quotes or newlines")
    return f'"{value}"'


def write_config(
    directory: Path,
    *,
    port: int,
    host_key: Path,
    authorized_keys: Path,
    force_command: str | None,
    set_env: dict[str, str],
    password_users: Sequence[str],
    key_user: str,
) -> Path:
    lines = [
        "ListenAddress 127.0.0.1",
        f"Port {port}",
        f"HostKey {host_key}",
        f"AuthorizedKeysFile {authorized_keys}",
        f"PidFile {directory / 'sshd.pid'}",
        # The keys live under the test's tmp dir, whose ancestors (/tmp) are world
        # writable: StrictModes would refuse them although only this test can write there.
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        f"PasswordAuthentication {'yes' if password_users else 'no'}",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {' '.join([key_user, *password_users])}",
        "PrintMotd no",
        "PrintLastLog no",
        "UseDNS no",
        "LogLevel VERBOSE",
        "MaxStartups 100:30:200",
        "MaxSessions 100",
        "Subsystem sftp internal-sftp",
    ]
    if set_env:
        lines.append("SetEnv " + " ".join(_quote_config(f"{k}={v}") for k, v in set_env.items()))
    if force_command is not None:
        lines.append(f"ForceCommand {force_command}")
    path = directory / "sshd_config"
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait_accepting(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Wait until sshd greets a client on the port (its banner), or fail with its log."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.05)  # polling a socket for a condition, bounded by the deadline
    raise RuntimeError(f"sshd did not accept within {START_TIMEOUT}s:\n{log_path.read_text()}")


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (sessions fork and setsid away from sshd's group)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        pids = _descendants(process.pid)
        process.terminate()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_sshd(
    directory: Path,
    *,
    force_command: str | None = None,
    set_env: dict[str, str] | None = None,
    password_users: Sequence[str] = (),
) -> Iterator[Sshd]:
    """Start `sshd -D -e` with generated keys in `directory`; stop it when the block ends."""
    require_openssh()
    directory = Path(directory) / "sshd"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # sshd's privilege separation directory (Debian creates it only at service start).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key = directory / "host_ed25519"
    client_key = directory / "client_ed25519"
    _keygen(host_key, "iotunnel-test-host")
    _keygen(client_key, "iotunnel-test-client")
    authorized_keys = directory / "authorized_keys"
    authorized_keys.write_text(client_key.with_suffix(".pub").read_text())
    authorized_keys.chmod(0o600)
    port = free_port()
    host_public_key = host_key.with_suffix(".pub").read_text().strip()
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public_key}\n")
    key_user = getpass.getuser()
    config = write_config(
        directory,
        port=port,
        host_key=host_key,
        authorized_keys=authorized_keys,
        force_command=force_command,
        set_env=set_env or {},
        password_users=password_users,
        key_user=key_user,
    )
    log_path = directory / "sshd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_accepting(port, process, log_path)
        yield Sshd(
            host="127.0.0.1",
            port=port,
            user=key_user,
            client_key=client_key,
            known_hosts=known_hosts,
            host_public_key=host_public_key,
            process=process,
            log_path=log_path,
        )
    finally:
        _stop(process)
