"""The wire shapes of docs/protocol.md §2, §4, §5 round-trip and reject what they must."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.iotda.errors import IoTDAError, ProtocolError
from tui.iotda.frames import (
    MAX_FRAME_BYTES,
    Op,
    OutputChunker,
    TunnelFrame,
    connect_frame,
    decode_frame,
    new_request_id,
    split_utf8,
)
from tui.iotda.models import Device, DevicePage, Tunnel, TunnelCreated, is_valid_device_id
from tui.iotda.mqtt import TunnelNotify, client_id, parse_client_id

DEVICE = {
    "device_id": "boiler_0001",
    "node_id": "0001",
    "device_name": "Boiler room 1",
    "product_id": "boiler",
    "status": "ONLINE",
    "node_type": "ENDPOINT",
    "tags": [{"tag_key": "site", "tag_value": "berlin"}],
    "some_new_field": 1,
}


def test_device_page_round_trip_ignores_unknown_fields() -> None:
    page = DevicePage.from_json({"devices": [DEVICE], "page": {"count": 1, "marker": "a" * 24}})
    device = page.devices[0]
    assert device.display_name == "Boiler room 1"
    assert device.tag_dict() == {"site": "berlin"}
    assert Device.from_json(device.to_json()) == device
    assert page.page.marker == "a" * 24


def test_tunnel_info_defaults_missing_connect_states() -> None:
    tunnel = Tunnel.from_json({"tunnel_id": "t1", "device_id": "d1", "status": "OPEN"})
    assert tunnel.is_open
    assert not tunnel.source_connect_state.connected
    assert Tunnel.from_json(tunnel.to_json()) == tunnel


def test_tunnel_created_hides_its_token_in_repr() -> None:
    created = TunnelCreated.from_json(
        {
            "tunnel_id": "t",
            "tunnel_access_token": "s3cr3t-token-value",
            "expires_in": 60,
            "tunnel_uri": "ws://x",
        }
    )
    assert "s3cr3t-token-value" not in repr(created)
    with pytest.raises(ProtocolError):
        TunnelCreated.from_json(
            {
                "tunnel_id": "t",
                "tunnel_access_token": "x",
                "expires_in": "60",
                "tunnel_uri": "ws://x",
            }
        )


def test_iotda_error_message_is_one_line_with_status() -> None:
    err = IoTDAError(400, "IOTDA.014016", "device not online", "rid")
    assert str(err) == "device not online [IOTDA.014016] (HTTP 400)"


def test_frames_decode_pretty_and_compact_alike() -> None:
    frame = connect_frame("root", "pw")
    pretty = json.dumps(json.loads(frame.encode()), indent=4)
    assert decode_frame(pretty) == decode_frame(frame.encode()) == frame
    assert len(frame.request_id) == 36 == len(new_request_id())
    assert "pw" not in repr(frame)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "null",
        '{"request_id": "x"}',
        '{"operation_type": 5}',
        "{",
        '{"operation_type": "command", "request_id": 7}',
        "x" * (MAX_FRAME_BYTES + 1),
    ],
)
def test_malformed_frames_raise_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError):
        decode_frame(text)


@given(st.binary(max_size=512))
def test_decode_frame_never_raises_anything_else(blob: bytes) -> None:
    try:
        decode_frame(blob)
    except ProtocolError:
        pass


def test_unknown_operation_types_pass_through() -> None:
    frame = decode_frame('{"operation_type":"future_op","request_id":"r","data":{"a":1}}')
    assert frame.operation_type == "future_op"
    assert frame.tunnel_service_type == "ssh"


@given(st.text(max_size=6000), st.integers(min_value=4, max_value=2048))
def test_split_utf8_keeps_characters_whole(text: str, limit: int) -> None:
    pieces = list(split_utf8(text, limit))
    assert "".join(pieces) == text
    assert all(0 < len(p.encode()) <= limit for p in pieces)


def test_chunker_joins_a_character_split_across_reads() -> None:
    chunker = OutputChunker()
    euro = "€".encode()
    out = list(chunker.feed(b"a" + euro[:1])) + list(chunker.feed(euro[1:] + b"b"))
    assert "".join(out) == "a€b"


def test_client_id_round_trip_and_tunnel_notify_payload() -> None:
    cid = client_id("boiler_0001", "2026112604", check_time=True)
    parsed = parse_client_id(cid)
    assert (parsed.device_id, parsed.check_time, parsed.hour) == ("boiler_0001", True, "2026112604")
    with pytest.raises(ProtocolError):
        parse_client_id("boiler_0001_0_2_2026112604")
    notify = TunnelNotify(
        "ws://h/v5/iot/tunnels/t/device-connect", "tok", 86400, "20261126T045300Z"
    )
    found = TunnelNotify.find_in(notify.to_payload())
    assert found == [notify]
    other = b'{"services":[{"service_id":"x","event_type":"y","paras":{}}],"object_device_id":"d"}'
    assert TunnelNotify.find_in(other) == []
    with pytest.raises(ProtocolError):
        TunnelNotify.find_in(b"not json")


def test_device_id_rule() -> None:
    assert is_valid_device_id("boiler_0001-A")
    assert not is_valid_device_id("bad id")
    assert not is_valid_device_id("x" * 129)
    assert TunnelFrame(Op.PING, "r").encode().startswith('{"operation_type":"ping"')
