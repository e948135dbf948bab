"""Helpers of the serving tests: scan, strategies, dates (imported by name; not fixtures)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from ppstack.entities import DRUG
from ppstack.serving.changes import UNPROJECTED_BATCH_ATTRIBUTES


def scan_all(client: Any, table: str) -> dict[tuple[str, str], dict]:
    """Every item of the table (all entity types), keyed by (PK, SK); batch items without their
    ``synced_at`` (a wall-clock time the projection cannot know, checked by its own test)."""
    out: dict[tuple[str, str], dict] = {}
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        for i in page.get("Items", []):
            if i["PK"]["S"].startswith("BATCHES#"):
                i = {k: v for k, v in i.items() if k not in UNPROJECTED_BATCH_ATTRIBUTES}
            out[(i["PK"]["S"], i["SK"]["S"])] = i
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---- hypothesis strategies: small key universes, a few business variants ----
KEYS = [f"0000000000{i}" for i in range(1, 7)]
NAMES = ["Prozac", "Prozac Weekly", "Advil", "Advil Migraine", None]
INGREDIENTS = ["FLUOXETINE HYDROCHLORIDE", "IBUPROFEN", "IBUPROFEN; CAFFEINE", None]
LABELERS = ["Eli Lilly and Company", "Pfizer Inc", "ALK-Abelló A/S"]
START_DATES = [None, date(2001, 1, 1), date(2010, 6, 15)]

business = st.fixed_dictionaries({
    "proprietary_name": st.sampled_from(NAMES),
    "ingredient_list": st.sampled_from(INGREDIENTS),
    "labeler_name": st.sampled_from(LABELERS),
    "strength": st.sampled_from(["10 mg", "200 mg", None]),
    "marketing_start_date": st.sampled_from(START_DATES),
})
snapshots = st.lists(
    st.dictionaries(st.sampled_from(KEYS), business, max_size=len(KEYS)), min_size=1, max_size=4
)


def dates(n: int, start: date = date(2025, 1, 3)) -> list[date]:
    return [start + timedelta(days=7 * i) for i in range(n)]


SPEC = DRUG
