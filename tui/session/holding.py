"""Reconnect pacing and the input held while the shell is out of reach."""

from __future__ import annotations

import random
from collections.abc import Callable

# what a user may type ahead while the link is down; more is refused with a notice
HELD_INPUT_LIMIT = 4096


class Backoff:
    """Capped exponential delays with jitter: `low`·2ⁿ⁻¹ up to `high`, each shortened by
    up to `jitter` (a fraction) at random, so that many clients do not retry in step."""

    def __init__(
        self,
        low: float,
        high: float,
        jitter: float = 0.5,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 0 <= jitter <= 1:
            raise ValueError("jitter must be a fraction from 0 to 1")
        self.low, self.high, self.jitter = low, high, jitter
        self._rand = rand

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (1 for the first)."""
        base = min(self.low * 2 ** min(attempt - 1, 32), self.high)
        return base * (1 - self.jitter * self._rand())


class HeldInput:
    """Input typed while no shell can take it, up to `limit` UTF-8 bytes, in order."""

    def __init__(self, limit: int = HELD_INPUT_LIMIT) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, text: str) -> int:
        """Hold `text`; returns the number of bytes that did not fit (and were dropped)."""
        encoded = text.encode("utf-8", "surrogatepass")
        room = self.limit - self._size
        if len(encoded) <= room:
            self._parts.append(text)
            self._size += len(encoded)
            return 0
        # keep what fits, cut on a character boundary: continuation bytes are 0b10xxxxxx
        end = max(room, 0)
        while end > 0 and end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
            end -= 1
        if end:
            self._parts.append(encoded[:end].decode("utf-8", "surrogatepass"))
            self._size += end
        return len(encoded) - end

    def take(self) -> str:
        text, self._parts, self._size = "".join(self._parts), [], 0
        return text
