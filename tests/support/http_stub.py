"""A real HTTP/1.1 server on 127.0.0.1 that answers from a script and records every request.

For client behaviour the local platform never shows on purpose: a 503 from a gateway, a
proxy's HTML error page, a connection dropped after the request was sent.

    async with http_stub([Answer(503), Answer(200, {"tunnels": []})]) as stub:
        client = IoTDAClient(stub.url, "proj", None)
        ...
        stub.requests    # [StubRequest(method, path, headers, body), ...]

Answers are used in order and the last one repeats; `DROP` closes the connection without
answering (the request was received: a client cannot know whether it took effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            payload, media = self.body, "text/html"
        elif self.body is None:
            payload, media = b"", "application/json"
        else:
            payload, media = json.dumps(self.body).encode(), "application/json"
        head = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}"]
        head += [f"Content-Type: {media}", f"Content-Length: {len(payload)}"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


DROP = Answer(0)


@dataclass(frozen=True)
class StubRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class HttpStub:
    def __init__(self, answers: Sequence[Answer]) -> None:
        self._answers = list(answers)
        self.requests: list[StubRequest] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _next_answer(self) -> Answer:
        return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):  # keep-alive connections of the client
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(StubRequest(method, path, headers, body))
                answer = self._next_answer()
                if answer is DROP:
                    return
                writer.write(answer.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


@contextlib.asynccontextmanager
async def http_stub(answers: Sequence[Answer]) -> AsyncIterator[HttpStub]:
    stub = HttpStub(answers)
    await stub.start()
    try:
        yield stub
    finally:
        await stub.stop()
