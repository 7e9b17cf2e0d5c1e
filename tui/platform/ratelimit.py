"""Per-source token buckets, as IoTDA limits callers (IOTDA.021101 on REST, a refused
CONNACK on MQTT): a password guesser or a flooding client is slowed; others are not."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    rate: float  # tokens added per second
    burst: int  # bucket size: this many at once after a quiet spell


# defaults: generous for tools and dashboards, far below what guessing needs
REST_REQUESTS = RateLimit(rate=2000.0, burst=4000)
AUTH_FAILURES = RateLimit(rate=2.0, burst=30)


class SourceBuckets:
    """One bucket per source (an IP address); the least recently used are forgotten past
    `max_sources`, so a spoofing flood cannot grow memory without bound."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        max_sources: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._max_sources = max_sources
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def _level(self, source: str) -> float:
        now = self._clock()
        tokens, at = self._buckets.get(source, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - at) * self.limit.rate)
        self._buckets[source] = (tokens, now)
        self._buckets.move_to_end(source)
        while len(self._buckets) > self._max_sources:
            self._buckets.popitem(last=False)
        return tokens

    def allows(self, source: str) -> bool:
        """True while `source` has a token left (nothing is taken)."""
        return self._level(source) >= 1.0

    def take(self, source: str) -> bool:
        """Take a token; False (and nothing taken) when the bucket is empty."""
        tokens = self._level(source)
        if tokens < 1.0:
            return False
        self._buckets[source] = (tokens - 1.0, self._clock())
        return True
