"""The OpenAPI document is the API contract; API Gateway imports it (docs/api.md).

Each operation carries ``x-amazon-apigateway-integration`` (``aws_proxy``, ``POST``) whose ``uri``
names its function with a placeholder such as ``${GetDrugFunctionArn}``. The stack wraps each
such ``uri`` in ``Fn::Sub`` with the real function ARNs, so ``${AWS::Region}`` resolves too.
ref: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration.html
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

INTEGRATION = "x-amazon-apigateway-integration"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+FunctionArn)\}")


def load(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(path, METHOD, operation)`` for every operation, in document order."""
    found = []
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method.lower() in HTTP_METHODS:
                found.append((path, method.upper(), op))
    return found


# Integrations that need no function: CORS preflight answered by API Gateway itself.
FUNCTIONLESS_TYPES = ("mock",)


def function_placeholders(doc: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """``{"GetDrugFunctionArn": [("/drug/{ndc}", "GET")], ...}``: which operations call which
    function. Every operation needs an integration; all but ``mock`` ones (CORS preflight) must
    name exactly one function placeholder."""
    used: dict[str, list[tuple[str, str]]] = {}
    for path, method, op in operations(doc):
        integration = op.get(INTEGRATION)
        if not isinstance(integration, dict):
            raise ValueError(f"{method} {path}: no {INTEGRATION}")
        if integration.get("type") in FUNCTIONLESS_TYPES:
            continue
        uri = str(integration.get("uri", ""))
        names = _PLACEHOLDER.findall(uri)
        if len(names) != 1:
            raise ValueError(f"{method} {path}: integration uri must name one ${{...FunctionArn}}: "
                             f"{uri!r}")
        used.setdefault(names[0], []).append((path, method))
    return used


def substitute(doc: dict[str, Any], sub: Callable[[str, dict[str, str]], str],
               arns: dict[str, str]) -> dict[str, Any]:
    """A copy of ``doc`` with every integration uri passed through ``sub`` (``Fn.sub``)."""
    unknown = set(function_placeholders(doc)) - set(arns)
    if unknown:
        raise ValueError(f"OpenAPI names functions the stack does not define: {sorted(unknown)}")
    out = copy.deepcopy(doc)
    for _path, _method, op in operations(out):
        integration = op[INTEGRATION]
        if integration.get("type") in FUNCTIONLESS_TYPES:
            continue
        uri = integration["uri"]
        integration["uri"] = sub(uri, {k: v for k, v in arns.items() if "${" + k + "}" in uri})
    return out


def execute_api_path(path: str) -> str:
    """``/drug/{ndc}/history`` -> ``/drug/*/history`` for an execute-api source ARN."""
    return re.sub(r"\{[^}]+\}", "*", path)
