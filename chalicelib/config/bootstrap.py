"""The one place that builds the runtime from settings: which adapters run, and with what.

Every entry point (API routes, schedules, the S3 drop, the CLI) gets its ports from here. Nothing
runs at import time and each adapter imports its libraries when built, so a cold start pays only
for what the first request uses.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from chalicelib.config.settings import ENV_PREFIX, Settings
from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import Policy, describe_validation_error

if TYPE_CHECKING:
    from chalicelib.adapters.slack.notifier import SlackNotifier
    from chalicelib.workflows.ports import Filer, Notifier, Store, TrafficSource


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    policy: Policy
    store: Store
    source: TrafficSource
    notifier: Notifier
    filer: Filer


def build_runtime(settings: Settings, policy_file: str | Path | None = None) -> Runtime:
    """The runtime for ``settings``; ``policy_file`` (a CLI flag) wins over the setting."""
    policy = build_policy(settings, policy_file)
    store = build_store(settings)
    return Runtime(
        settings=settings,
        policy=policy,
        store=store,
        source=build_source(settings, store, policy),
        notifier=build_notifier(settings, policy),
        filer=build_filer(settings),
    )


@functools.cache
def runtime() -> Runtime:
    """The AWS entry points' runtime: built once per Lambda container, on first use."""
    return build_runtime(with_secrets(Settings.from_env()))


def reset() -> None:
    """Forget the cached runtime (tests change the environment between cases)."""
    runtime.cache_clear()


def build_store(settings: Settings) -> Store:
    if settings.store == "dynamodb":
        from chalicelib.adapters.store.dynamodb import DynamoStore  # boto3 only where it is used

        _require_region(settings)

        return DynamoStore.connect(settings.table_prefix, settings.dynamodb_endpoint)
    from chalicelib.adapters.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


def build_filer(settings: Settings) -> Filer:
    if settings.filer == "huawei-osm":
        from chalicelib.adapters.huawei_osm import HuaweiOsmFiler

        return HuaweiOsmFiler(
            endpoint=_required(settings.huawei_osm_endpoint, "HUAWEI_OSM_ENDPOINT"),
            ak=_secret(settings.huawei_ak, "HUAWEI_AK"),
            sk=_secret(settings.huawei_sk, "HUAWEI_SK"),
            business_type_id=settings.huawei_business_type_id,
            product_category_id=settings.huawei_product_category_id,
            incident_sub_type_id=settings.huawei_incident_sub_type_id,
            x_site=settings.huawei_x_site,
            domain_id=settings.huawei_domain_id,
        )
    if settings.filer == "email":
        from chalicelib.adapters.email_filer import EmailFiler

        return EmailFiler(
            sender=_required(settings.email_from, "EMAIL_FROM"),
            recipients=settings.email_to,
            endpoint=settings.ses_endpoint,
            region=None,
        )
    from chalicelib.adapters.outbox_filer import OutboxFiler

    return OutboxFiler(settings.outbox_path)


def build_notifier(settings: Settings, policy: Policy) -> Notifier:
    if settings.notifier == "slack":
        return build_slack(settings, policy)
    from chalicelib.adapters.console import ConsoleNotifier

    return ConsoleNotifier(zone=policy.zone)


def build_slack(settings: Settings, policy: Policy) -> SlackNotifier:
    from chalicelib.adapters.slack.notifier import SlackNotifier

    return SlackNotifier.connect(
        token=_secret(settings.slack_bot_token, "SLACK_BOT_TOKEN"),
        api_url=settings.slack_api_url,
        channel=_required(settings.slack_channel, "SLACK_CHANNEL"),
        policy=policy,
        account=settings.account,
        escalation_group=settings.escalation_group,
    )


def _require_region(settings: Settings) -> None:
    """botocore's own error for a missing region is a traceback far from the cause."""
    if settings.dynamodb_endpoint is not None:
        return
    from chalicelib.adapters import aws

    if aws.region() is None:
        raise InputError(
            "the DynamoDB store needs an AWS region: set AWS_REGION or AWS_DEFAULT_REGION "
            f"(or {ENV_PREFIX}DYNAMODB_ENDPOINT for DynamoDB Local)"
        )


def _required(value: str | None, name: str) -> str:
    if not value:
        raise InputError(f"set {ENV_PREFIX}{name}: the configured adapter needs it")
    return value


def _secret(value: SecretStr | None, name: str) -> str:
    return _required(value.get_secret_value() if value else None, name)


def build_source(settings: Settings, store: Store, policy: Policy) -> TrafficSource:
    """Files are checked against the policy's bandwidth ceiling when loaded; stored traffic was
    checked when it was uploaded."""
    from chalicelib.adapters.traffic_sources import FileTrafficSource, StoredTrafficSource

    if settings.traffic_source == "store":
        return StoredTrafficSource(store)
    return FileTrafficSource(settings.traffic, bandwidth_ceiling_gbps=policy.bandwidth_ceiling_gbps)


def build_policy(settings: Settings, policy_file: str | Path | None = None) -> Policy:
    path = policy_file or settings.policy_file
    if path is None:  # the default profile: no TOML parser to load
        return Policy()
    from chalicelib.config.policy_file import load_policy

    return load_policy(path)


# Which secret holds which settings: one secret per concern, so that each function's role can
# read only the secrets its work needs (infra/template.json).
SECRETS = {
    "api_secret_id": ("api_token", "api_tokens", "ical_token"),
    "slack_secret_id": ("slack_bot_token", "slack_signing_secret"),
    "huawei_secret_id": ("huawei_ak", "huawei_sk"),
}


def with_secrets(settings: Settings) -> Settings:
    """Settings with the values of each configured Secrets Manager secret filled in, checked
    like the environment's (``api_tokens`` is "name=token,..." there too)."""
    found: dict[str, str] = {}
    for id_field, names in SECRETS.items():
        secret_id = getattr(settings, id_field)
        if secret_id is None:
            continue
        secret = _fetch_secret(secret_id)
        found |= {name: str(secret[name]) for name in names if secret.get(name)}
    if not found:
        return settings
    try:
        return Settings.model_validate(settings.model_dump() | found)
    except ValidationError as exc:
        raise InputError(
            f"settings from Secrets Manager: {describe_validation_error(exc)}"
        ) from None


def _fetch_secret(secret_id: str) -> dict[str, Any]:
    from chalicelib.adapters import aws

    response = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    value = json.loads(response["SecretString"])
    if not isinstance(value, dict):
        raise RuntimeError(f"secret {secret_id} must hold a JSON object")
    return value
