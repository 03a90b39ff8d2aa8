"""The e-mail filer through the real boto3 SES v2 client, against a loopback stand-in."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import ses_standin

from chalicelib.adapters.email_filer import EmailFiler
from chalicelib.domain.tickets import Ticket
from chalicelib.workflows.ports import Filer, FilingError

SENDER = "burst-assurance@example.com"
MANAGER = ("am@huawei.example", "backup-am@huawei.example")
TICKET = Ticket(
    request_id="daily-peak-jump/CN/2027-02-05",
    marker="BA-7f3a",
    summary="[BA-7f3a] 业务保障申请 Service assurance: CN 2027-02-05",
    body="# 业务保障申请 / Service assurance request (BA-7f3a)\n\n- 范围 / Scope: CN",
    fields={"request_id": "daily-peak-jump/CN/2027-02-05", "expected_peak": 440.7, "event": None},
)


@pytest.fixture(autouse=True)
def dummy_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ses() -> Iterator[tuple[EmailFiler, ses_standin.SesStandIn]]:
    with ses_standin.serving() as (endpoint, state):
        yield EmailFiler(SENDER, MANAGER, endpoint, None, timeout=1.0), state


def test_a_ticket_is_one_mail_to_the_account_manager(ses) -> None:
    filer, state = ses
    assert filer.file(TICKET) == "email-" + state.message_id(1)
    [mail] = state.sent
    assert mail["FromEmailAddress"] == SENDER
    assert mail["Destination"] == {"ToAddresses": list(MANAGER)}
    simple = mail["Content"]["Simple"]
    assert simple["Subject"] == {"Data": TICKET.summary, "Charset": "UTF-8"}
    text = simple["Body"]["Text"]["Data"]
    assert text.startswith(TICKET.body)
    assert json.loads(text.split("ticket fields (JSON):\n", 1)[1]) == TICKET.fields


def test_mail_cannot_be_looked_up_or_followed(ses) -> None:
    filer, state = ses
    checked: Filer = filer  # the port, as the workflows see it
    assert checked.channel == "email"
    assert filer.find(TICKET.marker) is None
    assert filer.follow("email-anything") is None
    assert state.sent == []


def test_urging_mails_a_reminder_that_names_the_ticket(ses) -> None:
    filer, state = ses
    filer.urge("email-0100019a-0001-standin", "The burst starts in 2 days; please confirm.")
    [mail] = state.sent
    simple = mail["Content"]["Simple"]
    assert "email-0100019a-0001-standin" in simple["Subject"]["Data"]
    assert "please confirm" in simple["Body"]["Text"]["Data"]
    assert mail["Destination"] == {"ToAddresses": list(MANAGER)}


@pytest.mark.parametrize(
    "code", ["MessageRejected", "MailFromDomainNotVerifiedException", "SendingPausedException"]
)
def test_a_refused_mail_is_a_known_failure(ses, code: str) -> None:
    filer, state = ses
    state.error = (400, code)
    with pytest.raises(FilingError, match=code) as raised:
        filer.file(TICKET)
    assert raised.value.outcome_unknown is False


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalFailure"), (503, "ServiceUnavailable"),
                         (429, "TooManyRequestsException")],
)  # fmt: skip
def test_a_server_error_or_throttling_leaves_the_outcome_unknown(ses, status, code) -> None:
    filer, state = ses
    state.error = (status, code)
    with pytest.raises(FilingError) as raised:
        filer.file(TICKET)
    assert raised.value.outcome_unknown is True
    assert len(state.sent) == 1  # no retry by botocore: a retried send is a second mail


def test_a_timeout_leaves_the_outcome_unknown(ses) -> None:
    filer, state = ses
    state.delay = 2.0  # over the filer's 1 s
    with pytest.raises(FilingError) as raised:
        filer.file(TICKET)
    assert raised.value.outcome_unknown is True
    assert len(state.sent) == 1  # SES got it: the mail may well have gone out


def test_an_unreachable_endpoint_leaves_the_outcome_unknown() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    filer = EmailFiler(SENDER, MANAGER, f"http://127.0.0.1:{port}", "us-east-1", timeout=1.0)
    with pytest.raises(FilingError) as raised:
        filer.file(TICKET)
    assert raised.value.outcome_unknown is True


def test_missing_credentials_fail_before_anything_is_sent(ses, monkeypatch) -> None:
    filer, state = ses
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(FilingError) as raised:
        filer.file(TICKET)
    assert raised.value.outcome_unknown is False
    assert state.sent == []


@pytest.mark.parametrize(
    ("sender", "recipients", "message"),
    [
        ("", MANAGER, "sender"),
        ("not-an-address", MANAGER, "sender"),
        (SENDER, (), "recipients"),
        (SENDER, (" ", ""), "recipients"),
        (SENDER, ("am@huawei.example", "nobody"), "nobody"),
    ],
)
def test_sender_and_recipients_are_required(sender, recipients, message) -> None:
    with pytest.raises(ValueError, match=message):
        EmailFiler(sender, recipients, None, None)
