"""Keys, key normalisation and the search tokenizer, shared by the sync worker and the API.

Standard library only: this module ships in the API Lambda bundle. There is exactly one copy of
each rule; the staging SQL implements the same NDC rule and a property test holds them equal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

CURRENT_SK = "V#CURRENT"
HISTORY_PREFIX = "V#"

_NDC_HYPHENATED = re.compile(r"^([0-9]{4,5})-([0-9]{3,4})-([0-9]{1,2})$")
_NDC_PLAIN_11 = re.compile(r"^[0-9]{11}$")


def normalize_ndc(value: str) -> str | None:
    """Any package NDC form -> 11 digits (5-4-2), or ``None`` when it does not normalise.

    Accepted: hyphenated 4-4-2, 5-3-2, 5-4-1 (the three 10-digit shapes), hyphenated 5-4-2, and
    11 plain digits. A bare 10-digit string is ambiguous (its shape is lost) and is refused,
    never guessed.
    """
    s = value.strip()
    if _NDC_PLAIN_11.match(s):
        return s
    m = _NDC_HYPHENATED.match(s)
    if not m:
        return None
    a, b, c = m.groups()
    shape = (len(a), len(b), len(c))
    if shape == (4, 4, 2):
        return "0" + a + b + c
    if shape == (5, 3, 2):
        return a + "0" + b + c
    if shape == (5, 4, 1):
        return a + b + "0" + c
    if shape == (5, 4, 2):
        return a + b + c
    return None


def normalize_labeler(value: str) -> str | None:
    """Labeler code: 4 or 5 digits -> 5 digits."""
    s = value.strip()
    if re.fullmatch(r"[0-9]{4,5}", s):
        return s.zfill(5)
    return None


KEY_NORMALIZERS: dict[str, Callable[[str], str | None]] = {
    "ndc11": normalize_ndc,
    "labeler5": normalize_labeler,
}


def key(*parts: str) -> str:
    """A DynamoDB key from its parts, joined by '#': the one separator of the single table, so
    a key's leading parts are a ``begins_with`` prefix of it."""
    return "#".join(parts)


def item_pk(entity: str, entity_id: str) -> str:
    """Partition of one entity's items: its current version and its history."""
    return key("ITEM", entity, entity_id)


def history_sk(active_from: str) -> str:
    """Sort key of one history version, ordered by the day it came into force."""
    return f"{HISTORY_PREFIX}{active_from}"


def changes_pk(entity: str, batch_id: str) -> str:
    """Partition of one batch's change items (sort key: the entity id)."""
    return key("CHANGES", entity, batch_id)


def batches_pk(entity: str) -> str:
    """Partition of an entity type's batch items (sort key: the batch id, time-ordered)."""
    return key("BATCHES", entity)


def search_pk(entity: str) -> str:
    """Partition of an entity type's search items (token and rank items)."""
    return key("SEARCH", entity)


def token_sk(token: str, field: str, entity: str, entity_id: str) -> str:
    """Sort key of one token item: the token first, so a query reads one token's drugs."""
    return key("token", token, field, entity, entity_id)


def token_prefix(token: str, *, prefix_match: bool = False) -> str:
    """``begins_with`` argument for a query token: exact tokens end with '#', prefixes do not."""
    return f"token#{token}" if prefix_match else f"token#{token}#"


def parse_token_sk(sk: str) -> tuple[str, str, str, str]:
    """``token#<token>#<field>#<ENTITY>#<id>`` -> (token, field, entity, id)."""
    _, token, field, entity, entity_id = sk.split("#", 4)
    return token, field, entity, entity_id


STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
     "of", "on", "or", "the", "to", "with"]
)
# A token is a number (digits with at most one decimal part, kept whole: '2.5', '0.125') or a
# run of letters and digits that starts with a letter or follows a number ('10mg' -> '10', 'mg';
# 'b12' stays one word). Units are words ('mg', 'ml', 'mcg', 'iu').
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_TOKEN = re.compile(rf"{_NUMBER}|[a-z0-9]+")
# The FDA writes a strength per dose unit as 'mg/1' ("per one tablet"): that '1' says nothing a
# person would type, and as a token it would sit on most drugs. Dropped wherever it appears.
_PER_ONE = re.compile(r"/\s*1(?![0-9.])")
MIN_TOKEN_LENGTH = 2


def fold(text: str) -> str:
    """Unicode NFKD folded to ASCII, lower case ('Abelló' -> 'abello')."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def _canonical(token: str) -> str:
    """Numbers lose trailing decimal zeros ('2.50' -> '2.5', '10.0' -> '10'); words unchanged."""
    if "." in token:
        token = token.rstrip("0").rstrip(".")
    return token


def _keep(token: str) -> bool:
    """Numbers of any length are kept ('5 mg'); words need 2+ characters and no stop word."""
    if token[0].isdigit() and _NUMBER_ONLY.fullmatch(token):
        return True
    return len(token) >= MIN_TOKEN_LENGTH and token not in STOP_WORDS


_NUMBER_ONLY = re.compile(_NUMBER)


def _raw_tokens(folded: str) -> list[str]:
    return [_canonical(t) for t in _TOKEN.findall(_PER_ONE.sub(" ", folded))]


def tokenize(text: str | None) -> list[str]:
    """Distinct tokens of ``text`` in first-seen order; the one tokenizer of sync and API
    (docs/data-rules.md#serving-dynamodb)."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for tok in _raw_tokens(fold(text)):
        if _keep(tok):
            seen.setdefault(tok, None)
    return list(seen)


@dataclass(frozen=True)
class QueryWord:
    """One word of a search query: ``scope`` is the field name or alias before ':' (or None)."""

    token: str
    prefix: bool
    scope: str | None = None


_SCOPED = re.compile(r"^([a-z_]+):(.*)$")
_QUERY_PIECE = re.compile(r"[0-9]+(?:\.[0-9]*)?\*?|[a-z0-9]+\*?|\*")


def query_words(text: str) -> list[QueryWord]:
    """Search query -> distinct words, in first-seen order.

    Same folding and splitting as ``tokenize``; a ``*`` right after a token makes it a prefix
    match. ``field:words`` (no space after the colon) restricts the words up to the next space
    to one field. Exact tokens follow ``tokenize``'s rules (they could never match otherwise);
    prefix tokens skip the stop-word list ('an*' must find 'anastrozole') and are returned at
    any length, even empty, so the caller can refuse ones too short to be selective.
    """
    seen: dict[QueryWord, None] = {}
    for chunk in fold(text).split():
        scope = None
        m = _SCOPED.match(chunk)
        if m:
            scope, chunk = m.group(1), m.group(2)
        for piece in _QUERY_PIECE.findall(_PER_ONE.sub(" ", chunk)):
            if piece.endswith("*"):
                seen.setdefault(QueryWord(piece[:-1], True, scope), None)  # '2.*' stays
            elif _keep(_canonical(piece)):
                seen.setdefault(QueryWord(_canonical(piece), False, scope), None)
    return list(seen)


def query_tokens(text: str) -> list[tuple[str, bool]]:
    """``query_words`` without scopes: distinct ``(token, prefix_match)`` pairs."""
    return list(dict.fromkeys((w.token, w.prefix) for w in query_words(text)))


# ---- rank items: one per (token, entity), sorted so a Query returns them best first ----

RANK_PREFIX = "rank#"
MAX_NAME_TOKENS = 99  # two digits in the sort key; no real name comes near it


def rank_sk(token: str, tier: int, name_tokens: int, entity: str, entity_id: str) -> str:
    """``rank#<token>#<tier><nn>#<ENTITY>#<id>``: tier of the best field holding the token,
    then the number of words in the entity's name (fewer = the token is more of the name)."""
    return key("rank", token, f"{tier}{min(name_tokens, MAX_NAME_TOKENS):02d}", entity, entity_id)


def rank_prefix(token: str, *, prefix_match: bool = False) -> str:
    """``begins_with`` argument for a query word's rank items (exact words end with '#')."""
    return f"{RANK_PREFIX}{token}" if prefix_match else f"{RANK_PREFIX}{token}#"


def parse_rank_sk(sk: str) -> tuple[str, int, int, str]:
    """``rank#<token>#<tier><nn>#<ENTITY>#<id>`` -> (token, tier, name_tokens, id)."""
    _, token, bucket, _entity, entity_id = sk.split("#", 4)
    return token, int(bucket[0]), int(bucket[1:]), entity_id


def encode_doc(tokens_by_field: list[list[str]]) -> str:
    """The entity's tokens per search field, in spec order: 'w w|w|...'.

    Tokens never hold ' ' or '|' (the tokenizer keeps letters, digits and '.' only)."""
    return "|".join(" ".join(toks) for toks in tokens_by_field)


def decode_doc(doc: str) -> list[list[str]]:
    return [part.split() for part in doc.split("|")]
