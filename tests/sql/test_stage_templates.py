"""Every staging-area template renders with the parameters the code supplies and parses as
Athena SQL."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from ppstack.backends import table_ref_for
from ppstack.entities import ENTITIES, SOURCES
from ppstack.sql import load, placeholders, render, template_names
from ppstack.sql.params import batch_params, entity_params, raw_table_params, staging_ddl_params

OWNED_PREFIXES = ("ddl_database_", "ddl_table_raw", "ddl_staging_", "stage_")
OWNED = [n for n in template_names() if n.startswith(OWNED_PREFIXES)]


class _Refs:
    def table_ref(self, namespace: str, table: str) -> str:
        return table_ref_for("local", "pp-tables", namespace, table)


def _params(entity: str) -> dict[str, str]:
    spec = ENTITIES[entity]
    source = SOURCES[spec.sources[0]]
    p = entity_params(spec, _Refs(), "pp-archive")  # type: ignore[arg-type]
    p.update(staging_ddl_params(spec, "pp-archive"))
    p.update(batch_params(spec, source, "2019-04-29", "20190429T060000.000000Z", "pp-archive"))
    p.update(raw_table_params(spec, source, source.members[0], "pp-archive"))
    p["drop_table"] = p["staging_ctas_table"]
    return p


def _applies(name: str, entity: str) -> bool:
    """Entity-specific stage templates belong to one entity (stage_<entity>_<source>...)."""
    generic = name.startswith(("ddl_", "stage_count_", "stage_drop_"))
    return generic or name.startswith(f"stage_{entity.lower()}_")


def test_stage_templates_owned_exist() -> None:
    for spec in ENTITIES.values():
        for template in spec.staging_template.values():
            for suffix in ("", "_rejects", "_counts"):
                assert template + suffix in template_names()


@pytest.mark.parametrize("name", OWNED)
def test_stage_template_parses_as_athena(name: str) -> None:
    for entity in ENTITIES:
        if not _applies(name, entity):
            continue
        sql = render(name, _params(entity))
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
        assert len(statements) == 1, f"{name}: one statement per file"


@pytest.mark.parametrize("name", OWNED)
def test_stage_template_placeholders_are_named(name: str) -> None:
    text = load(name)
    params = _params("DRUG") if _applies(name, "DRUG") else _params("LABELER")
    assert "{{" not in render(name, params)
    assert placeholders(text) <= set(_params("DRUG")) | set(_params("LABELER"))


@pytest.mark.parametrize("name", [n for n in OWNED
                                  if n.startswith("stage_") and n.count("_") >= 3
                                  and not n.endswith("_counts")
                                  and not n.startswith("stage_count")])
def test_stage_ctas_writes_parquet_to_batch_prefix(name: str) -> None:
    entity = name.split("_")[1].upper()
    p = _params(entity)
    tree = sqlglot.parse_one(render(name, p), read="athena")
    assert isinstance(tree, exp.Create)
    props = {prop.name.lower(): prop.text("value") for prop in tree.find_all(exp.Property)}
    location = p["rejects_location"] if name.endswith("_rejects") else p["staging_location"]
    assert props.get("external_location") == location
    assert location.endswith("/20190429T060000.000000Z/")


def test_stage_glue_ddl_partition_key_not_a_data_column() -> None:
    p = _params("DRUG")
    for name in ("ddl_staging_batch", "ddl_staging_rejects"):
        tree = sqlglot.parse_one(render(name, p), read="athena")
        columns = [c.name for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
        assert "ingestion_batch_id" not in columns
        assert "'projection.ingestion_batch_id.type' = 'injected'" in render(name, p)


def test_stage_raw_ddl_uses_date_projection_and_rendition_template() -> None:
    sql = render("ddl_table_raw", _params("DRUG"))
    assert "raw.drug_fda_ndc_product" in sql
    assert "'projection.ingest_date.range' = '2000-01-01,NOW'" in sql
    assert "s3://pp-archive/raw_tabular/DRUG/FDA_NDC/${ingest_date}/product/" in sql


def test_stage_table_ref_for_aws_conformed() -> None:
    assert (table_ref_for("aws", "pp-tables", "conformed", "drug")
            == '"s3tablescatalog/pp-tables"."conformed"."drug"')
    assert table_ref_for("aws", "pp-tables", "staging", "drug_batch") == "staging.drug_batch"
