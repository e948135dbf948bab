"""Property-based conformance: schemathesis drives ``ppstack serve`` from the OpenAPI document.

Bounded (25 examples per operation, no deadline) so it stays well under a minute. Checks: no 5xx,
status codes, content types, headers and bodies as the document declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ppstack.api import local_server
from ppstack.settings import Settings

from .loader import Scenario

OPENAPI = resources.files("ppstack.api").joinpath("openapi.yaml")
schema = schemathesis.openapi.from_path(str(OPENAPI))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def base_url(loaded: tuple[Any, Scenario], api_settings: Settings) -> Iterator[str]:
    base, shutdown = local_server.serve_in_thread(api_settings, port=0, log_stream=_Null())
    yield base
    shutdown()


class _Null:
    def write(self, _: str) -> None:
        pass

    def flush(self) -> None:
        pass


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS)
