"""Which backend a pane gets: env > config hook > auto; unknown names are refused."""

from __future__ import annotations

import pytest

import tui.terminal.backends as backends
from tests.terminal.backends import needs_ghostty
from tui.terminal.pyte_backend import PyteBackend


@pytest.fixture(autouse=True)
def _restore_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(backends.ENV_VAR, raising=False)
    before = backends._default
    yield
    backends._default = before


def test_pyte_by_config_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    backends.set_default_backend("pyte")
    assert isinstance(backends.make_backend(10, 3), PyteBackend)
    backends.set_default_backend("auto")
    monkeypatch.setenv(backends.ENV_VAR, "pyte")
    assert backends.chosen_backend("ghostty") == "pyte"  # the environment wins


@needs_ghostty
def test_ghostty_is_the_default_where_it_loads() -> None:
    from tui.terminal.ghostty_backend import GhosttyBackend

    assert backends.chosen_backend() == "ghostty"
    assert isinstance(backends.make_backend(10, 3), GhosttyBackend)
    thread = backends.warm_up()
    assert thread is not None
    thread.join(30)


def test_unknown_names_are_refused_by_the_config_hook() -> None:
    with pytest.raises(backends.UnknownBackendError, match="unknown terminal backend 'vt100'"):
        backends.set_default_backend("vt100")


def test_an_unknown_environment_value_falls_back_to_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(backends.ENV_VAR, "nonsense")
    assert backends.chosen_backend() in ("ghostty", "pyte")


def test_unavailable_ghostty_falls_back_to_pyte(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "ghostty_available", lambda: False)
    assert backends.chosen_backend("ghostty") == "pyte"
    assert isinstance(backends.make_backend(10, 3, name="ghostty"), PyteBackend)


@needs_ghostty
def test_one_thread_at_a_time_in_ghosttys_core() -> None:
    # a journey over SSH froze at "opening the tunnel…": the first pane built its terminal
    # while the warm-up thread was still inside the library
    thread = backends.warm_up()
    assert thread is not None and backends.warm_up() is thread  # once per process
    backends.make_backend(10, 3)
    assert not thread.is_alive()  # the pane's terminal waited for the warm-up to finish
