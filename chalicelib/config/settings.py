"""Deployment settings: which adapters to use and where they keep things.

Read from environment variables named ``BURST_ASSURANCE_<FIELD>`` (lists comma-separated), so the
same code runs embedded (the defaults) and on AWS (Chalice sets the variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import describe_validation_error

ENV_PREFIX = "BURST_ASSURANCE_"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store: Literal["sqlite", "dynamodb"] = "sqlite"
    data_dir: Path = Path("data")
    notifier: Literal["console"] = "console"
    # Where approved tickets go: "outbox" writes them to files to paste into the console.
    filer: Literal["outbox"] = "outbox"
    outbox_dir: Path | None = None  # default: outbox/ in the data folder
    account: str = ""  # the Huawei Cloud account named on every ticket
    traffic_source: Literal["files", "store"] = "files"
    traffic: tuple[str, ...] = ("examples/traffic/*.csv.gz",)  # file globs, for "files"
    policy_file: Path | None = None
    # DynamoDB (store = "dynamodb")
    table_prefix: str = "burst-assurance"
    dynamodb_endpoint: str | None = None  # DynamoDB Local in tests
    # API authentication. "bearer": the app checks `Authorization: Bearer <api_token>` (local,
    # tests). "api-key": API Gateway checked the API key before the request reached us (AWS).
    api_auth: Literal["bearer", "api-key"] = "bearer"
    api_token: SecretStr | None = None
    ical_token: SecretStr | None = None  # the secret in the iCalendar feed's URL
    # On AWS the tokens live in Secrets Manager, as JSON {"api_token": ..., "ical_token": ...}.
    secret_id: str | None = None
    # Read by app.py when Chalice packages it (the S3 drop's bucket, the cycle's rate); set on
    # AWS too, so they are known here rather than rejected as unknown settings.
    bucket: str | None = None
    cycle_minutes: int = Field(default=15, ge=1, le=1440)

    @field_validator("traffic", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "burst-assurance.sqlite3"

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
