"""``ppstack serve``'s HTTP adapter: routes, events, headers, logging."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ppstack.api import handlers, local_server
from ppstack.settings import Settings

from .loader import Scenario


@pytest.fixture(scope="module")
def server(loaded: tuple[Any, Scenario],
           api_settings: Settings) -> Iterator[tuple[str, io.StringIO]]:
    log = io.StringIO()
    base, shutdown = local_server.serve_in_thread(api_settings, port=0, log_stream=log)
    yield base, log
    shutdown()


def call(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_local_server_routes_equal_openapi_paths() -> None:
    doc = yaml.safe_load(local_server.openapi_document())
    assert [r for r, _ in handlers.ROUTES] == list(doc["paths"])


@pytest.mark.parametrize(
    ("path", "resource", "params"),
    [
        ("/drug/0002-3227-30", "/drug/{ndc}", {"ndc": "0002-3227-30"}),
        ("/drug/00002322730/history", "/drug/{ndc}/history", {"ndc": "00002322730"}),
        ("/drug/a%2Fb", "/drug/{ndc}", {"ndc": "a/b"}),
        ("/search/drug", "/search/drug", {}),
    ],
)
def test_local_server_match_extracts_path_parameters(path: str, resource: str,
                                                      params: dict) -> None:
    found = local_server.match(path)
    assert found is not None
    assert found[0] == resource and found[2] == params


@pytest.mark.parametrize("path", ["/drug", "/drug/", "/drug/x/y", "/search/drug/", "/nope"])
def test_local_server_match_unknown_is_none(path: str) -> None:
    assert local_server.match(path) is None


def test_local_server_build_event_is_rest_proxy_shape() -> None:
    event = local_server.build_event(
        "GET", "/search/drug", "q=atomox%2A+lilly&limit=5&q=strattera",
        [("Accept", "application/json")], "/search/drug", {}, "127.0.0.1")
    assert event["queryStringParameters"] == {"q": "strattera", "limit": "5"}
    assert event["multiValueQueryStringParameters"] == {"q": ["atomox* lilly", "strattera"],
                                                        "limit": ["5"]}
    assert event["pathParameters"] is None
    assert event["requestContext"]["resourcePath"] == "/search/drug"
    assert event["headers"] == {"Accept": "application/json"}
    assert {"resource", "path", "httpMethod", "multiValueHeaders", "stageVariables", "body",
            "isBase64Encoded"} <= set(event)


def test_local_server_get_drug_returns_json_with_headers(server: tuple[str, io.StringIO]) -> None:
    base, _ = server
    status, headers, data = call(f"{base}/drug/0002-3227-30")
    assert status == 200
    assert json.loads(data)["entity_id"] == "00002322730"
    assert headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Cache-Control"] == "public, max-age=300, must-revalidate"


def test_local_server_search_decodes_query_string(server: tuple[str, io.StringIO]) -> None:
    base, _ = server
    status, _, data = call(f"{base}/search/drug?q=atomox%2A+zydus&limit=3")
    assert status == 200
    result = json.loads(data)
    assert result["query"] == "atomox* zydus" and len(result["results"]) == 3


def test_local_server_serves_openapi_document(server: tuple[str, io.StringIO]) -> None:
    base, _ = server
    status, headers, data = call(f"{base}/openapi.yaml")
    assert status == 200 and "yaml" in headers["Content-Type"]
    assert yaml.safe_load(data)["openapi"].startswith("3.0")


def test_local_server_unknown_route_is_404_envelope(server: tuple[str, io.StringIO]) -> None:
    base, _ = server
    status, headers, data = call(f"{base}/no/such/route")
    assert status == 404
    assert json.loads(data)["error"]["code"] == "NOT_FOUND"
    assert headers["Content-Type"] == "application/json"


def test_local_server_other_methods_are_405(server: tuple[str, io.StringIO]) -> None:
    base, _ = server
    status, headers, data = call(f"{base}/drug/00002322730", method="DELETE")
    assert status == 405
    assert headers["Allow"] == "GET, OPTIONS"
    assert json.loads(data)["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_local_server_options_is_cors_preflight(server: tuple[str, io.StringIO]) -> None:
    base, _ = server
    status, headers, _ = call(f"{base}/search/drug", method="OPTIONS")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in headers["Access-Control-Allow-Methods"]


def test_local_server_logs_one_line_per_request(server: tuple[str, io.StringIO]) -> None:
    base, log = server
    log.seek(0)
    log.truncate()
    call(f"{base}/drug/00002322730")
    call(f"{base}/drug/bad")
    call(f"{base}/search/drug?q=strattera")
    lines = log.getvalue().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"GET /drug/00002322730 200 \d+\.\dms", lines[0])
    assert re.fullmatch(r"GET /drug/bad 400 \d+\.\dms", lines[1])
    assert lines[2].startswith("GET /search/drug?q=strattera 200 ")


def test_make_server_on_a_taken_port_is_a_clear_error() -> None:
    import socket

    from ppstack.api.local_server import make_server
    from ppstack.errors import BadInput

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(BadInput, match=f"cannot listen on 127.0.0.1:{port}"):
            make_server("127.0.0.1", port)
