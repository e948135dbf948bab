"""An HTTP/1.1 server core with a bounded worker pool, for ``ppstack serve`` (stdlib only).

``http.server.ThreadingHTTPServer`` starts one thread per connection, keeps it for the life of
a keep-alive connection and listens with a backlog of 5: under 32 concurrent clients new
connections wait in (or overflow) that backlog while idle keep-alive connections hold threads,
and a client that connects and never finishes its request holds a thread forever.

Here a connection holds a worker only while one request is read and answered:

- the listening socket has a backlog of ``BACKLOG`` connections;
- an accepted connection waits in a selector (one poller thread) until it has bytes to read;
  then one of ``WORKERS`` threads reads ONE request, answers it and hands the connection back
  to the poller (keep-alive) or closes it;
- reading a request must finish within ``REQUEST_TIMEOUT`` seconds (a slow or half-open client
  is disconnected and frees its worker), and a keep-alive connection idle for ``IDLE_TIMEOUT``
  seconds is closed by the poller;
- at most ``MAX_CONNECTIONS`` connections are open; beyond that a new connection gets a 503 and
  is closed at once rather than queueing without bound.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

WORKERS = 16  # threads answering requests (the handlers mostly wait on DynamoDB)
BACKLOG = 128  # listen(2) backlog: connections the kernel queues before accept
REQUEST_TIMEOUT = 10.0  # seconds to receive one whole request once its first byte arrived
IDLE_TIMEOUT = 15.0  # seconds a keep-alive connection may wait for its next request
MAX_CONNECTIONS = 512  # open connections (idle ones cost a file descriptor, not a thread)

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Connection: close\r\nContent-Length: 58\r\n\r\n"
         b'{"error": {"code": "BUSY", "message": "too many clients"}}')


def _setup_only(self: BaseHTTPRequestHandler, request: Any, client_address: Any,
                server: Any) -> None:
    """``__init__`` of a handler that reads one request per call of ``handle_one_request``
    (BaseRequestHandler's own ``__init__`` serves the whole connection at once)."""
    self.request, self.client_address, self.server = request, client_address, server
    self.setup()  # socket timeout (the class's ``timeout``), Nagle, rfile / wfile


class _Connection:
    """One accepted socket and its request handler, which reads one request per turn."""

    def __init__(self, server: PooledHTTPServer, sock: socket.socket, address: Any) -> None:
        self.sock = sock
        self.idle_since = time.monotonic()
        self.handler: BaseHTTPRequestHandler = server.turn_handler(sock, address, server)

    def serve_one(self) -> bool:
        """Answer one request; True when the connection stays open for another."""
        handler = self.handler
        handler.close_connection = True
        handler.handle_one_request()  # a read timeout closes the connection (http.server)
        with contextlib.suppress(OSError):
            handler.wfile.flush()
        return not handler.close_connection

    def has_buffered_request(self) -> bool:
        """Bytes of a pipelined request already read into the buffer (the selector would not
        see them), checked without blocking."""
        try:
            self.sock.setblocking(False)
            return bool(self.handler.rfile.peek(1))  # type: ignore[attr-defined]
        except (BlockingIOError, OSError, ValueError):
            return False
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(self.handler.timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.handler.finish()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


class PooledHTTPServer(HTTPServer):
    """``HTTPServer`` whose ``serve_forever`` thread only accepts; see the module docstring."""

    allow_reuse_address = True
    daemon_threads = True  # kept for callers that set it on ThreadingHTTPServer
    request_queue_size = BACKLOG

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *,
                 workers: int = WORKERS, request_timeout: float = REQUEST_TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        super().__init__(address, handler)
        # The same handler class, built once per connection without serving it, with
        # ``timeout`` (socket timeout for every read and write) = request_timeout.
        self.turn_handler: Any = type(f"Pooled{handler.__name__}", (handler,),
                                      {"__init__": _setup_only, "timeout": request_timeout})
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._open: set[_Connection] = set()
        self._open_lock = threading.Lock()
        self._ready: queue.SimpleQueue[_Connection | None] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._incoming: queue.SimpleQueue[_Connection] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._poll, name="ppstack-serve-poll",
                                          daemon=True)]
        self._threads += [threading.Thread(target=self._work, name=f"ppstack-serve-{i}",
                                           daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    # ---- accepting (the serve_forever thread) ----
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            full = len(self._open) >= self.max_connections
        if full:
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        try:
            conn = _Connection(self, request, client_address)
        except OSError:
            self.shutdown_request(request)
            return
        with self._open_lock:
            self._open.add(conn)
        self._park(conn)

    # ---- waiting for the next request (the poller thread) ----
    def _park(self, conn: _Connection) -> None:
        """Hand a connection to the poller until its next request arrives."""
        conn.idle_since = time.monotonic()
        self._incoming.put(conn)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _poll(self) -> None:
        while not self._stopping.is_set():
            for key, _events in self._selector.select(timeout=min(1.0, self.idle_timeout)):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                self._selector.unregister(key.fileobj)
                self._ready.put(key.data)
            while True:
                try:
                    conn = self._incoming.get_nowait()
                except queue.Empty:
                    break
                try:
                    self._selector.register(conn.sock, selectors.EVENT_READ, conn)
                except (ValueError, OSError):  # closed meanwhile
                    self._drop(conn)
            self._close_idle()

    def _close_idle(self) -> None:
        deadline = time.monotonic() - self.idle_timeout
        for key in list(self._selector.get_map().values()):
            conn = key.data
            if conn is not None and conn.idle_since < deadline:
                self._selector.unregister(key.fileobj)
                self._drop(conn)

    # ---- answering (the workers) ----
    def _work(self) -> None:
        while True:
            conn = self._ready.get()
            if conn is None:
                return
            try:
                keep = conn.serve_one()
                while keep and conn.has_buffered_request():
                    keep = conn.serve_one()
            except Exception:  # noqa: BLE001 - a broken connection must not kill the worker
                keep = False
            if keep and not self._stopping.is_set():
                self._park(conn)
            else:
                self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        with self._open_lock:
            self._open.discard(conn)
        conn.close()

    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def server_close(self) -> None:
        """Close the listening socket, every open connection and stop the threads."""
        super().server_close()
        if not hasattr(self, "_stopping") or self._stopping.is_set():  # bind failed / closed
            return
        self._stopping.set()
        with self._open_lock:
            conns = list(self._open)
            self._open.clear()
        for conn in conns:  # also wakes a worker blocked reading a slow client
            conn.close()
        for _ in self._threads[1:]:
            self._ready.put(None)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        for t in self._threads:
            t.join(timeout=5)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
