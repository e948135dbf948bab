"""Fixtures for the local engine: a fresh engine per test and an ``athena`` runner.

``athena(sql)`` first checks that the statement parses as Athena SQL (sqlglot ``read="athena"``),
so every statement the tests send is one the AWS backend could also be given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_sql import Runner, parses_as_athena

from ppstack.engine.base import Result
from ppstack.engine.local import LocalEngine
from ppstack.settings import Settings


@pytest.fixture
def engine(offline_settings: Settings) -> Iterator[LocalEngine]:
    e = LocalEngine(offline_settings)
    yield e
    e.close()


@pytest.fixture
def athena(engine: LocalEngine) -> Runner:
    def run(sql: str) -> Result:
        parses_as_athena(sql)
        return engine.execute(sql)

    return run


@pytest.fixture
def bucket_dir(offline_settings: Settings) -> Path:
    """Where ``s3://<bucket>/`` lives on disk for this test."""
    return offline_settings.home_path / "s3" / offline_settings.bucket
