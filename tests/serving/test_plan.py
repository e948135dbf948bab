"""The pure plan: classification, token differences, write payloads (no DynamoDB)."""

from __future__ import annotations

from datetime import date

import pytest
from scd2_model import Scd2Model

from ppstack.entities import DRUG
from ppstack.errors import PpstackError
from ppstack.serving.keys import CURRENT_SK
from ppstack.serving.plan import CURRENT_CONDITION, DELETE, INSERT, UPDATE, plan_entity

D1, D2 = date(2025, 1, 3), date(2025, 1, 10)
NDC = "00002322730"


def _model(first: dict | None, second: dict | None) -> tuple[Scd2Model, str]:
    m = Scd2Model(DRUG)
    m.apply({NDC: first} if first else {}, D1)
    b2 = m.apply({NDC: second} if second else {}, D2)
    return m, b2


def test_plan_entity_insert_puts_current_and_all_tokens() -> None:
    m = Scd2Model(DRUG)
    b = m.apply({NDC: {"proprietary_name": "Prozac", "labeler_name": "Eli Lilly"}}, D1)
    plan = plan_entity(DRUG, m.batch_rows(b))
    assert plan.kind == INSERT and plan.history is None and plan.token_deletes == ()
    assert {t["SK"]["S"] for t in plan.token_adds} == {
        f"token#prozac#proprietary_name#DRUG#{NDC}",
        f"token#eli#labeler_name#DRUG#{NDC}",
        f"token#lilly#labeler_name#DRUG#{NDC}",
        # rank items: best tier, name length 1, the entity's tokens per field
        f"rank#prozac#001#DRUG#{NDC}",
        f"rank#eli#201#DRUG#{NDC}",
        f"rank#lilly#201#DRUG#{NDC}",
    }
    rank = next(t for t in plan.token_adds if t["SK"]["S"].startswith("rank#eli#"))
    assert rank["d"] == {"S": "prozac||||||eli lilly"}
    assert plan.current["SK"]["S"] == CURRENT_SK and plan.writes == 8  # + the change item


def test_plan_entity_update_writes_only_token_differences() -> None:
    m, b2 = _model({"proprietary_name": "Prozac", "labeler_name": "Eli Lilly"},
                   {"proprietary_name": "Prozac Weekly", "labeler_name": "Eli Lilly"})
    plan = plan_entity(DRUG, m.batch_rows(b2))
    assert plan.kind == UPDATE
    # the name grew to two words: every rank item moves to a new sort key
    assert [t["SK"]["S"] for t in plan.token_adds] == [
        f"rank#eli#202#DRUG#{NDC}", f"rank#lilly#202#DRUG#{NDC}",
        f"rank#prozac#002#DRUG#{NDC}", f"rank#weekly#002#DRUG#{NDC}",
        f"token#weekly#proprietary_name#DRUG#{NDC}"]
    assert [k["SK"]["S"] for k in plan.token_deletes] == [
        f"rank#eli#201#DRUG#{NDC}", f"rank#lilly#201#DRUG#{NDC}", f"rank#prozac#001#DRUG#{NDC}"]
    assert plan.history is not None and plan.history["SK"]["S"] == "V#2025-01-03"
    assert plan.history["effective_to"]["S"] == "2025-01-10"
    assert plan.history["last_ingestion_batch_id"]["S"] == b2
    assert plan.writes == 1 + 5 + 1 + 3 + 1  # + the change item


def test_plan_entity_update_of_a_field_outside_the_tokens_writes_no_search_item() -> None:
    m, b2 = _model({"proprietary_name": "Prozac", "marketing_category": "NDA"},
                   {"proprietary_name": "Prozac", "marketing_category": "ANDA"})
    plan = plan_entity(DRUG, m.batch_rows(b2))
    assert plan.token_adds == () and plan.token_deletes == () and plan.writes == 3


def test_plan_entity_strength_change_rewrites_rank_items_in_place() -> None:
    m, b2 = _model({"proprietary_name": "Advil", "strength": "200 mg/1"},
                   {"proprietary_name": "Advil", "strength": "200 mg/1; 2.5 mg/1"})
    plan = plan_entity(DRUG, m.batch_rows(b2))
    added = [t["SK"]["S"] for t in plan.token_adds]
    assert f"token#2.5#strength#DRUG#{NDC}" in added and f"rank#2.5#201#DRUG#{NDC}" in added
    assert f"rank#advil#001#DRUG#{NDC}" in added  # same key, new content (d)
    assert plan.token_deletes == ()


def test_plan_entity_delete_updates_current_and_removes_all_tokens() -> None:
    m, b2 = _model({"proprietary_name": "Advil", "strength": "200 mg"}, None)
    plan = plan_entity(DRUG, m.batch_rows(b2))
    assert plan.kind == DELETE and plan.token_adds == ()
    assert [k["SK"]["S"] for k in plan.token_deletes] == [
        f"rank#200#201#DRUG#{NDC}", f"rank#advil#001#DRUG#{NDC}", f"rank#mg#201#DRUG#{NDC}",
        f"token#200#strength#DRUG#{NDC}", f"token#advil#proprietary_name#DRUG#{NDC}",
        f"token#mg#strength#DRUG#{NDC}"]
    request = plan.current_request()
    assert request["ConditionExpression"] == CURRENT_CONDITION
    assert request["UpdateExpression"].startswith("SET ")
    assert "REMOVE" in request["UpdateExpression"]  # absent business fields stay absent
    assert plan.current["is_current"] == {"BOOL": False}
    assert plan.current["effective_to"]["S"] == "2025-01-10"
    assert request["ExpressionAttributeValues"][":b"] == {"S": b2}


def test_plan_entity_rows_of_two_batches_refused() -> None:
    m, _ = _model({"proprietary_name": "A"}, {"proprietary_name": "B"})
    m.apply({NDC: {"proprietary_name": "C"}}, date(2025, 1, 17))
    with pytest.raises(PpstackError):
        plan_entity(DRUG, m.all_rows())


def test_plan_entity_dates_are_iso_strings() -> None:
    m = Scd2Model(DRUG)
    b = m.apply({NDC: {"marketing_start_date": date(2001, 2, 3)}}, D1)
    plan = plan_entity(DRUG, m.batch_rows(b))
    assert plan.current["marketing_start_date"] == {"S": "2001-02-03"}
    assert plan.current["effective_from"] == {"S": "2025-01-03"}
    assert plan.current["effective_to"] == {"S": "9999-12-31"}
    assert "route" not in plan.current  # NULL omitted
