"""A small IAM policy evaluator over a synthesized CloudFormation template.

- ``Resolver`` turns the template's intrinsic functions (Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
  Fn::Select, Fn::Split and the pseudo parameters) into concrete values for one test account and
  region, naming each resource the way CloudFormation does (its explicit name, or a generated one
  when the template leaves it to CloudFormation).
- ``role_statements`` collects the identity policy statements attached to a role (AWS::IAM::Policy
  resources and the role's inline policies).
- ``allowed`` decides one request: an explicit Deny wins, else an Allow must match both the action
  (case-insensitive, ``*`` / ``?`` wildcards) and the resource ARN (case-sensitive wildcards);
  ``NotAction`` / ``NotResource`` are honoured; conditions are not evaluated (none of ppstack's
  identity policies uses one).
  ref: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  ref: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
  ref: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

PARTITION = "aws"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Resolver:
    """Concrete values of a template's expressions for ``account`` in ``region``."""

    def __init__(self, template: dict[str, Any], account: str, region: str) -> None:
        self.resources: dict[str, Any] = template["Resources"]
        self.account = account
        self.region = region

    # -- names and ARNs of resources ------------------------------------------------------------

    def name(self, logical: str) -> str:
        """The physical name: the one the template gives, else CloudFormation's generated one
        (here: the logical id in lower case)."""
        resource = self.resources[logical]
        props = resource.get("Properties", {})
        given = {
            "AWS::S3::Bucket": props.get("BucketName"),
            "AWS::DynamoDB::Table": props.get("TableName"),
            "AWS::S3Tables::TableBucket": props.get("TableBucketName"),
            "AWS::Athena::WorkGroup": props.get("Name"),
            "AWS::Lambda::Function": props.get("FunctionName"),
            "AWS::Glue::Database": (props.get("DatabaseInput") or {}).get("Name"),
            "AWS::StepFunctions::StateMachine": props.get("StateMachineName"),
            "AWS::IAM::Role": props.get("RoleName"),
        }.get(resource["Type"])
        return str(self.resolve(given)) if given is not None else logical.lower()

    def arn(self, logical: str) -> str:
        kind = self.resources[logical]["Type"]
        name = self.name(logical)
        r, a, p = self.region, self.account, PARTITION
        return {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::S3Tables::TableBucket": f"arn:{p}:s3tables:{r}:{a}:bucket/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}",
            "AWS::Athena::WorkGroup": f"arn:{p}:athena:{r}:{a}:workgroup/{name}",
        }.get(kind, f"arn:{p}:unknown:{r}:{a}:{name}")

    def ref(self, target: str) -> str:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": self.region,
                  "AWS::AccountId": self.account, "AWS::URLSuffix": "amazonaws.com",
                  "AWS::StackName": "PpstackTest"}
        if target in pseudo:
            return pseudo[target]
        kind = self.resources[target]["Type"]
        if kind in ("AWS::S3Tables::TableBucket", "AWS::StepFunctions::StateMachine"):
            return self.arn(target)  # these two return their ARN for Ref
        return self.name(target)

    def get_att(self, logical: str, attribute: str) -> str:
        if attribute in ("Arn", "TableBucketARN"):
            return self.arn(logical)
        if attribute in ("DomainName", "RegionalDomainName"):
            return f"{self.name(logical)}.s3.{self.region}.amazonaws.com"
        return f"{self.name(logical)}.{attribute}"

    # -- expressions ----------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Sub":
                return self._sub(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        out = str(text)
        for name, expr in variables.items():
            out = out.replace("${" + name + "}", str(self.resolve(expr)))
        while "${" in out:
            start = out.index("${")
            end = out.index("}", start)
            token = out[start + 2:end]
            logical, _, attribute = token.partition(".")
            value = self.get_att(logical, attribute) if attribute else self.ref(logical)
            out = out[:start] + value + out[end + 1:]
        return out


def role_statements(template: dict[str, Any], role: str, resolver: Resolver
                    ) -> list[dict[str, Any]]:
    """Every identity policy statement of role ``role`` (logical id), resolved."""
    statements: list[dict[str, Any]] = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in props.get("Roles", []):
            statements += _list(props["PolicyDocument"]["Statement"])
    for policy in template["Resources"][role].get("Properties", {}).get("Policies", []):
        statements += _list(policy["PolicyDocument"]["Statement"])
    return [resolver.resolve(s) for s in statements]


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        hit = any(fnmatchcase(action.lower(), str(p).lower()) for p in _list(statement["Action"]))
    else:
        hit = not any(fnmatchcase(action.lower(), str(p).lower())
                      for p in _list(statement.get("NotAction", [])))
    if not hit:
        return False
    if "Resource" in statement:
        return any(fnmatchcase(resource, str(p)) for p in _list(statement["Resource"]))
    return not any(fnmatchcase(resource, str(p)) for p in _list(statement.get("NotResource", [])))


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's decision for one request: explicit Deny, else Allow, else implicit deny."""
    if any(s.get("Effect") == "Deny" and _matches(s, action, resource) for s in statements):
        return False
    return any(s.get("Effect") == "Allow" and _matches(s, action, resource) for s in statements)
