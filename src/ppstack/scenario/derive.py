"""``derive_scenario`` and ``next_day_batch``: the dated deliveries, written and recorded."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from datetime import date as _date
from datetime import timedelta
from pathlib import Path

from ppstack.errors import BadInput
from ppstack.layout import check_date
from ppstack.scenario.deriver import Deriver
from ppstack.scenario.record import SCENARIO_FILE, New, Scenario


def _clear_previous(out: Path) -> None:
    """Remove the files an earlier scenario wrote here, so no stale date survives a re-run."""
    try:
        doc = json.loads((out / SCENARIO_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return
    for snap in doc.get("snapshots", []):
        for name in ("product_file", "package_file", "expected_keys_file"):
            (out / snap[name]).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (out / snap["date"]).rmdir()  # only when empty: never someone else's files
    (out / SCENARIO_FILE).unlink()


def _check_args(dates: list[str], shares: dict[str, float | None]) -> None:
    if not dates:
        raise BadInput("give at least one date (the base snapshot)")
    for d in dates:
        check_date(d, "scenario date")
    if any(a >= b for a, b in zip(dates, dates[1:], strict=False)):
        raise BadInput(f"scenario dates must be strictly increasing: {', '.join(dates)}")
    for name, v in shares.items():
        if v is not None and not 0 <= v <= 1:
            raise BadInput(f"{name} must be between 0 and 1, not {v}")


def derive_scenario(
    product_path: str | Path,
    package_path: str | Path,
    out_dir: str | Path,
    *,
    dates: list[str],
    seed: int,
    new_share: float = 0.005,
    change_share: float = 0.01,
    disappear_share: float = 0.005,
    reactivate_share: float = 0.002,
    duplicate_share: float = 0.001,
    base_holdback_share: float | None = None,
) -> Scenario:
    """Write ``out_dir/<date>/{product,package}.txt`` per date plus ``scenario.json``.

    The same inputs and seed always give the same bytes and the same record. Raises BadInput
    for unreadable or foreign files, bad dates and shares outside [0, 1].
    """
    shares = {"new_share": new_share, "change_share": change_share,
              "disappear_share": disappear_share, "reactivate_share": reactivate_share,
              "duplicate_share": duplicate_share, "base_holdback_share": base_holdback_share}
    _check_args(dates, shares)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    dv = Deriver(Path(product_path), Path(package_path), seed)
    n_new = dv.count(new_share)
    holdback = (n_new * (len(dates) - 1) if base_holdback_share is None
                else dv.count(base_holdback_share))
    pool = dv.hold_back(holdback)
    snaps = [dv.write(out, dates[0], [])]
    for date in dates[1:]:
        busy: set[int] = set()
        released, pool = pool[:n_new], pool[n_new:]
        for k in released:
            dv.present[k] = 1
        busy.update(released)
        made = dv.add_packages(date, n_new - len(released), busy)
        new = [New(**asdict(dv.ref(k)), origin="held_back") for k in released]
        new += [New(**asdict(dv.ref(k)), origin="new_package") for k in made]
        back = sorted(dv.dropped)
        back = dv.rng.sample(back, min(len(back), dv.count(reactivate_share)))
        busy.update(back)
        reactivated = [dv.reactivate(k) for k in back]
        changed = dv.change_products(dv.count(change_share), busy)
        cands = dv.free_present(busy)
        gone = sorted(dv.rng.sample(cands, min(len(cands), dv.count(disappear_share))))
        busy.update(gone)
        for k in gone:
            dv.dropped[k] = (date, dv.prod_line[dv.pkg_prod[k]], dv.pkg_line[k])
            dv.present[k] = 0
        cands = dv.free_present(busy)
        dups = sorted(dv.rng.sample(cands, min(len(cands), dv.count(duplicate_share))))
        snap = dv.write(out, date, [dv.duplicate(k) for k in dups])
        snap.new, snap.changed, snap.reactivated = new, changed, reactivated
        snap.disappeared = [dv.ref(k) for k in gone]
        snap.duplicates = [dv.ref(k) for k in dups]
        both = snap.expected_keys & snaps[-1].expected_keys
        snap.unchanged = len(both) - len({c.ndc11 for c in changed})
        snaps.append(snap)
    scenario = Scenario(
        out, seed, {k: v for k, v in shares.items() if v is not None},
        {"product": {"path": str(product_path), "sha256": dv.prod.sha256},
         "package": {"path": str(package_path), "sha256": dv.pkg.sha256}},
        snaps, [dv.ref(k) for k in pool],
    )
    text = json.dumps(scenario.to_dict(), indent=1, ensure_ascii=False, sort_keys=True)
    (out / SCENARIO_FILE).write_text(text + "\n", "utf-8")
    return scenario


def next_day_batch(
    product_path: str | Path,
    package_path: str | Path,
    out_dir: str | Path,
    date: str,
    seed: int,
    change_share: float = 0.01,
    new_share: float = 0.005,
    disappear_share: float = 0.005,
) -> Scenario:
    """Day 1 = the source files unchanged (dated ``date``), day 2 = the next day with changes.

    For benchmarks: nothing is held back (new keys are new packages of existing products) and
    there are no reactivations or duplicates, so day 2's SCD2 work is exactly the shares given.
    """
    day2 = (_date.fromisoformat(check_date(date)) + timedelta(days=1)).isoformat()
    return derive_scenario(
        product_path, package_path, out_dir, dates=[date, day2], seed=seed,
        new_share=new_share, change_share=change_share, disappear_share=disappear_share,
        reactivate_share=0.0, duplicate_share=0.0, base_holdback_share=0.0,
    )
