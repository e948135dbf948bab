"""Handler configuration: the table name and one boto3 client per process.

Lambda reuses a process for many invocations, so the environment is read once and the client is
created once, lazily, on the first request (an import stays cheap and never touches the network).
The local server and the tests call ``configure`` instead of setting environment variables.
Environment variable names come from ``ppstack.settings.ENV`` so the CDK stack and this module
cannot drift apart.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from ppstack.settings import ENV, SETTINGS

_DEFAULTS = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True)
class ApiConfig:
    table: str
    endpoint: str | None
    region: str


def config_from_env(environ: dict[str, str] | None = None) -> ApiConfig:
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return env.get(ENV[name], _DEFAULTS[name])

    return ApiConfig(
        table=get("dynamodb_table"),
        endpoint=get("dynamodb_endpoint") or None,
        region=get("region"),
    )


_lock = threading.Lock()
_config: ApiConfig | None = None
_client: Any = None


def configure(*, table: str | None = None, client: Any = None,
              endpoint: str | None = None, region: str | None = None) -> ApiConfig:
    """Pin the table and/or client for this process (local server, tests); returns the config."""
    global _config, _client
    with _lock:
        base = _config or config_from_env()
        _config = ApiConfig(
            table=table or base.table,
            endpoint=endpoint if endpoint is not None else base.endpoint,
            region=region or base.region,
        )
        _client = client
    return _config


def reset() -> None:
    """Forget the configuration and client (tests)."""
    global _config, _client
    with _lock:
        _config = None
        _client = None


def get_config() -> ApiConfig:
    global _config
    if _config is None:
        with _lock:
            if _config is None:
                _config = config_from_env()
    return _config


def get_client() -> Any:
    """The process-wide low-level DynamoDB client, created on first use."""
    global _client
    if _client is None:
        cfg = get_config()
        with _lock:
            if _client is None:
                _client = _make_client(cfg)
    return _client


def _make_client(cfg: ApiConfig) -> Any:
    from ppstack.serving.client import make_client

    return make_client(cfg.region, cfg.endpoint, fail_fast=True)
