"""The filing queue on AWS: jobs as JSON messages for the filing worker (app.filing_worker)."""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config

from chalicelib.adapters import aws


class SqsQueue:
    def __init__(self, queue_url: str, endpoint: str | None = None) -> None:
        if not queue_url:
            raise ValueError("BURST_ASSURANCE_FILING_QUEUE_URL is not set")
        self.queue_url = queue_url
        config = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard"})
        options: dict[str, Any] = {"config": config}
        if endpoint:
            options["endpoint_url"] = endpoint
        self._client = aws.client("sqs", **options)

    def send(self, job: dict[str, Any]) -> str:
        response = self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(job))
        return str(response["MessageId"])
