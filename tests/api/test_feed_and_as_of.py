"""As-of reads, history windows, the change feed, batches and ETag/304 through the handlers,
against the loader's three real batches (2019-01-01, 2019-02-01, 2019-04-29)."""

from __future__ import annotations

import pytest

from ppstack.api import handlers

from .conftest import body, load_event
from .loader import Scenario


def get(ndc: str, query: dict[str, str] | None = None, headers: dict | None = None) -> dict:
    event = load_event("get_drug", path={"ndc": ndc}, query=query)
    if headers is not None:
        event["headers"] = headers
    return handlers.get_drug(event, None)


def history(ndc: str, query: dict[str, str]) -> dict:
    return handlers.get_drug_history(load_event("get_drug_history", path={"ndc": ndc},
                                                query=query), None)


def changes(query: dict[str, str]) -> dict:
    return handlers.list_drug_changes(load_event("search_drug", query=query), None)


def batches(query: dict[str, str] | None = None) -> dict:
    return handlers.list_drug_batches(load_event("search_drug", query=query or {}), None)


def test_as_of_each_day_gives_the_version_in_force(scenario: Scenario) -> None:
    first, second, third = scenario.history_from
    for day, expected in [(first, first), ("2019-01-31", first), (second, second),
                          ("2019-04-28", second), (third, third), ("2030-01-01", third)]:
        resp = get(scenario.history_id, {"as_of": day})
        assert resp["statusCode"] == 200, (day, body(resp))
        assert body(resp)["effective_from"] == expected


def test_as_of_before_first_version_or_after_delete_is_404_naming_listed_dates(
    scenario: Scenario,
) -> None:
    early = get(scenario.history_id, {"as_of": "2018-12-31"})
    assert early["statusCode"] == 404
    assert "from 2019-01-01 on" in body(early)["error"]["message"]
    gone = get(scenario.deleted_id, {"as_of": "2019-05-01"})
    assert gone["statusCode"] == 404
    message = body(gone)["error"]["message"]
    assert "not listed on 2019-05-01" in message
    assert "from 2019-01-01 until 2019-04-29" in message
    assert body(get(scenario.deleted_id, {"as_of": "2019-04-28"}))["is_current"] is False


@pytest.mark.parametrize("bad", ["2019-13-01", "yesterday", "2019-02-30", "20190101"])
def test_as_of_malformed_is_400(scenario: Scenario, bad: str) -> None:
    resp = get(scenario.history_id, {"as_of": bad})
    assert resp["statusCode"] == 400 and "as_of" in body(resp)["error"]["message"]


def test_history_from_to_keeps_overlapping_versions(scenario: Scenario) -> None:
    first, second, third = scenario.history_from

    def window(query: dict[str, str]) -> list[str]:
        return [v["effective_from"] for v in body(history(scenario.history_id, query))["versions"]]

    assert window({"from": "2019-01-15", "to": "2019-02-01"}) == [first, second]
    assert window({"from": "2019-02-01"}) == [second, third]
    assert window({"to": "2019-01-31"}) == [first]
    assert window({"to": "2018-01-01"}) == []
    resp = history(scenario.history_id, {"from": "2019-03-01", "to": "2019-02-01"})
    assert resp["statusCode"] == 400


def test_batches_latest_first_and_changes_listed_with_totals(scenario: Scenario) -> None:
    listed = body(batches())["batches"]
    assert [b["effective_date"] for b in listed] == ["2019-04-29", "2019-02-01", "2019-01-01"]
    latest = listed[0]
    assert (latest["updated"], latest["deleted"]) == (1, 1)
    page = body(changes({"batch_id": latest["batch_id"]}))
    assert {c["entity_id"]: c["kind"] for c in page["changes"]} == {
        scenario.history_id: "updated", scenario.deleted_id: "deleted"}
    assert page["total"] == 2 and page["next_cursor"] is None
    deleted = body(changes({"batch_id": latest["batch_id"], "kind": "deleted"}))
    assert [c["entity_id"] for c in deleted["changes"]] == [scenario.deleted_id]
    assert deleted["changes"][0]["new_fingerprint"] is None and deleted["total"] == 1


def test_changes_page_through_the_first_batch(scenario: Scenario) -> None:
    first = body(batches())["batches"][-1]
    seen: list[str] = []
    query = {"batch_id": first["batch_id"], "limit": "7"}
    while True:
        page = body(changes(query))
        assert len(page["changes"]) <= 7
        seen.extend(c["entity_id"] for c in page["changes"])
        if page["next_cursor"] is None:
            break
        query["cursor"] = page["next_cursor"]
    assert seen == sorted(seen) and len(set(seen)) == len(seen) == first["inserted"]
    assert len(seen) == len(scenario.current_ids) + 1  # the deleted one was inserted too


@pytest.mark.parametrize("query", [
    {}, {"batch_id": "yesterday"}, {"batch_id": "20190101T060000.000000Z", "kind": "moved"},
    {"batch_id": "20190101T060000.000000Z", "limit": "0"},
    {"batch_id": "20190101T060000.000000Z", "cursor": "not-a-cursor"},
])
def test_changes_bad_parameters_are_400(scenario: Scenario, query: dict[str, str]) -> None:
    assert changes(query)["statusCode"] == 400


def test_changes_unknown_batch_is_404(scenario: Scenario) -> None:
    resp = changes({"batch_id": "20000101T000000.000000Z"})
    assert resp["statusCode"] == 404 and "/batches/drug" in body(resp)["error"]["message"]


def test_cursor_of_another_list_is_refused(scenario: Scenario) -> None:
    page = body(batches({"limit": "1"}))
    other = changes({"batch_id": page["batches"][0]["batch_id"], "cursor": page["next_cursor"]})
    assert other["statusCode"] == 400


def test_every_200_has_etag_and_if_none_match_gives_304(scenario: Scenario) -> None:
    first = get(scenario.history_id)
    tag = first["headers"]["ETag"]
    assert first["statusCode"] == 200 and tag.startswith('"')
    again = get(scenario.history_id, headers={"if-none-match": f'W/"x", {tag}'})
    assert again["statusCode"] == 304 and again["body"] == ""
    assert again["headers"]["ETag"] == tag and "max-age" in again["headers"]["Cache-Control"]
    other = get(scenario.deleted_id, headers={"If-None-Match": tag})
    assert other["statusCode"] == 200 and other["headers"]["ETag"] != tag
    for resp in (batches(), history(scenario.history_id, {}),
                 handlers.explorer_page(load_event("search_drug"), None)):
        assert resp["statusCode"] == 200 and resp["headers"]["ETag"]
    assert "ETag" not in get("99999999999")["headers"]  # only 200s carry one


def test_explorer_page_is_self_contained_html(scenario: Scenario) -> None:
    resp = handlers.explorer_page(load_event("search_drug"), None)
    assert resp["headers"]["Content-Type"].startswith("text/html")
    page = resp["body"]
    assert "<script" in page and "<style" in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere
    assert 'src="' not in page and "<link rel=\"stylesheet\"" not in page
