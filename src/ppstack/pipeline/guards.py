"""Guards that refuse a batch before it can damage history (docs/data-rules.md#conformed-scd2,
rules 5 and 6).

Each guard raises ``ppstack.errors.Refused`` with a message that says what was wrong, why it
matters and what to do, and changes nothing. (The third guard, one run per entity type, is the
lock in ``pipeline.lock``.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from ppstack.engine.base import SqlEngine
from ppstack.errors import Refused
from ppstack.layout import STAGING_NS
from ppstack.pipeline.batch import BatchParams
from ppstack.pipeline.ledger import BATCH, BatchRecord

LATE_DATA = (
    "Conformed history is append-only in business time: each key's versions are closed and "
    "opened in effective-date order, so an older delivery cannot be applied after a newer one "
    "without rewriting history that DynamoDB and users have already seen. Late or corrected data "
    "is handled by replaying the raw archive (immutable, kept for exactly this) in date order into "
    "a rebuilt conformed table, never by patching history."
)


def _day(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    return str(value)[:10]


def last_applied_in_table(engine: SqlEngine, batch: BatchParams) -> str | None:
    """The latest effective date other batches applied to the conformed table (or None)."""
    return _day(engine.execute(batch.sql("guard_effective_date"),
                               batch.context(STAGING_NS)).scalar())


def check_effective_date(entity: str, ingest_date: str, records: Iterable[BatchRecord],
                         table_last_applied: str | None) -> None:
    """Refuse a new batch whose effective date is not later than the last applied one.

    "Applied" = any batch that got past staging (its MERGE may have run) according to the ledger,
    or any date found in the table itself. Called for NEW batches only; resuming the latest batch
    is decided by the runner from the ledger.
    """
    applied = [(r.ingest_date, r.batch_id) for r in records
               if r.kind == BATCH and r.reached("closed")]
    last = max(applied) if applied else None
    candidates = [d for d in (last[0] if last else None, table_last_applied) if d]
    if not candidates:
        return
    latest = max(candidates)
    if ingest_date <= latest:
        via = f"batch {last[1]}" if last and last[0] == latest else "the conformed table"
        raise Refused(
            f"{entity} batch for {ingest_date} refused: its effective date is not later than the "
            f"last applied effective date {latest} ({via}). {LATE_DATA} To apply it in date "
            f"order, rebuild history from the archive: ppstack replay {entity} --from {ingest_date}"
        )


def check_mass_delete(engine: SqlEngine, batch: BatchParams, *, max_share: float,
                      allow: bool) -> dict[str, Any]:
    """Refuse, before the MERGE, a batch that would close too many current keys as disappeared.

    Returns the guard's figures (recorded in the ledger either way).
    """
    entity = batch.spec.name
    row = engine.execute(batch.sql("guard_mass_delete"), batch.context(STAGING_NS)).dicts()
    current = int(row[0]["current_keys"] or 0) if row else 0
    disappearing = int(row[0]["disappearing_keys"] or 0) if row else 0
    share = disappearing / current if current else 0.0
    figures = {"current_keys": current, "disappearing_keys": disappearing,
               "disappearing_share": round(share, 6), "max_share": max_share,
               "allowed": allow}
    if share > max_share and not allow:
        raise Refused(
            f"{entity} batch {batch.batch_id} would close {disappearing:,} of {current:,} "
            f"current keys ({share:.1%}) as disappeared, more than the limit of {max_share:.1%}. "
            "A truncated or partial source file looks exactly like this, and applying it would "
            "mark those entities as withdrawn in the serving layer. Check the source file; if the "
            "deletions are real, re-run with --allow-mass-delete (the batch resumes where it "
            "stopped), or raise PPSTACK_MASS_DELETE_THRESHOLD. Nothing was changed."
        )
    return figures
