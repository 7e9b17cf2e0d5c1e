"""The relay passes frames on a read's worth at a time (issue 9: the tunnel's cost per frame).

What a side sends in one burst reaches the other side in order, verbatim, without what the
platform drops or answers itself, and through one write of the peer's socket, not one per
frame. The hot path's own pieces are checked against the libraries they stand in for.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from tests.support.device import mqtt_device
from tests.support.platform import running_platform
from tests.support.tunnel_ws import linked_tunnel, next_frame
from tui.agent.sessions import send_together
from tui.iotda.frames import (
    Op,
    TunnelFrame,
    command_frame,
    new_request_id,
    output_frame_text,
    resize_frame,
)
from tui.platform.links import direct_protocol, protocol_of, server_text_frame
from tui.platform.relay import fast_operation

DEVICE = "boiler_0001"


def _count_writes(transport) -> list[int]:
    """Sizes of the writes the platform makes on `transport` from now on."""
    writes: list[int] = []
    write = transport.write

    def counted(data: bytes) -> None:
        writes.append(len(data))
        write(data)

    transport.write = counted
    return writes


async def test_a_burst_from_the_device_arrives_in_order_in_one_write(relay_mode):
    async with (
        running_platform(relay_mode=relay_mode) as p,
        p.client() as client,
        mqtt_device(p, DEVICE) as device,
    ):
        created, _notice, app, dev = await linked_tunnel(client, device, DEVICE)
        source, device_link = p.platform.tunnels.links(created.tunnel_id)
        # uvicorn's protocol is driven directly; an upgrade that changed it would fall back
        # to a frame at a time, silently slower: this notices
        assert direct_protocol(protocol_of(source.ws)) is not None
        assert direct_protocol(protocol_of(device_link.ws)) is not None
        request_id = new_request_id()
        output = [
            output_frame_text(request_id, f"\x1b[1mline {i}\x1b[0m é €\r\n" * 40) for i in range(12)
        ]
        pretty = json.dumps(json.loads(output[0]), indent=2)  # not the fast path: read in full
        burst = [
            *output[:4],
            TunnelFrame(Op.PONG, new_request_id()).encode(),  # only the platform sends it
            "not a frame at all",
            pretty,
            *output[4:],
        ]
        writes = _count_writes(source.transport)
        await send_together(dev, burst)
        relayed = [*output[:4], pretty, *output[4:]]
        assert [await app.recv() for _ in relayed] == relayed
        assert len(writes) <= 2  # one, unless the platform read the burst in two pieces
        await app.close()
        await dev.close()


async def test_a_burst_from_the_app_keeps_its_order_around_a_ping():
    async with running_platform() as p, p.client() as client, mqtt_device(p, DEVICE) as device:
        _created, _notice, app, dev = await linked_tunnel(client, device, DEVICE)
        ping = TunnelFrame(Op.PING, new_request_id())
        keys = [command_frame("ls").encode(), resize_frame(100, 30).encode()]
        after = command_frame("\r").encode()
        await send_together(app, [*keys, ping.encode(), after])
        assert [await dev.recv() for _ in range(3)] == [*keys, after]
        pong = await next_frame(app)
        assert (pong["operation_type"], pong["request_id"]) == (Op.PONG, ping.request_id)
        await app.close()
        await dev.close()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 2175, 65535, 65536, 70000])
def test_server_frames_are_the_bytes_websockets_would_send(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert server_text_frame(payload) == expected


# --- the fast path's reading of an envelope ------------------------------------------------

_OPS = ["command_response", "command", "connect", "connect_response", "disconnect", "pong"]
# spellings of the key a JSON parser reads as "operation_type"
_KEYS = [
    '"operation_type"',
    '"\\u006fperation_type"',
    '"operat\\u0069on_type"',
    '"\\u006Fperation_type"',
]
_PIECES = [*'ab\x1b\n"\\é€\x00/\t{}:,', "\\u006f", '\\"operation_type\\"']
_DATA = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@st.composite
def envelopes(draw) -> str:
    """JSON objects shaped as frames, with the key spelled and repeated in tricky ways."""
    members = [f'"operation_type":"{draw(st.sampled_from(_OPS))}"']
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["data", "request_id", "key"]))
        if kind == "key":
            members.append(f'{draw(st.sampled_from(_KEYS))}:"{draw(st.sampled_from(_OPS))}"')
        else:
            members.append(f'"{kind}":{json.dumps(draw(_DATA), ensure_ascii=draw(st.booleans()))}')
    space = draw(st.sampled_from(["", " ", "\n  "]))
    return "{" + space + ("," + space).join(members) + space + "}"


@settings(max_examples=400, deadline=None)
@given(envelopes())
def test_the_fast_path_never_reads_another_operation_than_a_parser(text):
    # a frame whose operation the fast path vouches for is relayed unread: a device must not
    # smuggle a platform frame (a fake "token expired") past it with a second or escaped key
    operation = fast_operation(text)
    if operation is not None:
        assert json.loads(text)["operation_type"] == operation


def test_real_output_takes_the_fast_path():
    colour = "\x1b[01;34mdir\x1b[0m  \x1b[01;32mexe\x1b[0m  notes.txt\r\n" * 30
    for data in (colour, "plain line\r\n" * 100, "中文 😀 äöü\r\n" * 50):
        assert fast_operation(output_frame_text(new_request_id(), data)) == Op.COMMAND_RESPONSE
    assert fast_operation(command_frame("\x1b[A").encode()) == Op.COMMAND
