"""retry: backoff bounds, UnprocessedItems / UnprocessedKeys resent, throttling retried.

The DynamoDB stand-ins here script the partial answers AWS documents (dynalite never throttles
or leaves items unprocessed); the product path always runs against the real server.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from ppstack.errors import ServiceUnavailable, Throttled
from ppstack.serving.retry import Backoff, batch_get, batch_write, call

SLEEPS: list[float] = []
FAST = Backoff(base=0.01, cap=0.05, attempts=5, sleep=SLEEPS.append)


def throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                  "Message": "slow down"}}, "BatchWriteItem")


class Scripted:
    """Answers each call with the next scripted response (or raises it)."""

    def __init__(self, responses: list[Any]) -> None:
        self.responses = responses
        self.requests: list[dict] = []

    def _next(self, **kwargs: Any) -> Any:
        self.requests.append(kwargs)
        r = self.responses.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    batch_write_item = _next
    batch_get_item = _next


@given(base=st.floats(0.001, 1), cap=st.floats(0.001, 10), attempts=st.integers(1, 20))
def test_backoff_delays_are_capped_and_non_negative(base: float, cap: float, attempts: int) -> None:
    delays = list(Backoff(base=base, cap=cap, attempts=attempts).delays())
    assert len(delays) == attempts - 1
    assert all(0 <= d <= min(cap, base * 2**i) for i, d in enumerate(delays))


def test_batch_write_resends_unprocessed_items() -> None:
    reqs = [{"PutRequest": {"Item": {"PK": {"S": str(i)}}}} for i in range(3)]
    client = Scripted([{"UnprocessedItems": {"t": reqs[1:]}}, throttled(),
                       {"UnprocessedItems": {}}])
    assert batch_write(client, "t", reqs, backoff=FAST) == 3
    assert [r["RequestItems"]["t"] for r in client.requests] == [reqs, reqs[1:], reqs[1:]]


def test_batch_write_gives_up_with_throttled() -> None:
    reqs = [{"PutRequest": {"Item": {"PK": {"S": "a"}}}}]
    client = Scripted([{"UnprocessedItems": {"t": reqs}}] * 2 + [throttled()] * 3)
    with pytest.raises(Throttled, match="without progress") as e:
        batch_write(client, "t", reqs, backoff=FAST)
    assert isinstance(e.value, ServiceUnavailable) and len(client.requests) == 5


def test_batch_write_progress_starts_a_fresh_budget() -> None:
    """Sustained throttling that still lets a part through each time is never given up on:
    twice the budget of attempts, each leaving one item fewer, completes."""
    reqs = [{"PutRequest": {"Item": {"PK": {"S": "hot"}, "SK": {"S": str(i)}}}}
            for i in range(10)]
    client = Scripted([{"UnprocessedItems": {"t": reqs[i:]}} for i in range(1, 10)]
                      + [{"UnprocessedItems": {}}])
    assert batch_write(client, "t", reqs, backoff=FAST) == 10
    assert len(client.requests) == 10 > FAST.attempts


class Recorder:
    """A pacer that records what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, list[str]]] = []

    def wait(self, keys: Any) -> None:
        self.events.append(("wait", list(keys)))

    def throttled(self, keys: Any) -> None:
        self.events.append(("throttled", list(keys)))

    def accepted(self, keys: Any) -> None:
        self.events.append(("accepted", list(keys)))


def test_batch_write_paces_each_send_and_reports_the_answer() -> None:
    reqs = [{"PutRequest": {"Item": {"PK": {"S": "hot"}, "SK": {"S": str(i)}}}} for i in range(3)]
    client = Scripted([{"UnprocessedItems": {"t": reqs[2:]}}, throttled(), {}])
    pacer = Recorder()
    batch_write(client, "t", reqs, backoff=FAST, pacer=pacer,
                key_of=lambda r: r["PutRequest"]["Item"]["PK"]["S"])
    assert pacer.events == [("wait", ["hot"] * 3), ("throttled", ["hot"] * 3),
                            ("wait", ["hot"]), ("throttled", ["hot"]),
                            ("wait", ["hot"]), ("accepted", ["hot"])]


def test_batch_get_rerequests_unprocessed_keys_and_splits_by_100() -> None:
    keys = [{"PK": {"S": str(i)}} for i in range(101)]
    client = Scripted([
        {"Responses": {"t": keys[:50]}, "UnprocessedKeys": {"t": {"Keys": keys[50:100]}}},
        {"Responses": {"t": keys[50:100]}},
        {"Responses": {"t": keys[100:]}},
    ])
    assert batch_get(client, "t", keys, backoff=FAST) == keys
    assert [len(r["RequestItems"]["t"]["Keys"]) for r in client.requests] == [100, 50, 1]


def test_call_other_errors_propagate_unretried() -> None:
    err = ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "PutItem")
    client = Scripted([err])
    with pytest.raises(ClientError):
        call(client.batch_write_item, backoff=FAST)
    assert len(client.requests) == 1
