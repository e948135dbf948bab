"""GET /search/drug: AND, prefix, field scope, NDC, rank order, paging, total, limits, cursors."""

from __future__ import annotations

from typing import Any

import pytest

from ppstack.api import handlers
from ppstack.entities import DRUG
from ppstack.serving.keys import query_tokens, tokenize

from .conftest import body, load_event
from .loader import Scenario
from .search_oracle import ranked_ids

FIELDS = DRUG.search_fields


def search(**query: str) -> dict[str, Any]:
    return handlers.search_drug(load_event("search_drug", query=query), None)


def expected_ids(sc: Scenario, words: list[tuple[Any, ...]]) -> list[str]:
    """Brute force over the scenario's current rows, in rank order: the oracle."""
    return ranked_ids(sc.rows, words)


@pytest.fixture
def exact_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Totals exact for the extract's broadest words (the default limit is below some of them;
    the gte side is covered by test_search_and_strategy_agrees_with_brute_force)."""
    from ppstack.api import search as search_module

    monkeypatch.setattr(search_module, "EXACT_LIMIT", 1000)
    monkeypatch.setattr(search_module, "FIRST_READ", 1001)


def all_pages(q: str, limit: int) -> tuple[list[str], list[int], int]:
    ids: list[str] = []
    totals: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"q": q, "limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        resp = search(**params)
        assert resp["statusCode"] == 200, resp["body"]
        data = body(resp)
        assert len(data["results"]) <= limit
        ids += [r["entity_id"] for r in data["results"]]
        totals.append(data["total"])
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            return ids, totals, pages


def test_search_drug_event_finds_strattera(scenario: Scenario) -> None:
    resp = handlers.search_drug(load_event("search_drug"), None)
    assert resp["statusCode"] == 200
    data = body(resp)
    assert data["query"] == "strattera"
    assert data["total"] == len(expected_ids(scenario, [("strattera", False)])) > 0
    assert all(r["proprietary_name"] == "Strattera" for r in data["results"])
    assert all(r["is_current"] for r in data["results"])
    assert data["next_cursor"] is None


def test_search_and_requires_every_token(scenario: Scenario) -> None:
    data = body(search(q="atomoxetine zydus", limit="100"))
    ids = [r["entity_id"] for r in data["results"]]
    assert ids == expected_ids(scenario, [("atomoxetine", False), ("zydus", False)])
    assert 0 < data["total"] < len(expected_ids(scenario, [("atomoxetine", False)]))
    assert all("Zydus" in (r["labeler_name"] or "") for r in data["results"])


def test_search_is_case_and_accent_insensitive(scenario: Scenario) -> None:
    assert body(search(q="STRATTÉRA"))["total"] == body(search(q="strattera"))["total"]


def test_search_prefix_matches_token_starts(scenario: Scenario, exact_totals: None) -> None:
    data = body(search(q="atomox*", limit="100"))
    assert data["total"] == len(expected_ids(scenario, [("atomox", True)])) > 0
    exact = body(search(q="atomoxetine", limit="1"))["total"]
    assert data["total"] == exact
    assert body(search(q="atomox"))["total"] == 0  # without '*' a token is exact


def test_search_prefix_and_exact_combine(scenario: Scenario) -> None:
    data = body(search(q="hum* lilly", limit="100"))
    ids = [r["entity_id"] for r in data["results"]]
    assert ids == expected_ids(scenario, [("hum", True), ("lilly", False)])
    assert data["total"] == len(ids) > 0


def test_search_prefix_ignores_stop_words(scenario: Scenario) -> None:
    # 'an' is a stop word as a whole token but a fine prefix
    assert query_tokens("an*") == [("an", True)]
    assert search(q="an*")["statusCode"] == 200


@pytest.mark.parametrize(("q", "limit"), [("strattera", 1), ("atomoxetine", 7),
                                          ("atomoxetine", 20), ("atomoxetine", 100)])
def test_search_paging_covers_all_without_duplicates_or_gaps(
        scenario: Scenario, q: str, limit: int, exact_totals: None) -> None:
    expected = expected_ids(scenario, [(q, False)])
    ids, totals, pages = all_pages(q, limit)
    assert ids == expected  # rank order, each exactly once
    assert set(totals) == {len(expected)}
    assert pages == -(-len(expected) // limit)


def test_search_unmatched_token_gives_empty_result(scenario: Scenario) -> None:
    data = body(search(q="atomoxetine zzzznotaword"))
    assert data == {"query": "atomoxetine zzzznotaword", "total": 0, "total_relation": "eq",
                    "results": [], "next_cursor": None}


def test_search_default_limit_is_20(scenario: Scenario) -> None:
    data = body(search(q="atomoxetine"))
    assert len(data["results"]) == 20 and data["total"] > 20 and data["next_cursor"]


@pytest.mark.parametrize("q", ["0002-3227-30", "00002322730", "00002-3227-30"])
def test_search_ndc_query_finds_that_drug(scenario: Scenario, q: str) -> None:
    data = body(search(q=q))
    assert [r["entity_id"] for r in data["results"]] == ["00002322730"]
    assert data["total"] == 1


def test_search_ndc_query_skips_logically_deleted(scenario: Scenario) -> None:
    data = body(search(q=scenario.deleted_id))
    assert data["total"] == 0


def test_search_excludes_logically_deleted_from_token_results(scenario: Scenario) -> None:
    ids, _, _ = all_pages("strattera", 100)
    assert scenario.deleted_id not in ids


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "the and of"},  # only stop words
        {"q": "a"},  # too short
        {"q": "x" * 201},
        {"q": "one two three four five six seven eight nine"},
        {"q": "a*"},
        {"q": "*"},
        {"q": "strattera", "limit": "0"},
        {"q": "strattera", "limit": "101"},
        {"q": "strattera", "limit": "ten"},
        {"q": "strattera", "limit": "-1"},
        {"q": "strattera", "cursor": "not-a-cursor!"},
        {"q": "strattera", "cursor": "eyJhIjoxfQ"},  # {"a":1}
    ],
)
def test_search_limits_and_bad_input_are_400(scenario: Scenario, params: dict[str, str]) -> None:
    resp = search(**params)
    assert resp["statusCode"] == 400, resp["body"]
    assert body(resp)["error"]["code"] == "BAD_REQUEST"
    assert body(resp)["error"]["message"]


def test_search_limit_bounds_are_accepted(scenario: Scenario) -> None:
    assert len(body(search(q="atomoxetine", limit="1"))["results"]) == 1
    assert len(body(search(q="atomoxetine", limit="100"))["results"]) == min(
        100, len(expected_ids(scenario, [("atomoxetine", False)])))


def test_search_cursor_from_another_query_is_400(scenario: Scenario) -> None:
    cursor = body(search(q="atomoxetine", limit="5"))["next_cursor"]
    resp = search(q="hydrochloride", limit="5", cursor=cursor)
    assert resp["statusCode"] == 400
    assert "different query" in body(resp)["error"]["message"]


def test_search_cursor_survives_respelling_of_same_query(scenario: Scenario) -> None:
    cursor = body(search(q="atomoxetine", limit="5"))["next_cursor"]
    assert search(q="ATOMOXETINE", limit="5", cursor=cursor)["statusCode"] == 200


def test_search_eight_tokens_are_allowed(scenario: Scenario) -> None:
    q = "eli lilly company strattera atomoxetine hydrochloride usa inc"
    assert search(q=q)["statusCode"] == 200


def _vocabulary(sc: Scenario) -> list[str]:
    return sorted({t for row in sc.rows.values() for f in FIELDS for t in tokenize(row.get(f))})


@pytest.mark.parametrize(("first", "exact", "drive"),
                         [(1, 0, 0), (2, 3, 5), (5, 10_000, 0), (200, 1000, 2000), (3, 3, 40)])
def test_search_and_strategy_agrees_with_brute_force(scenario: Scenario, first: int, exact: int,
                                                      drive: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """However far the lists are read (tiny pages force many rounds and the bound; a tiny exact
    limit stops early with total_relation gte), the page equals the oracle's first results and
    an exact total equals the oracle's count."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from ppstack.api import search as search_module

    monkeypatch.setattr(search_module, "FIRST_READ", first)
    monkeypatch.setattr(search_module, "EXACT_LIMIT", exact)
    monkeypatch.setattr(search_module, "DRIVE_LIMIT", drive)
    vocab = _vocabulary(scenario)
    broad = sorted(vocab, key=lambda t: -len(expected_ids(scenario, [(t, False)])))[:5]

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(words=st.lists(st.sampled_from(vocab + broad * 4), min_size=1, max_size=3, unique=True),
           prefix=st.booleans())
    def check(words: list[str], prefix: bool) -> None:
        terms = [(w, False) for w in words]
        if prefix and len(words[-1]) >= 2:
            terms[-1] = (words[-1][:2], True)
        q = " ".join(w + ("*" if p else "") for w, p in terms)
        data = body(search(q=q, limit="30"))
        want = expected_ids(scenario, terms)
        if data["total_relation"] == "eq":
            assert data["total"] == len(want), q
        else:
            assert len(want) >= data["total"] >= len(data["results"]), q
        assert [r["entity_id"] for r in data["results"]] == want[:30], q

    check()


@pytest.mark.parametrize("q", ["labeler:lilly atomox*", "labeler_name:lilly atomox*",
                               "name:strattera", "ingredient:atomoxetine form:capsule",
                               "generic:atomoxetine strength:10"])
def test_search_field_scope_restricts_a_word_to_one_field(scenario: Scenario, q: str,
                                                          exact_totals: None) -> None:
    from ppstack.api.search import parse_query

    words = [(t.token, t.prefix, t.field) for t in parse_query(DRUG, q).terms]
    data = body(search(q=q, limit="100"))
    want = expected_ids(scenario, words)
    assert data["total"] == len(want) > 0
    assert [r["entity_id"] for r in data["results"]] == want[:100]
    unscoped = expected_ids(scenario, [(t, p) for t, p, _ in words])
    assert set(want) <= set(unscoped)


def test_search_field_scope_excludes_other_fields(scenario: Scenario) -> None:
    # 'lilly' is in the labeler name of Strattera, never in its proprietary name
    assert body(search(q="lilly strattera"))["total"] > 0
    assert body(search(q="name:lilly strattera"))["total"] == 0


def test_search_unknown_field_is_400_listing_the_valid_ones(scenario: Scenario) -> None:
    resp = search(q="colour:red strattera")
    assert resp["statusCode"] == 400
    message = body(resp)["error"]["message"]
    assert "'colour'" in message
    for name in ("name:", "ingredient:", "labeler:", "form:", "route:", "strength:",
                 "labeler_name"):
        assert name in message


def test_search_strength_numbers_stay_whole(scenario: Scenario) -> None:
    data = body(search(q="strattera 10 mg", limit="100"))
    assert data["total"] > 0
    assert all("10 mg" in r["strength"] for r in data["results"])
    assert body(search(q="strattera strength:1"))["total"] == 0  # 'mg/1' is not the word 1
