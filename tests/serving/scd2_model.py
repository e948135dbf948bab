"""A small reference SCD2 model: dated snapshots in, conformed rows out
(docs/data-rules.md#conformed-scd2).

Test support only. It applies each snapshot ``{key: business_dict}`` with effective date E
exactly per the rules: close (active_to = E, is_current = false, stamped with the batch) every
current row whose key is missing or whose fingerprint differs, then insert a current row with
active_from = E for every snapshot key without a current row. Its fingerprint is written here
independently of the product: md5 of the '|'-joined text values (dates ISO), lower hex.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from ppstack.entities.spec import EntitySpec

OPEN_END = date(9999, 12, 31)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fingerprint(spec: EntitySpec, business: dict[str, Any]) -> str:
    joined = "|".join(_text(business.get(f)) for f in spec.field_names)
    return hashlib.md5(joined.encode("utf-8")).hexdigest()


def batch_id_for(effective: date, seq: int = 0) -> str:
    return f"{effective:%Y%m%d}T060000.{seq:06d}Z"


class Scd2Model:
    """All conformed rows of one entity type, mutated batch by batch like the MERGE + INSERT."""

    def __init__(self, spec: EntitySpec, source_system: str = "FDA_NDC") -> None:
        self.spec = spec
        self.source_system = source_system
        self.rows: list[dict[str, Any]] = []
        self.batches: list[str] = []
        self.dates: dict[str, str] = {}  # effective date -> batch id, like the batch ledger

    def apply(self, snapshot: dict[str, dict[str, Any]], effective: date,
              batch_id: str | None = None) -> str:
        batch_id = batch_id or batch_id_for(effective, len(self.batches))
        stamp = datetime.strptime(batch_id, "%Y%m%dT%H%M%S.%fZ")
        fps = {k: fingerprint(self.spec, {**b, self.spec.key: k}) for k, b in snapshot.items()}
        for r in self.rows:
            key = r[self.spec.key]
            if r["is_current"] and (key not in snapshot or fps[key] != r["fingerprint"]):
                r.update(active_to=effective, is_current=False, ingestion_batch_id=batch_id,
                         ingestion_timestamp=stamp)
        current = {r[self.spec.key] for r in self.rows if r["is_current"]}
        for key in sorted(set(snapshot) - current):
            business = {f: snapshot[key].get(f) for f in self.spec.field_names}
            business[self.spec.key] = key
            self.rows.append({
                **business,
                "active_from": effective,
                "active_to": OPEN_END,
                "is_current": True,
                "source_effective_date": effective,
                "source_file_date": effective,
                "ingestion_timestamp": stamp,
                "ingestion_batch_id": batch_id,
                "fingerprint": fps[key],
                "source_system": self.source_system,
                "opened_batch_id": batch_id,
            })
        self.batches.append(batch_id)
        self.dates[effective.isoformat()] = batch_id
        return batch_id

    def batch_rows(self, batch_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows if r["ingestion_batch_id"] == batch_id]

    def all_rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows]
