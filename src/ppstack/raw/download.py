"""Download one publication over HTTP(S) into a temporary file, refusing anything incomplete.

Standard library only (``urllib``), so the scheduled fetch Lambda runs the same code as
``ppstack fetch``. The body streams to disk in 1 MiB pieces, hashed on the way; a size cap and an
overall deadline stop a runaway download. A conditional GET (``If-None-Match`` /
``If-Modified-Since``) lets the publisher answer 304 when nothing changed.

Every way a download can be incomplete is refused with one line naming the URL, before the
caller writes anything: an HTTP error status, a timeout, fewer bytes than ``Content-Length``
announced (a cut connection), an empty body, a body over the cap, and (when a zip is expected)
a body that is not a readable zip archive.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from ppstack.errors import BadInput, ServiceUnavailable
from ppstack.progress import Meter, NullMeter

PIECE = 1 << 20
DEFAULT_MAX_BYTES = 512 << 20  # FDA's ndctext.zip is ~30 MB; a 512 MiB body is not a delivery
DEFAULT_TIMEOUT = 60.0  # seconds without progress on the socket
DEFAULT_DEADLINE = 900.0  # seconds for the whole download
USER_AGENT = "ppstack-fetch/1 (+https://github.com/ppstack)"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Validators:
    """What the server said identifies the version it sent (for the next conditional GET)."""

    etag: str = ""
    last_modified: str = ""  # the header as sent, an HTTP-date

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out

    def modified_date(self) -> str | None:
        """UTC calendar date of Last-Modified (``YYYY-MM-DD``), or None when absent/unreadable."""
        if not self.last_modified:
            return None
        try:
            when = parsedate_to_datetime(self.last_modified)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP-date is GMT by definition
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC).date().isoformat()


@dataclass(frozen=True)
class Downloaded:
    """A complete body on disk. ``path`` lives until the ``download`` context exits."""

    url: str
    name: str  # file name the archive keeps: the last segment of the URL path
    path: Path
    size: int
    sha256: str
    validators: Validators

    def read(self) -> bytes:
        return self.path.read_bytes()


def file_name(url: str) -> str:
    name = os.path.basename(urlsplit(url).path)
    if not name:
        raise BadInput(f"{url}: the URL does not end in a file name")
    return name


@contextmanager
def download(url: str, *, since: Validators | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
             timeout: float = DEFAULT_TIMEOUT, deadline: float = DEFAULT_DEADLINE,
             expect_zip: bool | None = None, meter: Meter | None = None,
             tmp_dir: str | None = None) -> Iterator[Downloaded | None]:
    """Yield the downloaded body, or None when the server answered 304 Not Modified.

    ``expect_zip`` defaults to "the URL names a .zip". The temporary file is removed on exit.
    """
    name = file_name(url)
    if expect_zip is None:
        expect_zip = name.lower().endswith(".zip")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                                   **(since or Validators()).headers()})
    bar = meter or NullMeter()
    with tempfile.TemporaryDirectory(prefix="ppstack-fetch-", dir=tmp_dir) as tmp:
        path = Path(tmp) / name
        try:
            got = _fetch_to(request, url, path, max_bytes, timeout, deadline, bar)
        finally:
            bar.close()
        if got is None:
            yield None
            return
        size, digest, validators = got
        if size == 0:
            raise BadInput(f"{url}: the server sent an empty body; nothing was archived")
        if expect_zip:
            _check_zip(url, path)
        yield Downloaded(url, name, path, size, digest, validators)


def _fetch_to(request: urllib.request.Request, url: str, path: Path, max_bytes: int,
              timeout: float, deadline: float, bar: Meter
              ) -> tuple[int, str, Validators] | None:
    started = time.monotonic()
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https)
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return None
        kind = ServiceUnavailable if e.code >= 500 else BadInput
        raise kind(f"{url}: the server answered HTTP {e.code} {e.reason}; nothing was "
                   "archived") from None
    except TimeoutError:
        raise ServiceUnavailable(f"{url}: no answer within {timeout:g} s; nothing was "
                                 "archived") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ServiceUnavailable(f"{url}: cannot connect ({reason}); nothing was archived"
                                 ) from None
    with response:
        if response.status == 304:  # some handlers pass 304 through instead of raising
            return None
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        if expected is not None and expected > max_bytes:
            raise BadInput(f"{url}: announces {expected} bytes, over the {max_bytes}-byte cap; "
                           "nothing was archived")
        if expected:
            bar.total(expected)
        digest = hashlib.sha256()
        size = 0
        with path.open("wb") as out:
            while True:
                try:
                    piece = response.read(PIECE)
                except TimeoutError:
                    raise ServiceUnavailable(
                        f"{url}: the download stalled for {timeout:g} s after {size} bytes; "
                        "nothing was archived") from None
                except (OSError, ValueError, http.client.HTTPException) as e:
                    raise ServiceUnavailable(f"{url}: the connection broke after {size} bytes "
                                             f"({e}); nothing was archived") from None
                if not piece:
                    break
                size += len(piece)
                if size > max_bytes:
                    raise BadInput(f"{url}: the body exceeds the {max_bytes}-byte cap; nothing "
                                   "was archived")
                if time.monotonic() - started > deadline:
                    raise ServiceUnavailable(f"{url}: the download took over {deadline:g} s; "
                                             "nothing was archived")
                digest.update(piece)
                out.write(piece)
                bar.step(len(piece))
        if expected is not None and size != expected:
            raise ServiceUnavailable(f"{url}: truncated download, {size} of {expected} bytes "
                                     "arrived; nothing was archived")
        validators = Validators(etag=response.headers.get("ETag", "") or "",
                                last_modified=response.headers.get("Last-Modified", "") or "")
        return size, digest.hexdigest(), validators


def _check_zip(url: str, path: Path) -> None:
    """A complete zip: the local-file signature up front, a central directory, and every
    member's CRC-32 intact (``testzip`` reads each member)."""
    with path.open("rb") as f:
        if f.read(4) != _ZIP_MAGIC:
            raise BadInput(f"{url}: the body is not a zip archive (expected one for "
                           f"{path.name}); nothing was archived")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise BadInput(f"{url}: the zip archive is damaged or incomplete ({e}); nothing was "
                       "archived") from None
    if bad is not None:
        raise BadInput(f"{url}: member {bad} of the zip archive is corrupt (CRC mismatch); "
                       "nothing was archived")


def today_utc() -> str:
    return datetime.now(UTC).date().isoformat()
