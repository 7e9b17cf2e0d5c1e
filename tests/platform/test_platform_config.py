"""Seed files: every problem names the file and the key; secrets stay out of reprs."""

from __future__ import annotations

import pytest

from tests.support.platform import SEED_FILE
from tui.platform.config import SeedError, load_seed, parse_seed

BASE = {"project_id": "p", "region": "r"}
DEV = {"node_id": "1", "product_id": "p", "secret": "s"}


def test_test_seed_loads_with_defaults():
    seed = load_seed(SEED_FILE)
    assert seed.project_id == "test-project"
    assert seed.edition == "standard"
    ids = [d.device_id for d in seed.devices]
    assert ids[0] == "boiler_0001"  # default {product_id}_{node_id}
    assert "edge-gateway-7" in ids  # explicit device_id
    assert dict(seed.devices[0].tags) == {"site": "berlin"}


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"region": "r"}, "project_id"),
        ({**BASE, "region": 5}, "region"),
        ({**BASE, "edition": "gold"}, "edition"),
        ({**BASE, "credentials": [{"ak": "A"}]}, "sk"),
        ({**BASE, "credentials": "nope"}, "credentials"),
        ({**BASE, "users": [{"name": "n", "password": "p"}]}, "domain"),
        ({**BASE, "devices": [{"node_id": "1", "secret": "s"}]}, "product_id"),
        ({**BASE, "devices": [{"node_id": "1", "product_id": "p"}]}, "secret"),
        (
            {**BASE, "devices": [{"node_id": "1", "product_id": "p", "secret": "s", "tags": 3}]},
            "tags",
        ),
        ({**BASE, "devices": [{"node_id": "a b", "product_id": "p", "secret": "s"}]}, "device_id"),
        (
            {**BASE, "devices": [{"node_id": "1", "product_id": "p", "secret": "s"}] * 2},
            "repeated",
        ),
    ],
)
def test_seed_errors_name_file_and_key(body, key):
    with pytest.raises(SeedError) as info:
        parse_seed(body, "fleet.toml")
    assert str(info.value).startswith("fleet.toml")
    assert key in str(info.value)


def test_secrets_never_in_repr():
    seed = parse_seed(
        {
            **BASE,
            "credentials": [{"ak": "AK1", "sk": "SK-very-secret-value"}],
            "users": [{"name": "n", "password": "pw-very-secret", "domain": "d"}],
            "devices": [{"node_id": "1", "product_id": "p", "secret": "dev-very-secret"}],
        }
    )
    text = repr(seed)
    for secret in ("SK-very-secret-value", "pw-very-secret", "dev-very-secret"):
        assert secret not in text
