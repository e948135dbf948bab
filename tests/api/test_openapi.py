"""The OpenAPI document: valid, importable by API Gateway, and derived from the entity spec."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from ppstack.api import service
from ppstack.entities import DRUG
from ppstack.entities.spec import DATE

TEXT = resources.files("ppstack.api").joinpath("openapi.yaml").read_text()
DOC: dict[str, Any] = yaml.safe_load(TEXT)
FUNCTION_ARNS = {
    ("/drug/{ndc}", "get"): "GetDrugFunctionArn",
    ("/drug/{ndc}/history", "get"): "GetDrugHistoryFunctionArn",
    ("/search/drug", "get"): "SearchDrugFunctionArn",
    ("/changes/drug", "get"): "ListDrugChangesFunctionArn",
    ("/batches/drug", "get"): "ListDrugBatchesFunctionArn",
    ("/", "get"): "ExplorerPageFunctionArn",
}


def test_openapi_document_is_valid_openapi_3_0() -> None:
    validate(DOC)
    assert DOC["openapi"].startswith("3.0.")


def test_openapi_drug_schema_matches_entity_spec() -> None:
    drug = DOC["components"]["schemas"]["Drug"]
    assert set(drug["properties"]) == set(service.output_fields(DRUG))
    assert set(drug["required"]) == set(service.output_fields(DRUG))
    for col in DRUG.fields:
        prop = drug["properties"][col.name]
        assert prop["nullable"] is True
        assert (prop.get("format") == "date") == (col.type == DATE), col.name


@pytest.mark.parametrize(("path", "method"), sorted(FUNCTION_ARNS))
def test_openapi_lambda_proxy_integration(path: str, method: str) -> None:
    integ = DOC["paths"][path][method]["x-amazon-apigateway-integration"]
    assert integ["type"] == "aws_proxy"
    assert integ["httpMethod"] == "POST"
    assert integ["passthroughBehavior"] == "when_no_match"
    arn = FUNCTION_ARNS[(path, method)]
    assert integ["uri"] == (
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        f"${{{arn}}}/invocations"
    )


def test_openapi_options_are_mock_cors_integrations() -> None:
    for path, ops in DOC["paths"].items():
        assert ops["options"]["x-amazon-apigateway-integration"]["type"] == "mock", path


def test_openapi_placeholders_are_only_the_agreed_ones() -> None:
    names = set(re.findall(r"\$\{([^}]+)\}", TEXT))
    assert names == {"AWS::Partition", "AWS::Region", *FUNCTION_ARNS.values()}


def test_openapi_preflight_headers_are_inline_for_the_importer() -> None:
    """API Gateway's import (fail_on_warnings) maps each mock responseParameter to a header of
    the method response; those must be written in the operation, not behind a $ref."""
    for path, ops in DOC["paths"].items():
        options = ops["options"]
        response = options["responses"]["204"]
        assert "$ref" not in response, path
        headers = response["headers"]
        assert all("$ref" not in h for h in headers.values()), path
        mapped = options["x-amazon-apigateway-integration"]["responses"]["default"][
            "responseParameters"]
        assert {k.removeprefix("method.response.header.") for k in mapped} == set(headers)


def test_openapi_get_operations_document_errors() -> None:
    for path, ops in DOC["paths"].items():
        responses = ops["get"]["responses"]
        assert {"200", "400", "500", "503"} <= set(responses), path
        if "{ndc}" in path:
            assert "404" in responses
