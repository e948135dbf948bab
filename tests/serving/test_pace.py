"""pace: per-key slots at the key's rate; the rate halves on throttling and climbs back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ppstack.serving.pace import FLOOR_RATE, KeyPacer


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@given(sizes=st.lists(st.integers(1, 25), min_size=1, max_size=50))
def test_one_writer_never_exceeds_the_rate(sizes: list[int]) -> None:
    """However the requests are sized, a writer that waits before each one has sent at most
    ``rate * t`` units by time t, plus the one request already started."""
    clock = Clock()
    pacer = KeyPacer(rate=100.0, clock=clock.now, sleep=clock.sleep)
    sent = 0
    for n in sizes:
        pacer.wait(["k"] * n)
        assert sent <= 100.0 * clock.t + 1e-9
        sent += n
    assert clock.t >= (sent - sizes[-1]) / 100.0 - 1e-9


def test_throttling_halves_the_rate_and_acceptance_restores_it() -> None:
    clock = Clock()
    pacer = KeyPacer(rate=800.0, clock=clock.now, sleep=clock.sleep)
    pacer.throttled(["hot", "hot"])
    assert pacer.rate_of("hot") == 400.0 and pacer.rate_of("cold") == 800.0
    for _ in range(200):
        pacer.throttled(["hot"])
    assert pacer.rate_of("hot") == FLOOR_RATE
    steps = 0
    while pacer.rate_of("hot") < 800.0:
        pacer.accepted(["hot"])
        steps += 1
    assert pacer.rate_of("hot") == 800.0 and steps == 50  # back to the ceiling, not above


def test_a_throttled_key_is_paced_slower() -> None:
    clock = Clock()
    pacer = KeyPacer(rate=100.0, clock=clock.now, sleep=clock.sleep)
    pacer.wait(["k"] * 10)  # first slot starts now: [0, 0.1)
    pacer.throttled(["k"])  # 50 per second from here
    pacer.wait(["k"] * 10)  # starts at 0.1, reserves [0.1, 0.3)
    pacer.wait(["k"])
    assert abs(clock.t - 0.3) < 1e-9
