"""Rate-limit answers (IOTDA.021101, or 429 from a gateway) are backed off and retried;
other refusals are not. A real HTTP server on 127.0.0.1 plays the throttling platform."""

from __future__ import annotations

import pytest

from tests.support.http_stub import Answer, http_stub
from tui.iotda.client import IoTDAClient
from tui.iotda.errors import IoTDAError
from tui.session.exec_tunnel import ExecTunnels
from tui.session.tokens import TokenStore

LIMITED = Answer(403, {"error_code": "IOTDA.021101", "error_msg": "rate limit exceeded"})
GATEWAY_LIMITED = Answer(429, {"error_code": "APIGW.0308", "error_msg": "too many requests"})
FORBIDDEN = Answer(403, {"error_code": "IOTDA.000021", "error_msg": "operation not allowed"})
NO_TUNNELS = Answer(200, {"tunnels": []})


async def test_rate_limited_calls_are_retried_with_backoff(tmp_path) -> None:
    async with http_stub([LIMITED, GATEWAY_LIMITED, LIMITED, NO_TUNNELS]) as stub:
        delays: list[float] = []
        async with IoTDAClient(stub.url, "proj", None) as client:
            tunnels = ExecTunnels(
                client,
                TokenStore(tmp_path / "tokens.json"),
                backoff=(0.01, 0.05),
                on_rate_limited=delays.append,
            )
            assert await tunnels.call(lambda: client.list_tunnels("dev")) == []
        assert len(stub.requests) == 4
        assert len(delays) == 3 and all(0 < d <= 0.05 for d in delays)


async def test_other_refusals_are_not_retried(tmp_path) -> None:
    async with http_stub([FORBIDDEN, NO_TUNNELS]) as stub:
        async with IoTDAClient(stub.url, "proj", None) as client:
            tunnels = ExecTunnels(client, TokenStore(tmp_path / "t.json"), backoff=(0.01, 0.05))
            with pytest.raises(IoTDAError) as caught:
                await tunnels.call(lambda: client.list_tunnels("dev"))
        assert caught.value.error_code == "IOTDA.000021"
        assert len(stub.requests) == 1
