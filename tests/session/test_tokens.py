"""TokenStore: a 0600 file under $XDG_STATE_HOME/iotunnel that survives a reload."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tui.iotda.models import TunnelCreated
from tui.session import StoredTunnel, TokenStore

EP = "https://127.0.0.1:8443"


def entry(tunnel_id: str = "t1", device_id: str = "d1", expires_at: float = 2000.0) -> StoredTunnel:
    return StoredTunnel(
        endpoint=EP,
        project_id="proj",
        tunnel_id=tunnel_id,
        device_id=device_id,
        token=f"token-{tunnel_id}-abcdefghijkl",
        tunnel_uri=f"wss://127.0.0.1/v5/iot/tunnels/{tunnel_id}/source-connect",
        expires_at=expires_at,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_path_is_private_under_xdg_state_home() -> None:
    store = TokenStore()
    assert store.path == Path(os.environ["XDG_STATE_HOME"]) / "iotunnel" / "tokens.json"
    store.put(entry())
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700


def test_survives_reload_and_is_keyed_per_endpoint_project_tunnel(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tokens.json"
    TokenStore(path).put(entry("t1", "d1", 2000.0))
    TokenStore(path).put(entry("t2", "d2", 2000.0))
    other = StoredTunnel(**{**entry("t1").__dict__, "project_id": "other"})
    TokenStore(path).put(other)
    reloaded = TokenStore(path)
    assert reloaded.get_for_device(EP, "proj", "d1", now=1000.0) == entry("t1", "d1", 2000.0)
    assert reloaded.get_for_device(EP + "/", "proj", "d2", now=1000.0) == entry("t2", "d2")
    assert reloaded.get_for_device(EP, "proj", "d3", now=1000.0) is None
    assert len(reloaded.entries()) == 3
    reloaded.remove(EP, "proj", "t1")
    assert TokenStore(path).get_for_device(EP, "proj", "d1", now=1000.0) is None
    assert TokenStore(path).get_for_device(EP, "other", "d1", now=1000.0) == other


def test_get_for_device_skips_expired_and_prefers_latest(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry("old", "d1", 1500.0))
    store.put(entry("new", "d1", 2500.0))
    assert store.get_for_device(EP, "proj", "d1", now=1000.0).tunnel_id == "new"
    assert store.get_for_device(EP, "proj", "d1", now=2600.0) is None
    assert store.get_for_device(EP, "proj", "d1", now=2400.0, margin=200.0) is None


def test_prune_forgets_expired_entries(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry("a", "d1", 1500.0))
    store.put(entry("b", "d2", 2500.0))
    store.prune(now=2000.0)
    assert [e.tunnel_id for e in TokenStore(store.path).entries()] == ["b"]


def test_loosened_file_mode_is_tightened_on_write(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.put(entry())
    os.chmod(store.path, 0o644)
    store.put(entry("t2"))
    assert mode(store.path) == 0o600


def test_corrupt_file_is_ignored_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    store = TokenStore(path)
    assert store.entries() == []
    path.write_text(json.dumps({"tunnels": [{"tunnel_id": 5}, "x", entry().__dict__]}))
    assert store.entries() == [entry()]
    store.put(entry("t2"))
    assert len(TokenStore(path).entries()) == 2


def test_token_is_masked_in_repr_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stored = entry()
    TokenStore(tmp_path / "tokens.json").put(stored)
    assert stored.token not in repr(stored)
    assert stored.token not in caplog.text


def test_from_created_sets_wall_clock_expiry() -> None:
    created = TunnelCreated(
        "t9", "tok" * 10, 600, "wss://127.0.0.1/v5/iot/tunnels/t9/source-connect"
    )
    stored = StoredTunnel.from_created(EP, "proj", "d9", created, now=1000.0)
    assert stored.expires_at == 1600.0 and stored.token == created.tunnel_access_token
    assert stored.tunnel_uri == created.tunnel_uri and stored.device_id == "d9"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    # Plain child interpreters (multiprocessing's spawn would leave its resource tracker
    # running after the test); each is waited for.
    path = tmp_path / "tokens.json"
    script = (
        "import sys; from tests.session.test_tokens import _write_many;"
        " _write_many(sys.argv[1], int(sys.argv[2]))"
    )
    root = Path(__file__).parents[2]
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(path), str(n)], cwd=root)
        for n in range(3)
    ]
    try:
        assert [worker.wait(60) for worker in workers] == [0, 0, 0]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert len(TokenStore(path).entries()) == 3 * 20


def _write_many(path: Path | str, worker: int) -> None:
    store = TokenStore(Path(path))
    for i in range(20):
        store.put(entry(f"w{worker}-{i}", f"d{worker}-{i}"))
