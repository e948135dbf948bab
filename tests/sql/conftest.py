"""A local engine without DynamoDB, for tests that evaluate cut-out template expressions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ppstack.engine.local import LocalEngine
from ppstack.settings import load_settings


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    home = tmp_path_factory.mktemp("sql-home")
    eng = LocalEngine(load_settings(backend="local", home=str(home),
                                    dynamodb_endpoint="http://127.0.0.1:9"))
    yield eng
    eng.close()
