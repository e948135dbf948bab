"""Start, find and stop the local DynamoDB API server (dynalite, from npm).

The server runs detached, bound to 127.0.0.1, persisting under ``$PPSTACK_HOME/dynamodb``; a pid
file next to it lets any ppstack command of the same home find it. Readiness = a signed
ListTables answers.

Commands use the server through a ``Lease`` (``lease`` / ``Lease.release``): each command that
needs it registers itself under ``$PPSTACK_HOME/dynamodb.users/``, and when the last one leaves,
a server that a lease started is stopped. So a command that started the server only for its own
use stops it when it ends (``ppstack run``, ``demo --no-serve``, Ctrl-C on ``serve``), while a
server two commands share stays up until both are done. A user killed without releasing is
pruned by pid. Registration and the last-one-out check run under a file lock, so a command that
arrives while another leaves never finds the server stopping under it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ppstack.errors import ServiceUnavailable
from ppstack.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[3]

# dynalite keeps a table CREATING/DELETING for 500 ms by default to imitate AWS; nothing in
# ppstack depends on that delay (ensure_table waits for ACTIVE either way), and tests create a
# table per case, so the local server skips it.
TABLE_DELAYS = ("--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")


def find_dynalite() -> list[str]:
    """Command line that starts dynalite, or ServiceUnavailable saying how to install it."""
    node = shutil.which("node")
    if node is None:
        raise ServiceUnavailable(
            "Node.js is not installed: the local backend needs it for its DynamoDB server "
            "(dynalite). Install Node.js 18+ and run `make setup`, or set "
            "PPSTACK_DYNAMODB_ENDPOINT to another DynamoDB endpoint."
        )
    candidates = [os.environ.get("PPSTACK_DYNALITE", "")]
    for base in (Path.cwd(), PROJECT_ROOT):
        candidates.append(str(base / "node_modules" / "dynalite" / "cli.js"))
    for c in candidates:
        if c and Path(c).is_file():
            return [node, c]
    on_path = shutil.which("dynalite")
    if on_path:
        return [on_path]
    raise ServiceUnavailable(
        "dynalite is not installed: run `make setup` (npm ci) in the ppstack checkout, or set "
        "PPSTACK_DYNALITE to its cli.js, or PPSTACK_DYNAMODB_ENDPOINT to another endpoint."
    )


def _state_dir(settings: Settings) -> Path:
    return settings.home_path / "dynamodb"


def _pid_file(settings: Settings) -> Path:
    return settings.home_path / "dynamodb.pid.json"


def _users_dir(settings: Settings) -> Path:
    return settings.home_path / "dynamodb.users"


def endpoint_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def is_ready(url: str, timeout: float = 0.5) -> bool:
    """True when a DynamoDB API answers at ``url`` (any JSON reply to ListTables counts)."""
    req = urllib.request.Request(
        url,
        data=b"{}",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500  # 400 MissingAuthenticationToken still proves it is dynalite
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (and is not a zombie waiting for its parent)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def server_info(settings: Settings) -> dict[str, object] | None:
    """The pid file's content (pid, url, leased) when its server process is alive."""
    try:
        info = json.loads(_pid_file(settings).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and alive(int(info.get("pid", 0))) else None


def running_endpoint(settings: Settings) -> str | None:
    info = server_info(settings)
    if info is not None and is_ready(str(info["url"])):
        return str(info["url"])
    return None


def ensure_running(settings: Settings, timeout: float = 20.0, *, leased: bool = False) -> str:
    """Return the endpoint of this home's dynalite, starting it when needed.

    ``leased``: a server started now is stopped when its last lease is released (``lease``);
    otherwise it runs until ``stop`` (tests and benchmarks that share one server).
    """
    url = running_endpoint(settings)
    if url:
        return url
    port = int(settings.dynamodb_port)
    if port == 0 or not _port_free(port):  # 0: any free port
        # Another home's dynalite (or anything else) holds the port. Never share it: its tables
        # are another home's data. Take a free port instead; the pid file remembers it.
        port = _free_port()
    url = endpoint_url(port)
    cmd = find_dynalite()
    state = _state_dir(settings)
    state.mkdir(parents=True, exist_ok=True)
    log = open(settings.home_path / "dynamodb.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "--port", str(port), "--path", str(state), *TABLE_DELAYS],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceUnavailable(
                f"dynalite exited with code {proc.returncode}; see "
                f"{settings.home_path / 'dynamodb.log'}"
            )
        if is_ready(url):
            _pid_file(settings).write_text(json.dumps({"pid": proc.pid, "url": url,
                                                       "leased": leased}))
            return url
        time.sleep(0.05)
    proc.kill()
    raise ServiceUnavailable(f"dynalite did not answer on {url} within {timeout:.0f} s")


def stop(settings: Settings) -> bool:
    """Stop this home's dynalite if it runs; True when one was stopped."""
    pf = _pid_file(settings)
    if not pf.exists():
        return False
    try:
        info = json.loads(pf.read_text())
    except ValueError:
        info = {}
    pf.unlink(missing_ok=True)
    pid = int(info.get("pid", 0))
    if not pid or not alive(pid) or not _is_dynalite(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(250):
        if not alive(pid):
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
    return True


def _is_dynalite(pid: int) -> bool:
    """Whether ``pid`` still is a dynalite process (a recycled pid must never be signalled)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid file, as before
    return b"dynalite" in cmdline


@contextlib.contextmanager
def _home_lock(settings: Settings) -> Iterator[None]:
    settings.home_path.mkdir(parents=True, exist_ok=True)
    with open(settings.home_path / "dynamodb.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def users(settings: Settings) -> list[int]:
    """Pids of the live commands holding a lease on this home's server (dead ones pruned)."""
    folder = _users_dir(settings)
    out = []
    for f in sorted(folder.glob("*")) if folder.is_dir() else []:
        try:
            pid = int(f.name.split(".", 1)[0])
        except ValueError:
            pid = 0
        if pid and alive(pid):
            out.append(pid)
        else:
            f.unlink(missing_ok=True)
    return out


@dataclass
class Lease:
    """One command's use of this home's DynamoDB server; ``release`` when done."""

    settings: Settings
    url: str
    token: Path
    started: bool  # this lease started the server

    def release(self) -> bool:
        """Leave; stop the server when it was started by a lease and nobody else uses it.
        True when the server was stopped."""
        with _home_lock(self.settings):
            self.token.unlink(missing_ok=True)
            info = server_info(self.settings)
            if info is None or not info.get("leased") or users(self.settings):
                return False
            return stop(self.settings)


def lease(settings: Settings, timeout: float = 20.0) -> Lease:
    """Use this home's DynamoDB server, starting it when needed (see the module docstring)."""
    with _home_lock(settings):
        started = running_endpoint(settings) is None
        url = ensure_running(settings, timeout, leased=True)
        folder = _users_dir(settings)
        folder.mkdir(exist_ok=True)
        token = folder / f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
        token.write_text(url)
    return Lease(settings, url, token, started)
