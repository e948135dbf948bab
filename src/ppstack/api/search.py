"""Ranked token search over the serving table: parse, match, rank, page. boto3 + stdlib only.

What a query means (docs/api.md#search and the OpenAPI description say the same):

- ``q`` is split by the sync's tokenizer (``keys.query_words``); ``word*`` is a prefix match,
  other words are exact; ``field:word`` (a search field's name or alias, e.g. ``name:``,
  ``labeler:``) restricts the word to that field. An entity matches when every word matches a
  token of one of its search fields (AND). A repeated word (same token, prefix and field)
  counts once.
- When ``q`` as a whole is a key in any accepted form (an NDC for DRUG), the current entity with
  that key is a match too, ranked first.
- Order (the *rank key*, smaller first), for each match:
  1. for a query with prefix words: the completions, alphabetically. A prefix word stands for
     its alphabetically first completion among the entity's tokens (``amox*`` -> ``amoxapine``
     before ``amoxicillin``), and the entity is ranked as if that word had been typed in full;
  2. ``S``, the sum over the query words of the tier of the best field the word is in (tier 0:
     the name, 1: generic name and ingredients, 2: form, route, strength, labeler);
  3. ``U``, the words of the entity's name (tier-0 fields) that no query word matched: the
     more fully the name is matched, the higher the entity ranks;
  4. the entity id.
  The order is total and depends only on the data, so a cursor (the rank key of the last result
  shown) continues exactly where the page ended.
- ``total`` is exact when some query word matches at most ``EXACT_LIMIT`` entities; otherwise it
  counts the matches seen and ``total_relation`` is ``"gte"`` (at least that many).

How it is evaluated without reading broad words whole (the reasoning is in docs/search.md):
each word has one *rank item* per entity holding it, sorted ``(tier, name length, id)`` in the
sort key and carrying the entity's tokens (``d``), so one item read evaluates and ranks an
entity against the whole query. The words' item lists are read side by side, a page each per
round, in rank order; a round ends with a lower bound on the rank key of every entity not yet
seen (from the heads of the lists). Reading stops when the page is settled (enough results rank
at or below the bound) and the total is known exact or ``EXACT_LIMIT`` items of every list have
been read. Once any list ends, every match has been seen.

Limits keep every query bounded: ``q`` at most 200 characters and 8 words, prefix words at
least 2 characters before ``*``. Breaking one is a 400, never a slow scan.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ppstack.api import service
from ppstack.entities import EntitySpec
from ppstack.errors import BadInput
from ppstack.serving.keys import (
    KEY_NORMALIZERS,
    MAX_NAME_TOKENS,
    decode_doc,
    parse_rank_sk,
    query_words,
    rank_prefix,
    search_pk,
)

MAX_Q_LENGTH = 200
MAX_TOKENS = 8
MIN_PREFIX_LENGTH = 2
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
EXACT_LIMIT = 150  # total is exact when some word matches at most this many entities
FIRST_READ = EXACT_LIMIT + 1  # items per list in the first round (decides exactness)
READ_GROWTH = 2  # later rounds read this many times more per list
DRIVE_LIMIT = 1300  # a list with at most this many entries left is read whole (_drive)
MAX_READ = 3000  # items per Query page at most

RankKey = tuple[tuple[str, ...], int, int, str]


@dataclass(frozen=True)
class Term:
    """One query word, with the search field it is restricted to (None: any field)."""

    token: str
    prefix: bool
    field: str | None = None


@dataclass(frozen=True)
class ParsedQuery:
    q: str
    terms: tuple[Term, ...]
    key: str | None  # canonical entity id when q is itself a key (e.g. an NDC)

    @property
    def fingerprint(self) -> str:
        """Identifies the query a cursor belongs to (spelling variants of one query share it)."""
        words = sorted([t.token, t.prefix, t.field or ""] for t in self.terms)
        raw = json.dumps([words, self.key], separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def tokens(self) -> tuple[tuple[str, bool], ...]:
        return tuple((t.token, t.prefix) for t in self.terms)


def scopes(spec: EntitySpec) -> dict[str, str]:
    """Every name a query may put before ':' -> the search field it means."""
    out = {f.name: f.name for f in spec.search}
    out.update({f.alias: f.name for f in spec.search if f.alias})
    return out


def _scope(spec: EntitySpec, name: str | None) -> str | None:
    if name is None:
        return None
    known = scopes(spec)
    if name not in known:
        valid = ", ".join(f"{f.alias}: ({f.name})" if f.alias else f"{f.name}:"
                          for f in spec.search)
        raise BadInput(f"unknown search field {name!r} before ':'; valid fields: {valid}")
    return known[name]


def parse_query(spec: EntitySpec, q: str | None) -> ParsedQuery:
    if q is None or not q.strip():
        raise BadInput("q is required: words to search for, e.g. q=strattera or q=atomox*")
    if len(q) > MAX_Q_LENGTH:
        raise BadInput(f"q is {len(q)} characters long; at most {MAX_Q_LENGTH} are allowed")
    key = KEY_NORMALIZERS[spec.key_format](q)
    words = query_words(q)
    terms = tuple(dict.fromkeys(Term(w.token, w.prefix, _scope(spec, w.scope)) for w in words))
    if len(terms) > MAX_TOKENS:
        raise BadInput(f"q has {len(terms)} search words; at most {MAX_TOKENS} are allowed")
    for t in terms:
        if t.prefix and len(t.token) < MIN_PREFIX_LENGTH:
            raise BadInput(
                f"a prefix search needs at least {MIN_PREFIX_LENGTH} letters or digits before '*'"
            )
    if not terms and key is None:
        raise BadInput(
            "q has no searchable word: words need 2+ letters or digits (numbers any length) "
            "and common words ('the', 'and', ...) are ignored"
        )
    return ParsedQuery(q=q, terms=terms, key=key)


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadInput(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:20]!r}")
    return int(raw)


def encode_cursor(after: RankKey, query: ParsedQuery) -> str:
    w, s, u, eid = after
    raw = json.dumps({"a": [list(w), s, u, eid], "q": query.fingerprint},
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: ParsedQuery) -> RankKey:
    """The rank key of the previous page's last result; BadInput for a damaged or foreign cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        (w, s, u, eid), fp = data["a"], data["q"]
        after: RankKey = (tuple(str(x) for x in w), int(s), int(u), str(eid))
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise BadInput(
            "cursor is not valid: pass next_cursor from the previous page unchanged") from None
    if fp != query.fingerprint:
        raise BadInput("cursor belongs to a different query: repeat the same q to continue")
    return after


# ---- ranking one entity (pure) ----

def rank_key(spec: EntitySpec, terms: tuple[Term, ...], doc: list[list[str]],
             entity_id: str) -> RankKey | None:
    """The entity's rank key for the query, or None when some word does not match it.

    ``doc`` holds the entity's tokens per search field in spec order (a rank item's ``d``).
    """
    name = {t for f, toks in zip(spec.search, doc, strict=False) if f.tier == 0 for t in toks}
    completions: list[str] = []
    total_tier = 0
    matched_name: set[str] = set()
    for term in terms:
        word: str | None = None
        tier = 0
        for f, toks in zip(spec.search, doc, strict=False):
            if term.field is not None and f.name != term.field:
                continue
            for tok in toks:
                hit = tok == term.token or (term.prefix and tok.startswith(term.token))
                if hit and (word is None or (tok, f.tier) < (word, tier)):
                    word, tier = tok, f.tier
        if word is None:
            return None
        if term.prefix:
            completions.append(word)
        total_tier += tier
        if tier == 0:
            matched_name.add(word)
    unmatched = min(len(name), MAX_NAME_TOKENS) - len(matched_name)
    return tuple(completions), total_tier, unmatched, entity_id


KEY_MATCH_RANK = -1  # an entity found by its key (q is an NDC) ranks before every word match


# ---- reading the words' rank lists ----

@dataclass
class Stream:
    """One query word's rank items, read page by page in sort-key order."""

    term: Term
    next_key: dict[str, Any] | None = None
    started: bool = False
    read: int = 0
    head: tuple[str, int, int, str] | None = None  # (token, tier, name length, id) last read
    pages: int = 0

    @property
    def done(self) -> bool:
        return self.started and self.next_key is None


@dataclass
class Evaluation:
    spec: EntitySpec
    query: ParsedQuery
    streams: list[Stream]
    found: dict[str, RankKey] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def take(self, items: list[dict[str, Any]]) -> None:
        """Rank every entity not seen before (one rank item holds all its tokens)."""
        for item in items:
            eid = parse_rank_sk(item["SK"]["S"])[3]
            if eid in self.seen:
                continue
            self.seen.add(eid)
            key = rank_key(self.spec, self.query.terms, decode_doc(item["d"]["S"]), eid)
            if key is not None:
                self.found[eid] = key

    @property
    def complete(self) -> bool:
        """Every match has been seen: each one is in every list, and one list is exhausted."""
        return any(s.done for s in self.streams)

    def _field_tier(self, term: Term) -> int | None:
        return field_tier(self.spec, term)

    def bound(self) -> tuple[Any, ...] | None:
        """A rank key every entity not yet seen ranks strictly after (None: no bound yet).

        Each list is in (tier, name length, id) order, so an unseen entity is, in every list,
        past that list's head: its tier for each word is at least the head's (for a word scoped
        to a field, it is that field's tier), hence S is at least the sum of those tiers; with
        that S exactly, the word is at the head's tier in each list where that is the word's
        tier, so there its name has at least the head's length (N the largest) and at most the
        words at tier 0 are matched; with that U exactly its id is past every such head of
        length N. With prefix words the completion comes first: the first prefix word's list
        is ordered by completion, and with two or more prefix words only that completion bounds.
        """
        if any(s.head is None for s in self.streams):
            return None
        prefix = [s for s in self.streams if s.term.prefix]
        if len(prefix) >= 2:
            return ((prefix[0].head[0],),)  # type: ignore[index]
        sigma = named = longest = 0
        tight: list[tuple[str, int, int, str]] = []  # heads whose tier is the word's tier
        for s in self.streams:
            head = s.head
            assert head is not None
            tier = self._field_tier(s.term)
            word_tier = head[1] if tier is None else tier
            sigma += word_tier
            named += word_tier == 0
            if word_tier == head[1]:
                tight.append(head)
        longest = max((h[2] for h in tight), default=0)
        completion = (prefix[0].head[0],) if prefix else ()  # type: ignore[index]
        if longest < named:  # U is at least 0, and U = 0 does not pin the name length
            return completion, sigma, 0, ""
        last_id = max((h[3] for h in tight if h[2] == longest), default="")
        return completion, sigma, longest - named, last_id


def field_tier(spec: EntitySpec, term: Term) -> int | None:
    """The tier of the field a word is scoped to (None: not scoped)."""
    return next((f.tier for f in spec.search if f.name == term.field), None)


def _query_args(table: str, spec: EntitySpec, term: Term) -> dict[str, Any]:
    """The Query of a word's rank list. An exact word scoped to a field of tier t reads only
    the entries of tier at most t: an entity holding the word in that field has its best tier
    for the word there or lower, so the list's end there means every such entity was seen."""
    pk = {":pk": {"S": search_pk(spec.name)}}
    start = rank_prefix(term.token, prefix_match=term.prefix)
    tier = field_tier(spec, term)
    if tier is None or term.prefix:
        return {"TableName": table, "KeyConditionExpression": "PK = :pk AND begins_with(SK, :t)",
                "ExpressionAttributeValues": {**pk, ":t": {"S": start}}}
    # After the tier digit come digits and '#' only, all sorting before '~'.
    return {"TableName": table, "KeyConditionExpression": "PK = :pk AND SK BETWEEN :a AND :b",
            "ExpressionAttributeValues": {**pk, ":a": {"S": start},
                                          ":b": {"S": f"{start}{tier}~"}}}


def _read_page(client: Any, table: str, spec: EntitySpec, stream: Stream, limit: int
               ) -> list[dict[str, Any]]:
    kwargs = _query_args(table, spec, stream.term)
    kwargs.update(ProjectionExpression="SK, d", Limit=limit)
    if stream.next_key is not None:
        kwargs["ExclusiveStartKey"] = stream.next_key
    resp = client.query(**kwargs)
    items: list[dict[str, Any]] = resp.get("Items", [])
    stream.started = True
    stream.pages += 1
    stream.next_key = resp.get("LastEvaluatedKey")
    stream.read += len(items)
    if items:
        stream.head = parse_rank_sk(items[-1]["SK"]["S"])
    return items


_POOL = ThreadPoolExecutor(max_workers=MAX_TOKENS, thread_name_prefix="search")


def _settled(ev: Evaluation, after: RankKey | None, need: int) -> bool:
    """The next ``need`` results after ``after`` are known: none unseen can come before them."""
    if ev.complete:
        return True
    bound = ev.bound()
    if bound is None:
        return False
    ahead = sum(1 for k in ev.found.values() if (after is None or k > after) and k <= bound)
    return ahead >= need


def _count_rest(client: Any, table: str, spec: EntitySpec, stream: Stream, limit: int
                ) -> int | None:
    """How many entries of the word's list are still unread, or None when more than ``limit``.

    ``Select=COUNT`` walks the keys without returning the items, about half the cost of reading
    them. A Query stopped by ``Limit`` (or by its 1 MB page) returns ``LastEvaluatedKey``.
    """
    kwargs = _query_args(table, spec, stream.term)
    kwargs.update(Select="COUNT", Limit=limit)
    if stream.next_key is not None:
        kwargs["ExclusiveStartKey"] = stream.next_key
    resp = client.query(**kwargs)
    return None if resp.get("LastEvaluatedKey") else int(resp.get("Count", 0))


def _drive(client: Any, table: str, spec: EntitySpec, ev: Evaluation) -> bool:
    """Read the shortest list to its end when some list has at most DRIVE_LIMIT entries left.

    Every match is in every word's list, so the shortest one alone evaluates (each item holds
    its entity's tokens) and ranks the whole query exactly. False when every list is longer.
    """
    live = [s for s in ev.streams if not s.done]
    counts = list(_POOL.map(lambda s: _count_rest(client, table, spec, s, DRIVE_LIMIT), live))
    short = [(n, i) for i, n in enumerate(counts) if n is not None]
    if not short:
        return False
    driver = live[min(short)[1]]
    while not driver.done:
        ev.take(_read_page(client, table, spec, driver, MAX_READ))
    return True


def evaluate(client: Any, table: str, spec: EntitySpec, query: ParsedQuery,
             after: RankKey | None, need: int) -> Evaluation:
    """Read the words' lists until the page is settled (docs/search.md#evaluation).

    First round: every list's first page, side by side. If that does not settle the page, the
    shortest list is read to its end when it is short enough (``_drive``); otherwise the lists
    are read side by side in growing pages until the bound settles the page.
    """
    ev = Evaluation(spec, query, [Stream(t) for t in query.terms])
    size = FIRST_READ

    def read(s: Stream) -> list[dict[str, Any]]:
        # Up to EXACT_LIMIT + 1 entries a list is read only as far as deciding exactness needs.
        room = EXACT_LIMIT + 1 - s.read
        return _read_page(client, table, spec, s, min(size, room) if room > 0 else size)

    rounds = 0
    while ev.streams:
        live = [s for s in ev.streams if not s.done]
        pages = list(_POOL.map(read, live))
        rounds += 1
        for items in pages:
            ev.take(items)
        if any(s.done and s.read == 0 for s in ev.streams):
            ev.found.clear()  # a word without a single entity: nothing matches
            break
        if ev.complete:
            break
        if _settled(ev, after, need) and all(s.read > EXACT_LIMIT for s in ev.streams):
            break
        if rounds == 1 and len(ev.streams) > 1 and DRIVE_LIMIT > 0 and _drive(
                client, table, spec, ev):
            break
        size = min(size * READ_GROWTH, MAX_READ)
    return ev


def search(client: Any, table: str, spec: EntitySpec, q: str | None,
           limit: str | None = None, cursor: str | None = None) -> dict[str, Any]:
    query = parse_query(spec, q)
    page_size = parse_limit(limit)
    after = decode_cursor(cursor, query) if cursor else None
    if query.terms:
        ev = evaluate(client, table, spec, query, after, page_size + 1)
        found, exact = dict(ev.found), ev.complete
    else:
        found, exact = {}, True
    if query.key is not None:
        hit = service.batch_get_current(client, table, spec, [query.key]).get(query.key)
        if hit is not None and hit.get("is_current") is True:
            found[query.key] = ((), KEY_MATCH_RANK, 0, query.key)
    ranked = sorted(k for k in found.values() if after is None or k > after)
    page = ranked[:page_size]
    items = service.batch_get_current(client, table, spec, [k[3] for k in page])
    more = len(ranked) > page_size
    return {
        "query": q,
        "total": len(found),
        "total_relation": "eq" if exact else "gte",
        "results": [items[k[3]] for k in page if k[3] in items],
        "next_cursor": encode_cursor(page[-1], query) if more and page else None,
    }
