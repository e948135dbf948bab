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
