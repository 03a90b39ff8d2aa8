"""Everything an AWS entry point needs, built once per Lambda container, on first use.

Nothing here runs at import time, so a cold start pays only for what the first request uses.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from chalicelib.settings import Settings

if TYPE_CHECKING:  # the implementations load in runtime(), on the first invocation
    from chalicelib.notify import Notifier
    from chalicelib.policy import Policy
    from chalicelib.sources import TrafficSource
    from chalicelib.store import Store


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    policy: Policy
    store: Store
    source: TrafficSource
    notifier: Notifier


@functools.cache
def runtime() -> Runtime:
    from chalicelib.wiring import build_notifier, build_policy, build_source, build_store

    settings = with_secrets(Settings.from_env())
    store = build_store(settings)
    return Runtime(
        settings=settings,
        policy=build_policy(settings),
        store=store,
        source=build_source(settings, store),
        notifier=build_notifier(settings),
    )


def reset() -> None:
    """Forget the cached runtime (tests change the environment between cases)."""
    runtime.cache_clear()


def with_secrets(settings: Settings) -> Settings:
    """Settings with the tokens from Secrets Manager, when a secret is configured."""
    if settings.secret_id is None:
        return settings
    secret = _fetch_secret(settings.secret_id)
    update = {
        name: SecretStr(str(secret[name]))
        for name in ("api_token", "ical_token")
        if secret.get(name)
    }
    return settings.model_copy(update=update)


def _fetch_secret(secret_id: str) -> dict[str, Any]:
    import boto3

    response = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
    value = json.loads(response["SecretString"])
    if not isinstance(value, dict):
        raise RuntimeError(f"secret {secret_id} must hold a JSON object")
    return value
