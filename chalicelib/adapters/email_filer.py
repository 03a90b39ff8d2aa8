"""The e-mail filer: each ticket goes to the account manager as a plain-text mail through SES v2.

The subject is the ticket's summary, so it starts with the request's marker; the body is the
ticket's text followed by its fields as JSON, for whoever files it in the console.

Exactly once, as far as mail allows: SES has no idempotency token and a sent mail cannot be
looked up, so ``find`` always answers None. The filing workflow records its intent before
calling ``file`` and records the ticket right after, so a second mail goes out only when a run
dies between the two, or when SES times out or fails with a 5xx after accepting the mail. That
duplicate carries the same marker in its subject, so the reader sees it is the same request.
botocore's own retries are off for the same reason: a retried send is a second mail, and the
workflow, not the transport, decides when to try again.

E-mail cannot tell what happened to a ticket, so ``follow`` answers None. ``urge`` sends a
reminder that names the ticket: when the follow-up workflow decides a case needs hurrying, a
mail to the same people is the only way this channel has to do it. It does not throttle itself:
the workflow must urge a case at most as often as it wants people mailed.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.adapters import aws
from chalicelib.domain.tickets import Ticket
from chalicelib.workflows.ports import FilingError

TICKET_PREFIX = "email-"
FALLBACK_REGION = "us-east-1"  # only with an explicit endpoint (a stand-in) and no region set
# Codes that say "not now" rather than "never": retry later, as after a 5xx.
TRANSIENT_CODES = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "RequestTimeout"}
)


class EmailFiler:
    channel = "email"

    def __init__(
        self,
        sender: str,
        recipients: tuple[str, ...],
        endpoint: str | None = None,
        region: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        if not sender or "@" not in sender:
            raise ValueError(
                f"the e-mail filer needs a sender address (BURST_ASSURANCE_EMAIL_FROM), "
                f"not {sender!r}"
            )
        recipients = tuple(r.strip() for r in recipients if r.strip())
        if not recipients:
            raise ValueError("the e-mail filer needs recipients (BURST_ASSURANCE_EMAIL_TO)")
        bad = [r for r in recipients if "@" not in r]
        if bad:
            raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
        self.sender = sender
        self.recipients = recipients
        self.endpoint = endpoint
        self.region = region
        self.timeout = timeout

    @functools.cached_property
    def _client(self) -> Any:
        """Made on first use: a function that never files pays nothing for it."""
        fallback = FALLBACK_REGION if self.endpoint else None
        config = Config(
            retries={"total_max_attempts": 1},
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
        )
        return aws.client(
            "sesv2", fallback, endpoint_url=self.endpoint, region_name=self.region, config=config
        )

    def find(self, marker: str) -> str | None:
        return None  # a sent mail cannot be looked up (see the module's docstring)

    def file(self, ticket: Ticket) -> str:
        fields = json.dumps(ticket.fields, ensure_ascii=False, indent=2, sort_keys=True)
        body = f"{ticket.body}\n\n-- \nticket fields (JSON):\n{fields}\n"
        return TICKET_PREFIX + self._send(ticket.summary, body)

    def follow(self, ticket_id: str) -> str | None:
        return None

    def urge(self, ticket_id: str, message: str) -> None:
        subject = f"催办 Reminder: service assurance ticket {ticket_id}"
        self._send(subject, f"{message}\n\n(ticket {ticket_id})\n")

    def _send(self, subject: str, text: str) -> str:
        try:
            response = self._client.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": list(self.recipients)},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    }
                },
            )
        except ClientError as exc:
            raise _filing_error(exc) from exc
        except (BotoConnectionError, HTTPClientError) as exc:  # timeouts, dropped connections
            raise FilingError(f"SES: {exc}", outcome_unknown=True) from exc
        except BotoCoreError as exc:  # no credentials, bad parameters: nothing was sent
            raise FilingError(f"SES: {exc}", outcome_unknown=False) from exc
        return str(response["MessageId"])


def _filing_error(exc: ClientError) -> FilingError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if status == 429 or code in TRANSIENT_CODES:
        return FilingError(f"SES is throttling ({code}); try again later", outcome_unknown=True)
    if status >= 500:
        message = f"SES failed (HTTP {status} {code}); the mail may have gone out anyway"
        return FilingError(message, outcome_unknown=True)
    return FilingError(
        f"SES refused the mail: {code}: {error.get('Message', '')}", outcome_unknown=False
    )
