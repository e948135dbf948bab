"""Start, find and stop the local DynamoDB API server (dynalite, from npm).

The server runs detached, bound to 127.0.0.1, persisting under ``$PPSTACK_HOME/dynamodb``; a pid
file next to it lets any later ppstack command reuse it. Readiness = a signed ListTables answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def running_endpoint(settings: Settings) -> str | None:
    pf = _pid_file(settings)
    if not pf.exists():
        return None
    try:
        info = json.loads(pf.read_text())
    except ValueError:
        return None
    if _alive(int(info["pid"])) and is_ready(info["url"]):
        return str(info["url"])
    return None


def ensure_running(settings: Settings, timeout: float = 20.0) -> str:
    """Return the endpoint of this home's dynalite, starting it when needed."""
    url = running_endpoint(settings)
    if url:
        return url
    port = int(settings.dynamodb_port)
    if not _port_free(port):
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
                f"dynalite exited with code {proc.returncode}; see {settings.home_path / 'dynamodb.log'}"
            )
        if is_ready(url):
            _pid_file(settings).write_text(json.dumps({"pid": proc.pid, "url": url}))
            return url
        time.sleep(0.05)
    proc.kill()
    raise ServiceUnavailable(f"dynalite did not answer on {url} within {timeout:.0f} s")


def stop(settings: Settings) -> bool:
    """Stop this home's dynalite if it runs; True when one was stopped."""
    pf = _pid_file(settings)
    if not pf.exists():
        return False
    info = json.loads(pf.read_text())
    pid = int(info["pid"])
    pf.unlink()
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.02)
    return True
