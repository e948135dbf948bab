"""``ppstack maintain ENTITY``: compaction and snapshot expiry of the local conformed table.

On AWS, S3 Tables runs both by itself (``engine.maintenance``); locally nothing would, so the
daily merge-on-read batches would pile up small data files, delete files and snapshots. The
entity's lock is held, so maintenance never interleaves with a batch's MERGE or INSERT.
"""

from __future__ import annotations

from ppstack.backends import Runtime
from ppstack.engine.maintenance import (
    MAX_SNAPSHOT_AGE_HOURS,
    MIN_SNAPSHOTS_TO_KEEP,
    MaintenanceReport,
)
from ppstack.entities import get_entity
from ppstack.entities.spec import IS_CURRENT, EntitySpec
from ppstack.errors import BadInput, Refused
from ppstack.pipeline.lock import EntityLock


def maintain_entity(rt: Runtime, entity: EntitySpec | str, *,
                    max_age_hours: float = MAX_SNAPSHOT_AGE_HOURS,
                    min_keep: int = MIN_SNAPSHOTS_TO_KEEP) -> MaintenanceReport:
    """Compact and expire ``conformed.<entity>`` on the local backend, under the entity lock."""
    from ppstack.engine.maintenance import maintain

    spec = get_entity(entity) if isinstance(entity, str) else entity
    if rt.settings.backend != "local":
        raise Refused("on AWS, S3 Tables compacts and expires snapshots by itself (the table's "
                      "maintenance configuration in infra/); maintain is for the local backend")
    if max_age_hours < 0 or min_keep < 1:
        raise BadInput("--max-snapshot-age-hours must be >= 0 and --min-snapshots >= 1")
    namespace, name = "conformed", spec.conformed_table
    with EntityLock(rt.store, spec.name, stale_seconds=rt.settings.lock_stale_seconds,
                    purpose="maintain"):
        store = rt.engine.iceberg  # type: ignore[attr-defined]
        if not store.exists(namespace, name):
            raise BadInput(f"conformed.{name} does not exist yet: run a batch of {spec.name} "
                           "first")
        return maintain(store, namespace, name, max_age_hours=max_age_hours, min_keep=min_keep,
                        current_flag=IS_CURRENT.name)
