"""AthenaEngine against a botocore Stubber: the exact API conversation, no AWS and no waiting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ppstack.engine.athena import AthenaEngine, base_type, convert
from ppstack.errors import BadInput, EngineError
from ppstack.settings import Settings, load_settings

QID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def aws_settings() -> Settings:
    return load_settings(backend="aws", bucket="pp-archive", table_bucket="pp-tables",
                         athena_workgroup="ppstack", athena_output="", region="us-east-1")


@pytest.fixture
def client() -> Any:
    return boto3.client("athena", region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as s:
        yield s
        s.assert_no_pending_responses()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def engine(aws_settings: Settings, client: Any, sleeps: list[float]) -> AthenaEngine:
    return AthenaEngine(aws_settings, client, sleep=sleeps.append)


def _start(stub: Stubber, output: str = "s3://pp-archive/athena-results/", sql: str = ANY) -> None:
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": QID},
        {
            "QueryString": sql,
            "ClientRequestToken": ANY,
            "WorkGroup": "ppstack",
            "ResultConfiguration": {"OutputLocation": output},
        },
    )


def _state(stub: Stubber, state: str, statement: str = "DML", sub: str = "SELECT",
           **status: Any) -> None:
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": QID, "StatementType": statement,
                            "SubstatementType": sub, "Status": {"State": state, **status}}},
        {"QueryExecutionId": QID},
    )


def _col(name: str, type_: str) -> dict[str, Any]:
    return {"Name": name, "Label": name, "Type": type_}


def _row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def _page(stub: Stubber, rows: list[dict[str, Any]], columns: list[dict[str, Any]],
          token_in: str | None = None, token_out: str | None = None) -> None:
    result_set = {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": columns}}
    resp: dict[str, Any] = {"ResultSet": result_set}
    if token_out:
        resp["NextToken"] = token_out
    params: dict[str, Any] = {"QueryExecutionId": QID, "MaxResults": 1000}
    if token_in:
        params["NextToken"] = token_in
    stub.add_response("get_query_results", resp, params)


def test_execute_submits_to_workgroup_with_default_output(engine: AthenaEngine,
                                                          stub: Stubber) -> None:
    _start(stub, sql="SELECT 1 AS x")
    _state(stub, "SUCCEEDED")
    _page(stub, [_row("x"), _row("1")], [_col("x", "integer")])
    result = engine.execute("SELECT 1 AS x")
    assert result.columns == ["x"]
    assert result.rows == [(1,)]


def test_execute_uses_configured_output_location(aws_settings: Settings, client: Any,
                                                 stub: Stubber) -> None:
    engine = AthenaEngine(aws_settings.with_(athena_output="s3://results/x/"), client,
                          sleep=lambda _s: None)
    _start(stub, output="s3://results/x/")
    _state(stub, "SUCCEEDED")
    _page(stub, [_row("x")], [_col("x", "varchar")])
    assert engine.execute("SELECT 'a' AS x").rows == []


def test_execute_polls_through_queued_and_running(engine: AthenaEngine, stub: Stubber,
                                                  sleeps: list[float]) -> None:
    _start(stub)
    for state in ("QUEUED", "QUEUED", "RUNNING", "RUNNING", "RUNNING"):
        _state(stub, state)
    _state(stub, "SUCCEEDED")
    _page(stub, [_row("n"), _row("7")], [_col("n", "bigint")])
    assert engine.execute("SELECT count(*) AS n FROM t").scalar() == 7
    assert len(sleeps) == 5
    assert sleeps == sorted(sleeps)  # backoff grows ...
    assert max(sleeps) <= engine.poll_max  # ... and is capped


def test_execute_backoff_is_capped_over_long_runs(engine: AthenaEngine, stub: Stubber,
                                                  sleeps: list[float]) -> None:
    _start(stub)
    for _ in range(20):
        _state(stub, "RUNNING")
    _state(stub, "SUCCEEDED")
    _page(stub, [_row("n")], [_col("n", "bigint")])
    engine.execute("SELECT 1 AS n")
    assert sleeps[-1] == engine.poll_max


def test_execute_failed_raises_engine_error_with_reason(engine: AthenaEngine,
                                                        stub: Stubber) -> None:
    _start(stub)
    _state(stub, "RUNNING")
    _state(stub, "FAILED",
           StateChangeReason="TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.raw.nope' does not "
                             "exist",
           AthenaError={"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False})
    with pytest.raises(EngineError) as info:
        engine.execute("SELECT * FROM raw.nope")
    message = str(info.value)
    assert "TABLE_NOT_FOUND" in message
    assert "1301" in message
    assert QID in message
    assert "raw.nope" in message


def test_execute_cancelled_raises_engine_error(engine: AthenaEngine, stub: Stubber) -> None:
    _start(stub)
    _state(stub, "CANCELLED", StateChangeReason="Query cancelled by user")
    with pytest.raises(EngineError, match="CANCELLED: Query cancelled by user"):
        engine.execute("SELECT 1")


def test_execute_timeout_stops_query(aws_settings: Settings, client: Any, stub: Stubber) -> None:
    ticks = iter([0.0, 1.0, 100.0])
    engine = AthenaEngine(aws_settings, client, timeout=10, sleep=lambda _s: None,
                          clock=lambda: next(ticks))
    _start(stub)
    _state(stub, "RUNNING")
    _state(stub, "RUNNING")
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
    with pytest.raises(EngineError, match="cancelled"):
        engine.execute("SELECT 1")


def test_execute_retries_throttled_submit(engine: AthenaEngine, stub: Stubber,
                                          sleeps: list[float]) -> None:
    for _ in range(2):
        stub.add_client_error("start_query_execution", "TooManyRequestsException",
                              "Rate exceeded", 400)
    _start(stub)
    _state(stub, "SUCCEEDED")
    _page(stub, [_row("x"), _row("ok")], [_col("x", "varchar")])
    assert engine.execute("SELECT 'ok' AS x").scalar() == "ok"
    assert len(sleeps) == 2


def test_execute_retries_reuse_one_request_token(engine: AthenaEngine, client: Any) -> None:
    tokens: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        tokens.append(params["ClientRequestToken"])

    client.meta.events.register("provide-client-params.athena.StartQueryExecution", record)
    with Stubber(client) as stub:
        stub.add_client_error("start_query_execution", "TooManyRequestsException", "slow down", 400)
        _start(stub)
        _state(stub, "SUCCEEDED")
        _page(stub, [_row("x")], [_col("x", "varchar")])
        engine.execute("SELECT 'a' AS x")
    assert len(tokens) == 2
    assert len(set(tokens)) == 1
    assert len(tokens[0]) >= 32


def test_execute_throttling_gives_up_after_attempts(aws_settings: Settings, client: Any,
                                                    stub: Stubber) -> None:
    engine = AthenaEngine(aws_settings, client, submit_attempts=3, sleep=lambda _s: None)
    for _ in range(3):
        stub.add_client_error("start_query_execution", "TooManyRequestsException", "slow", 400)
    with pytest.raises(EngineError, match="TooManyRequestsException"):
        engine.execute("SELECT 1")


def test_execute_invalid_request_is_not_retried(engine: AthenaEngine, stub: Stubber,
                                                sleeps: list[float]) -> None:
    stub.add_client_error("start_query_execution", "InvalidRequestException",
                          "line 1:8: mismatched input", 400)
    with pytest.raises(EngineError, match="mismatched input"):
        engine.execute("SELEC 1")
    assert sleeps == []


def test_execute_pages_results_across_next_token(engine: AthenaEngine, stub: Stubber) -> None:
    cols = [_col("ndc", "varchar"), _col("n", "integer")]
    _start(stub)
    _state(stub, "SUCCEEDED")
    _page(stub, [_row("ndc", "n"), _row("a", "1"), _row("b", "2")], cols, token_out="t1")
    _page(stub, [_row("c", "3")], cols, token_in="t1", token_out="t2")
    _page(stub, [_row("d", "4")], cols, token_in="t2")
    result = engine.execute("SELECT ndc, n FROM t")
    assert result.rows == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    assert result.dicts()[3] == {"ndc": "d", "n": 4}


def test_execute_converts_types_from_column_info(engine: AthenaEngine, stub: Stubber) -> None:
    cols = [
        _col("v", "varchar"), _col("c", "char"), _col("i", "integer"), _col("b", "bigint"),
        _col("s", "smallint"), _col("t", "tinyint"), _col("f", "boolean"), _col("d", "date"),
        _col("ts", "timestamp"), _col("x", "double"), _col("r", "real"), _col("m", "decimal"),
        _col("nul", "varchar"),
    ]
    _start(stub)
    _state(stub, "SUCCEEDED")
    _page(stub, [
        _row(*[c["Name"] for c in cols]),
        _row("abc", "z", "42", "9000000000", "-3", "7", "true", "9999-12-31",
             "2025-01-03 06:00:12.123", "1.5", "2.25", "10.10", None),
    ], cols)
    row = engine.execute("SELECT ...").dicts()[0]
    assert row == {
        "v": "abc", "c": "z", "i": 42, "b": 9_000_000_000, "s": -3, "t": 7, "f": True,
        "d": date(9999, 12, 31), "ts": datetime(2025, 1, 3, 6, 0, 12, 123000), "x": 1.5,
        "r": 2.25, "m": Decimal("10.10"), "nul": None,
    }


def test_execute_dml_reports_update_count(engine: AthenaEngine, stub: Stubber) -> None:
    _start(stub)
    _state(stub, "SUCCEEDED", statement="DML", sub="INSERT")
    stub.add_response("get_query_results",
                      {"UpdateCount": 1234, "ResultSet": {"Rows": []}},
                      {"QueryExecutionId": QID, "MaxResults": 1})
    result = engine.execute("INSERT INTO t SELECT * FROM s")
    assert result.rowcount == 1234
    assert result.rows == []


def test_execute_ddl_results_have_no_header_row(engine: AthenaEngine, stub: Stubber) -> None:
    _start(stub)
    _state(stub, "SUCCEEDED", statement="UTILITY", sub="SHOW_TABLES")
    _page(stub, [_row("drug_batch"), _row("drug_rejects")], [_col("tab_name", "string")])
    assert engine.execute("SHOW TABLES IN staging").rows == [("drug_batch",), ("drug_rejects",)]


def test_table_ref_conformed_uses_s3tables_catalog(engine: AthenaEngine) -> None:
    assert engine.table_ref("conformed", "drug") == '"s3tablescatalog/pp-tables"."conformed"."drug"'


@pytest.mark.parametrize("namespace", ["raw", "staging"])
def test_table_ref_glue_databases_are_two_part(engine: AthenaEngine, namespace: str) -> None:
    assert engine.table_ref(namespace, "drug_batch") == f"{namespace}.drug_batch"


def test_table_ref_upper_case_name_is_refused(engine: AthenaEngine) -> None:
    with pytest.raises(BadInput):
        engine.table_ref("conformed", "DRUG")


@pytest.mark.parametrize(("type_name", "text", "expected"), [
    ("decimal(10,2)", "3.10", Decimal("3.10")),
    ("varchar(20)", "x", "x"),
    ("timestamp(6)", "2025-01-03 06:00:12.123456", datetime(2025, 1, 3, 6, 0, 12, 123456)),
    ("timestamp with time zone", "2025-01-03 06:00:12.000 UTC", datetime(2025, 1, 3, 6, 0, 12)),
    ("boolean", "false", False),
    ("double", "NaN", None),  # checked separately: NaN != NaN
    ("array(varchar)", "[a, b]", "[a, b]"),
    ("date", "2019-04-29", date(2019, 4, 29)),
])
def test_convert_handles_type_names(type_name: str, text: str, expected: Any) -> None:
    value = convert(type_name, {"VarCharValue": text})
    if expected is None:
        assert value != value  # NaN
    else:
        assert value == expected


def test_base_type_strips_parameters() -> None:
    assert base_type("DECIMAL(38, 9)") == "decimal"
