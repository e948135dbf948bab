"""``{{> fragment}}`` includes: inlined recursively, indented, cycles and missing fragments refused.

The staging statements share their CTEs through fragments (``templates/fragments/``); what Athena
receives, and what ``ppstack sql render`` prints, is always the whole statement with every
fragment inlined.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from click.testing import CliRunner

from ppstack.cli.main import cli
from ppstack.errors import BadInput
from ppstack.sql import expand_includes, fragment_names, load, load_fragment, template_names

BATCH = "20190429T060000.000000Z"


def test_include_inlines_fragment_recursively() -> None:
    fragments = {"outer": "a AS (SELECT 1),\n{{> inner}}\n", "inner": "b AS (SELECT {{value}})\n\n"}
    text = "WITH\n{{> outer}},\nc AS (SELECT 2)"
    assert expand_includes(text, fragments.get) == (
        "WITH\na AS (SELECT 1),\nb AS (SELECT {{value}}),\nc AS (SELECT 2)")


def test_include_indented_like_the_include_line() -> None:
    fragments = {"f": "x,\ny,\n\nz\n"}
    assert expand_includes("SELECT\n  {{> f}}\nFROM t",
                           fragments.get) == "SELECT\n  x,\n  y,\n\n  z\nFROM t"


def test_include_after_text_on_its_line_not_indented() -> None:
    assert expand_includes("WHERE a = {{>f}} AND {{> f }}", {"f": "1\n"}.get) == "WHERE a = 1 AND 1"


def test_include_same_fragment_twice_is_not_a_cycle() -> None:
    fragments = {"a": "{{> leaf}} {{> leaf}}", "leaf": "x"}
    assert expand_includes("{{> a}}|{{> leaf}}", fragments.get) == "x x|x"


@pytest.mark.parametrize(("fragments", "chain"), [
    ({"a": "{{> a}}"}, "a -> a"),
    ({"a": "{{> b}}", "b": "{{> c}}", "c": "{{> a}}"}, "a -> b -> c -> a"),
])
def test_include_cycle_refused(fragments: dict[str, str], chain: str) -> None:
    with pytest.raises(BadInput, match=f"cycle: {chain}"):
        expand_includes("{{> a}}", fragments.get)


def test_include_missing_fragment_refused_with_its_path() -> None:
    with pytest.raises(BadInput,
                       match=r"no SQL fragment 'nope' \(included by fragment "
                             r"'a'\).*fragments/nope\.sql"):
        expand_includes("{{> a}}", {"a": "{{> nope}}"}.get)


def test_include_placeholders_untouched_by_expansion() -> None:
    assert expand_includes("{{name}} {{ other }}", {}.get) == "{{name}} {{ other }}"


def test_fragments_are_not_templates() -> None:
    assert fragment_names()
    assert not set(fragment_names()) & set(template_names())
    assert "fragments" not in template_names()
    assert load_fragment("no_such_fragment") is None


def test_every_template_loads_fully_inlined() -> None:
    for name in template_names():
        assert "{{>" not in load(name), name


def test_every_fragment_is_included_by_a_statement() -> None:
    raw = {n: (Path(__file__).parents[2] / "src/ppstack/sql/templates" / f"{n}.sql").read_text()
           for n in template_names()}
    raw.update({f"fragments/{n}": load_fragment(n) or "" for n in fragment_names()})
    for name in fragment_names():
        users = [k for k, text in raw.items() if re.search(r"\{\{>\s*" + name + r"[\s}]", text)]
        assert users, f"fragment {name} is not included anywhere"


@pytest.mark.parametrize("step", ["stage", "stage_rejects"])
def test_sql_render_prints_inlined_athena_statement(tmp_path: Path, step: str) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "sql", "render", step, "DRUG",
                                      "--date", "2019-04-29", "--batch-id", BATCH])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "{{" not in out
    assert "FROM raw.drug_fda_ndc_package" in out and "ranked AS (" in out
    assert "[fragment drug_fda_ndc_candidates]" in out and "[fragment drug_fda_ndc_ranked]" in out
    assert len([s for s in sqlglot.parse(out, read="athena") if s is not None]) == 1


def test_an_include_with_an_argument_inlines_the_expression_without_its_comment() -> None:
    fragments = {"trimmed": "-- the rule, documented once\n-- (second comment line)\n"
                            "CASE WHEN {{@}} = '' THEN NULL\n  ELSE trim({{@}}) END\n"}
    text = "SELECT\n    {{> trimmed a.name}} AS name,\n    {{> trimmed city}} AS city"
    assert expand_includes(text, fragments.get) == (
        "SELECT\n    CASE WHEN a.name = '' THEN NULL\n      ELSE trim(a.name) END AS name,\n"
        "    CASE WHEN city = '' THEN NULL\n      ELSE trim(city) END AS city")
