"""One run per entity type at a time: a lock object at ``locks/<ENTITY>.lock``.

Why an object and not a database row: the archive bucket is the one thing every backend has, and
S3 conditional writes make it a correct mutex: the lock is *created* with ``If-None-Match: *`` (of
two racing runs exactly one wins) and a stale lock is *replaced* with ``If-Match: <its etag>`` (of
two runs taking over the same stale lock exactly one wins). A lock is stale when it is older than
``settings.lock_stale_seconds``: its run was killed without releasing it. Takeovers are reported.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from ppstack.errors import Locked, NotFound
from ppstack.layout import lock_key
from ppstack.storage.base import ObjectStore, PreconditionFailed


class SimulatedKill(BaseException):  # noqa: N818 - it is not an error, it is a kill
    """Stands for ``kill -9`` in crash tests: nothing after it runs, the lock stays behind."""


def _now() -> datetime:
    return datetime.now(UTC)


class EntityLock:
    """``with EntityLock(store, "DRUG", stale_seconds=3600) as lock: ...``; ``lock.notes`` says
    whether a stale lock was taken over."""

    def __init__(self, store: ObjectStore, entity: str, *, stale_seconds: float,
                 purpose: str = "run") -> None:
        self.store = store
        self.entity = entity
        self.key = lock_key(entity)
        self.stale_seconds = stale_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.purpose = purpose
        self.etag: str | None = None
        self.notes: list[str] = []

    def _body(self) -> bytes:
        return json.dumps({
            "entity": self.entity,
            "owner": self.owner,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "purpose": self.purpose,
            "acquired": _now().isoformat(),
        }).encode("utf-8")

    def holder(self) -> tuple[dict[str, Any], str] | None:
        """The current lock's content and ETag, or None when unlocked."""
        info = self.store.head(self.key)
        if info is None:
            return None
        try:
            data = json.loads(self.store.get(self.key))
        except (NotFound, ValueError):
            data = {}
        return data, info.etag

    def acquire(self) -> EntityLock:
        try:
            self.etag = self.store.put(self.key, self._body(), if_none_match=True)
            return self
        except PreconditionFailed:
            pass
        held = self.holder()
        if held is None:  # released between our attempt and the look: try once more
            return self.acquire()
        data, etag = held
        try:
            age = (_now() - datetime.fromisoformat(data["acquired"])).total_seconds()
        except (KeyError, ValueError, TypeError):
            age = float("inf")  # unreadable lock: nobody can be relying on it
        who = (f"{data.get('purpose', 'run')} {data.get('owner', '?')} "
               f"(pid {data.get('pid', '?')} on {data.get('host', '?')}) "
               f"since {data.get('acquired', '?')}")
        if age <= self.stale_seconds:
            raise Locked(
                f"{self.entity} is locked by {who}: one batch per entity type runs at a time. "
                f"Wait for it to finish; if that process died, the lock is taken over "
                f"automatically once it is older than {self.stale_seconds:.0f} s "
                f"(PPSTACK_LOCK_STALE_SECONDS)."
            )
        try:
            self.etag = self.store.put(self.key, self._body(), if_match=etag)
        except PreconditionFailed:
            raise Locked(f"{self.entity}: another run took over the stale lock first") from None
        self.notes.append(f"took over stale lock of {who}, {age:.0f} s old")
        return self

    def adopt(self, owner: str) -> bool:
        """Continue a lock taken by an earlier process of the same run (its ``owner`` token, as
        a Step Functions execution carries it between Lambdas): True when the lock object is
        still held under that token; then ``etag`` is set and ``renew`` / ``release`` work."""
        self.owner = owner
        held = self.holder()
        if held is None or not owner or held[0].get("owner") != owner:
            return False
        self.etag = held[1]
        return True

    def renew(self) -> None:
        """Restart the lock's age (a long run is not taken for a dead one); Locked when another
        run took it over since we last looked."""
        try:
            self.etag = self.store.put(self.key, self._body(), if_match=self.etag)
        except PreconditionFailed:
            raise Locked(f"{self.entity}: another run took the lock over just now") from None

    def release(self) -> None:
        """Delete the lock if it is still ours (a takeover by someone else is left alone)."""
        info = self.store.head(self.key)
        if info is not None and info.etag == self.etag:
            self.store.delete(self.key)
        self.etag = None

    def __enter__(self) -> EntityLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # A failed run (any exception, Ctrl-C included) still ends cleanly and releases; only a
        # simulated kill leaves the lock behind, as a real kill would.
        if not isinstance(exc, SimulatedKill):
            self.release()
