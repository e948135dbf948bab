"""A loopback publisher for the fetch tests: ``http.server`` in a thread on 127.0.0.1 serving
the bundled extract as a zip, honouring or ignoring conditional GETs, or misbehaving on demand
(``Publisher.mode``)."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "ppstack" / "data" / "sample" / "fda_ndc"
LAST_MODIFIED = format_datetime(datetime(2019, 4, 29, 23, 30, tzinfo=UTC), usegmt=True)
ETAG = '"ndctext-1"'


def sample_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("product.txt", "package.txt"):
            z.writestr(name, (SAMPLE / name).read_bytes())
    return buf.getvalue()


class Publisher:
    """What the loopback server does for the next requests (tests change ``mode``)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.mode = "ok"
        self.requests: list[dict[str, str]] = []
        self.release = threading.Event()  # ends a "slow" response early at teardown


def _handler(pub: Publisher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, length: int | None = None,
                  validators: bool = True, content_type: str = "application/zip") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            if validators:
                self.send_header("ETag", ETAG)
                self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            pub.requests.append(dict(self.headers))
            mode = pub.mode
            if mode == "ok":
                if self.headers.get("If-None-Match") == ETAG:
                    self.send_response(304)
                    self.end_headers()
                    return
                self._send(200, pub.body)
            elif mode == "ignore_conditional":  # same bytes, no validators honoured or sent
                self._send(200, pub.body, validators=False)
            elif mode in ("404", "500"):
                self._send(int(mode), b"<html>nope</html>", content_type="text/html")
            elif mode == "truncated":  # announces the whole file, sends half, hangs up
                self._send(200, pub.body[: len(pub.body) // 2], length=len(pub.body))
                self.close_connection = True
            elif mode == "empty":
                self._send(200, b"")
            elif mode == "not_zip":
                self._send(200, b"<html><body>Service notice</body></html>" * 50,
                           content_type="text/html")
            elif mode == "slow":  # headers never come within the client's timeout
                pub.release.wait(10)

    return Handler


@contextmanager
def serving() -> Iterator[tuple[Publisher, str]]:
    pub = Publisher(sample_zip())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(pub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cder/ndctext.zip"
    yield pub, url
    pub.release.set()
    server.shutdown()
    server.server_close()
