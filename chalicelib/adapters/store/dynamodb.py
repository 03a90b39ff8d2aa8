"""The AWS store: five DynamoDB tables, every request write a conditional transaction.

Tables, named from a prefix P (CloudFormation creates them in production; keep
the key schema below in step with infra/):

- ``P-events``:   partition key ``id`` (S); ``start`` (S, ISO 8601), ``doc`` (S, JSON)
- ``P-requests``: partition key ``id`` (S); ``version`` (N), ``deadline`` (S), ``doc`` (S, JSON)
- ``P-audit``:    partition key ``request_id`` (S), sort key ``version`` (N); ``doc`` (S, JSON)
- ``P-traffic``:  partition key ``key`` (S, metric/scope/YYYY-MM); ``blob`` (B), ``version`` (N)
- ``P-notices``:  partition key ``request_id`` (S), sort key ``version`` (N); ``doc`` (S, JSON):
  the outbox of notifications, written with the change they announce, deleted once sent

Reads are strongly consistent. Lists are Scans, paged through and sorted here: the tables hold
one team's calendar and requests (hundreds of items), not a data set worth an index; the notices
table holds only what is not sent yet.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters.store.chunks import Chunk, assemble, merge_chunk, split_into_chunks
from chalicelib.domain.errors import Conflict
from chalicelib.domain.events import Event
from chalicelib.domain.notices import Notice, in_sending_order
from chalicelib.domain.tracking import AuditEntry, TrackedRequest
from chalicelib.domain.traffic import TrafficSet

# Used only when an endpoint (DynamoDB Local) is given and nothing else names a region.
LOCAL_REGION = "us-east-1"

# TransactWriteItems takes at most 100 actions and 4 MB of items; a merged chunk is at most
# ~90 KB (a full month of points). The byte budget keeps a margin under the limit.
MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_BYTES = 3_500_000
ITEM_OVERHEAD_BYTES = 64  # attribute names, the version number
MAX_BATCH_GET_KEYS = 100
UNPROCESSED_ATTEMPTS = 8

# How often a write whose transaction collided with another one in flight is tried again
# before it gives up (requests: as Conflict, for the caller to re-read; traffic: re-merged).
TRANSACTION_ATTEMPTS = 5

Item = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _ChunkPut:
    chunk: Chunk  # the uploaded part, merged again if the write must be retried
    action: dict[str, Any]  # the conditional Put of the merged chunk
    size: int  # bytes the item counts for in a transaction


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class DynamoStore:
    def __init__(self, client: Any, table_prefix: str, page_size: int | None = None) -> None:
        """``client``: a boto3 DynamoDB client. ``page_size`` caps the items per Scan/Query
        page (None: DynamoDB's 1 MB pages); tests set it small to exercise paging."""
        self.client = client
        self.table_prefix = table_prefix
        self._page_size = page_size
        self.events_table = f"{table_prefix}-events"
        self.requests_table = f"{table_prefix}-requests"
        self.audit_table = f"{table_prefix}-audit"
        self.traffic_table = f"{table_prefix}-traffic"
        self.notices_table = f"{table_prefix}-notices"

    @classmethod
    def connect(cls, table_prefix: str, endpoint: str | None = None) -> DynamoStore:
        """A store on the tables named ``<table_prefix>-...``; ``endpoint``: DynamoDB Local."""
        # A session of its own: boto3's default session is not safe to share between threads.
        session = boto3.session.Session()
        options: dict[str, Any] = {
            "config": Config(retries={"mode": "standard", "max_attempts": 5}),
        }
        if endpoint:
            options["endpoint_url"] = endpoint
            if session.region_name is None:
                options["region_name"] = LOCAL_REGION
        return cls(session.client("dynamodb", **options), table_prefix)

    # -- tables (production tables come from CloudFormation) -----------------------------------

    def table_definitions(self) -> list[dict[str, Any]]:
        """CreateTable arguments of the five tables, on-demand capacity."""

        def table(name: str, keys: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
            return {
                "TableName": name,
                "KeySchema": [{"AttributeName": a, "KeyType": k} for a, _, k in keys],
                "AttributeDefinitions": [
                    {"AttributeName": a, "AttributeType": t} for a, t, _ in keys
                ],
                "BillingMode": "PAY_PER_REQUEST",
            }

        return [
            table(self.events_table, [("id", "S", "HASH")]),
            table(self.requests_table, [("id", "S", "HASH")]),
            table(self.audit_table, [("request_id", "S", "HASH"), ("version", "N", "RANGE")]),
            table(self.traffic_table, [("key", "S", "HASH")]),
            table(self.notices_table, [("request_id", "S", "HASH"), ("version", "N", "RANGE")]),
        ]

    def create_tables(self, timeout: float = 120.0) -> None:
        """Create whichever of the tables is missing and wait until all are ACTIVE."""
        definitions = self.table_definitions()
        for definition in definitions:
            try:
                self.client.create_table(**definition)
            except ClientError as exc:
                if _error_code(exc) != "ResourceInUseException":  # it exists already
                    raise
        deadline = time.monotonic() + timeout
        for definition in definitions:
            name = definition["TableName"]
            while self.client.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"table {name} not ACTIVE after {timeout:.0f} s")
                time.sleep(0.5)

    def delete_tables(self) -> None:
        """Drop the five tables (tests and local tooling; never wired to production)."""
        for definition in self.table_definitions():
            try:
                self.client.delete_table(TableName=definition["TableName"])
            except ClientError as exc:
                if _error_code(exc) != "ResourceNotFoundException":
                    raise

    # -- events -------------------------------------------------------------------------------

    def put_event(self, event: Event) -> None:
        self.client.put_item(
            TableName=self.events_table,
            Item={
                "id": _s(event.id),
                "start": _s(event.start.isoformat()),
                "doc": _s(event.model_dump_json()),
            },
        )

    def get_event(self, event_id: str) -> Event | None:
        item = self._get(self.events_table, {"id": _s(event_id)})
        return Event.model_validate_json(item["doc"]["S"]) if item else None

    def delete_event(self, event_id: str) -> bool:
        response = self.client.delete_item(
            TableName=self.events_table, Key={"id": _s(event_id)}, ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def list_events(self) -> list[Event]:
        events = [Event.model_validate_json(i["doc"]["S"]) for i in self._scan(self.events_table)]
        return sorted(events, key=lambda e: (e.start, e.id))

    # -- tracked requests ---------------------------------------------------------------------

    def get_request(self, request_id: str) -> TrackedRequest | None:
        item = self._get(self.requests_table, {"id": _s(request_id)})
        return TrackedRequest.model_validate_json(item["doc"]["S"]) if item else None

    def list_requests(self) -> list[TrackedRequest]:
        tracked = [
            TrackedRequest.model_validate_json(i["doc"]["S"])
            for i in self._scan(self.requests_table)
        ]
        return sorted(tracked, key=lambda t: (t.request.deadline, t.id))

    def save_request(
        self,
        tracked: TrackedRequest,
        expected_version: int | None,
        audit: AuditEntry,
        announce: bool = True,
    ) -> None:
        request_put: dict[str, Any] = {
            "TableName": self.requests_table,
            "Item": {
                "id": _s(tracked.id),
                "version": _n(tracked.version),
                "deadline": _s(tracked.request.deadline.isoformat()),
                "doc": _s(tracked.model_dump_json()),
            },
        }
        if expected_version is None:
            request_put["ConditionExpression"] = "attribute_not_exists(#id)"
            request_put["ExpressionAttributeNames"] = {"#id": "id"}
        else:
            request_put["ConditionExpression"] = "#version = :expected"
            request_put["ExpressionAttributeNames"] = {"#version": "version"}
            request_put["ExpressionAttributeValues"] = {":expected": _n(expected_version)}
        audit_put = {
            "TableName": self.audit_table,
            "Item": {
                "request_id": _s(audit.request_id),
                "version": _n(audit.version),
                "doc": _s(audit.model_dump_json()),
            },
            "ConditionExpression": "attribute_not_exists(#rid)",
            "ExpressionAttributeNames": {"#rid": "request_id"},
        }
        actions = [{"Put": request_put}, {"Put": audit_put}]
        if announce:
            notice = Notice(request=tracked, audit=audit)
            notice_item = {
                "request_id": _s(notice.request_id),
                "version": _n(notice.version),
                "doc": _s(notice.model_dump_json()),
            }
            actions.append({"Put": {"TableName": self.notices_table, "Item": notice_item}})
        reasons = self._transact(actions)
        if reasons is not None:
            raise Conflict(
                f"request {tracked.id} is no longer at version {expected_version} as read"
                if "ConditionalCheckFailed" in reasons
                else f"request {tracked.id} is being written by someone else; read it again"
            )

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        items = self._paged(
            "query",
            TableName=self.audit_table,
            KeyConditionExpression="#rid = :rid",
            ExpressionAttributeNames={"#rid": "request_id"},
            ExpressionAttributeValues={":rid": _s(request_id)},
            ScanIndexForward=True,  # by version, oldest first
        )
        return [AuditEntry.model_validate_json(item["doc"]["S"]) for item in items]

    # -- the outbox of notices ----------------------------------------------------------------

    def pending_notices(self) -> list[Notice]:
        items = self._scan(self.notices_table)
        return in_sending_order([Notice.model_validate_json(i["doc"]["S"]) for i in items])

    def notice_sent(self, notice: Notice) -> None:
        key = {"request_id": _s(notice.request_id), "version": _n(notice.version)}
        self.client.delete_item(TableName=self.notices_table, Key=key)

    # -- traffic ------------------------------------------------------------------------------

    def put_traffic(self, traffic: TrafficSet) -> None:
        """Each chunk is read, merged and written back on the version it was read at. All the
        chunks of one call go in one transaction when they fit its limits (100 items, 4 MB:
        about 40 full months of one series, many more sparse ones); a larger upload is written
        in several transactions, each whole or not at all, so a failure part-way leaves some
        months merged and the others as they were (uploading again finishes the job). A
        transaction that loses to a concurrent writer is re-read, re-merged and tried again a
        few times, then raises Conflict."""
        chunks = list(split_into_chunks(traffic))
        if not chunks:
            return
        stored = self._read_chunks([c.key for c in chunks])
        for group in _transaction_groups([self._merged(c, stored.get(c.key)) for c in chunks]):
            self._write_chunks(group)

    def _write_chunks(self, group: list[_ChunkPut]) -> None:
        for _ in range(TRANSACTION_ATTEMPTS):
            if self._transact([{"Put": put.action} for put in group]) is None:
                return
            stored = self._read_chunks([put.chunk.key for put in group])
            group = [self._merged(put.chunk, stored.get(put.chunk.key)) for put in group]
        raise Conflict(
            f"traffic {group[0].chunk.key} .. {group[-1].chunk.key} kept changing underneath "
            f"after {TRANSACTION_ATTEMPTS} attempts; upload again"
        )

    def _merged(self, chunk: Chunk, stored: tuple[Chunk, int] | None) -> _ChunkPut:
        """The conditional Put of ``chunk`` merged into the stored one (with its version)."""
        old, version = stored if stored else (None, 0)
        blob = merge_chunk(old, chunk).encode()
        action: dict[str, Any] = {
            "TableName": self.traffic_table,
            "Item": {"key": _s(chunk.key), "blob": {"B": blob}, "version": _n(version + 1)},
            "ExpressionAttributeNames": {"#key": "key"},
        }
        if old is None:
            action["ConditionExpression"] = "attribute_not_exists(#key)"
        else:
            action["ConditionExpression"] = "attribute_exists(#key) AND #version = :read"
            action["ExpressionAttributeNames"]["#version"] = "version"
            action["ExpressionAttributeValues"] = {":read": _n(version)}
        return _ChunkPut(chunk, action, len(blob) + len(chunk.key) + ITEM_OVERHEAD_BYTES)

    def _read_chunks(self, keys: Sequence[str]) -> dict[str, tuple[Chunk, int]]:
        """The stored chunks among ``keys``, each with its version (consistent reads)."""
        found: dict[str, tuple[Chunk, int]] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), MAX_BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self.traffic_table: {
                    "Keys": [{"key": _s(k)} for k in unique[start : start + MAX_BATCH_GET_KEYS]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(UNPROCESSED_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.traffic_table, []):
                    key = item["key"]["S"]
                    found[key] = (Chunk.decode(key, item["blob"]["B"]), int(item["version"]["N"]))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                raise RuntimeError("DynamoDB kept leaving traffic keys unprocessed; try again")
        return found

    def get_traffic(self) -> TrafficSet:
        return assemble(
            [
                Chunk.decode(item["key"]["S"], item["blob"]["B"])
                for item in self._scan(self.traffic_table)
            ]
        )

    # -- helpers ------------------------------------------------------------------------------

    def _get(self, table: str, key: Item) -> Item | None:
        response = self.client.get_item(TableName=table, Key=key, ConsistentRead=True)
        item: Item | None = response.get("Item")
        return item

    def _scan(self, table: str) -> Iterator[Item]:
        return self._paged("scan", TableName=table)

    def _paged(self, operation: str, **arguments: Any) -> Iterator[Item]:
        """Every item of a Scan or Query, following LastEvaluatedKey page by page."""
        call = getattr(self.client, operation)
        arguments["ConsistentRead"] = True
        if self._page_size is not None:
            arguments["Limit"] = self._page_size
        while True:
            page = call(**arguments)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            arguments["ExclusiveStartKey"] = last

    def _transact(self, actions: list[dict[str, Any]]) -> list[str] | None:
        """Run TransactWriteItems. None when it committed; the cancellation reasons when a
        condition failed. A collision with another transaction in flight (TransactionConflict)
        is retried after a short random pause, and reported like a failed condition when it
        persists. Any other error propagates."""
        reasons: list[str] = []
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                # A fresh token per attempt: botocore's own retries of one attempt (after a
                # timeout, say) reuse it, so a commit that was not acknowledged is not redone.
                self.client.transact_write_items(
                    TransactItems=actions, ClientRequestToken=str(uuid.uuid4())
                )
                return None
            except ClientError as exc:
                if _error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = _cancellation_reasons(exc)
                if "ConditionalCheckFailed" in reasons:
                    return reasons
                if "TransactionConflict" not in reasons:
                    raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311 - jitter only
        return reasons


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _cancellation_reasons(exc: ClientError) -> list[str]:
    """The per-action reason codes of a cancelled transaction ("None" for a fine action)."""
    reasons = exc.response.get("CancellationReasons")
    if reasons:
        return [str(r.get("Code", "None")) for r in reasons]
    # Older emulators give the reasons only in the message: "... reasons [A, None]".
    message = str(exc.response.get("Error", {}).get("Message", ""))
    start, end = message.rfind("["), message.rfind("]")
    if 0 <= start < end:
        return [part.strip() for part in message[start + 1 : end].split(",")]
    return []


def _transaction_groups(puts: list[_ChunkPut]) -> Iterator[list[_ChunkPut]]:
    """Consecutive puts in groups within the TransactWriteItems limits."""
    group: list[_ChunkPut] = []
    size = 0
    for put in puts:
        if group and (
            len(group) == MAX_TRANSACTION_ITEMS or size + put.size > MAX_TRANSACTION_BYTES
        ):
            yield group
            group, size = [], 0
        group.append(put)
        size += put.size
    if group:
        yield group
