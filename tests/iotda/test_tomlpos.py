"""Config errors name the line: the TOML position finder, and its users."""

from pathlib import Path

import pytest

from tui.app.config import ConfigError, load_config
from tui.iotda.tomlpos import dotted_key_line, key_line
from tui.platform.config import SeedError, load_seed

TEXT = """project_id = "p"
region = "r"

[[devices]]
node_id = "1"

[[devices]]
node_id = "2"
product_id = 7

[profiles.prod]
endpoint = 5
[profiles.prod.auth]
type = "bad"
[keymap]
"tunnel.close" = ""
"""


def test_keys_and_tables_are_found_by_position() -> None:
    assert key_line(TEXT, (), "region") == 2
    assert key_line(TEXT, ("devices", 1), "product_id") == 9
    assert key_line(TEXT, ("devices", 0), "product_id") == 4  # missing: the table's header
    assert dotted_key_line(TEXT, "profiles.prod.endpoint") == 12
    assert dotted_key_line(TEXT, "profiles.prod.auth.type") == 14
    assert dotted_key_line(TEXT, "keymap.tunnel.close") == 16
    assert dotted_key_line(TEXT, "profiles.other") is None


def test_seed_errors_name_file_line_and_key(tmp_path: Path) -> None:
    seed = tmp_path / "seed.toml"
    seed.write_text(TEXT.split("[profiles")[0] + 'secret = "s"\n')
    with pytest.raises(SeedError) as caught:
        load_seed(seed)
    assert str(caught.value).startswith(f"{seed}:4: devices[0]: missing key 'product_id'")


def test_config_errors_name_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('theme = "x"\n\n[profiles.a]\nproject_id = "p"\nendpoint = 5\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value) == f"{config}:5: profiles.a.endpoint: must be a non-empty string"
