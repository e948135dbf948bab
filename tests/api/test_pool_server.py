"""``ppstack serve``'s server core: a bounded worker pool that slow, idle or half-open clients
cannot hold. Served route: ``/openapi.yaml`` (needs no DynamoDB). No assertion depends on how
fast anything is: the timeouts under test are short, the clients wait far longer."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ppstack.api.local_server import make_server
from ppstack.api.pool_server import PooledHTTPServer

REQUEST = b"GET /openapi.yaml HTTP/1.1\r\nHost: test\r\n\r\n"
PATIENCE = 30.0  # seconds a test client waits for the server before the test fails


@contextmanager
def running(**pool: float) -> Iterator[PooledHTTPServer]:
    server = make_server("127.0.0.1", 0, io.StringIO(), **pool)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=PATIENCE)


def connect(server: PooledHTTPServer) -> socket.socket:
    sock = socket.create_connection(server.server_address[:2], timeout=PATIENCE)
    return sock


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line, body) of the next response on ``sock``; bytes of later (pipelined)
    responses stay in the socket's buffer for the next call."""
    reader = _readers.setdefault(sock, sock.makefile("rb"))
    status = reader.readline().rstrip(b"\r\n")
    assert status, "connection closed before a response"
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, reader.read(length)


_readers: dict[socket.socket, Any] = {}


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed ``sock`` (EOF), waiting at most PATIENCE seconds."""
    try:
        reader = _readers.get(sock)
        return (reader.read(1) if reader is not None else sock.recv(1)) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_half_open_client_times_out_and_frees_the_only_worker() -> None:
    with running(workers=1, request_timeout=0.3, idle_timeout=60) as server:
        stuck = connect(server)
        stuck.sendall(b"GET /openapi.yaml HTTP/1.1\r\nHost: te")  # never finishes its request
        with connect(server) as other:
            other.sendall(REQUEST)
            # one worker: this answer comes only after the stuck request gave up its worker
            status, body = read_response(other)
        assert status == b"HTTP/1.1 200 OK" and body.startswith(b"openapi:")
        assert closed_by_server(stuck)
        stuck.close()


def test_an_idle_keep_alive_connection_holds_no_worker_and_is_closed_when_idle() -> None:
    with running(workers=1, request_timeout=60, idle_timeout=0.3) as server:
        idle = connect(server)
        idle.sendall(REQUEST)
        assert read_response(idle)[0] == b"HTTP/1.1 200 OK"  # now idle, kept alive
        with connect(server) as other:
            other.sendall(REQUEST)
            assert read_response(other)[0] == b"HTTP/1.1 200 OK"
        assert closed_by_server(idle)
        idle.close()


def test_keep_alive_and_pipelined_requests_are_all_answered_in_order() -> None:
    with running(workers=2) as server, connect(server) as sock:
        sock.sendall(REQUEST)
        assert read_response(sock)[0] == b"HTTP/1.1 200 OK"
        sock.sendall(REQUEST + b"GET /nowhere HTTP/1.1\r\nHost: test\r\n\r\n" + REQUEST)
        assert [read_response(sock)[0] for _ in range(3)] == [
            b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 200 OK"]


def test_a_client_over_the_connection_limit_gets_503_not_a_queue() -> None:
    with running(workers=1, max_connections=1, idle_timeout=60) as server:
        first = connect(server)
        first.sendall(REQUEST)
        assert read_response(first)[0] == b"HTTP/1.1 200 OK"
        with connect(server) as second:
            status, body = read_response(second)
            assert status == b"HTTP/1.1 503 Service Unavailable" and b"BUSY" in body
            assert closed_by_server(second)
        first.close()


def test_http_1_0_clients_are_answered_and_closed() -> None:
    with running(workers=1) as server, connect(server) as sock:
        sock.sendall(b"GET /openapi.yaml HTTP/1.0\r\n\r\n")
        assert read_response(sock)[0] == b"HTTP/1.1 200 OK"
        assert closed_by_server(sock)
