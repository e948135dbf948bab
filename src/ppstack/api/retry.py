"""Capped exponential backoff with full jitter, for BatchGetItem ``UnprocessedKeys``.

Stand-in until ``ppstack.serving.retry`` (the sync worker's copy) exists; then this module should
re-export that one so there is a single rule. Standard library only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

BASE_DELAY = 0.02
MAX_DELAY = 1.0
MAX_ATTEMPTS = 8


def backoff_delays(attempts: int = MAX_ATTEMPTS, base: float = BASE_DELAY,
                   cap: float = MAX_DELAY, rand: Callable[[], float] = random.random) -> list[float]:
    """Delays before retry 1..attempts-1: ``uniform(0, min(cap, base * 2**n))`` (AWS "full jitter")."""
    return [rand() * min(cap, base * 2**n) for n in range(attempts - 1)]


def sleep(seconds: float) -> None:
    time.sleep(seconds)
