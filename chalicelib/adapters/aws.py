"""AWS clients, made from botocore alone, sharing what botocore reads from its data files.

Every adapter here uses low-level clients only. boto3 would add resources and S3 transfers we
never use, and importing it costs a Lambda cold start about 100 ms on top of botocore. Each
client gets a session of its own (sessions keep the credentials they resolved, and are not safe
to share between threads), but all sessions share one data loader: the endpoint and service
models, 1.3 MB of JSON for DynamoDB alone, are read once per process, not once per client (the
API handler makes a Secrets Manager client and a DynamoDB client on its first request).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import botocore.loaders
import botocore.session


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """The loader a session would make for itself, made once (AWS_DATA_PATH included)."""
    return botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))


def client(service: str, fallback_region: str | None = None, **options: Any) -> Any:
    """A low-level client of ``service``; ``options`` as botocore's create_client takes them
    (region_name, endpoint_url, config). ``fallback_region`` is used when neither
    ``region_name`` nor the environment or AWS config names one (an emulator needs one)."""
    session = botocore.session.Session()  # ~10 ms each: one per client, none to ask things
    session.register_component("data_loader", _shared_loader())
    if options.get("region_name") is None and not session.get_config_variable("region"):
        options["region_name"] = fallback_region
    return session.create_client(service, **options)


def region() -> str | None:
    """The region the environment or AWS config names, if any. AWS_DEFAULT_REGION, which
    botocore reads first and Lambda sets, spares making a session to ask."""
    if os.environ.get("AWS_DEFAULT_REGION"):
        return os.environ["AWS_DEFAULT_REGION"]
    named = botocore.session.Session().get_config_variable("region")
    return str(named) if named else None
