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
from typing import Any

import botocore.loaders
import botocore.session


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """What a session would make for itself (AWS_DATA_PATH included), made once."""
    return botocore.loaders.create_loader(
        botocore.session.Session().get_config_variable("data_path")
    )


def _session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.register_component("data_loader", _shared_loader())
    return session


def client(service: str, **options: Any) -> Any:
    """A low-level client of ``service``; ``options`` as botocore's create_client takes them
    (region_name, endpoint_url, config)."""
    return _session().create_client(service, **options)


def region() -> str | None:
    """The region the environment or AWS config names, if any."""
    named = _session().get_config_variable("region")
    return str(named) if named else None
