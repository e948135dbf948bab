"""A throttling proxy around the REAL boto3 client of the local DynamoDB server, on a virtual
clock, and a Lambda-like invocation time limit: what a full sync would meet on AWS.

What it encodes, from AWS's documentation:

- Each partition serves at most 1,000 write units and 3,000 read units per second, in
  on-demand mode too; more gives a throttling error whose reason is
  ``TableWriteKeyRangeThroughputExceeded`` / ``TableReadKeyRangeThroughputExceeded``.
  ref: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
  ref: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ThrottlingReason.html
  We apply the limits per partition KEY (a real partition may hold many keys and then throttles
  earlier; the hot key ``SEARCH#DRUG`` is the one that matters for a full load).
- The error is ``ProvisionedThroughputExceededException`` with ``ThrottlingReasons``.
  ref: https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/ProvisionedThroughputExceededException.html
- BatchWriteItem / BatchGetItem return the throttled part in ``UnprocessedItems`` /
  ``UnprocessedKeys`` and raise ProvisionedThroughputExceededException only when nothing at all
  could be processed. ref: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
  ref: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
- A write costs one WCU per started KB of the item; a strongly consistent read one RCU per
  started 4 KB (half for eventually consistent); a failed conditional write still costs its WCU.
  Item size = attribute name lengths + value lengths.
  ref: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
  ref: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html

The virtual clock: every request takes ``latency`` seconds and every pacing or backoff sleep its
delay, on the timeline of the thread that makes it. A task given to the applier's thread pool
starts on its thread at the virtual time it was submitted (``ClockedExecutor``), so requests of
concurrent tasks overlap as they would from a real client, and the pool's results are ready
when the last task ends; the invocation's clock is the furthest any thread got. Each partition
key holds a token bucket refilled at its limit per virtual second that holds at most a tenth of
a second's worth: stricter than a one-second window (AWS does not document how a partition
smooths bursts), so a sync that passes here does not rely on bursts. ``outages`` make a key
refuse every write for a while (a partition shared with another workload), to show a sync that
ends a slice on sustained throttling and resumes.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

WRITE_LIMIT = 1000.0  # WCU per second per partition
READ_LIMIT = 3000.0  # RCU per second per partition


class VirtualClock:
    """Virtual seconds per thread; ``now()`` is the furthest any thread got."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = 0.0
        self._local = threading.local()

    def now(self) -> float:
        return self._now

    def thread_now(self) -> float:
        """The calling thread's time: its own inside a pool task, else the furthest time (a
        thread outside the pool has waited for every task it started)."""
        return self._local.t if getattr(self._local, "in_task", False) else self._now

    def enter(self, submitted: float) -> None:
        """A pool task starts on this thread, no earlier than it was submitted."""
        self._local.t = max(getattr(self._local, "t", submitted), submitted)
        self._local.in_task = True

    def leave(self) -> None:
        self._local.in_task = False

    def spend(self, seconds: float) -> float:
        """The calling thread spends ``seconds`` (request latency or a sleep); returns the time
        it started spending them."""
        with self._lock:
            start = self.thread_now()
            if getattr(self._local, "in_task", False):
                self._local.t = start + seconds
            self._now = max(self._now, start + seconds)
            return start

    def sleep(self, seconds: float) -> None:
        self.spend(seconds)


class ClockedExecutor(ThreadPoolExecutor):
    """The applier's thread pool on the virtual clock (installed by the simulation in place of
    ``ThreadPoolExecutor``): each task starts at its submitter's virtual time."""

    clock: VirtualClock  # set by the simulation
    tasks = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        clock, submitted = self.clock, self.clock.thread_now()
        type(self).tasks += 1

        def timed() -> Any:
            clock.enter(submitted)
            try:
                return fn(*args, **kwargs)
            finally:
                clock.leave()

        return super().submit(timed)


class InvocationTimeout(RuntimeError):
    """Lambda ended the invocation ("Task timed out"): the call in flight never happened."""


@dataclass
class Invocation:
    """One Lambda invocation on the virtual clock."""

    clock: VirtualClock
    limit: float
    start: float = 0.0

    def __post_init__(self) -> None:
        self.start = self.clock.now()

    def elapsed(self) -> float:
        return self.clock.now() - self.start

    def time_left(self) -> float:
        return self.limit - self.elapsed()


BURST = 0.1  # seconds of capacity a bucket holds


@dataclass
class Bucket:
    rate: float
    tokens: float
    at: float = 0.0

    def take(self, now: float, units: float) -> bool:
        # Threads keep their own virtual time, so ``now`` may be behind the bucket's last
        # update: such a request refills nothing (a negative refill would drain the bucket).
        refill = max(0.0, now - self.at) * self.rate
        self.tokens = min(self.rate * BURST, self.tokens + refill)
        self.at = max(self.at, now)
        if self.tokens >= units:
            self.tokens -= units
            return True
        return False


def item_size(item: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for an item (names + values; strings as UTF-8)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode("utf-8"))
        ((kind, v),) = value.items()
        if kind == "S":
            size += len(v.encode("utf-8"))
        elif kind == "N":
            size += len(v) // 2 + 1
        elif kind == "BOOL" or kind == "NULL":
            size += 1
        else:
            size += len(str(v))
    return size


def write_units(item: dict[str, Any] | None) -> int:
    return max(1, math.ceil(item_size(item or {}) / 1024))


@dataclass
class ThrottledDynamoDB:
    """Proxy for a boto3 DynamoDB client: per-key limits on the virtual clock."""

    client: Any
    clock: VirtualClock
    latency: float = 0.008
    write_limit: float = WRITE_LIMIT
    read_limit: float = READ_LIMIT
    invocation: Invocation | None = None
    outages: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> [from, to)
    throttled: int = 0
    requests: int = 0
    writes_by_pk: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    # ---- capacity ----
    def _take(self, pk: str, kind: str, units: float, now: float) -> bool:
        limit = self.write_limit if kind == "write" else self.read_limit
        down = self.outages.get(pk)
        with self._lock:
            bucket = self._buckets.get((pk, kind))
            if bucket is None:
                bucket = self._buckets[(pk, kind)] = Bucket(limit, limit * BURST, now)
            out = kind == "write" and down is not None and down[0] <= now < down[1]
            ok = not out and bucket.take(now, units)
            if not ok:
                self.throttled += 1
            elif kind == "write":
                self.writes_by_pk[pk] += 1
            return ok

    def _start(self) -> float:
        if self.invocation is not None and self.invocation.time_left() <= 0:
            raise InvocationTimeout(f"invocation passed its {self.invocation.limit:g} s limit")
        self.requests += 1
        return self.clock.spend(self.latency)

    def _throttle(self, operation: str, kind: str) -> ClientError:
        reason = "TableWriteKeyRangeThroughputExceeded" if kind == "write" else \
            "TableReadKeyRangeThroughputExceeded"
        return ClientError({
            "Error": {"Code": "ProvisionedThroughputExceededException",
                      "Message": "The level of configured provisioned throughput for the "
                                 "table was exceeded. Consider increasing your provisioning "
                                 "level with the UpdateTable API."},
            "ThrottlingReasons": [{"reason": reason, "resource": "arn:aws:dynamodb:::table/sim"}],
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }, operation)

    # ---- single-item operations ----
    def _single(self, operation: str, kind: str, pk: str, units: float,
                call: Any, **kwargs: Any) -> Any:
        now = self._start()
        if not self._take(pk, kind, units, now):
            raise self._throttle(operation, kind)
        return call(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        item = kwargs["Item"]
        return self._single("PutItem", "write", item["PK"]["S"], write_units(item),
                            self.client.put_item, **kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        values = kwargs.get("ExpressionAttributeValues") or {}
        units = write_units({**kwargs["Key"], **values})
        return self._single("UpdateItem", "write", kwargs["Key"]["PK"]["S"], units,
                            self.client.update_item, **kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        return self._single("DeleteItem", "write", kwargs["Key"]["PK"]["S"], 1,
                            self.client.delete_item, **kwargs)

    def get_item(self, **kwargs: Any) -> Any:
        units = 1.0 if kwargs.get("ConsistentRead") else 0.5
        return self._single("GetItem", "read", kwargs["Key"]["PK"]["S"], units,
                            self.client.get_item, **kwargs)

    # ---- batches: partial success, error only when nothing fits ----
    def batch_write_item(self, **kwargs: Any) -> Any:
        ((table, requests),) = kwargs["RequestItems"].items()
        now = self._start()
        accepted, unprocessed = [], []
        for request in requests:
            if "PutRequest" in request:
                item = request["PutRequest"]["Item"]
                pk, units = item["PK"]["S"], write_units(item)
            else:
                pk, units = request["DeleteRequest"]["Key"]["PK"]["S"], 1
            (accepted if self._take(pk, "write", units, now) else unprocessed).append(request)
        if not accepted:
            raise self._throttle("BatchWriteItem", "write")
        response = self.client.batch_write_item(**{**kwargs, "RequestItems": {table: accepted}})
        left = list(response.get("UnprocessedItems", {}).get(table, [])) + unprocessed
        response["UnprocessedItems"] = {table: left} if left else {}
        return response

    def batch_get_item(self, **kwargs: Any) -> Any:
        ((table, request),) = kwargs["RequestItems"].items()
        now = self._start()
        units = 1.0 if request.get("ConsistentRead") else 0.5  # items are < 4 KB
        accepted, unprocessed = [], []
        for key in request["Keys"]:
            (accepted if self._take(key["PK"]["S"], "read", units, now) else unprocessed
             ).append(key)
        if not accepted:
            raise self._throttle("BatchGetItem", "read")
        response = self.client.batch_get_item(
            **{**kwargs, "RequestItems": {table: {**request, "Keys": accepted}}})
        left = list(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
        left += unprocessed
        response["UnprocessedKeys"] = {table: {**request, "Keys": left}} if left else {}
        return response
