"""API Gateway proxy responses, and the one place errors become the error envelope.

Every response is JSON with CORS headers (the API is public and read-only, so any origin may read
it). Caching follows the data: the serving table changes once a day, so a 200 may be cached for
five minutes by browsers and CDNs and then revalidated; a 4xx only briefly (the data behind a 404
may appear with the next batch); a 5xx never.

Every 200 carries a strong ``ETag`` (a hash of the body): a client that sends it back in
``If-None-Match`` gets a 304 without a body while the data is unchanged, which is all day long.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ppstack.errors import PpstackError

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET,OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type,Accept,If-None-Match",
}
CACHE_OK = "public, max-age=300, must-revalidate"
CACHE_CLIENT_ERROR = "public, max-age=60"
CACHE_SERVER_ERROR = "no-store"


def cache_control(status: int) -> str:
    if status < 400:
        return CACHE_OK
    if status < 500:
        return CACHE_CLIENT_ERROR
    return CACHE_SERVER_ERROR


def etag(body: str) -> str:
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'


def header(event: dict[str, Any], name: str) -> str | None:
    """A request header, case-insensitively (API Gateway passes them as the client sent them)."""
    wanted = name.lower()
    for k, v in (event.get("headers") or {}).items():
        if k.lower() == wanted:
            return str(v)
    return None


def matches(if_none_match: str | None, tag: str) -> bool:
    """RFC 9110 If-None-Match: '*' or a list of (possibly weak, W/) tags, compared weakly."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return tag in tags


def text_response(status: int, body: str, content_type: str,
                  extra_headers: dict[str, str] | None = None,
                  if_none_match: str | None = None) -> dict[str, Any]:
    """A REST (v1) Lambda proxy response; a 200 gets an ETag, and a 304 when it matches."""
    headers = {
        "Content-Type": content_type,
        "Cache-Control": cache_control(status),
        **CORS_HEADERS,
        **(extra_headers or {}),
    }
    if status == 200:
        headers["ETag"] = etag(body)
        if matches(if_none_match, headers["ETag"]):
            status, body = 304, ""
            del headers["Content-Type"]
    return {
        "statusCode": status,
        "headers": headers,
        "multiValueHeaders": {},
        "body": body,
        "isBase64Encoded": False,
    }


def json_response(status: int, body: Any, extra_headers: dict[str, str] | None = None,
                  if_none_match: str | None = None) -> dict[str, Any]:
    """A REST (v1) Lambda proxy response carrying ``body`` as compact JSON."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return text_response(status, text, "application/json", extra_headers, if_none_match)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(exc: BaseException,
                   extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The error envelope for any exception; unknown exceptions never leak their text."""
    if isinstance(exc, PpstackError):
        status, code, message = exc.http_status, exc.code, str(exc) or exc.code
    else:
        status, code, message = 500, PpstackError.code, "internal error; the request was logged"
    return json_response(status, error_body(code, message), extra_headers)
