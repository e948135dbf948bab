"""Thin wrappers around the REAL boto3 client (not mocks of DynamoDB): they count writes and
can simulate a crash after N successful write calls. Everything else is delegated unchanged."""

from __future__ import annotations

import threading
from typing import Any

WRITE_CALLS = ("put_item", "update_item", "delete_item", "batch_write_item")


class InjectedCrash(RuntimeError):
    """Raised instead of the (N+1)-th write call, as if the process died there."""


class CountingClient:
    def __init__(self, client: Any, fail_after: int | None = None) -> None:
        self._client = client
        self.fail_after = fail_after
        self.calls = 0
        self.items_written = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in WRITE_CALLS:
            return attr

        def write(**kwargs: Any) -> Any:
            with self._lock:
                if self.fail_after is not None and self.calls >= self.fail_after:
                    raise InjectedCrash(f"crash before write call {self.calls + 1}")
                self.calls += 1
            response = attr(**kwargs)
            n = 1
            if name == "batch_write_item":
                ((table, reqs),) = kwargs["RequestItems"].items()
                n = len(reqs) - len(response.get("UnprocessedItems", {}).get(table, []))
            with self._lock:
                self.items_written += n
            return response

        return write


class RecordingClient:
    """Records, for every write request, which phase of which entity it was and when it started
    and ended (one shared counter), so a test can check the order per key of docs/sync.md.

    Phases: ``history``, ``add`` (search item puts and the change item), ``current``
    (V#CURRENT) and ``remove`` (search item deletes); the batch item is not an entity's.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._clock = 0
        self.events: list[tuple[str, str, int, int]] = []  # (entity id, phase, start, end)

    def _tick(self) -> int:
        with self._lock:
            self._clock += 1
            return self._clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in WRITE_CALLS:
            return attr

        def write(**kwargs: Any) -> Any:
            start = self._tick()
            response = attr(**kwargs)
            end = self._tick()
            with self._lock:
                self.events += [(eid, phase, start, end) for eid, phase in _phases(name, kwargs)]
            return response

        return write


def _phases(call: str, kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    from ppstack.serving.keys import CURRENT_SK, RANK_PREFIX, parse_rank_sk, parse_token_sk

    def of(item: dict[str, Any], removing: bool) -> tuple[str, str] | None:
        pk, sk = item["PK"]["S"], item["SK"]["S"]
        if pk.startswith("SEARCH#"):
            parsed = parse_rank_sk(sk) if sk.startswith(RANK_PREFIX) else parse_token_sk(sk)
            return parsed[-1], "remove" if removing else "add"
        if pk.startswith("CHANGES#"):
            return sk, "add"
        if pk.startswith("ITEM#"):
            return pk.rsplit("#", 1)[-1], "current" if sk == CURRENT_SK else "history"
        return None  # the batch item

    if call == "batch_write_item":
        ((_table, requests),) = kwargs["RequestItems"].items()
        found = [of(r["PutRequest"]["Item"], False) if "PutRequest" in r
                 else of(r["DeleteRequest"]["Key"], True) for r in requests]
    else:
        found = [of(kwargs.get("Item") or kwargs["Key"], False)]
    return [f for f in found if f is not None]
