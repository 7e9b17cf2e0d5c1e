"""The OpenSSH sshd helper itself: key login, forced command, password login, teardown."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncssh

from tests.support.openssh import password_user, running_sshd


def test_key_login_runs_the_command_and_stop_ends_sshd(tmp_path: Path) -> None:
    with running_sshd(tmp_path) as sshd:
        done = subprocess.run(
            sshd.ssh_argv("echo", "key-login-ok"), capture_output=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"key-login-ok\n"
        process = sshd.process
    assert process.poll() is not None


def test_forced_command_and_environment_replace_the_requested_command(tmp_path: Path) -> None:
    with running_sshd(
        tmp_path,
        force_command='sh -c "echo forced:$IOTUNNEL_MARK"',
        set_env={"IOTUNNEL_MARK": "m1"},
    ) as sshd:
        done = subprocess.run(sshd.ssh_argv("echo", "not-this"), capture_output=True, timeout=30)
    assert done.stdout == b"forced:m1\n", done.stderr


async def test_password_login_for_the_test_user(tmp_path: Path) -> None:
    user = password_user()
    with running_sshd(tmp_path, password_users=[user.name]) as sshd:
        async with asyncssh.connect(
            "127.0.0.1",
            port=sshd.port,
            username=user.name,
            password=user.password,
            known_hosts=None,
            client_keys=None,
        ) as conn:
            result = await conn.run("id -un", check=True)
        assert result.stdout == f"{user.name}\n"
        try:
            async with asyncssh.connect(
                "127.0.0.1",
                port=sshd.port,
                username=user.name,
                password=user.password + "x",
                known_hosts=None,
                client_keys=None,
            ):
                raise AssertionError("a wrong password logged in")
        except asyncssh.PermissionDenied:
            pass
