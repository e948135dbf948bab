"""Derived dated FDA_NDC deliveries: real rows, seeded changes, and an exact list of what changed.

Only one real FDA snapshot exists (2019-04-29), but SCD2 change detection needs a sequence of
deliveries. ``derive_scenario`` takes one real ``product.txt`` + ``package.txt`` pair and writes a
snapshot per date whose rows are the real rows, byte for byte, except for the seeded changes it
makes and records. Tests, the demo and the benchmarks compare the pipeline's counts with the record.

Rules (all counts are shares of the DRUG keys of the source, at least 1 when a share is > 0):

* **Base** (first date): the source minus the held-back pool. The pool is the newest-marketed
  packages by package ``STARTMARKETINGDATE`` (ties by NDC); it is released oldest first, so later
  dates get the newest packages. ``base_holdback_share`` defaults to ``new_share`` times the number
  of derived dates; pool keys never released are listed in ``Scenario.held_back``.
* **new**: released pool keys; once the pool is empty, a new package of an existing product (same
  shape, an unused package segment, ``STARTMARKETINGDATE`` = the date). ``next_day_batch`` holds
  nothing back, so its day 1 is the source file unchanged.
* **changed**: a product row is edited in place (one of ``PROPRIETARYNAME``,
  ``ACTIVE_NUMERATOR_STRENGTH``, ``ROUTENAME``, ``LABELERNAME``). The row is shared by all its
  packages, so every present package of that product is recorded as changed; splitting the row
  was rejected because the PRODUCTID would then change for reasons FDA never has. Edits persist.
* **disappeared**: package rows dropped. A product row whose packages are all absent is dropped
  too, as FDA does when a listing goes; product rows that never had a package are always kept.
* **reactivated**: a key dropped on an earlier date comes back; half of them with an edited
  ``PACKAGEDESCRIPTION``. ``changed_fields`` lists every column that differs from the row as last
  published (a product edit made while the key was away counts too). A key must first be dropped
  on a derived date, so reactivations start on the second derived date.
* **duplicates**: for that date only, the package row appears a second time under a copy of its
  product row with a new PRODUCTID (a second SPL version); business fields are identical, so any
  deterministic dedupe rule leaves the key's fingerprint as it was.

Only "clean" keys are touched: the package joins an ``NDC_EXCLUDE_FLAG = 'N'`` product, its NDC
normalises, and the 11-digit NDC occurs once in the source. A key has at most one event per date,
so the expected SCD2 result is exact: inserted = new + reactivated, updated = changed,
deleted = disappeared, and the rest unchanged. Output keeps the source format: the bytes of the
header, delimiter, line ending and encoding (Windows-1252) are those of the source.

Modules, by concern: ``record`` (what a scenario is; ``scenario.json``), ``source`` (reading the
files as raw lines), ``edits`` (plausible field changes), ``deriver`` (the events, date by date),
``derive`` (the two entry points). Which rows staging accepts comes from
``pipeline.stage_rules``, the Python statement of the staging SQL's rules, never a copy.
"""

from ppstack.scenario.derive import derive_scenario, next_day_batch
from ppstack.scenario.edits import EDITABLE_FIELDS
from ppstack.scenario.record import (
    SCENARIO_FILE,
    Change,
    New,
    PackageRef,
    Reactivation,
    Scenario,
    Snapshot,
    load_scenario,
)

__all__ = ["EDITABLE_FIELDS", "SCENARIO_FILE", "Change", "New", "PackageRef", "Reactivation",
           "Scenario", "Snapshot", "derive_scenario", "load_scenario", "next_day_batch"]
