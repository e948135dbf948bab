"""Property: on random small catalogues, search equals a brute-force evaluation of its rules.

For random rows over a small vocabulary (so words overlap, prefixes complete to several words,
names have 1-4 words) and random queries (exact, prefix and field-scoped words), the items the
sync would write (``projection.project``) are put in a real dynalite table; then:

- every page of ``search`` equals the oracle's ranked list (``search_oracle``), page by page,
  each match exactly once, in the documented order; an exact total equals the oracle's count;
- field-scoped results are a subset of the unscoped results for the same words.

Tiny read sizes force many rounds, so the stopping bound (not a complete read) decides pages.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ppstack.api import search as search_module
from ppstack.backends import make_dynamodb
from ppstack.entities import DRUG
from ppstack.serving.projection import project
from ppstack.serving.rebuild import write_items
from ppstack.serving.table import delete_table, ensure_table
from ppstack.settings import load_settings

from .search_oracle import ranked_ids

VOCAB = ["ab", "abc", "abd", "b2", "mg", "10", "2.5", "25", "tab"]
FIELDS = DRUG.search_fields
BATCH = "20250103T060000.000000Z"


@pytest.fixture(scope="module")
def client(dynalite_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    s = load_settings(backend="local", home=str(tmp_path_factory.mktemp("prop")),
                      dynamodb_endpoint=dynalite_endpoint)
    return make_dynamodb(s)


text = st.lists(st.sampled_from(VOCAB), min_size=0, max_size=4).map(" ".join)
row_fields = st.fixed_dictionaries({f: text for f in FIELDS})
catalogues = st.lists(row_fields, min_size=1, max_size=80)


@st.composite
def queries(draw: st.DrawFn) -> list[tuple[str, bool, str | None]]:
    words = draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3, unique=True))
    out = []
    for w in words:
        prefix = len(w) >= 2 and draw(st.booleans())
        token = w[:draw(st.integers(2, len(w)))] if prefix else w
        scope = draw(st.sampled_from([None, None, *FIELDS]))
        out.append((token, prefix, scope))
    return out


def as_q(words: list[tuple[str, bool, str | None]]) -> str:
    return " ".join(f"{s + ':' if s else ''}{t}{'*' if p else ''}" for t, p, s in words)


def conformed(cat: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    rows = {}
    for i, fields in enumerate(cat):
        ndc = f"{i * 7919 % 100000:011d}"
        rows[ndc] = {"ndc": ndc, **{k: v or None for k, v in fields.items()},
                     "active_from": "2025-01-03", "active_to": "9999-12-31", "is_current": True,
                     "fingerprint": "f" * 32, "ingestion_batch_id": BATCH}
    return rows


def pages(client: Any, table: str, q: str, limit: int) -> tuple[list[str], list[dict]]:
    ids: list[str] = []
    bodies = []
    cursor = None
    while True:
        data = search_module.search(client, table, DRUG, q, str(limit), cursor)
        bodies.append(data)
        ids += [r["entity_id"] for r in data["results"]]
        cursor = data["next_cursor"]
        if cursor is None:
            return ids, bodies


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(cat=catalogues, words=queries(), limit=st.integers(1, 4), first=st.integers(1, 3),
       exact=st.sampled_from([0, 2, 1000]), drive=st.sampled_from([0, 2, 2000]))
def test_search_equals_brute_force_and_pages_each_match_once(
        client: Any, cat: list[dict[str, str]], words: list[tuple[str, bool, str | None]],
        limit: int, first: int, exact: int, drive: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "FIRST_READ", first)
    monkeypatch.setattr(search_module, "READ_GROWTH", 1)
    monkeypatch.setattr(search_module, "EXACT_LIMIT", exact)
    monkeypatch.setattr(search_module, "DRIVE_LIMIT", drive)
    partial: list[bool] = []
    evaluate = search_module.evaluate

    def recording(*a: Any) -> Any:
        ev = evaluate(*a)
        partial.append(not ev.complete)
        return ev

    monkeypatch.setattr(search_module, "evaluate", recording)
    rows = conformed(cat)
    table = f"prop-{uuid.uuid4().hex[:10]}"
    ensure_table(client, table)
    try:
        write_items(client, table, list(project(DRUG, rows.values()).values()))
        q = as_q(words)
        want = ranked_ids(rows, words)
        ids, bodies = pages(client, table, q, limit)
        event("a page settled by the bound" if any(partial) else "every page read to the end")
        assert ids == want, q
        for data in bodies:
            if data["total_relation"] == "eq":
                assert data["total"] == len(want), q
            else:
                assert len(want) >= data["total"], q
        unscoped = [(t, p, None) for t, p, _ in words]
        scoped_ids, _ = pages(client, table, q, 100)
        all_ids, _ = pages(client, table, as_q(unscoped), 100)
        assert set(scoped_ids) <= set(all_ids), q
    finally:
        delete_table(client, table)
