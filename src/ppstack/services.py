"""The local servers a home started: its DynamoDB server (dynalite) and any API server.

``ppstack services`` lists them and ``ppstack services stop`` stops them. The DynamoDB server
is known by its pid file (``serving.dynalite``); an API server registers itself with
``register`` while it runs (``$PPSTACK_HOME/services/api.<pid>.json``) and unregisters when it
stops. A registration whose process is gone is dropped when listed. Processes are stopped with
SIGTERM, which ``ppstack serve`` and ``ppstack demo`` turn into the same clean shutdown as
Ctrl-C (docs/operations.md#local-services).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ppstack.serving import dynalite
from ppstack.settings import Settings

DYNAMODB = "dynamodb"
API = "api"


@dataclass(frozen=True)
class Service:
    name: str  # dynamodb | api
    pid: int
    url: str
    users: tuple[int, ...] = ()  # pids of the commands using it (DynamoDB server)

    @property
    def port(self) -> int | None:
        return urlsplit(self.url).port

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "port": self.port, "users": list(self.users)}


def _folder(settings: Settings) -> Path:
    return settings.home_path / "services"


def register(settings: Settings, name: str, url: str) -> Callable[[], None]:
    """Record that this process serves ``name`` at ``url``; returns the unregister function."""
    folder = _folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{os.getpid()}.json"
    path.write_text(json.dumps({"name": name, "pid": os.getpid(), "url": url}))
    return lambda: path.unlink(missing_ok=True)


def list_services(settings: Settings) -> list[Service]:
    """The live local servers of this home, DynamoDB first."""
    out: list[Service] = []
    info = dynalite.server_info(settings)
    if info is not None:
        out.append(Service(DYNAMODB, int(str(info["pid"])), str(info["url"]),
                           tuple(dynalite.users(settings))))
    folder = _folder(settings)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
            service = Service(str(data["name"]), int(data["pid"]), str(data["url"]))
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if dynalite.alive(service.pid):
            out.append(service)
        else:
            path.unlink(missing_ok=True)
    return out


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not dynalite.alive(pid):
            return True
        time.sleep(0.05)
    return not dynalite.alive(pid)


def stop_services(settings: Settings, timeout: float = 10.0) -> list[Service]:
    """Stop every local server of this home: API servers first (they use DynamoDB), then the
    DynamoDB server. Returns what was stopped."""
    stopped = []
    services = list_services(settings)
    for service in [s for s in services if s.name != DYNAMODB]:
        if service.pid == os.getpid():
            continue  # never this very process
        try:
            os.kill(service.pid, signal.SIGTERM)
        except OSError:
            continue
        _wait_gone(service.pid, timeout)
        stopped.append(service)
    for service in [s for s in services if s.name == DYNAMODB]:
        # An API server that leased it may already have stopped it on its way out.
        if dynalite.stop(settings) or not dynalite.alive(service.pid):
            stopped.append(service)
    for path in _folder(settings).glob("*.json") if _folder(settings).is_dir() else []:
        path.unlink(missing_ok=True)
    return stopped
