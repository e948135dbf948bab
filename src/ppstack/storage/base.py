"""The object store port. Keys are S3 keys (``raw/DRUG/FDA_NDC/2019-04-29/product.txt``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ppstack.errors import PpstackError


class PreconditionFailed(PpstackError):
    """A conditional write lost: the key exists (If-None-Match) or changed (If-Match). S3: 412."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


class ObjectStore(Protocol):
    bucket: str

    def put(self, key: str, data: bytes, *, if_none_match: bool = False,
            if_match: str | None = None) -> str:
        """Write ``data`` and return its ETag.

        ``if_none_match=True`` creates only (S3 ``If-None-Match: *``); ``if_match`` replaces only
        the version with that ETag. Raises PreconditionFailed when the condition does not hold.
        """
        ...

    def get(self, key: str) -> bytes:
        """Raises ppstack.errors.NotFound."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        ...

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, sorted."""
        ...

    def delete(self, key: str) -> None:
        """Only for locks and scratch keys: nothing in ppstack deletes under raw/ or staging/."""
        ...

    def uri(self, key: str) -> str:
        """``s3://<bucket>/<key>``, the form SQL templates use for locations."""
        ...
