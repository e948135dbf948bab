"""API Gateway proxy responses, and the one place errors become the error envelope.

Every response is JSON with CORS headers (the API is public and read-only, so any origin may read
it). Caching follows the data: the serving table changes once a day, so a 200 may be cached for
five minutes by browsers and CDNs; a 4xx only briefly (the data behind a 404 may appear with the
next batch); a 5xx never.
"""

from __future__ import annotations

import json
from typing import Any

from ppstack.errors import PpstackError

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET,OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type,Accept,If-None-Match",
}
CACHE_OK = "public, max-age=300"
CACHE_CLIENT_ERROR = "public, max-age=60"
CACHE_SERVER_ERROR = "no-store"


def cache_control(status: int) -> str:
    if status < 400:
        return CACHE_OK
    if status < 500:
        return CACHE_CLIENT_ERROR
    return CACHE_SERVER_ERROR


def json_response(status: int, body: Any, extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A REST (v1) Lambda proxy response carrying ``body`` as compact JSON."""
    headers = {
        "Content-Type": "application/json",
        "Cache-Control": cache_control(status),
        **CORS_HEADERS,
        **(extra_headers or {}),
    }
    return {
        "statusCode": status,
        "headers": headers,
        "multiValueHeaders": {},
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(exc: BaseException, extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The error envelope for any exception; unknown exceptions never leak their text."""
    if isinstance(exc, PpstackError):
        status, code, message = exc.http_status, exc.code, str(exc) or exc.code
    else:
        status, code, message = 500, PpstackError.code, "internal error; the request was logged"
    return json_response(status, error_body(code, message), extra_headers)
