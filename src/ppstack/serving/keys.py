"""Keys, key normalisation and the search tokenizer, shared by the sync worker and the API.

Standard library only: this module ships in the API Lambda bundle. There is exactly one copy of
each rule; the staging SQL implements the same NDC rule and a property test holds them equal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

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


def item_pk(entity: str, entity_id: str) -> str:
    return f"ITEM#{entity}#{entity_id}"


def history_sk(active_from: str) -> str:
    return f"{HISTORY_PREFIX}{active_from}"


def search_pk(entity: str) -> str:
    return f"SEARCH#{entity}"


def token_sk(token: str, field: str, entity: str, entity_id: str) -> str:
    return f"token#{token}#{field}#{entity}#{entity_id}"


def token_prefix(token: str, *, prefix_match: bool = False) -> str:
    """``begins_with`` argument for a query token: exact tokens end with '#', prefixes do not."""
    return f"token#{token}" if prefix_match else f"token#{token}#"


def parse_token_sk(sk: str) -> tuple[str, str, str, str]:
    """``token#<token>#<field>#<ENTITY>#<id>`` -> (token, field, entity, id)."""
    _, token, field, entity, entity_id = sk.split("#", 4)
    return token, field, entity, entity_id


STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on", "or", "the", "to", "with"]
)
_SPLIT = re.compile(r"[^a-z0-9]+")
MIN_TOKEN_LENGTH = 2


def fold(text: str) -> str:
    """Unicode NFKD folded to ASCII, lower case ('Abelló' -> 'abello')."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def tokenize(text: str | None) -> list[str]:
    """Distinct tokens of ``text`` in first-seen order (docs/data-rules.md#serving-dynamodb)."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for tok in _SPLIT.split(fold(text)):
        if len(tok) >= MIN_TOKEN_LENGTH and tok not in STOP_WORDS:
            seen.setdefault(tok, None)
    return list(seen)


def entity_tokens(entity: str, entity_id: str, row: dict, fields: tuple[str, ...]) -> set[str]:
    """All token sort keys a current row produces."""
    return {
        token_sk(tok, field, entity, entity_id)
        for field in fields
        for tok in tokenize(row.get(field))
    }


_QUERY_WORD = re.compile(r"[a-z0-9]*\*?")


def query_tokens(text: str) -> list[tuple[str, bool]]:
    """Search query -> distinct ``(token, prefix_match)`` pairs, in first-seen order.

    Same folding and splitting as ``tokenize``; a ``*`` right after a token makes it a prefix
    match. Exact tokens follow ``tokenize``'s length and stop-word rules (they could never match
    otherwise); prefix tokens skip the stop-word list ('an*' must find 'anastrozole') and are
    returned at any length, even empty, so the caller can refuse ones too short to be selective.
    """
    seen: dict[tuple[str, bool], None] = {}
    for word in _QUERY_WORD.findall(fold(text)):
        if word.endswith("*"):
            seen.setdefault((word[:-1], True), None)
        elif len(word) >= MIN_TOKEN_LENGTH and word not in STOP_WORDS:
            seen.setdefault((word, False), None)
    return list(seen)
