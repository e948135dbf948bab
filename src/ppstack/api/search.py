"""Token search over the serving table: parse, match, order, page. boto3 + stdlib only.

Semantics (docs/api.md#search):

- ``q`` is tokenized by ``keys.query_tokens`` (the sync's tokenizer rules); ``word*`` is a prefix
  match, other tokens are exact.
- An entity matches when every query token matches at least one of its search fields (AND).
  Each token is probed with one Query page on ``SEARCH#<ENTITY>`` (``begins_with`` on the sort key,
  key only). Tokens whose matches fit that page are exact sets and are intersected first; a
  broad exact token (e.g. ``inc``, tens of thousands of drugs) is then not read at all when the
  candidates are few: each candidate is checked with BatchGetItem on the token's exact keys
  (``token#<t>#<field>#<ENTITY>#<id>``, one per search field). Otherwise, and always for a
  prefix token, its Query is read to the end. When no token fits its probe, all are read side
  by side until the smallest is complete. A token with no match ends the search early.
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
    token_sk,
)
from ppstack.serving.retry import batch_get

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


PROBE_ITEMS = 500  # items read per token before deciding how to evaluate it
VERIFY_KEYS = 300  # at most this many exact-key lookups replace reading a broad token's Query


@dataclass
class TokenScan:
    """One query token's Query, read page by page; ``ids`` is exact once ``done``."""

    token: str
    prefix: bool
    ids: set[str]
    next_key: dict[str, Any] | None

    @property
    def done(self) -> bool:
        return self.next_key is None


def _query_page(client: Any, table: str, spec: EntitySpec, scan: TokenScan | None,
                token: str, prefix: bool, limit: int | None) -> TokenScan:
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :t)",
        "ExpressionAttributeValues": {
            ":pk": {"S": search_pk(spec.name)},
            ":t": {"S": token_prefix(token, prefix_match=prefix)},
        },
        "ProjectionExpression": "SK",
    }
    if limit is not None:
        kwargs["Limit"] = limit
    if scan is not None and scan.next_key is not None:
        kwargs["ExclusiveStartKey"] = scan.next_key
    resp = client.query(**kwargs)
    ids = {parse_token_sk(item["SK"]["S"])[3] for item in resp.get("Items", [])}
    if scan is not None:
        ids |= scan.ids
    return TokenScan(token, prefix, ids, resp.get("LastEvaluatedKey"))


def _finish(client: Any, table: str, spec: EntitySpec, scan: TokenScan) -> set[str]:
    """Read the rest of a token's Query: its exact set of entity ids."""
    while not scan.done:
        scan = _query_page(client, table, spec, scan, scan.token, scan.prefix, None)
    return scan.ids


def _having_token(client: Any, table: str, spec: EntitySpec, token: str,
                  candidates: set[str]) -> set[str]:
    """The candidates that have ``token`` (exact) in a search field: BatchGetItem on exact keys."""
    keys = [{"PK": {"S": search_pk(spec.name)},
             "SK": {"S": token_sk(token, field, spec.name, entity_id)}}
            for entity_id in sorted(candidates) for field in spec.search_fields]
    items = batch_get(client, table, keys, projection="SK", backoff=service.API_BACKOFF)
    return {parse_token_sk(item["SK"]["S"])[3] for item in items}


def matching_ids(client: Any, table: str, spec: EntitySpec, query: ParsedQuery) -> list[str]:
    """All matching entity ids, sorted ascending (exact AND, read as little as possible)."""
    scans: list[TokenScan] = []
    for token, prefix in query.tokens:
        scan = _query_page(client, table, spec, None, token, prefix, PROBE_ITEMS)
        if scan.done and not scan.ids:
            scans = []
            break  # one token without a match: nothing can match all of them
        scans.append(scan)
    # No token fitted its probe: read all of them side by side, page by page, until the
    # smallest one is complete (cost ~ tokens x its size, not the size of the broadest one).
    while scans and not any(s.done for s in scans):
        scans = [_query_page(client, table, spec, s, s.token, s.prefix, PROBE_ITEMS)
                 for s in scans]
    matched: set[str] | None = None
    # Exact sets first, smallest first; then the broad tokens, cheapest way each.
    for scan in sorted(scans, key=lambda s: (not s.done, len(s.ids))):
        if matched is not None and not matched:
            break
        if scan.done:
            ids = scan.ids
        elif (matched is not None and not scan.prefix
              and len(matched) * len(spec.search_fields) <= VERIFY_KEYS):
            ids = _having_token(client, table, spec, scan.token, matched)
        else:
            ids = _finish(client, table, spec, scan)
        matched = ids if matched is None else matched & ids
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
