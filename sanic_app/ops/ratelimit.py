"""Per-caller rate limits: a token bucket per key id, per worker.

Each worker keeps its own buckets (no shared state on the hot path), so with N workers a
caller may get up to N times the configured rate when its requests spread over all of them;
size ``--rate-limit-rps`` per worker accordingly. Buckets of callers not seen for a while are
dropped when the table is full (JWT subjects are not a closed set).
"""
from __future__ import annotations

import math
import time

MAX_CALLERS = 10_000


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}  # id -> [tokens, last refill]; oldest use first

    def retry_after(self, caller: str) -> int:
        """0 when ``caller`` may go now (a token is taken), else whole seconds to wait."""
        now = self.clock()
        bucket = self._buckets.pop(caller, None)
        if bucket is None:
            if len(self._buckets) >= MAX_CALLERS:
                del self._buckets[next(iter(self._buckets))]
            bucket = [self.burst, now]
        else:
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        self._buckets[caller] = bucket  # re-inserted: most recent last
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket[0]) / self.rate))
