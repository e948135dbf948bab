"""The exact SQL a step runs for one batch, without running it: what ``ppstack sql render``
prints (docs/architecture.md#sql-is-the-heart).

The steps stage, close and insert come from their step definitions (``pipeline.steps``), so
what is printed is what both drivers execute; other step aliases and any template name are
rendered with the batch's parameters. Nothing is connected: table names come from
``backends.table_ref_for`` for the backend asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from ppstack.entities import get_entity, get_source
from ppstack.entities.spec import EntitySpec
from ppstack.errors import BadInput
from ppstack.settings import Settings
from ppstack.sql import literal

TemplateFor = Callable[[EntitySpec, str], str]

# Step alias -> template name for an entity and source. Other areas may add their steps here.
STEP_TEMPLATES: dict[str, TemplateFor] = {
    "bootstrap_raw_db": lambda spec, src: "ddl_database_raw",
    "bootstrap_staging_db": lambda spec, src: "ddl_database_staging",
    "ddl_raw": lambda spec, src: "ddl_table_raw",
    "ddl_staging": lambda spec, src: "ddl_staging_batch",
    "ddl_rejects": lambda spec, src: "ddl_staging_rejects",
    "stage": lambda spec, src: spec.staging_template[src],
    "stage_rejects": lambda spec, src: spec.staging_template[src] + "_rejects",
    "stage_counts": lambda spec, src: spec.staging_template[src] + "_counts",
    "stage_drop": lambda spec, src: "stage_drop_ctas",
    "ddl_conformed": lambda spec, src: "ddl_conformed",
    "close": lambda spec, src: "scd2_close",
    "insert": lambda spec, src: "scd2_insert",
}


def render_step(settings: Settings, template: str, entity: str, source: str | None,
                ingest_date: str, batch_id: str, *, every: bool = False) -> str:
    """The exact SQL of ``template`` for one batch. The steps stage, close and insert come from
    their step definitions (what both drivers execute), each statement headed by its execution
    context: with ``every`` all statements of the step in order, else the step's main statement
    (the staging CTAS, the MERGE, the INSERT). Other aliases and template names are rendered with
    the batch's parameters."""
    from ppstack.backends import table_ref_for
    from ppstack.layout import CONFORMED_NS
    from ppstack.pipeline.batch import BatchParams
    from ppstack.pipeline.steps import definitions, nothing_written
    from ppstack.sql import load, placeholders, render_text, template_names
    from ppstack.sql.params import ddl_columns, raw_table_params

    spec = get_entity(entity)
    src = get_source(spec, source or spec.sources[0])
    batch = BatchParams.build(settings, spec, src, ingest_date, batch_id)
    steps = {d.name: d for d in definitions()}
    if template in steps and template in STEP_TEMPLATES:
        statements = steps[template].statements(batch, nothing_written)
        if not every:
            main = STEP_TEMPLATES[template](spec, src.name)
            statements = [s for s in statements if s.template == main]
        return "\n\n".join(
            f"-- {s.template} in catalog {s.context.catalog}"
            + (f", database {s.context.database}" if s.context.database else "")
            + f"\n{s.sql.rstrip()};" for s in statements)
    if template in STEP_TEMPLATES:
        try:
            name = STEP_TEMPLATES[template](spec, src.name)
        except KeyError:
            raise BadInput(f"step {template!r} has no template for {spec.name} "
                           f"{src.name}") from None
    elif template in template_names():
        name = template
    else:
        raise BadInput(f"unknown step or template {template!r}; steps: "
                       f"{', '.join(STEP_TEMPLATES)}; templates: {', '.join(template_names())}")
    params = dict(batch.params)
    params.setdefault("drop_table", params["staging_ctas_table"])
    params.setdefault("as_of_date", f"DATE {literal(ingest_date)}")
    # replay, lineage and schema-evolution templates: example values of their own parameters
    params.setdefault("from_date", f"DATE {literal(ingest_date)}")
    params.setdefault("entity_id", "'<id>'")
    params.setdefault("first_key", "'<first id>'")
    params.setdefault("last_key", "'<last id>'")
    replay_name = f"{spec.lname}_replay_{batch_id.lower().replace('.', '_')}"
    params.setdefault("replay_table", table_ref_for(
        settings.backend, settings.table_bucket, CONFORMED_NS, replay_name))
    params.setdefault("table", f"{params['staging_db']}.{params['staging_table_name']}")
    params.setdefault("columns", ddl_columns(spec.fields[-1:]))
    text = load(name)
    if "raw_table" in placeholders(text):  # one statement per source member
        parts = []
        for member in src.members:
            p = {**params, **raw_table_params(spec, src, member, settings.bucket)}
            parts.append(f"-- member: {member.name}\n" + render_text(text, p).rstrip() + ";")
        return "\n\n".join(parts)
    try:
        return render_text(text, params).rstrip()
    except KeyError as e:
        raise BadInput(f"template {name!r} needs parameters this command cannot supply: "
                       f"{e}") from None
