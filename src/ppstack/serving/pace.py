"""Client-side pacing of writes per partition key, below DynamoDB's per-partition limit.

Why: a first full load sends ~1.9 million token items to the one key ``SEARCH#<ENTITY>``, and a
partition accepts at most 1,000 write units per second (on-demand too). Writers that simply
retry throttling spend most requests being refused and end up sending small remainders
(``UnprocessedItems``); reserving each request's slot in advance keeps the hot key just under
its limit with full 25-item batches, and the backoff in ``retry`` stays the safety net.
ref: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html

The schedule is "virtual scheduling": each request reserves the interval after the key's last
reservation and sleeps until its start, so writers queue up fairly without a lock held while
sleeping. The rate adapts per key (additive increase, multiplicative decrease, as TCP does):
halved when DynamoDB throttles the key anyway (the partition is shared with other keys, or
another writer uses it), raised by a fiftieth of the ceiling after each request it accepts
whole, never above the ceiling. The clock and the sleep are injectable (a simulation runs on
virtual time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

DEFAULT_RATE = 900.0  # write units per second per key: 10 % under the documented 1,000
FLOOR_RATE = 10.0  # the slowest a throttled key is paced (then retry's backoff takes over)


def _count(keys: Iterable[str]) -> dict[str, int]:
    units: dict[str, int] = {}
    for k in keys:
        units[k] = units.get(k, 0) + 1
    return units


class KeyPacer:
    def __init__(self, rate: float = DEFAULT_RATE, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate  # the ceiling: the adapted rate of a key never goes above it
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._rates: dict[str, float] = {}
        self._lock = threading.Lock()

    def rate_of(self, key: str) -> float:
        """The rate ``key`` is paced at now (write units per second)."""
        return self._rates.get(key, self.rate)

    def wait(self, keys: Iterable[str]) -> None:
        """Wait for the slot of one write unit per entry of ``keys`` (a key may repeat)."""
        with self._lock:
            now = self.clock()
            start = now
            for key, n in _count(keys).items():
                begin = max(now, self._next.get(key, now))
                self._next[key] = begin + n / self.rate_of(key)
                start = max(start, begin)
        if start > now:
            self.sleep(start - now)

    def throttled(self, keys: Iterable[str]) -> None:
        """DynamoDB refused writes of ``keys``: halve their rate."""
        with self._lock:
            for key in _count(keys):
                self._rates[key] = max(FLOOR_RATE, self.rate_of(key) / 2)

    def accepted(self, keys: Iterable[str]) -> None:
        """DynamoDB took every write of a request for ``keys``: raise their rate a step."""
        with self._lock:
            for key in _count(keys):
                if key in self._rates:
                    raised = self._rates[key] + self.rate / 50
                    if raised >= self.rate:
                        del self._rates[key]
                    else:
                        self._rates[key] = raised
