"""``ppstack serve``: the Lambda handlers behind a small local HTTP server (stdlib only).

Each request becomes the REST (v1) proxy event API Gateway would send, the same handler runs, and
its proxy response is written back, so what works here works behind API Gateway. Routes are
``handlers.ROUTES`` (the OpenAPI paths; a test holds them equal). Also served: the OpenAPI
document at ``/openapi.yaml``, 204 CORS preflight answers like the API Gateway mock integration,
the error envelope for unknown routes (404) and other methods (405). One line per request goes to
stderr: method, path, status, milliseconds. Connections are served by a bounded worker pool
with timeouts (``api.pool_server``).
"""

from __future__ import annotations

import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ppstack.api import config, handlers
from ppstack.api.pool_server import PooledHTTPServer
from ppstack.api.responses import CORS_HEADERS, error_response
from ppstack.backends import Runtime
from ppstack.errors import BadInput, NotFound, PpstackError

ALLOWED_METHODS = "GET, OPTIONS"


class MethodNotAllowed(PpstackError):
    http_status = 405
    code = "METHOD_NOT_ALLOWED"


def openapi_document() -> bytes:
    return resources.files("ppstack.api").joinpath("openapi.yaml").read_bytes()


def _compile(resource: str) -> re.Pattern[str]:
    """'/drug/{ndc}/history' -> a regex with one named group per path parameter (one segment)."""
    parts = re.split(r"\{(\w+)\}", resource)
    rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(f"^{rx}$")


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Reply = tuple[int, dict[str, str], bytes]
COMPILED: tuple[tuple[re.Pattern[str], str, Handler], ...] = tuple(
    (_compile(resource), resource, handler) for resource, handler in handlers.ROUTES
)


def match(path: str) -> tuple[str, Handler, dict[str, str]] | None:
    """(resource, handler, decoded path parameters) for a raw request path, or None."""
    for rx, resource, handler in COMPILED:
        m = rx.match(path)
        if m:
            return resource, handler, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


def build_event(method: str, raw_path: str, query: str, headers: list[tuple[str, str]],
                resource: str, path_params: dict[str, str], source_ip: str) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event for one request."""
    single_h: dict[str, str] = {}
    multi_h: dict[str, list[str]] = {}
    for k, v in headers:
        single_h[k] = v
        multi_h.setdefault(k, []).append(v)
    pairs = parse_qsl(query, keep_blank_values=True)
    single_q: dict[str, str] = {}
    multi_q: dict[str, list[str]] = {}
    for k, v in pairs:
        single_q[k] = v  # API Gateway keeps the last value
        multi_q.setdefault(k, []).append(v)
    path = unquote(raw_path)
    now = time.time()
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_h or None,
        "multiValueHeaders": multi_h or None,
        "queryStringParameters": single_q or None,
        "multiValueQueryStringParameters": multi_q or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": source_ip},
            "protocol": "HTTP/1.1",
        },
        "body": None,
        "isBase64Encoded": False,
    }


class _Context:
    """The few LambdaContext attributes a handler might log."""

    function_name = "ppstack-local"
    memory_limit_in_mb = 0

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


class ApiRequestHandler(BaseHTTPRequestHandler):
    server_version = "ppstack-serve"
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway clients get
    # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed ACK
    # would stall every response by ~40 ms.
    disable_nagle_algorithm = True
    log_stream: IO[str] | None = None  # None = sys.stderr at write time

    def _dispatch(self, method: str) -> None:
        """Answer, log the line, then write: the log line exists before the client sees a reply."""
        started = time.perf_counter()
        try:
            status, headers, body = self._answer(method)
        except Exception:  # noqa: BLE001 - handlers catch everything; this guards the adapter
            status, headers, body = self._proxy(error_response(RuntimeError()))
        ms = (time.perf_counter() - started) * 1000
        stream = self.log_stream or sys.stderr
        stream.write(f"{method} {self.path} {status} {ms:.1f}ms\n")
        stream.flush()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD" and status != 204:
            self.wfile.write(body)

    def _answer(self, method: str) -> Reply:
        split = urlsplit(self.path)
        if split.path == "/openapi.yaml":
            if method not in ("GET", "HEAD"):
                refused = MethodNotAllowed(f"{method} is not allowed here")
                return self._proxy(error_response(refused), allow="GET, HEAD")
            return 200, {"Content-Type": "application/yaml"}, openapi_document()
        found = match(split.path)
        if found is None:
            return self._proxy(error_response(NotFound(f"no route for {split.path[:200]}; "
                                                       "see /openapi.yaml")))
        resource, handler, params = found
        if method == "OPTIONS":
            return 204, dict(CORS_HEADERS), b""
        if method != "GET":
            return self._proxy(error_response(MethodNotAllowed(f"{method} is not allowed on "
                                                               f"{resource}")),
                               allow=ALLOWED_METHODS)
        event = build_event(method, split.path, split.query, list(self.headers.items()),
                            resource, params, self.client_address[0])
        response = handler(event, _Context(event["requestContext"]["requestId"]))
        return self._proxy(response)

    @staticmethod
    def _proxy(response: dict[str, Any], allow: str | None = None) -> Reply:
        headers = dict(response.get("headers") or {})
        for k, values in (response.get("multiValueHeaders") or {}).items():
            headers[k] = ", ".join(values)
        if allow:
            headers["Allow"] = allow
        body = response.get("body") or ""
        return int(response["statusCode"]), headers, body.encode("utf-8")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._dispatch("OPTIONS")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def __getattr__(self, name: str) -> Any:
        """Any other method (POST, DELETE, even QUERY or BREW) gets the 405 envelope, never a
        501."""
        if name.startswith("do_"):
            method = name[3:]

            def answer() -> None:
                self._discard_body()
                self._dispatch(method)

            return answer
        raise AttributeError(name)

    def _discard_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence http.server's own access log: ``_dispatch`` writes the one line per request."""


def prepare(rt: Runtime) -> str:
    """Ensure the table (starting the local DynamoDB server if needed) and point the handlers
    at it. Returns where DynamoDB is, for messages. The server stays in use until ``rt`` is
    closed."""
    from ppstack.serving.table import ensure_table

    ensure_table(rt.dynamodb, rt.settings.dynamodb_table)
    config.configure(table=rt.settings.dynamodb_table, client=rt.dynamodb)
    return rt.dynamodb_url


def make_server(host: str, port: int, log_stream: IO[str] | None = None,
                **pool: Any) -> PooledHTTPServer:
    """The API on ``host:port`` with a bounded worker pool (``api.pool_server``; ``pool`` may
    set workers, request_timeout, idle_timeout, max_connections)."""
    handler = type("BoundApiRequestHandler", (ApiRequestHandler,), {"log_stream": log_stream})
    try:
        return PooledHTTPServer((host, port), handler, **pool)
    except OSError as e:  # e.g. the port is taken: say so instead of a traceback
        raise BadInput(f"cannot listen on {host}:{port} ({e.strerror or e}); "
                       "choose another one with --port") from None


def serve_in_thread(settings: Any, port: int = 0, host: str = "127.0.0.1",
                    log_stream: IO[str] | None = None, *, runtime: Runtime | None = None,
                    **pool: Any) -> tuple[str, Callable[[], None]]:
    """Serve in a background thread (tests, bench, demo): returns (base URL, shutdown).

    With ``runtime`` the caller's DynamoDB connection is used (and stays the caller's to
    close); else the server opens its own and ``shutdown`` closes it."""
    rt = runtime or Runtime(settings)
    try:
        prepare(rt)
        server = make_server(host, port, log_stream, **pool)
    except BaseException:
        if runtime is None:
            rt.close()
        raise
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="ppstack-serve", daemon=True)
    thread.start()

    def shutdown() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if runtime is None:
            rt.close()

    return f"http://{host}:{server.server_address[1]}", shutdown
