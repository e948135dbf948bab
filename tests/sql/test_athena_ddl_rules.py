"""Athena's documented statement rules, checked over every statement rendered for AWS.

Athena parses DDL (CREATE DATABASE, CREATE [EXTERNAL] TABLE without AS, DROP, ALTER) with Hive's
grammar and DML (SELECT, CTAS, INSERT, MERGE) with Trino's, so a statement that DuckDB and
sqlglot accept can still fail on Athena. The rules, each from AWS's (or Hive's) documentation:

1. DDL identifiers that are DDL reserved words, or begin with an underscore or a digit, must be in
   backticks. ref: https://docs.aws.amazon.com/athena/latest/ug/reserved-words.html
   ref: https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
2. No catalog-qualified ``"s3tablescatalog/..."`` names in DDL: Hive's grammar has no catalog
   part; the catalog goes in the QueryExecutionContext. In DML the catalog (it contains a slash)
   is a double-quoted identifier.
   ref: https://docs.aws.amazon.com/athena/latest/ug/gdc-register-s3-table-bucket-cat.html
3. String literals in DDL follow Hive: a quote inside is escaped with a backslash; ``'a''b'``
   is two adjacent literals (the quote silently lost), so no literal may follow another.
   ref: https://cwiki.apache.org/confluence/display/Hive/LanguageManual+Types#LanguageManualTypes-StringsstringStrings
4. What CloudFormation creates (the Glue databases, the S3 Tables namespace and tables; see
   tests/infra) is not created again by the pipeline on AWS.

Checked over every template x entity (``ppstack sql render`` for the AWS backend) and every
statement the step definitions ship on AWS. The rule functions are also shown to reject known
bad statements, so that the test can fail.
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp
from template_cases import template_entity_cases

from ppstack.backends import DEPLOYED_TEMPLATES
from ppstack.engine.base import QueryContext
from ppstack.entities import ENTITIES
from ppstack.layout import CONFORMED_NS
from ppstack.pipeline.batch import BatchParams, Statement
from ppstack.pipeline.render import render_step
from ppstack.pipeline.steps import definitions, nothing_written, setup_statements
from ppstack.settings import Settings, load_settings
from ppstack.sql import template_names

BATCH = "20190429T060000.000000Z"
DAY = "2019-04-29"

# Rule 1: Athena's list of reserved keywords in DDL statements, as documented.
# ref: https://docs.aws.amazon.com/athena/latest/ug/reserved-words.html
DDL_RESERVED_WORDS = """
ALL ALTER AND ARRAY AS AUTHORIZATION BETWEEN BIGINT BINARY BOOLEAN BOTH BY CASE CASHE CAST CHAR
COLUMN CONF CONSTRAINT COMMIT CREATE CROSS CUBE CURRENT CURRENT_DATE CURRENT_TIMESTAMP CURSOR
DATABASE DATE DAYOFWEEK DECIMAL DELETE DESCRIBE DISTINCT DIV DOUBLE DROP ELSE END EXCHANGE EXISTS
EXTENDED EXTERNAL EXTRACT FALSE FETCH FLOAT FLOOR FOLLOWING FOR FOREIGN FROM FULL FUNCTION GRANT
GROUP GROUPING HAVING IF IMPORT IN INNER INSERT INT INTEGER INTERSECT INTERVAL INTO IS JOIN
LATERAL LEFT LESS LIKE LOCAL MACRO MAP MORE NONE NOT NULL NUMERIC OF ON ONLY OR ORDER OUT OUTER
OVER PARTIALSCAN PARTITION PERCENT PRECEDING PRECISION PRESERVE PRIMARY PROCEDURE RANGE READS
REDUCE REGEXP REFERENCES REVOKE RIGHT RLIKE ROLLBACK ROLLUP ROW ROWS SELECT SET SMALLINT START
TABLE TABLESAMPLE THEN TIME TIMESTAMP TO TRANSFORM TRIGGER TRUE TRUNCATE UNBOUNDED UNION
UNIQUEJOIN UPDATE USER USING UTC_TIMESTAMP VALUES VARCHAR VIEWS WHEN WHERE WINDOW WITH
"""
DDL_RESERVED = frozenset(DDL_RESERVED_WORDS.split())


def aws_settings() -> Settings:
    return load_settings(backend="aws", home="/nonexistent-ppstack-home", bucket="pp-archive",
                         table_bucket="pp-tables")


# ---- the rules ---------------------------------------------------------------------------------

def code_only(sql: str) -> str:
    """The statement without its ``--`` comment lines (the templates' explanations)."""
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))


def is_ddl(sql: str) -> bool:
    """Hive-parsed: CREATE DATABASE / CREATE TABLE without AS / DROP / ALTER (CTAS is Trino)."""
    tree = sqlglot.parse_one(sql, read="athena")
    if isinstance(tree, exp.Create):
        return tree.expression is None  # CREATE TABLE ... AS SELECT is DML
    return isinstance(tree, (exp.Drop, exp.Alter))


def needs_backticks(name: str) -> bool:
    return name.upper() in DDL_RESERVED or name[:1] == "_" or name[:1].isdigit()


def identifier_violations(sql: str) -> list[str]:
    """Rule 1: DDL names that must be backtick-quoted and are not."""
    tree = sqlglot.parse_one(sql, read="athena")
    text = code_only(sql)
    names = [c.name for c in tree.find_all(exp.ColumnDef)]
    names += [part.name for table in tree.find_all(exp.Table) for part in table.parts]
    return [n for n in names if needs_backticks(n) and f"`{n}`" not in text]


def catalog_violations(sql: str, ddl: bool) -> list[str]:
    """Rule 2: a catalog name in DDL at all; in DML one that is not a double-quoted identifier."""
    text = code_only(sql)
    found = re.findall(r'.?s3tablescatalog/[^".\s]*"?', text)
    if ddl:
        return found
    return [f for f in found if not (f.startswith('"') and f.endswith('"'))]


def hive_literals(text: str) -> list[tuple[int, int]]:
    """(start, end) of every string literal as Hive's lexer reads it: '...' or "..." with
    backslash escapes inside."""
    spans, i = [], 0
    while i < len(text):
        quote = text[i]
        if quote in "'\"":
            j = i + 1
            while j < len(text) and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            spans.append((i, j + 1))
            i = j + 1
        elif text[i] == "`":  # a quoted identifier, not a literal
            i = text.index("`", i + 1) + 1
        else:
            i += 1
    return spans


def literal_violations(sql: str) -> list[str]:
    """Rule 3: a DDL literal directly followed by another (Hive concatenates them: a ``''``
    meant as an escaped quote loses the quote)."""
    text = code_only(sql)
    spans = hive_literals(text)
    return [text[a:d] for (a, b), (c, d) in zip(spans, spans[1:], strict=False) if b == c]


def violations(sql: str) -> list[str]:
    try:
        ddl = is_ddl(sql)
    except sqlglot.errors.ParseError as e:
        return [f"not one Athena statement: {e}"]
    found = catalog_violations(sql, ddl)
    if ddl:
        found += [f"unquoted {n}" for n in identifier_violations(sql)]
        found += [f"adjacent literals {v}" for v in literal_violations(sql)]
    return found


# ---- the rules reject what AWS documents as wrong ---------------------------------------------

@pytest.mark.parametrize("bad", [
    "CREATE EXTERNAL TABLE raw.t (_source_file string) LOCATION 's3://b/p/'",
    "CREATE EXTERNAL TABLE raw.t (`a` string, date string) LOCATION 's3://b/p/'",
    "CREATE EXTERNAL TABLE raw.t (`a` string) COMMENT 'it''s' LOCATION 's3://b/p/'",
    'CREATE TABLE IF NOT EXISTS "s3tablescatalog/pp-tables".conformed.drug (`a` string) '
    "TBLPROPERTIES ('table_type' = 'ICEBERG')",
    "INSERT INTO s3tablescatalog/pp-tables.conformed.drug SELECT 1",
])
def test_rules_reject_documented_mistakes(bad: str) -> None:
    assert violations(bad), bad


@pytest.mark.parametrize("good", [
    "CREATE EXTERNAL TABLE raw.t (`_source_file` string, `date` string) "
    "COMMENT 'it\\'s \\\\ fine' LOCATION 's3://b/p/'",
    'MERGE INTO "s3tablescatalog/pp-tables"."conformed"."drug" AS t USING staging.b AS s '
    "ON t.k = s.k WHEN MATCHED THEN DELETE",
])
def test_rules_accept_documented_forms(good: str) -> None:
    assert violations(good) == []


# ---- every statement rendered for AWS --------------------------------------------------------

def rendered(name: str, entity: str) -> list[str]:
    """``ppstack sql render NAME ENTITY --backend aws``, one string per statement."""
    text = render_step(aws_settings(), name, entity, None, DAY, BATCH)
    # ddl_table_raw renders once per source member, each headed by "-- member: NAME"
    return [s.strip().removesuffix(";") for s in re.split(r"\n\n(?=-- member: )", text)]


CASES = template_entity_cases()


@pytest.mark.parametrize(("name", "entity"), CASES)
def test_every_template_follows_athena_rules_on_aws(name: str, entity: str) -> None:
    for sql in rendered(name, entity):
        assert violations(sql) == [], f"{name} for {entity}"


def shipped(entity: str) -> list[Statement]:
    """What the AWS driver runs for one batch: setup, then every step's statements."""
    settings = aws_settings()
    spec = ENTITIES[entity]
    batch = BatchParams.build(settings, spec, spec.sources[0], DAY, BATCH)
    out = setup_statements(settings, spec)
    for definition in definitions():
        out += definition.statements(batch, nothing_written)
    return out


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_shipped_statements_follow_athena_rules_and_skip_deployed_objects(entity: str) -> None:
    statements = shipped(entity)
    assert statements and all(violations(s.sql) == [] for s in statements)
    # rule 4: CloudFormation's objects are not created again
    assert not {s.template for s in statements} & DEPLOYED_TEMPLATES
    assert not any(re.search(r"CREATE\s+(DATABASE|SCHEMA)", code_only(s.sql)) for s in statements)
    # every statement the state machine ships names its database (the Map task passes it)
    assert all(s.context.database and s.context.catalog == "AwsDataCatalog" for s in statements)


def test_conformed_ddl_takes_its_catalog_from_the_context() -> None:
    settings = aws_settings()
    for spec in ENTITIES.values():
        batch = BatchParams.build(settings, spec, spec.sources[0], DAY, BATCH)
        ddl = batch.statement("ddl_conformed", CONFORMED_NS)
        assert ddl.context == QueryContext("s3tablescatalog/pp-tables", CONFORMED_NS)
        assert f"CREATE TABLE IF NOT EXISTS conformed.{spec.conformed_table} (" in ddl.sql
        assert violations(ddl.sql) == []


def test_deployed_templates_exist() -> None:
    assert set(template_names()) >= DEPLOYED_TEMPLATES
