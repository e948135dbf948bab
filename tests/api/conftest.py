"""API fixtures: one table per worker loaded with the scenario once, proxy events from JSON."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ppstack.api import config
from ppstack.backends import make_dynamodb
from ppstack.serving.table import ensure_table
from ppstack.settings import Settings, load_settings

from .loader import Scenario, load_scenario

EVENTS = Path(__file__).resolve().parents[1] / "events"


@pytest.fixture(scope="session")
def api_settings(dynalite_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        backend="local",
        home=str(tmp_path_factory.mktemp("api-home")),
        dynamodb_endpoint=dynalite_endpoint,
        dynamodb_table=f"api-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture(scope="session")
def loaded(api_settings: Settings) -> tuple[Any, Scenario]:
    """The scenario loaded once per worker; tests only read it."""
    scenario = load_scenario(api_settings)  # the real pipeline, from archive to DynamoDB
    client = make_dynamodb(api_settings)
    ensure_table(client, api_settings.dynamodb_table)
    return client, scenario


@pytest.fixture
def scenario(loaded: tuple[Any, Scenario], api_settings: Settings) -> Iterator[Scenario]:
    """Handlers pointed at the loaded table for one test."""
    client, sc = loaded
    config.configure(table=api_settings.dynamodb_table, client=client)
    yield sc
    config.reset()


def load_event(name: str, *, path: dict[str, str] | None = None,
               query: dict[str, str] | None = None) -> dict[str, Any]:
    """A proxy event from tests/events/<name>.json with path/query parameters replaced."""
    event = copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
    if path is not None:
        event["pathParameters"] = path
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
