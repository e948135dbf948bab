"""Every SQL template, rendered for every entity it applies to and for both backends, is exactly
one statement that sqlglot parses as Athena SQL (the Glue DDL the local engine only routes is
covered here too), and leaves no placeholder behind; and it uses no function whose meaning the
two engines do not share."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from template_cases import template_entity_cases

from ppstack.entities import ENTITIES, SOURCES
from ppstack.errors import BadInput
from ppstack.pipeline.render import render_step
from ppstack.settings import load_settings
from ppstack.sql import template_names

BATCH = "20190429T060000.000000Z"


CASES = [(name, entity, backend) for name, entity in template_entity_cases()
         for backend in ("local", "aws")]


def rendered(name: str, entity: str, backend: str) -> str:
    """Template ``name`` rendered for ``entity`` on ``backend`` (the test fails if it cannot be)."""
    settings = load_settings(backend=backend, home="/nonexistent-ppstack-home")
    try:
        return render_step(settings, name, entity, None, "2019-04-29", BATCH)
    except BadInput as e:  # a template that needs parameters of another step kind
        pytest.fail(f"{name} does not render for {entity}: {e}")


@pytest.mark.parametrize(("name", "entity", "backend"), CASES)
def test_template_renders_to_one_athena_statement(name: str, entity: str, backend: str) -> None:
    sql = rendered(name, entity, backend)
    assert "{{" not in sql
    statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    # `sql render ddl_table_raw` prints the template once per source member (one table each).
    expected = len(SOURCES[ENTITIES[entity].sources[0]].members) if name == "ddl_table_raw" else 1
    assert len(statements) == expected, f"{name} must be one statement per rendering"
    if backend == "aws" and "conformed" in sql:
        assert "s3tablescatalog/" in sql or "conformed." not in sql.replace('"conformed"', "")


def test_every_template_is_covered() -> None:
    assert {c[0] for c in CASES} == set(template_names())


@pytest.mark.parametrize(("name", "entity"), template_entity_cases())
def test_template_trims_name_the_character(name: str, entity: str) -> None:
    """``trim(x)``, ``ltrim(x)`` and ``rtrim(x)`` strip any Java whitespace (tab, newline, ...) on
    Athena (Trino) but only spaces in DuckDB, so one template would stage different values on
    the two backends: templates say ``trim(BOTH ' ' FROM x)``."""
    sql = rendered(name, entity, "aws")
    bare = [node.sql("athena") for tree in sqlglot.parse(sql, read="athena") if tree is not None
            for node in tree.find_all(exp.Trim) if node.args.get("expression") is None]
    assert bare == [], f"{name}: name the character trimmed, e.g. trim(BOTH ' ' FROM x)"
