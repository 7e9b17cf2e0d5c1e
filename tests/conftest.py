"""Shared test set-up: a hermetic environment for every test."""

from __future__ import annotations

import pytest

# the `relay_mode` fixture: a test taking it runs against both relay behaviours
pytest_plugins = ["tests.support.platform"]


@pytest.fixture(autouse=True)
def _hermetic_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("IOTUNNEL_CONFIG", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
