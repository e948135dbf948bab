"""The three handlers against real dynalite with the loader's scenario."""

from __future__ import annotations

import pytest

from ppstack.api import handlers
from ppstack.entities import DRUG
from ppstack.entities.spec import OPEN_END

from .conftest import body, load_event
from .loader import Scenario


def get(ndc: str) -> dict:
    return handlers.get_drug(load_event("get_drug", path={"ndc": ndc}), None)


def history(ndc: str) -> dict:
    return handlers.get_drug_history(load_event("get_drug_history", path={"ndc": ndc}), None)


def test_get_drug_found_returns_current_item(scenario: Scenario) -> None:
    resp = handlers.get_drug(load_event("get_drug"), None)
    assert resp["statusCode"] == 200
    drug = body(resp)
    assert drug["entity_id"] == "00002322730"
    assert drug["proprietary_name"] == "Strattera"
    assert drug["is_current"] is True
    assert drug["effective_to"] == OPEN_END
    assert drug["package_ndc"] == "0002-3227-30"


def test_get_drug_item_has_every_field_and_nulls_for_omitted(scenario: Scenario) -> None:
    drug = body(get("00002322730"))
    assert set(drug) >= set(DRUG.field_names)
    assert drug["dea_schedule"] is None  # NULL in the source, omitted in the table


def test_get_drug_unknown_is_404_envelope(scenario: Scenario) -> None:
    resp = get("99999-9999-99")
    assert resp["statusCode"] == 404
    assert body(resp)["error"]["code"] == "NOT_FOUND"
    assert "99999999999" in body(resp)["error"]["message"]


def test_get_drug_logically_deleted_is_returned_not_current(scenario: Scenario) -> None:
    drug = body(get(scenario.deleted_id))
    assert drug["is_current"] is False
    assert drug["effective_to"] == "2019-04-29"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("0002-3227-30", "00002322730"),  # 4-4-2
        ("00002-3227-30", "00002322730"),  # 5-4-2 hyphenated
        ("00002322730", "00002322730"),  # 11 digits
        (" 00002322730 ", "00002322730"),  # surrounding blanks
        ("16714-755-01", "16714075501"),  # 5-3-2
        ("50090-4235-0", "50090423500"),  # 5-4-1
    ],
)
def test_get_drug_every_ndc_form_normalises(scenario: Scenario, form: str, expected: str) -> None:
    resp = get(form)
    assert resp["statusCode"] == 200, resp["body"]
    assert body(resp)["entity_id"] == expected


@pytest.mark.parametrize("bad", ["0002322730", "0002-3227-3a", "1-2-3", "abc", "", "0" * 300])
def test_get_drug_malformed_is_400(scenario: Scenario, bad: str) -> None:
    resp = get(bad)
    assert resp["statusCode"] == 400
    assert body(resp)["error"]["code"] == "BAD_REQUEST"


def test_get_drug_missing_path_parameter_is_400(scenario: Scenario) -> None:
    event = load_event("get_drug")
    event["pathParameters"] = None
    assert handlers.get_drug(event, None)["statusCode"] == 400


def test_history_orders_versions_by_effective_from(scenario: Scenario) -> None:
    resp = handlers.get_drug_history(load_event("get_drug_history"), None)
    assert resp["statusCode"] == 200
    data = body(resp)
    assert data["entity_id"] == scenario.history_id
    assert [v["effective_from"] for v in data["versions"]] == scenario.history_from
    assert [v["is_current"] for v in data["versions"]] == [False, False, True]
    # closed intervals chain: each version ends where the next begins
    versions = data["versions"]
    assert [v["effective_to"] for v in versions[:-1]] == [v["effective_from"] for v in versions[1:]]


def test_history_accepts_any_ndc_form(scenario: Scenario) -> None:
    assert body(history("0002-3227-30"))["entity_id"] == scenario.history_id


def test_history_logically_deleted_shows_last_version_once(scenario: Scenario) -> None:
    versions = body(history(scenario.deleted_id))["versions"]
    assert len(versions) == 1
    assert versions[0]["is_current"] is False
    assert versions[0]["effective_to"] == "2019-04-29"


def test_history_unknown_is_404(scenario: Scenario) -> None:
    resp = history("99999999999")
    assert resp["statusCode"] == 404
    assert body(resp)["error"]["code"] == "NOT_FOUND"


def test_history_malformed_is_400(scenario: Scenario) -> None:
    assert history("12-34")["statusCode"] == 400


@pytest.mark.parametrize("status_event", ["ok", "client_error"])
def test_responses_carry_json_cors_and_cache_headers(scenario: Scenario, status_event: str) -> None:
    resp = get("00002322730" if status_event == "ok" else "bad")
    headers = resp["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"]
    expected = ("public, max-age=300, must-revalidate" if status_event == "ok"
                else "public, max-age=60")
    assert headers["Cache-Control"] == expected
    assert resp["isBase64Encoded"] is False


def test_handler_store_unreachable_is_503_no_store(scenario: Scenario) -> None:
    from ppstack.api import config

    config.configure(table="no-such-table-here")
    resp = get("00002322730")
    assert resp["statusCode"] == 503
    assert resp["headers"]["Cache-Control"] == "no-store"
    assert body(resp)["error"]["code"] == "UNAVAILABLE"
