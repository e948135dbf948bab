"""The SCD Type 2 invariants of a conformed table, checked by ONE function.

Every SCD2 test calls ``check_invariants(before, after, key)`` after every batch, and the runner
can call it too. It works on plain row dicts (``Result.dicts()`` of ``SELECT *``), so it does not
care which engine produced them, and it knows nothing about how the rows were written: it is the
independent statement of what "history that is never lost" means
(docs/data-rules.md#conformed-scd2):

1. at most one current row per key;
2. ``is_current`` exactly when ``active_to = 9999-12-31``;
3. closed rows have ``active_from < active_to``;
4. a key's versions never overlap, only the latest may be current, and a version closed and a
   version opened by the same batch meet exactly (a change leaves no gap while the key exists).
   A gap can only come from a logical delete followed by a reactivation; whether the key really
   was absent then is a fact about the batches, which the tests' reference model checks;
5. versions are identified by ``(key, active_from)``, which is unique;
6. nothing disappears between batches: every row of ``before`` is still in ``after``; a closed row
   never changes again; a current row either stays as it was or is closed, and closing changes
   only ``active_to``, ``is_current``, ``ingestion_batch_id`` and ``ingestion_timestamp``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ppstack.entities.spec import OPEN_END

Row = Mapping[str, Any]

# The only columns closing a version may change (scd2_close.sql's SET list).
CLOSE_CHANGES = frozenset({"active_to", "is_current", "ingestion_batch_id", "ingestion_timestamp"})


def _day(value: Any) -> str:
    """Dates as ``YYYY-MM-DD`` whatever the engine returned (date, datetime or text)."""
    if isinstance(value, date):
        return value.isoformat()[:10]
    return str(value)[:10]


def _norm(row: Row) -> dict[str, Any]:
    out = dict(row)
    for col in ("active_from", "active_to"):
        out[col] = _day(row[col])
    return out


def _version_id(row: Row, key: str) -> tuple[str, str]:
    return (str(row[key]), _day(row["active_from"]))


def _table_violations(rows: list[dict[str, Any]], key: str) -> list[str]:
    problems: list[str] = []
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for r in rows:
        vid = _version_id(r, key)
        if vid in seen:
            problems.append(f"{key}={vid[0]}: two versions start on {vid[1]}")
        seen.add(vid)
        by_key[str(r[key])].append(r)
        is_open = r["active_to"] == OPEN_END
        if bool(r["is_current"]) != is_open:
            problems.append(
                f"{key}={r[key]} from {r['active_from']}: is_current={r['is_current']} "
                f"but active_to={r['active_to']}"
            )
        if not r["is_current"] and not r["active_from"] < r["active_to"]:
            problems.append(
                f"{key}={r[key]}: closed version has active_from {r['active_from']} "
                f">= active_to {r['active_to']}"
            )
    for k, versions in by_key.items():
        current = [v for v in versions if v["is_current"]]
        if len(current) > 1:
            problems.append(f"{key}={k}: {len(current)} current rows")
        versions.sort(key=lambda v: v["active_from"])
        for earlier, later in zip(versions, versions[1:], strict=False):
            if earlier["is_current"]:
                problems.append(f"{key}={k}: current version {earlier['active_from']} is not the "
                                "latest")
            if earlier["active_to"] > later["active_from"]:
                problems.append(
                    f"{key}={k}: versions overlap "
                    f"({earlier['active_from']}..{earlier['active_to']} "
                    f"and {later['active_from']}..)"
                )
            same_batch = earlier.get("ingestion_batch_id") == later.get("ingestion_batch_id")
            if same_batch and earlier["active_to"] != later["active_from"]:
                problems.append(
                    f"{key}={k}: changed in batch {later.get('ingestion_batch_id')} but the old "
                    "version "
                    f"ends {earlier['active_to']} and the new one starts {later['active_from']} "
                    "(gap)"
                )
    return problems


def _history_violations(before: list[dict[str, Any]], after: list[dict[str, Any]],
                        key: str) -> list[str]:
    problems: list[str] = []
    if len(after) < len(before):
        problems.append(f"row count decreased from {len(before)} to {len(after)}")
    after_by_id = {_version_id(r, key): r for r in after}
    for old in before:
        vid = _version_id(old, key)
        new = after_by_id.get(vid)
        if new is None:
            problems.append(f"{key}={vid[0]} version from {vid[1]} disappeared")
            continue
        changed = {c for c in old if old[c] != new.get(c)}
        if not old["is_current"]:
            if changed:
                problems.append(
                    f"{key}={vid[0]} closed version from {vid[1]} changed: {sorted(changed)}"
                )
        elif changed - CLOSE_CHANGES:
            problems.append(
                f"{key}={vid[0]} version from {vid[1]} changed more than closing allows: "
                f"{sorted(changed - CLOSE_CHANGES)}"
            )
        elif changed and new["is_current"]:
            problems.append(f"{key}={vid[0]} current version from {vid[1]} was restamped but not "
                            "closed")
    return problems


def check_invariants(before_rows: Iterable[Row] | None, after_rows: Iterable[Row],
                     key: str, *, raise_on_violation: bool = True) -> list[str]:
    """Check the table invariants of ``after_rows`` and the history rule against ``before_rows``.

    ``before_rows`` is the full table before the batch (``None`` or empty for the first one).
    Returns the list of violations (empty when all hold); by default raises AssertionError listing
    them, so a test can just call it.
    """
    after = [_norm(r) for r in after_rows]
    before = [_norm(r) for r in before_rows or ()]
    problems = _table_violations(after, key) + _history_violations(before, after, key)
    if problems and raise_on_violation:
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise AssertionError(f"SCD2 invariants violated ({len(problems)}):\n  {shown}{more}")
    return problems
