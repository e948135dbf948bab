"""Retries for DynamoDB calls: capped exponential backoff with full jitter.

Standard library and botocore only, so the API Lambda bundle can import it too.

Why our own loop on top of botocore's retry mode: BatchWriteItem and BatchGetItem succeed while
leaving part of the work undone (``UnprocessedItems`` / ``UnprocessedKeys``); botocore does not
retry those, and AWS says to retry them with exponential backoff. Throttling errors that outlast
botocore's own attempts are retried here with the same policy. "Full jitter" (sleep a uniform
random time in ``[0, min(cap, base * 2**attempt)]``) spreads concurrent writers apart. The
budget of ``attempts`` counts attempts in a row that made no progress: a BatchWriteItem whose
answer leaves fewer items unprocessed than it sent starts a fresh budget, so a writer paced at
a hot key's limit is never failed while DynamoDB keeps accepting part of each request.
ref: https://docs.aws.amazon.com/goto/WebAPI/dynamodb/BatchWriteItem
ref: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from ppstack.errors import Throttled

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
BATCH_WRITE_MAX = 25  # items per BatchWriteItem request
BATCH_GET_MAX = 100  # keys per BatchGetItem request


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter; ``sleep`` is injectable for tests."""

    base: float = 0.05
    cap: float = 5.0
    attempts: int = 10
    sleep: Callable[[float], None] = time.sleep

    def delays(self) -> Iterator[float]:
        for attempt in range(self.attempts - 1):
            yield random.uniform(0.0, min(self.cap, self.base * 2**attempt))


DEFAULT_BACKOFF = Backoff()
# Paced writes to AWS's hot search key: more patient before a request without progress fails.
PATIENT_BACKOFF = Backoff(base=0.05, cap=2.0, attempts=40)


def is_throttling(error: BaseException) -> bool:
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in THROTTLING_CODES
    )


def call(fn: Callable[..., T], *args: Any, backoff: Backoff = DEFAULT_BACKOFF, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, retrying throttling errors; other errors propagate unchanged.

    Raises Throttled when throttling outlasts every attempt.
    """
    delays = backoff.delays()
    while True:
        try:
            return fn(*args, **kwargs)
        except ClientError as e:
            if not is_throttling(e):
                raise
            delay = next(delays, None)
            if delay is None:
                raise Throttled(
                    f"DynamoDB kept throttling after {backoff.attempts} attempts: {e}"
                ) from e
            backoff.sleep(delay)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size``; works on generators, so callers can stream."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class Pacer(Protocol):
    """Paces writes per partition key and learns from DynamoDB's answers (``pace.KeyPacer``)."""

    def wait(self, keys: Iterable[str]) -> None: ...
    def throttled(self, keys: Iterable[str]) -> None: ...
    def accepted(self, keys: Iterable[str]) -> None: ...


def batch_write(
    client: Any, table: str, requests: Sequence[dict], *, backoff: Backoff = DEFAULT_BACKOFF,
    pacer: Pacer | None = None, key_of: Callable[[dict], str] = str,
) -> int:
    """One BatchWriteItem of at most 25 ``{"PutRequest"|"DeleteRequest": ...}``, driven to
    completion.

    ``UnprocessedItems`` (and a throttling error, which means nothing was processed) are resent
    after a backoff delay until none are left; with a ``pacer`` every send waits for its slot
    (``key_of`` gives a request's partition key) and tells the pacer how DynamoDB answered.
    Returns the number of requests written (= ``len(requests)``). The caller guarantees no two
    requests share a key (DynamoDB refuses such a request as a whole).
    """
    if len(requests) > BATCH_WRITE_MAX:
        raise ValueError(f"BatchWriteItem takes at most {BATCH_WRITE_MAX} requests")
    pending: list[dict] = list(requests)
    delays = backoff.delays()
    while pending:
        keys = [key_of(r) for r in pending] if pacer is not None else []
        if pacer is not None:
            pacer.wait(keys)
        try:
            response = client.batch_write_item(RequestItems={table: pending})
            left = list(response.get("UnprocessedItems", {}).get(table, []))
        except ClientError as e:
            if not is_throttling(e):
                raise
            left, error = pending, e
        else:
            error = None
        if pacer is not None:
            (pacer.throttled if left else pacer.accepted)(keys)
        if not left:
            break
        if len(left) < len(pending):
            delays = backoff.delays()  # progress: a fresh budget
        delay = next(delays, None)
        if delay is None:
            raise Throttled(f"DynamoDB left {len(left)} items unprocessed after "
                            f"{backoff.attempts} attempts without progress"
                            + (f": {error}" if error else ""))
        backoff.sleep(delay)
        pending = left
    return len(requests)


def batch_get(
    client: Any,
    table: str,
    keys: Sequence[dict],
    *,
    projection: str | None = None,
    names: dict[str, str] | None = None,
    consistent: bool = False,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> list[dict]:
    """BatchGetItem of any number of keys (split into requests of 100), driven to completion.

    ``UnprocessedKeys`` are re-requested after a backoff delay. Items come back in no particular
    order; missing keys are simply absent. ``keys`` must be distinct.
    """
    found: list[dict] = []
    for chunk in chunked(keys, BATCH_GET_MAX):
        request: dict[str, Any] = {"Keys": list(chunk), "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = names
        delays = backoff.delays()
        while request["Keys"]:
            response = call(client.batch_get_item, RequestItems={table: request}, backoff=backoff)
            found.extend(response.get("Responses", {}).get(table, []))
            left = response.get("UnprocessedKeys", {}).get(table)
            request = {**request, "Keys": list(left["Keys"]) if left else []}
            if request["Keys"]:
                delay = next(delays, None)
                if delay is None:
                    raise Throttled(
                        f"DynamoDB left {len(request['Keys'])} keys unprocessed after "
                        f"{backoff.attempts} attempts"
                    )
                backoff.sleep(delay)
    return found
