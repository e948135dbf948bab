"""The documented search semantics, evaluated by brute force over rows: the tests' oracle.

Written from the OpenAPI description of ``/search/drug``, not from ``api/search.py``: every
current row is tokenized per field and checked against every word; matches are sorted by
(completions of the prefix words, sum of the best tiers, unmatched name words, id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ppstack.entities import DRUG, EntitySpec
from ppstack.serving.keys import tokenize

# (token, prefix, field or None)
Word = tuple[str, bool, str | None]


def _as_word(w: tuple[Any, ...]) -> Word:
    return (w[0], w[1], w[2] if len(w) > 2 else None)


def key_of(row: Mapping[str, Any], eid: str, words: Iterable[tuple[Any, ...]],
           spec: EntitySpec = DRUG) -> tuple[Any, ...] | None:
    fields = {f.name: (f.tier, tokenize(row.get(f.name))) for f in spec.search}
    name = {t for tier, toks in fields.values() if tier == 0 for t in toks}
    completions, tiers, named = [], 0, set()
    # A word repeated in q counts once (the OpenAPI description of q).
    for token, prefix, scope in dict.fromkeys(map(_as_word, words)):
        pairs = [(t, tier) for fname, (tier, toks) in fields.items()
                 if scope in (None, fname) for t in toks
                 if t == token or (prefix and t.startswith(token))]
        if not pairs:
            return None
        word, tier = min(pairs)
        if prefix:
            completions.append(word)
        tiers += tier
        if tier == 0:
            named.add(word)
    return tuple(completions), tiers, len(name) - len(named), eid


def ranked_ids(rows: Mapping[str, Mapping[str, Any]], words: Iterable[tuple[Any, ...]],
               spec: EntitySpec = DRUG) -> list[str]:
    """Ids of the rows matching every word, in the documented rank order."""
    words = list(words)
    keys = [k for eid, row in rows.items() if (k := key_of(row, eid, words, spec)) is not None]
    return [k[3] for k in sorted(keys)]
