"""The deployable stack: what ``chalice package`` plus infra/template.json produce.

The app is packaged once per run (infra/package.py, the same arguments as ``chalice package``)
into a temporary directory. The tests then read the merged SAM template and check what the
deployment depends on: the five tables as the store expects them, each function's environment
(only its own secrets, and that Settings accepts it), each function's own least-privilege
policy, the two S3 drops (forecasts, calendars) wired to the stack's own bucket, the filing
queue and its dead letters, the alarms, no dependency cycle once SAM expands its events, a clean
cfn-lint, and the deployment package size.

Packaging takes a few seconds when Chalice's dependency cache (.chalice/deployments) is warm
and about a minute when it has to fetch the Lambda wheels, hence ``slow``; ``make test`` runs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGE = "dev"
MAX_PACKAGE_BYTES = 30 * 1000 * 1000  # function zip plus layer (issue 12)
SITE = re.compile(r"^python/lib/python[0-9.]+/site-packages/")
MAX_DEPLOYMENT_ZIP_BYTES = 15 * 1024 * 1024  # the project's target for deployment.zip
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function plus layers, unzipped (a Lambda quota)

BUCKET_NAME = {"Fn::Sub": "${AWS::StackName}-${AWS::AccountId}-${AWS::Region}"}
# What every function must get at runtime, and from where: intrinsics come from the stack
# (infra/template.json), plain strings from .chalice/config.json.
EXPECTED_ENV = {
    "BURST_ASSURANCE_STORE": "dynamodb",
    "BURST_ASSURANCE_TRAFFIC_SOURCE": "store",
    "BURST_ASSURANCE_TABLE_PREFIX": {"Ref": "AWS::StackName"},
}
# Which secrets each function reads (chalicelib.config.bootstrap.SECRETS): only what its work
# needs, as variable -> the secret resource it names. Its role may read exactly these.
SECRETS = {
    "api_secret_id": "ApiSecret",
    "slack_secret_id": "SlackSecret",
    "huawei_secret_id": "HuaweiSecret",
}
FUNCTION_SECRETS = {
    "APIHandler": {"ApiSecret", "SlackSecret"},  # tokens; Slack signatures and modals
    "PlanningCycle": {"SlackSecret"},  # sends the outbox
    "DeadlineWatch": {"SlackSecret", "HuaweiSecret"},  # and files automatically
    "CaseFollowUp": {"SlackSecret", "HuaweiSecret"},
    "FilingWorker": {"SlackSecret", "HuaweiSecret"},
    "ForecastDrop": set(),
    "CalendarDrop": set(),
}
POLICY_FILES = {  # .chalice/config.json lambda_functions
    "APIHandler": "policy-api-handler.json",
    "PlanningCycle": "policy-planning-cycle.json",
    "DeadlineWatch": "policy-deadline-watch.json",
    "CaseFollowUp": "policy-case-follow-up.json",
    "FilingWorker": "policy-filing-worker.json",
    "ForecastDrop": "policy-forecast-drop.json",
    "CalendarDrop": "policy-calendar-drop.json",
}
TABLES = {  # logical id -> table name suffix after the prefix
    "EventsTable": "events",
    "RequestsTable": "requests",
    "AuditTable": "audit",
    "TrafficTable": "traffic",
    "NoticesTable": "notices",
}
# Tables whose items are never deleted, and whose items are only written in transactions.
KEPT_TABLES = ("RequestsTable", "AuditTable", "TrafficTable")
TRANSACTIONAL_TABLES = ("RequestsTable", "AuditTable", "TrafficTable", "NoticesTable")
IN_TRANSACTION = {"StringEquals": {"dynamodb:EnclosingOperation": "TransactWriteItems"}}
ALLOWED_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",  # requests only, in transactions: a change keeps the trail it adds to
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",  # traffic only: new chunk versions, and removing replaced ones
    "dynamodb:ConditionCheckItem",
    "s3:GetObject",
    "secretsmanager:GetSecretValue",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "ses:SendEmail",
}

SAM_FUNCTION = "AWS::Serverless::Function"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Packaged:
    out: Path
    template: dict[str, Any]
    log: str

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    def of_type(self, kind: str) -> dict[str, Any]:
        return {name: r for name, r in self.resources.items() if r.get("Type") == kind}

    @property
    def functions(self) -> dict[str, Any]:
        return self.of_type("AWS::Serverless::Function")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    out = tmp_path_factory.mktemp("package") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BURST_ASSURANCE_")}
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    command = [sys.executable, "infra/package.py", "--stage", STAGE]
    command += ["--merge-template", "infra/template.json", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"packaging failed:\n{log}"
    return Packaged(out, json.loads((out / "sam.json").read_text()), log)


# -- helpers -----------------------------------------------------------------------------------


def effective_env(packaged: Packaged, function: dict[str, Any]) -> dict[str, Any]:
    """The function's variables as SAM will set them: Globals, then the function's own on top."""
    common = packaged.template.get("Globals", {}).get("Function", {})
    merged = dict(common.get("Environment", {}).get("Variables", {}))
    merged.update(function["Properties"].get("Environment", {}).get("Variables", {}))
    return merged


def statements(packaged: Packaged) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy statement in the template, with the resource that holds it."""
    for name, resource in packaged.resources.items():
        props = resource.get("Properties", {})
        for policy in props.get("Policies", []):
            for statement in policy.get("PolicyDocument", {}).get("Statement", []):
                yield name, statement
        for statement in props.get("PolicyDocument", {}).get("Statement", []):
            yield name, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_of(packaged: Packaged, function: str) -> dict[str, Any]:
    role_ref = packaged.functions[function]["Properties"]["Role"]
    assert isinstance(role_ref, dict), f"{function} uses a role from outside the stack"
    role: dict[str, Any] = packaged.resources[role_ref["Fn::GetAtt"][0]]
    return role


def grants(packaged: Packaged, function: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """(action, resource, condition) for every Allow in the function's role."""
    found = []
    for policy in role_of(packaged, function)["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    found.append((action, resource, statement.get("Condition", {})))
    return found


def table_arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z0-9.]+)?\}")


def references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, GetAtt, Sub), pseudo parameters aside."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value.split(".")[0] if isinstance(value, str) else value[0])
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                found |= set(_SUB_NAME.findall(text)) - set(variables)
                found |= references(variables)
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return {name for name in found if not name.startswith("AWS::")}


def placeholder(value: Any, parameters: dict[str, str] | None = None) -> str:
    """A stand-in for what CloudFormation will resolve an intrinsic to; a parameter resolves to
    ``parameters`` or else its default."""
    if isinstance(value, str):
        return value
    stand_ins = {
        json.dumps({"Ref": "AWS::StackName"}): "burst-assurance-dev",
        json.dumps({"Ref": "FilingQueue"}): (
            "https://sqs.us-east-1.amazonaws.com/123456789012/burst-assurance-dev-filing"
        ),
    }
    stand_ins |= {
        json.dumps({"Ref": secret}): (
            f"arn:aws:secretsmanager:us-east-1:123456789012:secret:burst-assurance-dev/{secret}-Ab12"
        )
        for secret in SECRETS.values()
    }
    if "Ref" in value and value["Ref"] in (parameters or {}):
        return (parameters or {})[value["Ref"]]
    return stand_ins.get(json.dumps(value), "burst-assurance-dev-123456789012-us-east-1")


def defaults(packaged: Packaged) -> dict[str, str]:
    return {name: p.get("Default", "") for name, p in packaged.template["Parameters"].items()}


# -- the package -------------------------------------------------------------------------------


def test_every_dependency_made_it_into_the_package(packaged: Packaged) -> None:
    # Chalice only warns when it cannot get a Lambda-compatible wheel (and only when it builds,
    # not when it reuses its cache), then ships without it: look for each one in the zips.
    names = set()
    for archive in packaged.out.glob("*.zip"):
        with zipfile.ZipFile(archive) as zipped:
            names |= {part for path in zipped.namelist() for part in path.split("/")}
    shipped = {n.split("-")[0].lower() for n in names if n.endswith(".dist-info")}
    required = {
        re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("-", "_")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }
    assert required <= shipped, f"missing from the package: {sorted(required - shipped)}"


def test_deployment_zip_is_under_target_and_lambda_limits(packaged: Packaged) -> None:
    package = packaged.out / "deployment.zip"
    assert package.stat().st_size < MAX_DEPLOYMENT_ZIP_BYTES
    unzipped = 0
    for archive in packaged.out.glob("*.zip"):
        with zipfile.ZipFile(archive) as zipped:
            unzipped += sum(info.file_size for info in zipped.infolist())
    assert unzipped < LAMBDA_UNZIPPED_LIMIT


def test_package_is_within_its_budget_and_drops_only_what_nothing_imports(
    packaged: Packaged,
) -> None:
    zipped = sum(archive.stat().st_size for archive in packaged.out.glob("*.zip"))
    assert zipped <= MAX_PACKAGE_BYTES, f"{zipped / 1e6:.1f} MB"
    with zipfile.ZipFile(packaged.out / "layer-deployment.zip") as layer:
        tops = {SITE.sub("", name).split("/")[0] for name in layer.namelist()}
        names = layer.namelist()
    assert {"pymongo", "dns", "gridfs"}.isdisjoint(tops)
    assert {"bson", "numpy", "holidays", "huaweicloudsdkcore"} <= tops  # bson: the SDK's
    assert not [n for n in names if "/tests/" in n or n.endswith(".pyi")]
    # Bytecode for what the app imports (NumPy's core, the China calendar), not for the rest.
    compiled = {n for n in names if n.endswith(".pyc")}
    assert any("numpy/_core/__pycache__/multiarray." in n for n in compiled)
    assert any("holidays/countries/__pycache__/china." in n for n in compiled)
    assert not any("holidays/countries/__pycache__/france." in n for n in compiled)


def test_every_function_skips_the_pydantic_plugin_scan(packaged: Packaged) -> None:
    # Looking for plugins reads every installed distribution's metadata on the first model.
    for function in packaged.functions.values():
        assert effective_env(packaged, function)["PYDANTIC_DISABLE_PLUGINS"] == "__all__"


def test_package_carries_bytecode_for_the_lambda_runtime(packaged: Packaged) -> None:
    # Lambda's code directories are read-only: without .pyc files in the zip every cold start
    # compiles every module it imports (infra/package.py adds them).
    runtimes = {f["Properties"]["Runtime"] for f in packaged.functions.values()}
    assert len(runtimes) == 1
    tag = "cpython-" + runtimes.pop().removeprefix("python").replace(".", "")
    with zipfile.ZipFile(packaged.out / "deployment.zip") as zipped:
        names = set(zipped.namelist())
    modules = [n for n in names if n.endswith(".py") and "/tests/" not in n]
    missing = [
        n for n in modules
        if f"{n.rpartition('/')[0]}/__pycache__/{n.rpartition('/')[2][:-3]}.{tag}.pyc".lstrip("/")
        not in names
    ]  # fmt: skip
    assert modules
    assert not missing, missing[:5]


def test_all_bytecode_in_the_package_is_valid_whatever_the_timestamps(packaged: Packaged) -> None:
    # Unzipped, every file's time is the zip's: bytecode checked against its source's time (as
    # a developer's __pycache__ is) would be stale, and compiled again at every cold start.
    for archive in packaged.out.glob("*.zip"):
        with zipfile.ZipFile(archive) as zipped:
            names = set(zipped.namelist())
            for name in (n for n in names if n.endswith(".pyc")):
                flags = int.from_bytes(zipped.read(name)[4:8], "little")
                assert flags == 0b01, f"{archive.name}: {name} is not unchecked-hash bytecode"
                source = re.sub(r"__pycache__/([^/.]+)\.[^/]+\.pyc$", r"\1.py", name)
                assert source in names, f"{archive.name}: {name} has no source"


# -- tables ------------------------------------------------------------------------------------


def test_tables_match_the_store_and_are_protected(packaged: Packaged) -> None:
    from chalicelib.adapters.store.dynamodb import DynamoStore

    expected = {d["TableName"]: d for d in DynamoStore(None, "PREFIX").table_definitions()}
    assert set(packaged.of_type("AWS::DynamoDB::Table")) == set(TABLES)
    for logical_id, suffix in TABLES.items():
        table = packaged.resources[logical_id]
        props = table["Properties"]
        assert props["TableName"] == {"Fn::Sub": "${AWS::StackName}-" + suffix}
        wanted = expected[f"PREFIX-{suffix}"]
        assert props["KeySchema"] == wanted["KeySchema"]
        assert props.get("GlobalSecondaryIndexes") == wanted.get("GlobalSecondaryIndexes")
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(
            wanted["AttributeDefinitions"], key=str
        )
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


# -- functions: environment and role -----------------------------------------------------------


def test_functions_are_the_ones_the_app_declares(packaged: Packaged) -> None:
    assert set(packaged.functions) == set(FUNCTION_SECRETS) == set(POLICY_FILES)


def test_every_function_gets_the_runtime_environment(packaged: Packaged) -> None:
    for name, function in packaged.functions.items():
        env = effective_env(packaged, function)
        for key, value in EXPECTED_ENV.items():
            assert env.get(key) == value, f"{name}: {key}"
    for drop in ("ForecastDrop", "CalendarDrop"):
        env = effective_env(packaged, packaged.functions[drop])
        assert env["BURST_ASSURANCE_BUCKET"] == BUCKET_NAME, drop


def test_each_function_names_exactly_its_own_secrets(packaged: Packaged) -> None:
    for name, function in packaged.functions.items():
        env = effective_env(packaged, function)
        named = {
            references(env[f"BURST_ASSURANCE_{field.upper()}"]).pop(): secret
            for field, secret in SECRETS.items()
            if f"BURST_ASSURANCE_{field.upper()}" in env
        }
        assert all(ref == secret for ref, secret in named.items()), name  # the right variable
        assert set(named) == FUNCTION_SECRETS[name], name
        readable = {
            references(resource).pop()
            for action, resource, _ in grants(packaged, name)
            if action == "secretsmanager:GetSecretValue"
        }
        assert readable == FUNCTION_SECRETS[name], name


def test_settings_accept_the_runtime_environment(packaged: Packaged) -> None:
    # Settings forbids unknown BURST_ASSURANCE_* names: an extra variable here would fail every
    # invocation on AWS, and a typo would silently fall back to a default. Every value a
    # parameter allows must be one Settings accepts, too.
    from chalicelib.config.settings import Settings

    choices = [defaults(packaged)]
    for parameter, spec in packaged.template["Parameters"].items():
        choices += [{**defaults(packaged), parameter: v} for v in spec.get("AllowedValues", [])]
    for name, function in packaged.functions.items():
        for parameters in choices:
            env = {
                k: placeholder(v, parameters) for k, v in effective_env(packaged, function).items()
            }
            settings = Settings.from_env({k: v for k, v in env.items() if v != ""})
            assert settings.store == "dynamodb", name
            assert settings.table_prefix == env["BURST_ASSURANCE_TABLE_PREFIX"], name


def test_parameters_never_choose_the_outbox_filer(packaged: Packaged) -> None:
    # Lambda's file system is read-only outside /tmp, and /tmp does not outlive the instance.
    filer = packaged.template["Parameters"]["Filer"]
    assert "outbox" not in filer["AllowedValues"]
    assert filer["Default"] in filer["AllowedValues"]
    for name, function in packaged.functions.items():
        value = effective_env(packaged, function).get("BURST_ASSURANCE_FILER")
        assert value in (None, {"Ref": "Filer"}), name


def test_every_function_runs_with_its_own_policy(packaged: Packaged) -> None:
    roles = set()
    for name, policy_file in POLICY_FILES.items():
        ours = json.loads((ROOT / ".chalice" / policy_file).read_text())
        role = role_of(packaged, name)
        props = role["Properties"]
        assert [p["PolicyDocument"] for p in props["Policies"]] == [ours], name
        assert "ManagedPolicyArns" not in props, name
        assert props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }
        roles.add(json.dumps(packaged.functions[name]["Properties"]["Role"]))
    assert len(roles) == len(POLICY_FILES)


def test_iam_grants_only_the_needed_actions_on_named_resources(packaged: Packaged) -> None:
    for holder, statement in statements(packaged):
        if statement["Effect"] != "Allow":
            continue
        actions = set(as_list(statement["Action"]))
        assert actions <= ALLOWED_ACTIONS, f"{holder}: {actions - ALLOWED_ACTIONS}"
        assert not any("*" in action for action in actions), holder
        for resource in as_list(statement["Resource"]):
            assert resource != "*", f"{holder}: {statement.get('Sid')} on every resource"
            if any(a.split(":")[0] in ("dynamodb", "secretsmanager", "sqs") for a in actions):
                assert isinstance(resource, dict), holder  # a Ref/GetAtt to our own resource


def test_no_function_deletes_requests_audit_or_traffic(packaged: Packaged) -> None:
    for name in packaged.functions:
        for action, resource, _ in grants(packaged, name):
            if action == "dynamodb:DeleteItem":
                assert resource not in [table_arn(t) for t in KEPT_TABLES], name


def test_requests_audit_traffic_and_notices_are_written_only_in_transactions(
    packaged: Packaged,
) -> None:
    # A plain PutItem could overwrite a request or an audit entry without the version check
    # the store's transactions carry.
    kept = [table_arn(t) for t in TRANSACTIONAL_TABLES]
    for name in packaged.functions:
        for action, resource, condition in grants(packaged, name):
            writes = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
            if action in writes and resource in kept:
                assert condition == IN_TRANSACTION, f"{name}: {action} on {resource}"


def test_each_function_reaches_only_the_tables_its_work_needs(packaged: Packaged) -> None:
    def tables(name: str, *actions: str) -> set[str]:
        return {
            references(resource).pop()
            for action, resource, _ in grants(packaged, name)
            if action in actions and action.startswith("dynamodb:")
        }

    writes = ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
    assert tables("ForecastDrop", *writes) == {"TrafficTable"}
    # Traffic is the only table a drop reads: the upload's head and the chunks it replaces.
    assert tables("ForecastDrop", "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:Query") == {
        "TrafficTable"
    }
    batch_writers = {name for name in packaged.functions if tables(name, "dynamodb:BatchWriteItem")}
    assert batch_writers == {"APIHandler", "ForecastDrop"}
    assert tables("APIHandler", "dynamodb:BatchWriteItem") == {"TrafficTable"}
    assert tables("APIHandler", "dynamodb:DeleteItem") == {"EventsTable"}
    # A calendar drop reads and writes events, and nothing else (it does not re-plan).
    assert tables("CalendarDrop", "dynamodb:GetItem", "dynamodb:PutItem") == {"EventsTable"}
    for name in ("PlanningCycle", "DeadlineWatch", "CaseFollowUp", "FilingWorker"):
        assert tables(name, "dynamodb:DeleteItem") == {"NoticesTable"}, name
        assert "TrafficTable" not in tables(name, *writes), name
        assert "EventsTable" not in tables(name, *writes), name
    # Only the requests table is updated (a change appends to the trail and outbox on its item);
    # notices are found through its outbox index, and only those of old are deleted.
    updaters = {name for name in packaged.functions if tables(name, "dynamodb:UpdateItem")}
    assert updaters == {
        "APIHandler",
        "PlanningCycle",
        "DeadlineWatch",
        "CaseFollowUp",
        "FilingWorker",
    }
    assert all(tables(name, "dynamodb:UpdateItem") == {"RequestsTable"} for name in updaters)
    for name in ("PlanningCycle", "DeadlineWatch", "CaseFollowUp", "FilingWorker"):
        outbox = {"Fn::Sub": "${RequestsTable.Arn}/index/outbox"}
        assert ("dynamodb:Scan", outbox, {}) in grants(packaged, name), name
        assert "AuditTable" not in tables(name, *writes), name  # the trail is on the request
    audit_actions = {
        action
        for name in packaged.functions
        for action, resource, _ in grants(packaged, name)
        if resource == table_arn("AuditTable")
    }
    assert audit_actions <= {"dynamodb:PutItem", "dynamodb:Query"}


def test_only_the_filing_functions_may_send_mail_and_only_from_the_sender(
    packaged: Packaged,
) -> None:
    senders = set()
    for name in packaged.functions:
        for action, _, condition in grants(packaged, name):
            if action == "ses:SendEmail":
                senders.add(name)
                assert condition["StringEquals"] == {"ses:FromAddress": {"Ref": "EmailFrom"}}
                assert "ses:Recipients" in condition["ForAllValues:StringEquals"]
    assert senders == {"DeadlineWatch", "CaseFollowUp", "FilingWorker"}


def test_secrets_hold_no_values_in_the_template(packaged: Packaged) -> None:
    from chalicelib.config.bootstrap import SECRETS as KEYS

    assert "RuntimeSecret" not in packaged.resources
    for field, logical_id in SECRETS.items():
        secret = packaged.resources[logical_id]
        props = secret["Properties"]
        generator = props.get("GenerateSecretString", {})
        shape = json.loads(generator.get("SecretStringTemplate") or props["SecretString"])
        assert set(shape.values()) == {""}, logical_id
        generated = {generator["GenerateStringKey"]} if generator else set()
        assert set(shape) | generated == set(KEYS[field]), logical_id
        assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    generated = packaged.resources["ApiSecret"]["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "ical_token"


# -- S3 drop -----------------------------------------------------------------------------------


# Each drop: its function, the filter rules of its S3 event, and the prefix it may read.
S3_DROPS = {
    "ForecastDrop": (
        [{"Name": "prefix", "Value": "forecasts/"}, {"Name": "suffix", "Value": ".csv"}],
        "forecasts/",
    ),
    # .ics, .ics.gz and .zip: one filter has one suffix, so the function checks the name.
    "CalendarDrop": ([{"Name": "prefix", "Value": "calendars/"}], "calendars/"),
}


def test_s3_drops_are_wired_to_the_stack_bucket(packaged: Packaged) -> None:
    s3_events = [
        (name, event)
        for name, function in packaged.functions.items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "S3"
    ]
    assert sorted(name for name, _ in s3_events) == sorted(S3_DROPS)
    bucket_name = packaged.resources["ForecastBucket"]["Properties"]["BucketName"]
    assert bucket_name == BUCKET_NAME
    for name, event in s3_events:
        props = event["Properties"]
        assert props["Bucket"] == {"Ref": "ForecastBucket"}, name
        assert props["Events"] == ["s3:ObjectCreated:*"], name
        assert props["Filter"]["S3Key"]["Rules"] == S3_DROPS[name][0], name
        # The function reads the drop by the name it is given, under the prefix it listens to,
        # and nothing else in the bucket.
        reads = [
            resource
            for action, resource, _ in grants(packaged, name)
            if action.startswith("s3:")
        ]  # fmt: skip
        wanted = {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + bucket_name["Fn::Sub"] + "/"}
        assert reads == [{"Fn::Sub": wanted["Fn::Sub"] + S3_DROPS[name][1] + "*"}], name
    readers = {
        name for name in packaged.functions
        if any(action.startswith("s3:") for action, _, _ in grants(packaged, name))
    }  # fmt: skip
    assert readers == set(S3_DROPS)


def test_the_calendar_drop_reads_calendars_and_writes_only_events(packaged: Packaged) -> None:
    # It imports, nothing more: no re-plan (the planning cycle's next run picks the events up),
    # so no requests, audit, notices or traffic, no secrets, no deletes.
    granted = {
        (action, json.dumps(resource), json.dumps(condition))
        for action, resource, condition in grants(packaged, "CalendarDrop")
    }
    calendars = {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + BUCKET_NAME["Fn::Sub"] + "/calendars/*"}
    logs = [r for a, r, _ in grants(packaged, "CalendarDrop") if a.startswith("logs:")]
    assert granted == {
        ("s3:GetObject", json.dumps(calendars), "{}"),
        ("dynamodb:GetItem", json.dumps(table_arn("EventsTable")), "{}"),
        ("dynamodb:PutItem", json.dumps(table_arn("EventsTable")), "{}"),
        ("logs:CreateLogStream", json.dumps(logs[0]), "{}"),
        ("logs:PutLogEvents", json.dumps(logs[0]), "{}"),
    }
    assert packaged.functions["CalendarDrop"]["Properties"]["Timeout"] >= 60


def test_bucket_is_private_encrypted_versioned_and_tls_only(packaged: Packaged) -> None:
    bucket = packaged.resources["ForecastBucket"]
    props = bucket["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    policies = [
        p for p in packaged.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": "ForecastBucket"}
    ]  # fmt: skip
    denies = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert denies, "no TLS-only statement"
    assert len(as_list(denies[0]["Resource"])) == 2  # the bucket and its objects


# -- API -------------------------------------------------------------------------------------


def test_only_the_feed_slack_and_the_page_shell_do_without_the_api_key(packaged: Packaged) -> None:
    # Neither a calendar client nor Slack can send x-api-key: the feed checks its token, the
    # interactions route Slack's signature (with the signing secret from SlackSecret). The page
    # and its chart library hold no data; the page reads /plan/view with the caller's key.
    paths = packaged.resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    open_routes = {
        (path, method)
        for path, methods in paths.items()
        for method, operation in methods.items()
        if isinstance(operation, dict) and "api_key" not in json.dumps(operation.get("security"))
        and method != "options"
    }  # fmt: skip
    assert open_routes == {
        ("/events.ics", "get"),
        ("/slack/interactions", "post"),
        ("/", "get"),
        ("/static/uplot.js", "get"),
        ("/static/uplot.css", "get"),
    }


# -- filing queue ------------------------------------------------------------------------------


def test_the_filing_worker_takes_its_jobs_from_the_stack_queue(packaged: Packaged) -> None:
    sqs_events = [
        (name, event)
        for name, function in packaged.functions.items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert [name for name, _ in sqs_events] == ["FilingWorker"]
    props = sqs_events[0][1]["Properties"]
    assert references(props["Queue"]) == {"FilingQueue"}
    assert props["BatchSize"] == 1
    assert "burst-assurance-filing" not in json.dumps(packaged.template)  # app.py's placeholder
    api_env = effective_env(packaged, packaged.functions["APIHandler"])
    assert api_env["BURST_ASSURANCE_FILING_QUEUE_URL"] == {"Ref": "FilingQueue"}
    assert api_env["BURST_ASSURANCE_WORK_QUEUE"] == "sqs"


def test_the_queue_outlasts_the_worker_and_drains_into_dead_letters(packaged: Packaged) -> None:
    queue = packaged.resources["FilingQueue"]["Properties"]
    dead = packaged.resources["FilingDeadLetterQueue"]["Properties"]
    worker_timeout = packaged.functions["FilingWorker"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout  # AWS's advice for Lambda
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": table_arn("FilingDeadLetterQueue"),
        "maxReceiveCount": 5,
    }
    assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dead["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    assert queue["SqsManagedSseEnabled"] is dead["SqsManagedSseEnabled"] is True


def test_only_the_api_queues_jobs_and_only_the_worker_takes_them(packaged: Packaged) -> None:
    queue_actions = {
        name: {(action, json.dumps(resource)) for action, resource, _ in grants(packaged, name)
               if action.startswith("sqs:")}
        for name in packaged.functions
    }  # fmt: skip
    queue = json.dumps(table_arn("FilingQueue"))
    assert queue_actions.pop("APIHandler") == {("sqs:SendMessage", queue)}
    assert queue_actions.pop("FilingWorker") == {
        ("sqs:ReceiveMessage", queue),
        ("sqs:DeleteMessage", queue),
        ("sqs:GetQueueAttributes", queue),
    }
    assert all(not actions for actions in queue_actions.values()), queue_actions


# -- alarms ------------------------------------------------------------------------------------


def alarms(packaged: Packaged) -> list[dict[str, Any]]:
    return [a["Properties"] for a in packaged.of_type("AWS::CloudWatch::Alarm").values()]


def test_every_schedule_and_worker_has_an_error_alarm_to_the_topic(packaged: Packaged) -> None:
    scheduled = {
        name
        for name, function in packaged.functions.items()
        if any(e["Type"] == "Schedule" for e in function["Properties"].get("Events", {}).values())
    }
    assert scheduled == {"PlanningCycle", "DeadlineWatch", "CaseFollowUp"}
    alarmed = set()
    for props in alarms(packaged):
        if (props["Namespace"], props["MetricName"]) != ("AWS/Lambda", "Errors"):
            continue
        assert props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert {"Ref": "AlarmTopic"} in props["AlarmActions"]
        alarmed |= {references(d["Value"]).pop() for d in props["Dimensions"]}
    assert scheduled | {"FilingWorker", "ForecastDrop", "CalendarDrop"} <= alarmed
    assert packaged.resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


def test_a_dead_letter_raises_an_alarm(packaged: Packaged) -> None:
    [props] = [
        p for p in alarms(packaged)
        if p["Namespace"] == "AWS/SQS"
        and p["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]  # fmt: skip
    assert [references(d["Value"]) for d in props["Dimensions"]] == [{"FilingDeadLetterQueue"}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert {"Ref": "AlarmTopic"} in props["AlarmActions"]


def test_a_missed_request_raises_an_alarm(packaged: Packaged) -> None:
    # chalicelib/entry/schedules.py logs "request missed: <id>" for each; the filter counts them.
    filters = packaged.of_type("AWS::Logs::MetricFilter").values()
    watched = {references(f["Properties"]["LogGroupName"]).pop() for f in filters}
    assert "DeadlineWatchLogGroup" in watched
    metrics = set()
    for f in filters:
        assert f["Properties"]["FilterPattern"] == '"request missed:"'
        [transform] = f["Properties"]["MetricTransformations"]
        metrics.add((json.dumps(transform["MetricNamespace"]), transform["MetricName"]))
    assert len(metrics) == 1
    [(namespace, metric)] = metrics
    [props] = [
        p for p in alarms(packaged)
        if (json.dumps(p["Namespace"]), p["MetricName"]) == (namespace, metric)
    ]  # fmt: skip
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert {"Ref": "AlarmTopic"} in props["AlarmActions"]


# -- the template as a whole -------------------------------------------------------------------


def test_no_dependency_cycle_once_sam_expands_the_events(packaged: Packaged) -> None:
    # cfn-lint checks the SAM template as written; SAM then makes an S3 event's bucket depend on
    # its function (the notification needs the function's ARN). The function depends on its role
    # and variables, so neither may refer to the bucket itself: a cycle fails only at deploy.
    common = references(packaged.template.get("Globals", {}))
    graph: dict[str, set[str]] = {}
    for name, resource in packaged.resources.items():
        props = dict(resource.get("Properties", {}))
        events = props.pop("Events", {}) if resource.get("Type") == SAM_FUNCTION else {}
        edges = references(props) | set(as_list(resource.get("DependsOn", [])))
        if resource.get("Type") == SAM_FUNCTION:
            edges |= common
        for event in events.values():
            if event["Type"] == "S3":  # the bucket depends on the function, not the reverse
                bucket = references(event["Properties"]["Bucket"]).pop()
                graph.setdefault(bucket, set()).add(name)
            else:
                edges |= references(event)
        graph.setdefault(name, set()).update(e for e in edges if e in packaged.resources)

    def cycle_from(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        for nxt in sorted(graph.get(node, ())):
            found = cycle_from(nxt, [*path, node])
            if found:
                return found
        return None

    for start in graph:
        assert cycle_from(start, []) is None, " -> ".join(cycle_from(start, []) or [])


def test_cfn_lint_is_clean(packaged: Packaged) -> None:
    # No check is ignored: errors and warnings both fail. If a future cfn-lint warns about
    # something Chalice generates and we cannot change, ignore that one check here, with why.
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), str(packaged.out / "sam.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_translated_template_is_clean(
    packaged: Packaged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SAM's own translation, when aws-sam-translator is installed (it is not a dependency of
    # cfn-lint any more): catches what only shows after the transform, e.g. a circular DependsOn.
    transform = pytest.importorskip("samtranslator.translator.transform").transform
    template = json.loads(json.dumps(packaged.template))
    for resource in template["Resources"].values():
        if "ContentUri" in resource.get("Properties", {}):
            resource["Properties"]["ContentUri"] = "s3://artifacts-bucket/layer.zip"
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts-bucket/deployment.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM asks boto for a region
    translated = transform(template, pseudo, NoManagedPolicies())
    path = tmp_path / "cfn.json"
    path.write_text(json.dumps(translated))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    # W3005 (DependsOn already implied by a Ref) is in SAM's generated usage plan resources.
    done = subprocess.run(
        [str(cfn_lint), "--ignore-checks", "W3005", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
