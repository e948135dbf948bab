"""Token search over the serving table: parse, match, order, page. boto3 + stdlib only.

Semantics (DESIGN.md "5. API"):

- ``q`` is tokenized by ``keys.query_tokens`` (the sync's tokenizer rules); ``word*`` is a prefix
  match, other tokens are exact.
- An entity matches when every query token matches at least one of its search fields (AND).
  Each token costs one paginated Query on ``SEARCH#<ENTITY>`` with ``begins_with`` on the sort key,
  projecting only the key; a token with no match ends the search early.
- When ``q`` as a whole is a key in any accepted form (an NDC for DRUG), the entity with that key
  is added to the matches if it is current. Search covers current entities only, like the tokens.
- Results are ordered by ``entity_id`` ascending: the order is total, stable across pages and
  independent of which path (tokens or key) found an entity.
- ``total`` counts all matches; a page holds ``limit`` of them; ``next_cursor`` is opaque
  (URL-safe base64 of JSON: the last id shown and a hash of the parsed query, so a cursor only
  continues the query it came from) and ``null`` on the last page. Paging is by position after
  that id, not by offset, so a daily refresh between two pages neither repeats nor skips a drug
  that was there before and after it.
- Only the page's items are read, with one BatchGetItem.

Limits keep every query bounded: ``q`` at most 200 characters and 8 tokens, prefix tokens at
least 2 characters before ``*``. Breaking one is a 400, never a slow scan.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ppstack.api import service
from ppstack.entities import EntitySpec
from ppstack.errors import BadInput
from ppstack.serving.keys import (
    KEY_NORMALIZERS,
    parse_token_sk,
    query_tokens,
    search_pk,
    token_prefix,
)

MAX_Q_LENGTH = 200
MAX_TOKENS = 8
MIN_PREFIX_LENGTH = 2
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class ParsedQuery:
    q: str
    tokens: tuple[tuple[str, bool], ...]  # (token, prefix_match)
    key: str | None  # canonical entity id when q is itself a key (e.g. an NDC)

    @property
    def fingerprint(self) -> str:
        """Identifies the query a cursor belongs to (spelling variants of one query share it)."""
        raw = json.dumps([list(sorted(self.tokens)), self.key], separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def parse_query(spec: EntitySpec, q: str | None) -> ParsedQuery:
    if q is None or not q.strip():
        raise BadInput("q is required: words to search for, e.g. q=strattera or q=atomox*")
    if len(q) > MAX_Q_LENGTH:
        raise BadInput(f"q is {len(q)} characters long; at most {MAX_Q_LENGTH} are allowed")
    key = KEY_NORMALIZERS[spec.key_format](q)
    tokens = tuple(query_tokens(q))
    if len(tokens) > MAX_TOKENS:
        raise BadInput(f"q has {len(tokens)} search tokens; at most {MAX_TOKENS} are allowed")
    for tok, prefix in tokens:
        if prefix and len(tok) < MIN_PREFIX_LENGTH:
            raise BadInput(
                f"a prefix search needs at least {MIN_PREFIX_LENGTH} letters or digits before '*'"
            )
    if not tokens and key is None:
        raise BadInput(
            "q has no searchable word: words need 2+ letters or digits and common words "
            "('the', 'and', ...) are ignored"
        )
    return ParsedQuery(q=q, tokens=tokens, key=key)


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadInput(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:20]!r}")
    return int(raw)


def encode_cursor(after: str, query: ParsedQuery) -> str:
    raw = json.dumps({"a": after, "q": query.fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: ParsedQuery) -> str:
    """The last id of the previous page; BadInput for a damaged cursor or another query's cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        after, fp = data["a"], data["q"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise BadInput("cursor is not valid: pass next_cursor from the previous page unchanged") from None
    if not isinstance(after, str) or fp != query.fingerprint:
        raise BadInput("cursor belongs to a different query: repeat the same q to continue")
    return after


def token_matches(client: Any, table: str, spec: EntitySpec, token: str, prefix: bool) -> set[str]:
    """Entity ids with a search field matching one query token (all pages of one Query)."""
    ids: set[str] = set()
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :t)",
        "ExpressionAttributeValues": {
            ":pk": {"S": search_pk(spec.name)},
            ":t": {"S": token_prefix(token, prefix_match=prefix)},
        },
        "ProjectionExpression": "SK",
    }
    while True:
        resp = client.query(**kwargs)
        for item in resp.get("Items", []):
            ids.add(parse_token_sk(item["SK"]["S"])[3])
        if "LastEvaluatedKey" not in resp:
            return ids
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def matching_ids(client: Any, table: str, spec: EntitySpec, query: ParsedQuery) -> list[str]:
    """All matching entity ids, sorted ascending."""
    matched: set[str] | None = None
    for token, prefix in query.tokens:
        ids = token_matches(client, table, spec, token, prefix)
        matched = ids if matched is None else matched & ids
        if not matched:
            break
    result = matched or set()
    if query.key is not None and query.key not in result:
        found = service.batch_get_current(client, table, spec, [query.key]).get(query.key)
        if found is not None and found.get("is_current") is True:
            result = result | {query.key}
    return sorted(result)


def search(client: Any, table: str, spec: EntitySpec, q: str | None,
           limit: str | None = None, cursor: str | None = None) -> dict[str, Any]:
    query = parse_query(spec, q)
    page_size = parse_limit(limit)
    after = decode_cursor(cursor, query) if cursor else None
    ids = matching_ids(client, table, spec, query)
    start = bisect.bisect_right(ids, after) if after is not None else 0
    page = ids[start:start + page_size]
    items = service.batch_get_current(client, table, spec, page)
    more = start + page_size < len(ids)
    return {
        "query": q,
        "total": len(ids),
        "results": [items[i] for i in page if i in items],
        "next_cursor": encode_cursor(page[-1], query) if more and page else None,
    }
