"""Client-side pacing of writes per partition key, below DynamoDB's per-partition limit.

Why: a first full load sends ~1.9 million token items to the one key ``SEARCH#<ENTITY>``, and a
partition accepts at most 1,000 write units per second. Writers that simply retry throttling
spend most requests being refused and end up sending small remainders (``UnprocessedItems``);
reserving each request's slot in advance keeps the hot key just under its limit with full
25-item batches, and the backoff in ``retry`` stays the safety net.
ref: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html

The schedule is "virtual scheduling": each request reserves the interval after the key's last
reservation and sleeps until its start, so concurrent threads queue up fairly without a lock
held while sleeping. The clock and the sleep are injectable (a simulation runs on virtual time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

DEFAULT_RATE = 900.0  # write units per second per key: 10 % under the documented 1,000


class KeyPacer:
    def __init__(self, rate: float = DEFAULT_RATE, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, keys: Iterable[str]) -> None:
        """Wait for the slot of one write unit per entry of ``keys`` (a key may repeat)."""
        units: dict[str, int] = {}
        for k in keys:
            units[k] = units.get(k, 0) + 1
        with self._lock:
            now = self.clock()
            start = now
            for key, n in units.items():
                begin = max(now, self._next.get(key, now))
                self._next[key] = begin + n / self.rate
                start = max(start, begin)
        if start > now:
            self.sleep(start - now)
