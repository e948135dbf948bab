"""Fixtures of the pipeline tests: a local runtime with the staging table, no DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pipeline_support import bootstrap_staging

from ppstack.backends import Runtime
from ppstack.settings import Settings


@pytest.fixture
def rt(offline_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(offline_settings)
    bootstrap_staging(runtime)
    yield runtime
    runtime.close()
