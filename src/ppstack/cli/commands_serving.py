"""CLI commands of the serving area: ``sync`` and ``reconcile`` (layer 4, DynamoDB).

They only parse options, build a Runtime and call ``ppstack.serving``; progress goes to stderr
(off with ``--quiet``), data to stdout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ppstack.backends import Runtime
from ppstack.cli.context import runtime
from ppstack.cli.output import emit_record, emit_rows, format_option
from ppstack.cli.progress import bar_factory
from ppstack.entities import get_entity
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput, PpstackError

DIFF_COLUMNS = ("kind", "pk", "sk", "detail")


@click.command("sync")
@click.argument("entity")
@click.option("--batch-id", help="Ingestion batch to apply, e.g. 20250103T060012.123456Z.")
@click.option("--rebuild", is_flag=True,
              help="Write every item conformed implies and delete the entity's other items.")
@format_option(rows=False, help="Output format of the write counts: table or json.")
@click.pass_context
def sync_command(ctx: click.Context, entity: str, batch_id: str | None, rebuild: bool,
                 fmt: str) -> None:
    """Bring the DynamoDB serving table in step with conformed.<entity>.

    With --batch-id, apply one batch (idempotent: safe to repeat, stale replays change nothing);
    with --rebuild, write every item the whole conformed table implies and delete the items of
    the entity it does not imply (extra versions, stray tokens), under the entity's lock.

    \b
    Example:
      ppstack sync DRUG --batch-id 20250103T060012.123456Z
      ppstack sync DRUG --rebuild
    """
    if bool(batch_id) == rebuild:
        raise BadInput("give exactly one of --batch-id B or --rebuild")
    spec = get_entity(entity)
    quiet = bool(ctx.obj.get("quiet"))
    if rebuild:
        from ppstack.serving.rebuild import rebuild as run_rebuild

        emit_record(locked_with_bar(ctx, spec, "rebuild", run_rebuild).to_dict(), fmt)
        return
    from ppstack.serving.sync import sync_batch

    assert batch_id is not None
    bar = bar_factory(quiet)(f"sync {spec.name}")
    try:
        with runtime(ctx) as rt:
            stats = sync_batch(rt, spec, batch_id, meter=bar)
    finally:
        bar.close()
    emit_record(stats.to_dict(), fmt)


@click.command("reconcile")
@click.argument("entity")
@click.option("--repair", is_flag=True,
              help="Rewrite missing and differing items, delete extra items and stray tokens.")
@format_option()
@click.pass_context
def reconcile_command(ctx: click.Context, entity: str, repair: bool, fmt: str) -> None:
    """List every difference between DynamoDB and conformed.<entity>; exit 1 when any.

    Kinds: missing, extra, stale (with the attributes that differ), missing_token, extra_token,
    stale_token. With --repair, the differences are fixed instead (puts first, the V#CURRENT
    items after the versions and tokens, deletes last, so the API keeps answering), under the
    entity's lock; a reconcile afterwards is empty.

    \b
    Example:
      ppstack reconcile DRUG --format json
      ppstack reconcile DRUG --repair
    """
    spec = get_entity(entity)
    if repair:
        from ppstack.serving.repair import repair as run_repair

        emit_record(locked_with_bar(ctx, spec, "repair", run_repair).to_dict(), fmt)
        return
    from ppstack.serving.reconcile import reconcile

    with runtime(ctx) as rt:
        diffs = reconcile(rt, spec)
    if diffs or fmt != "table":
        emit_rows(DIFF_COLUMNS, [d.to_dict() for d in diffs], fmt)
    if diffs:
        raise PpstackError(f"{len(diffs)} difference(s) between DynamoDB and conformed.{spec.lname}"
                           f"; fix them with: ppstack reconcile {spec.name} --repair")
    click.echo(f"no differences for {spec.name}", err=True)


def entity_lock(rt: Runtime, entity: str, purpose: str) -> Any:
    """The entity's batch lock: no batch or replay writes DynamoDB while a repair runs."""
    from ppstack.pipeline.lock import EntityLock

    return EntityLock(rt.store, entity, stale_seconds=rt.settings.lock_stale_seconds,
                      purpose=purpose)


COMMANDS: tuple[click.Command, ...] = (sync_command, reconcile_command)


def locked_with_bar(ctx: click.Context, spec: EntitySpec, purpose: str,
                    run: Callable[..., Any]) -> Any:
    """``run(rt, spec, meter=...)`` under the entity's lock with a progress bar named for
    ``purpose`` (a whole-table rewrite of DynamoDB: rebuild or repair); returns its stats."""
    bar = bar_factory(bool(ctx.obj.get("quiet")))(f"{purpose} {spec.name}")
    try:
        with runtime(ctx) as rt, entity_lock(rt, spec.name, purpose):
            return run(rt, spec, meter=bar)
    finally:
        bar.close()
