"""Serving fixtures: fresh tables on the shared per-worker dynalite."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ppstack.backends import Runtime
from ppstack.serving.table import delete_table


@pytest.fixture
def new_runtime(runtime: Runtime) -> Iterator[Callable[..., Runtime]]:
    """Factory of Runtimes on a fresh table of the shared server (one per hypothesis example).

    ``client`` wraps or replaces the real boto3 client (e.g. a CountingClient around it).
    """
    made: list[str] = []

    def make(client: Any = None) -> Runtime:
        name = f"t-{uuid.uuid4().hex[:12]}"
        made.append(name)
        settings = runtime.settings.with_(dynamodb_table=name)
        return Runtime(settings, _dynamodb=client if client is not None else runtime.dynamodb)

    yield make
    for name in made:
        delete_table(runtime.dynamodb, name)
