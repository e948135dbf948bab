"""Service-level behaviour that needs a misbehaving DynamoDB: UnprocessedKeys retries."""

from __future__ import annotations

from typing import Any

from ppstack.api import service
from ppstack.entities import DRUG
from ppstack.settings import Settings

from .loader import Scenario


class HalfProcessing:
    """Wraps a real client; each BatchGetItem answers only its first key and returns the rest
    as UnprocessedKeys, like DynamoDB under load."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.batch_calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any], **kw: Any) -> dict[str, Any]:  # noqa: N803
        self.batch_calls += 1
        (table, req), = RequestItems.items()
        first, rest = req["Keys"][:1], req["Keys"][1:]
        resp = self.client.batch_get_item(RequestItems={table: {**req, "Keys": first}}, **kw)
        resp["UnprocessedKeys"] = {table: {**req, "Keys": rest}} if rest else {}
        return resp


def test_batch_get_current_retries_unprocessed_keys(loaded: tuple[Any, Scenario],
                                                    api_settings: Settings) -> None:
    client, sc = loaded
    ids = sc.current_ids[:4]
    flaky = HalfProcessing(client)
    found = service.batch_get_current(flaky, api_settings.dynamodb_table, DRUG, ids)
    assert sorted(found) == ids
    assert flaky.batch_calls == 4


def test_output_fields_are_item_attributes_then_business_fields() -> None:
    fields = service.output_fields(DRUG)
    assert fields[: len(service.ITEM_ATTRIBUTES)] == service.ITEM_ATTRIBUTES
    assert set(fields) == set(service.ITEM_ATTRIBUTES) | set(DRUG.field_names)
    assert "PK" not in fields and "SK" not in fields
