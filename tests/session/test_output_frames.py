"""The output stream's frames are written and read on a fast path (no dict, no generic
JSON parse): it must agree with the general encoder and parser on everything."""

from __future__ import annotations

import json
import random

import pytest

from tui.iotda.errors import ProtocolError
from tui.iotda.frames import Op, TunnelFrame, decode_frame, output_frame_text, split_utf8

SAMPLES = [
    "",
    "plain ascii\r\n",
    'quotes " and \\ backslashes \\"',
    "\x1b[1;31mred\x1b[0m \x00 \x07 \t",
    "äöü € — 日本語 🙂 \u200d\ufe0f",
    "\ud800 lone surrogate",
    "}" * 10 + '","data":"' + "{",
]


@pytest.mark.parametrize("data", SAMPLES)
def test_written_as_the_general_encoder_and_read_back(data: str) -> None:
    request_id = "r" * 36
    text = output_frame_text(request_id, data)
    assert text == TunnelFrame(Op.COMMAND_RESPONSE, request_id, data).encode()
    assert decode_frame(text) == TunnelFrame(Op.COMMAND_RESPONSE, request_id, data)


def slow(text: str) -> TunnelFrame | str:
    """What decode_frame answered before the fast path: the general parse."""
    try:
        body = json.loads(text)
    except ValueError:
        return "error"
    if not isinstance(body, dict):
        return "error"
    return TunnelFrame(
        body.get("operation_type"),
        body.get("request_id") or "",
        body.get("data"),
        body.get("tunnel_service_type") or "ssh",
    )


def test_near_misses_are_read_as_the_general_parser_reads_them() -> None:
    rng = random.Random(20261130)
    good = output_frame_text("x" * 36, "some output é\r\n")
    variants = [good + " ", good[:-1], good + "}", good.replace('"data"', '"dat"')]
    variants += [good.replace(',"data":', ',"data": '), good[:-3] + '\\u0041"}']
    for _ in range(300):  # random cuts and one-character changes of a good frame
        cut = rng.randrange(len(good))
        variants.append(good[:cut])
        variants.append(good[:cut] + rng.choice('"\\}{,:x\x01') + good[cut + 1 :])
    for text in variants:
        try:
            got: TunnelFrame | str = decode_frame(text)
        except ProtocolError:
            got = "error"
        expected = slow(text)
        if isinstance(expected, TunnelFrame) and not isinstance(expected.operation_type, str):
            expected = "error"
        assert got == expected, text


def test_ascii_and_multibyte_chunks_stay_within_2048_bytes() -> None:
    for text in ("a" * 5000, "é" * 3000, "a" * 2047 + "€" * 10):
        pieces = list(split_utf8(text))
        assert "".join(pieces) == text
        assert all(len(p.encode()) <= 2048 for p in pieces)
