"""Deployment settings: which adapters to use and where they keep things.

Read from environment variables named ``BURST_ASSURANCE_<FIELD>`` (lists comma-separated), so the
same code runs embedded (the defaults) and on AWS (Chalice sets the variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from chalicelib.domain.errors import InputError
from chalicelib.domain.model import Model
from chalicelib.domain.policy import describe_validation_error

ENV_PREFIX = "BURST_ASSURANCE_"


class Settings(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store: Literal["sqlite", "dynamodb"] = "sqlite"
    data_dir: Path = Path("data")
    # Who hears about requests: "console" prints them; "slack" posts approval messages.
    notifier: Literal["console", "slack"] = "console"
    slack_bot_token: SecretStr | None = None  # xoxb-..., scope chat:write
    slack_channel: str | None = None  # channel id the approval messages go to
    slack_signing_secret: SecretStr | None = None  # verifies POST /slack/interactions
    slack_api_url: str = "https://slack.com/api/"  # tests point it at a loopback stand-in
    approvers: tuple[str, ...] = ()  # Slack user ids allowed to approve or reject
    approver_group: str | None = None  # optional Slack user group id (needs usergroups:read)
    escalation_group: str | None = None  # Slack user group id mentioned on the last day
    # Where approved tickets go: "outbox" writes them to files to paste into the console;
    # "huawei-osm" files a case through Huawei Cloud's OSM API; "email" mails the account manager.
    filer: Literal["outbox", "huawei-osm", "email"] = "outbox"
    outbox_dir: Path | None = None  # default: outbox/ in the data folder
    account: str = ""  # the Huawei Cloud account named on every ticket
    # Huawei Cloud OSM (filer = "huawei-osm"). The endpoint differs between the Chinese and the
    # international site; the ids come from list_product_categories / list_problem_types.
    huawei_osm_endpoint: str | None = None
    huawei_ak: SecretStr | None = None
    huawei_sk: SecretStr | None = None
    huawei_business_type_id: str | None = None  # the problem type (list_problem_types)
    huawei_product_category_id: str | None = None  # list_product_categories
    huawei_incident_sub_type_id: str | None = None  # the ticket sub-category, optional
    huawei_x_site: int | None = None  # 0: Chinese site, 1: international site
    huawei_domain_id: str | None = None  # the account id; sent as X-Domain-Id when set
    # E-mail (filer = "email"), through SES v2.
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    ses_endpoint: str | None = None  # tests point it at a loopback stand-in
    # Slow work after a Slack click (filing): "inline" in the caller, "thread" in the background
    # of the local server, "sqs" through the filing queue on AWS.
    work_queue: Literal["inline", "thread", "sqs"] = "inline"
    filing_queue_url: str | None = None
    sqs_endpoint: str | None = None  # tests point it at a loopback stand-in
    # The S3 drop refuses larger objects unread (it parses them streaming, within ~400 MB).
    max_object_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    traffic_source: Literal["files", "store"] = "files"
    traffic: tuple[str, ...] = ("examples/traffic/*.csv.gz",)  # file globs, for "files"
    policy_file: Path | None = None
    # DynamoDB (store = "dynamodb")
    table_prefix: str = "burst-assurance"
    dynamodb_endpoint: str | None = None  # DynamoDB Local in tests
    # API authentication. "bearer": the app checks `Authorization: Bearer <api_token>` (local,
    # tests). "api-key": API Gateway checked the API key before the request reached us (AWS).
    api_auth: Literal["bearer", "api-key"] = "bearer"
    api_token: SecretStr | None = None  # the caller named "api"
    # Callers by name: "alice=<token>,ci=<token>" for bearer, "alice=<key id>,ci=<key id>" (API
    # Gateway key ids) for api-key. The name goes into every audit entry the caller causes.
    api_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    api_keys: dict[str, str] = Field(default_factory=dict)
    ical_token: SecretStr | None = None  # the secret in the iCalendar feed's URL
    # On AWS the secrets live in Secrets Manager, one JSON secret per concern, each read only by
    # the functions that need it: {"api_token", "ical_token"}; {"slack_bot_token",
    # "slack_signing_secret"}; {"huawei_ak", "huawei_sk"}.
    api_secret_id: str | None = None
    slack_secret_id: str | None = None
    huawei_secret_id: str | None = None
    # Read by app.py when Chalice packages it (the S3 drop's bucket, the cycle's rate); set on
    # AWS too, so they are known here rather than rejected as unknown settings.
    bucket: str | None = None
    cycle_minutes: int = Field(default=15, ge=1, le=1440)

    @field_validator("traffic", "approvers", "email_to", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("api_tokens", "api_keys", mode="before")
    @classmethod
    def _named(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            return named_values(value, info.field_name or "")
        return value

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "burst-assurance.sqlite3"

    @property
    def bearer_tokens(self) -> dict[str, str]:
        """Each API caller's name and token (the single ``api_token`` is named "api")."""
        named = {"api": self.api_token, **self.api_tokens} if self.api_token else self.api_tokens
        return {name: token.get_secret_value() for name, token in named.items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX) and value != ""
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise InputError(
                f"settings from {ENV_PREFIX}* variables: {describe_validation_error(exc)}"
            ) from None


def named_values(text: str, setting: str) -> dict[str, str]:
    """``"alice=abc,ci=def"`` as {"alice": "abc", "ci": "def"}. The values may be secret, so
    an error names the pair by its position, never by its text."""
    named: dict[str, str] = {}
    for position, pair in enumerate((p for p in text.split(",") if p.strip()), start=1):
        name, _, value = (part.strip() for part in pair.partition("="))
        if not name or not value:
            raise ValueError(f"pair {position} is not name=value (expected e.g. alice=...,ci=...)")
        if name in named or value in named.values():
            raise ValueError(f"pair {position} repeats a name or a value of {setting}")
        named[name] = value
    return named
