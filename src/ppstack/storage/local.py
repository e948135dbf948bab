"""Local object store: ``<root>/<bucket>/<key>`` on disk, with S3's conditional-write semantics.

Creates are exclusive (``O_EXCL`` on a temp file, then ``link``), so two writers racing on one key
behave like two S3 ``PutObject`` calls with ``If-None-Match: *``: one wins, one gets 412.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from ppstack.errors import NotFound
from ppstack.storage.base import ObjectInfo, PreconditionFailed


def _etag(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # what S3 returns for a single-part upload


class LocalObjectStore:
    def __init__(self, root: Path, bucket: str) -> None:
        self.bucket = bucket
        self.root = Path(root) / bucket

    def path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents and p != self.root.resolve():
            raise ValueError(f"key escapes the bucket: {key!r}")
        return p

    def put(self, key: str, data: bytes, *, if_none_match: bool = False,
            if_match: str | None = None) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if if_none_match:
                try:
                    os.link(tmp, target)  # atomic create-if-absent
                except FileExistsError:
                    raise PreconditionFailed(f"{self.uri(key)} already exists") from None
            else:
                if if_match is not None:
                    current = self.head(key)
                    if current is None or current.etag != if_match:
                        raise PreconditionFailed(f"{self.uri(key)} changed since it was read")
                os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return _etag(data)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{self.uri(key)} does not exist") from None

    def head(self, key: str) -> ObjectInfo | None:
        p = self.path(key)
        if not p.is_file():
            return None
        data = p.read_bytes()
        return ObjectInfo(key=key, size=len(data), etag=_etag(data))

    def list(self, prefix: str) -> list[str]:
        base = self.root
        if not base.exists():
            return []
        out = []
        # Walk only the deepest existing directory named by the prefix.
        start = self.path(prefix.rsplit("/", 1)[0]) if "/" in prefix else base
        if not start.exists():
            return []
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = str(Path(dirpath, name).relative_to(base)).replace(os.sep, "/")
                if key.startswith(prefix):
                    out.append(key)
        return sorted(out)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
