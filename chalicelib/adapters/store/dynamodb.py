"""The AWS store: five DynamoDB tables, every request write a conditional transaction.

Tables, named from a prefix P (CloudFormation creates them in production; keep
the key schema below in step with infra/):

- ``P-events``:   partition key ``id`` (S); ``start`` (S, ISO 8601), ``doc`` (S, JSON)
- ``P-requests``: partition key ``id`` (S). One item per request holds all that a change writes:
  ``version`` (N), ``deadline`` (S), ``doc`` (S, JSON); what a planning cycle filters by:
  ``period`` (S), ``live`` (BOOL), ``ends_us`` (N); its audit trail ``trail`` (L of S, JSON,
  oldest first) and the latest version in it, ``logged`` (N); and its outbox: ``notices`` (L of
  M: ``version`` N, ``request`` S, ``audit`` S), the notices not sent yet, with ``outbox`` (S,
  the id) set while there are any, the key of the sparse index ``outbox`` (keys only) that finds
  them. Also the latest-plan marker
  (``LATEST_PLAN_ID``) with ``at_us`` (N) and the cycle's mark ``cycle`` (B).
- ``P-audit``:    partition key ``request_id`` (S), sort key ``version`` (N); ``doc`` (S, JSON):
  deletions of traffic, under the reserved id ``#traffic``, and the audit entries of requests
  written before the trail moved onto the request item (read, never written any more)
- ``P-traffic``:  partition key ``key`` (S): ``metric/scope/YYYY-MM@<upload>`` with ``blob`` (B),
  one version of one chunk; and the head ``#head`` with ``version`` (N) and ``chunks`` (M, chunk
  key -> upload), which says which versions are current (see put_traffic)
- ``P-notices``:  partition key ``request_id`` (S), sort key ``version`` (N); ``doc`` (S, JSON):
  notices written before the outbox moved onto the request item; read, and deleted once sent

A change is one item, so a planning cycle's first 10,000 requests are 10,000 items, not 30,000
(DynamoDB bills, and DynamoDB Local spends its time, per item). Changes go in transactions of up
to 99, with the latest-plan marker, several transactions in flight at once.

Reads are strongly consistent, but for the outbox index (DynamoDB's indexes are not): it only
says which requests to read, consistently. Lists are Scans, paged through and sorted here: the
tables hold one team's calendar and requests (thousands of items at most), not a data set worth
an index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters.store.chunk_keys import (
    TRAFFIC_LOG,
    in_months,
    months_of,
    revision_of_chunks,
    touched_by,
)
from chalicelib.adapters.store.plans import LATEST_PLAN_ID, pack_mark, plan_moment, unpack_mark
from chalicelib.domain.errors import Conflict, StalePlan
from chalicelib.domain.events import Event
from chalicelib.domain.notices import Notice, in_sending_order
from chalicelib.domain.tracking import AuditEntry, Change, Reach, TrackedRequest, period_of
from chalicelib.workflows.ports import ANY, Answer, CycleMark, Saved

if TYPE_CHECKING:  # traffic (and NumPy) load with the first traffic call, not with the store
    from chalicelib.adapters.store.chunks import Chunk
    from chalicelib.domain.traffic import TimeRange, TrafficDeletion, TrafficSet

# The answers kept under idempotency keys live in the events table, under ids no event can have
# (event ids start with a letter or digit); list_events leaves them out.
ANSWER_PREFIX = "#answer/"
# Used only when an endpoint (DynamoDB Local) is given and nothing else names a region.
LOCAL_REGION = "us-east-1"

MAX_BATCH_GET_KEYS = 100
MAX_BATCH_WRITE_ITEMS = 25
MAX_TRANSACTION_ITEMS = 100
# A change is one item (its request, carrying the audit entry and the notice); every
# transaction also checks the latest-plan marker.
CHANGES_PER_TRANSACTION = MAX_TRANSACTION_ITEMS - 1
# Transactions save_requests keeps in flight at once. DynamoDB serves them in parallel; the
# marker check in each still stops a plan that another one overtook.
WRITERS = 4
# The sparse index of requests with notices to send (see the module's docstring).
OUTBOX_INDEX = "outbox"
UNPROCESSED_ATTEMPTS = 8

# How often a write whose transaction collided with another one in flight is tried again
# before it gives up (requests: as Conflict, for the caller to re-read; traffic: re-merged).
TRANSACTION_ATTEMPTS = 5
# How often a traffic write that lost its head switch to another writer re-merges and tries
# again; with the pauses below, twenty writers of the same months all get through.
UPLOAD_ATTEMPTS = 40
BACKOFF_BASE_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 1.0
# The item that says which version of each traffic chunk is current (see put_traffic).
TRAFFIC_HEAD = "#head"

Item = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Head:
    """The traffic head as read: ``version`` 0 when there is none yet; ``items`` maps each
    chunk key to the key of the item holding its current version."""

    version: int
    items: dict[str, str]


def _unused(written: dict[str, tuple[str | None, str | None]], keys: list[str]) -> list[str]:
    """Items this writer made for chunks that ``keys`` (the final selection) does not name."""
    chosen = set(keys)
    return [
        made for key, (read, made) in written.items() if made and made != read and key not in chosen
    ]


def _pause(attempt: int) -> None:
    """Full jitter: a random pause up to a ceiling that doubles with each attempt."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not a secret


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class DynamoStore:
    def __init__(self, client: Any, table_prefix: str, page_size: int | None = None) -> None:
        """``client``: a botocore DynamoDB client. ``page_size`` caps the items per Scan/Query
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
        from chalicelib.adapters import aws

        options: dict[str, Any] = {
            "config": Config(retries={"mode": "standard", "max_attempts": 5}),
        }
        if endpoint:
            options["endpoint_url"] = endpoint
            options["fallback_region"] = LOCAL_REGION
        # No client-side validation of parameters: DynamoDB validates them anyway, and checking
        # a 100-item transaction in Python costs more than sending it.
        options["config"] = options["config"].merge(Config(parameter_validation=False))
        return cls(aws.client("dynamodb", **options), table_prefix)

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

        requests = table(self.requests_table, [("id", "S", "HASH")])
        requests["AttributeDefinitions"].append({"AttributeName": "outbox", "AttributeType": "S"})
        requests["GlobalSecondaryIndexes"] = [
            {
                "IndexName": OUTBOX_INDEX,
                "KeySchema": [{"AttributeName": "outbox", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ]
        return [
            table(self.events_table, [("id", "S", "HASH")]),
            requests,
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

    def put_event(
        self, event: Event, expected: Event | Any | None = ANY, first_answer: Answer | None = None
    ) -> None:
        put: dict[str, Any] = {
            "TableName": self.events_table,
            "Item": {
                "id": _s(event.id),
                "start": _s(event.start.isoformat()),
                "doc": _s(event.model_dump_json()),
            },
        }
        if expected is not ANY:
            put |= _as_read(expected)
        if first_answer is None:
            if expected is ANY:
                self.client.put_item(**put)
                return
            actions = [{"Put": put}]
        else:
            item = {"id": _s(ANSWER_PREFIX + first_answer.key)}
            item["doc"] = _s(json.dumps(dataclasses.asdict(first_answer)))
            answer = {"TableName": self.events_table, "Item": item}
            answer["ConditionExpression"] = "attribute_not_exists(id)"
            actions = [{"Put": put}, {"Put": answer}]
        if self._transact(actions) is not None:
            raise Conflict(f"event {event.id} is not as read, or the key was used already")

    def get_event(self, event_id: str) -> Event | None:
        item = self._get(self.events_table, {"id": _s(event_id)})
        return Event.model_validate_json(item["doc"]["S"]) if item else None

    def delete_event(self, event_id: str, expected: Event | None = None) -> bool:
        condition = _as_read(expected) if expected is not None else {}
        try:
            response = self.client.delete_item(
                TableName=self.events_table, Key={"id": _s(event_id)}, ReturnValues="ALL_OLD",
                **condition,
            )  # fmt: skip
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise Conflict(f"event {event_id} is not as read") from None
            raise
        return bool(response.get("Attributes"))

    def first_answer(self, key: str) -> Answer | None:
        item = self._get(self.events_table, {"id": _s(ANSWER_PREFIX + key)})
        return Answer(**json.loads(item["doc"]["S"])) if item else None

    def list_events(self) -> list[Event]:
        items = self._scan(self.events_table)
        events = [
            Event.model_validate_json(i["doc"]["S"])
            for i in items
            if not i["id"]["S"].startswith(ANSWER_PREFIX)
        ]
        return sorted(events, key=lambda e: (e.start, e.id))

    # -- tracked requests ---------------------------------------------------------------------

    def get_request(self, request_id: str) -> TrackedRequest | None:
        item = self._get(self.requests_table, {"id": _s(request_id)}, "doc")
        return TrackedRequest.model_validate_json(item["doc"]["S"]) if item else None

    def list_requests(self) -> list[TrackedRequest]:
        items = self._paged("scan", TableName=self.requests_table, **_REQUEST_DOC)
        tracked = [_request_of(i) for i in items if i["id"]["S"] != LATEST_PLAN_ID]
        return sorted(tracked, key=lambda t: (t.request.deadline, t.id))

    def requests_in_reach(self, reach: Reach) -> list[TrackedRequest]:
        """A Scan still reads the whole table, but only what is in reach (and items written
        before the filtered attributes existed) comes back to be parsed."""
        names = {"#ends": "ends_us", "#live": "live"} | _REQUEST_DOC["ExpressionAttributeNames"]
        values: dict[str, Any] = {":from": _n(plan_moment(reach.ends_from)), ":yes": {"BOOL": True}}
        condition = "attribute_not_exists(#ends) OR (#live = :yes AND #ends >= :from)"
        if reach.first_month is not None:
            names["#period"] = "period"
            values[":month"] = _s(reach.first_month)
            condition += " OR #period >= :month"
        items = self._paged(
            "scan",
            TableName=self.requests_table,
            FilterExpression=condition,
            ProjectionExpression=_REQUEST_DOC["ProjectionExpression"],
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        tracked = [_request_of(i) for i in items if i["id"]["S"] != LATEST_PLAN_ID]
        in_reach = filter(reach.covers, tracked)
        return sorted(in_reach, key=lambda t: (t.request.deadline, t.id))

    def save_request(
        self,
        tracked: TrackedRequest,
        expected_version: int | None,
        audit: AuditEntry,
        announce: bool = True,
        planned_at: dt.datetime | None = None,
    ) -> None:
        actions = [self._change_action(tracked, expected_version, audit, announce)]
        if planned_at is not None:
            actions.append({"Put": self._latest_plan_put(planned_at)})
        reasons = self._transact(actions)
        if reasons is None:
            return
        if planned_at is not None and reasons[-1] == "ConditionalCheckFailed":
            raise StalePlan(f"a plan made after {planned_at.isoformat()} was applied already")
        raise Conflict(
            f"request {tracked.id} is no longer at version {expected_version} as read"
            if "ConditionalCheckFailed" in reasons
            else f"request {tracked.id} is being written by someone else; read it again"
        )

    def save_requests(
        self, changes: Sequence[Change], planned_at: dt.datetime | None = None
    ) -> Saved:
        """Transactions of up to CHANGES_PER_TRANSACTION changes, WRITERS of them at once; a
        request's second change waits for the wave after its first. A transaction that is
        cancelled (a change lost its condition, or met another writer) is done again a change
        at a time, so that the others are written and only the ones at fault conflict. Once a
        transaction finds the plan overtaken, no further one starts."""
        overtaken = threading.Event()
        saved = Saved([], [])
        with ThreadPoolExecutor(WRITERS) as pool:
            for wave in _waves(changes):
                batches = _chunked(wave, CHANGES_PER_TRANSACTION)
                write = functools.partial(self._write_batch, planned_at=planned_at, stop=overtaken)
                for written, conflicted in pool.map(write, batches):
                    saved.written.extend(written)
                    saved.conflicted.extend(conflicted)
                if overtaken.is_set():
                    return dataclasses.replace(saved, stale=True)
        return saved

    def _write_batch(
        self, batch: Sequence[Change], planned_at: dt.datetime | None, stop: threading.Event
    ) -> tuple[list[Change], list[Change]]:
        """One transaction of ``batch`` (the written changes, the conflicted); nothing once
        ``stop`` is set, and ``stop`` set when the plan was overtaken."""
        if stop.is_set():
            return [], []
        actions = [self._change_action(c.after, c.expected_version, c.audit) for c in batch]
        if planned_at is not None:
            actions.append({"Put": self._latest_plan_put(planned_at)})
        reasons = self._transact(actions)
        if reasons is None:
            return list(batch), []
        if planned_at is not None and reasons[-1] == "ConditionalCheckFailed":
            stop.set()
            return [], []
        written: list[Change] = []
        conflicted: list[Change] = []
        for change in batch:
            try:
                self.save_request(
                    change.after, change.expected_version, change.audit, planned_at=planned_at
                )
            except StalePlan:
                stop.set()
                break
            except Conflict:
                conflicted.append(change)
            else:
                written.append(change)
        return written, conflicted

    def _change_action(
        self,
        tracked: TrackedRequest,
        expected_version: int | None,
        audit: AuditEntry,
        announce: bool = True,
    ) -> dict[str, Any]:
        """The one write of a change: the request on its expected version, its audit entry
        added to the trail and, when ``announce``, its notice to the outbox. A new request is
        a Put (none may exist), a known one an Update, which keeps its trail and outbox."""
        doc = _s(tracked.model_dump_json())
        entry = _s(audit.model_dump_json())
        fields: Item = {
            "version": _n(tracked.version),
            "deadline": _s(tracked.request.deadline.isoformat()),
            "doc": doc,
            "period": _s(period_of(tracked.id)),
            "live": {"BOOL": tracked.is_live},
            "ends_us": _n(plan_moment(tracked.request.burst_end)),
        }
        notice = {"M": {"version": _n(audit.version), "request": doc, "audit": entry}}
        if expected_version is None:
            item = {"id": _s(tracked.id), **fields, "trail": {"L": [entry]}}
            item["logged"] = _n(audit.version)
            if announce:
                item |= {"notices": {"L": [notice]}, "outbox": _s(tracked.id)}
            return {"Put": {"TableName": self.requests_table, "Item": item, **_NEW_ID}}
        names = {f"#{name}": name for name in fields}
        values = {f":{name}": value for name, value in fields.items()}
        assignments = [f"#{name} = :{name}" for name in fields]
        names["#trail"] = "trail"
        values |= {":entry": {"L": [entry]}, ":none": {"L": []}}
        assignments.append("#trail = list_append(if_not_exists(#trail, :none), :entry)")
        if announce:
            names |= {"#notices": "notices", "#outbox": "outbox"}
            values |= {":notice": {"L": [notice]}, ":id": _s(tracked.id)}
            assignments.append("#notices = list_append(if_not_exists(#notices, :none), :notice)")
            assignments.append("#outbox = :id")
        # "logged": the trail's latest version, which a new entry must pass (items from before
        # the trail moved here have none, and entries up to their version in the audit table).
        names["#logged"] = "logged"
        values |= {":expected": _n(expected_version), ":logged": _n(audit.version)}
        assignments.append("#logged = :logged")
        update = {
            "TableName": self.requests_table,
            "Key": {"id": _s(tracked.id)},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": "#version = :expected AND (#logged < :logged OR "
            "(attribute_not_exists(#logged) AND #version < :logged))",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        return {"Update": update}

    def _latest_plan_put(
        self, planned_at: dt.datetime, cycle: CycleMark | None = None
    ) -> dict[str, Any]:
        """Record ``planned_at`` as the latest plan, unless a later one is recorded already;
        the put replaces the item, so a mark kept there goes unless ``cycle`` is given."""
        item: Item = {"id": _s(LATEST_PLAN_ID), "at_us": _n(plan_moment(planned_at))}
        if cycle is not None:
            item["cycle"] = {"B": pack_mark(cycle)}
        return {
            "TableName": self.requests_table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#id) OR #at <= :at",
            "ExpressionAttributeNames": {"#id": "id", "#at": "at_us"},
            "ExpressionAttributeValues": {":at": _n(plan_moment(planned_at))},
        }

    def record_plan(self, planned_at: dt.datetime, cycle: CycleMark | None = None) -> None:
        """A transaction of one put: the requests table is written in transactions only."""
        reasons = self._transact([{"Put": self._latest_plan_put(planned_at, cycle)}])
        if reasons is None:
            return
        if "ConditionalCheckFailed" in reasons:
            raise StalePlan(f"a plan made after {planned_at.isoformat()} was applied already")
        raise Conflict("the latest plan is being recorded by someone else; try again")

    def last_cycle(self) -> CycleMark | None:
        item = self._get(self.requests_table, {"id": _s(LATEST_PLAN_ID)})
        return unpack_mark(item["cycle"]["B"]) if item and "cycle" in item else None

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        """The trail on the request item, after any entries of it kept in the audit table
        from before the trail moved there."""
        items = self._paged(
            "query",
            TableName=self.audit_table,
            KeyConditionExpression="#rid = :rid",
            ExpressionAttributeNames={"#rid": "request_id"},
            ExpressionAttributeValues={":rid": _s(request_id)},
        )
        old = [AuditEntry.model_validate_json(i["doc"]["S"]) for i in items]
        item = self._get(self.requests_table, {"id": _s(request_id)}, "trail")
        trail = item.get("trail", {}).get("L", []) if item else []
        entries = {e.version: e for e in old} | {
            e.version: e for e in (AuditEntry.model_validate_json(t["S"]) for t in trail)
        }
        return [entries[version] for version in sorted(entries)]

    # -- the outbox of notices ----------------------------------------------------------------

    def pending_notices(self) -> list[Notice]:
        """The requests the outbox index names, read again consistently (the index may lag),
        and the notices table of old."""
        keys = self._paged(
            "scan", TableName=self.requests_table, IndexName=OUTBOX_INDEX, consistent=False
        )
        ids = {key["id"]["S"] for key in keys}
        items = self._batch_get(self.requests_table, "id", ids, "notices").values()
        notices = [_notice_of(n["M"]) for i in items for n in i.get("notices", {}).get("L", [])]
        notices += [
            Notice.model_validate_json(i["doc"]["S"]) for i in self._scan(self.notices_table)
        ]
        return in_sending_order(notices)

    def notice_sent(self, notice: Notice) -> None:
        """Take the notice out of its request's outbox. The usual case, the request's only
        notice, is one conditional write; otherwise the outbox is read to find it, and read
        again if it changed meanwhile. A notice found in no outbox is one of old."""
        key = {"id": _s(notice.request_id)}
        versions = [notice.version]  # a guess: the only one
        for _ in range(TRANSACTION_ATTEMPTS):
            if notice.version not in versions:
                legacy = {"request_id": _s(notice.request_id), "version": _n(notice.version)}
                self.client.delete_item(TableName=self.notices_table, Key=legacy)
                return
            removal = self._outbox_removal(key, versions, notice.version)
            if self._transact([{"Update": removal}]) is None:
                return
            item = self._get(self.requests_table, key, "notices")  # it moved: read it again
            outbox = item.get("notices", {}).get("L", []) if item else []
            versions = [int(n["M"]["version"]["N"]) for n in outbox]
        raise Conflict(f"the outbox of request {notice.request_id} keeps changing; try again")

    def _outbox_removal(self, key: Item, versions: list[int], version: int) -> dict[str, Any]:
        """Remove ``version`` from an outbox read as ``versions``, on condition that it is
        still there; the last one leaves the outbox index too."""
        place = versions.index(version)
        update: dict[str, Any] = {
            "TableName": self.requests_table,
            "Key": key,
            "ExpressionAttributeNames": {"#notices": "notices", "#version": "version"},
            "ExpressionAttributeValues": {":version": _n(version)},
        }
        if len(versions) == 1:
            update["ExpressionAttributeNames"]["#outbox"] = "outbox"
            update["ExpressionAttributeValues"][":one"] = _n(1)
            update["UpdateExpression"] = "REMOVE #notices, #outbox"
            update["ConditionExpression"] = (
                "size(#notices) = :one AND #notices[0].#version = :version"
            )
        else:
            update["UpdateExpression"] = f"REMOVE #notices[{place}]"
            update["ConditionExpression"] = f"#notices[{place}].#version = :version"
        return update

    # -- traffic ------------------------------------------------------------------------------
    #
    # Chunk items are never changed once written: each holds one version of one chunk, under
    # the key "metric/scope/YYYY-MM@<upload>". The head item (key TRAFFIC_HEAD) maps every chunk
    # to the upload holding its current version, and carries a version number. A write puts its
    # new chunk items first, invisible, then switches the head in one conditional transaction:
    # a writer killed before the switch leaves the previous data whole (and a few items nothing
    # refers to); one killed after it has finished. Tables written before the head existed keep
    # their chunks under the bare chunk key; until the first write they are read as they are.

    def put_traffic(self, traffic: TrafficSet) -> None:
        """Merged over the stored chunks and switched in at once. A writer that loses the
        switch to another re-merges only the chunks the other changed, after a pause that
        grows with every loss (jittered, so that racing writers spread out)."""
        from chalicelib.adapters.store.chunks import merge_chunk, split_into_chunks

        uploaded = {chunk.key: chunk for chunk in split_into_chunks(traffic)}
        if uploaded:
            self._commit(lambda _: sorted(uploaded), lambda k, old: merge_chunk(old, uploaded[k]))

    def delete_traffic(self, deletion: TrafficDeletion) -> TrafficDeletion:
        """The points go and the record of their removal (in the audit table, under
        TRAFFIC_LOG, numbered on from the last record) is written in the same switch."""
        removed: dict[str, int] = {}
        done: list[TrafficDeletion] = []

        def remove(key: str, old: Chunk | None) -> Chunk | None:
            kept = old.without(deletion.span) if old else None
            removed[key] = (old.points if old else 0) - (kept.points if kept else 0)
            return kept

        def record(keys: Sequence[str]) -> list[dict[str, Any]]:
            points = sum(removed.get(key, 0) for key in keys)
            number = self._last_deletion_number() + 1
            done[:] = [deletion.model_copy(update={"points": points, "sequence": number})]
            item = {"request_id": _s(TRAFFIC_LOG), "version": _n(number)}
            item["doc"] = _s(done[0].model_dump_json())
            put = {"TableName": self.audit_table, "Item": item}
            put["ConditionExpression"] = "attribute_not_exists(request_id)"
            return [{"Put": put}]

        self._commit(
            lambda head: sorted(k for k in head.items if touched_by(k, deletion)), remove, record
        )
        return done[0]

    def traffic_deletions(self) -> list[TrafficDeletion]:
        from chalicelib.domain.traffic import TrafficDeletion

        items = self._paged(
            "query",
            TableName=self.audit_table,
            KeyConditionExpression="request_id = :log",
            ExpressionAttributeValues={":log": _s(TRAFFIC_LOG)},
            ScanIndexForward=True,
        )
        return [TrafficDeletion.model_validate_json(item["doc"]["S"]) for item in items]

    def _last_deletion_number(self) -> int:
        response = self.client.query(
            TableName=self.audit_table,
            KeyConditionExpression="request_id = :log",
            ExpressionAttributeValues={":log": _s(TRAFFIC_LOG)},
            ProjectionExpression="#version",
            ExpressionAttributeNames={"#version": "version"},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return int(items[0]["version"]["N"]) if items else 0

    def traffic_revision(self, span: TimeRange) -> str | None:
        """From the head: chunk items never change, so (chunk, item) pairs name the points.
        Chunks kept under their bare key (written before the head existed) may change in
        place: then no revision."""
        head = self._read_head()
        months = months_of(span)
        items = {chunk: item for chunk, item in head.items.items() if in_months(chunk, months)}
        if any("@" not in item for item in items.values()):
            return None
        return revision_of_chunks(items.items())

    def get_traffic(self, span: TimeRange | None = None) -> TrafficSet:
        from chalicelib.adapters.store.chunks import Chunk, assemble

        months = months_of(span) if span else None
        for attempt in range(UPLOAD_ATTEMPTS):
            head = self._read_head()
            wanted = {
                chunk: item
                for chunk, item in head.items.items()
                if months is None or in_months(chunk, months)
            }
            blobs = self._read_items(wanted.values())
            if len(blobs) == len(wanted):
                traffic = assemble([Chunk.decode(c, blobs[i]) for c, i in wanted.items()])
                return traffic.within(span) if span else traffic
            _pause(attempt)  # a writer switched past this head and dropped what it replaced
        raise Conflict("the traffic kept changing while it was read; try again")

    def _commit(
        self,
        select: Callable[[_Head], list[str]],
        change: Callable[[str, Chunk | None], Chunk | None],
        record: Callable[[Sequence[str]], list[dict[str, Any]]] | None = None,
    ) -> None:
        """Rewrite the chunks ``select`` names through ``change`` (None: the chunk goes), then
        switch the head to them with ``record``'s actions in the same transaction."""
        written: dict[str, tuple[str | None, str | None]] = {}  # chunk: (item read, item made)
        discarded: list[str] = []  # items this writer made, then made again
        for attempt in range(UPLOAD_ATTEMPTS):
            head = self._read_head()
            keys = select(head)
            stale = [k for k in keys if k not in written or written[k][0] != head.items.get(k)]
            if self._rewrite(head, stale, change, written, discarded):
                items = dict(head.items)
                for key in keys:
                    made = written[key][1]
                    if made is None:
                        items.pop(key, None)
                    else:
                        items[key] = made
                extra = record(keys) if record else []
                if self._switch(head, items, extra):
                    replaced = {head.items[k] for k in keys if k in head.items}
                    replaced -= set(items.values())
                    self._drop_items([*replaced, *discarded, *_unused(written, keys)])
                    return
            _pause(attempt)
        self._drop_items([*discarded, *_unused(written, [])])
        raise Conflict(f"the traffic kept changing after {UPLOAD_ATTEMPTS} attempts; try again")

    def _rewrite(
        self,
        head: _Head,
        keys: list[str],
        change: Callable[[str, Chunk | None], Chunk | None],
        written: dict[str, tuple[str | None, str | None]],
        discarded: list[str],
    ) -> bool:
        """Put the changed versions of ``keys`` (as read in ``head``) as new items. False when
        an item the head names is gone already: a newer head exists, read it again."""
        from chalicelib.adapters.store.chunks import Chunk

        read = {key: head.items.get(key) for key in keys}
        blobs = self._read_items(item for item in read.values() if item)
        if any(item and item not in blobs for item in read.values()):
            return False
        upload = uuid.uuid4().hex[:12]
        new_items: dict[str, bytes] = {}
        for key, item in read.items():
            old = Chunk.decode(key, blobs[item]) if item else None
            new = change(key, old)
            made: str | None = None
            if new is old:
                made = item
            elif new is not None:
                made = f"{key}@{upload}"
                new_items[made] = new.encode()
            before, previous = written.get(key, (None, None))
            if previous and previous not in (before, made):  # made by this writer, now stale
                discarded.append(previous)
            written[key] = (item, made)
        self._put_items(new_items)
        return True

    def _read_head(self) -> _Head:
        item = self._get(self.traffic_table, {"key": _s(TRAFFIC_HEAD)})
        if item is None:
            return _Head(0, {key: key for key in self._bare_chunk_keys()})
        uploads = item["chunks"]["M"]
        return _Head(
            int(item["version"]["N"]),
            {key: f"{key}@{u['S']}" if u["S"] else key for key, u in uploads.items()},
        )

    def _bare_chunk_keys(self) -> list[str]:
        """Chunks written before the head existed, under their own key."""
        items = self._paged(
            "scan",
            TableName=self.traffic_table,
            ProjectionExpression="#key",
            ExpressionAttributeNames={"#key": "key"},
        )
        keys = (item["key"]["S"] for item in items)
        return [key for key in keys if "@" not in key and key != TRAFFIC_HEAD]

    def _switch(self, head: _Head, items: dict[str, str], extra: list[dict[str, Any]]) -> bool:
        uploads = {chunk: _s(item.partition("@")[2]) for chunk, item in items.items()}
        put: dict[str, Any] = {
            "TableName": self.traffic_table,
            "Item": {
                "key": _s(TRAFFIC_HEAD),
                "version": _n(head.version + 1),
                "chunks": {"M": uploads},
            },
        }
        if head.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(#key)"
            put["ExpressionAttributeNames"] = {"#key": "key"}
        else:
            put["ConditionExpression"] = "#version = :read"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = {":read": _n(head.version)}
        return self._transact([{"Put": put}, *extra]) is None

    def _read_items(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The blobs of those of ``keys`` that exist (consistent reads)."""
        items = self._batch_get(self.traffic_table, "key", keys, "blob")
        return {key: item["blob"]["B"] for key, item in items.items()}

    def _batch_get(
        self, table: str, key_name: str, keys: Iterable[str], *attributes: str
    ) -> dict[str, Item]:
        """The items of ``table`` whose key ``key_name`` is one of ``keys`` (those that exist,
        read consistently), each with its key and ``attributes``."""
        found: dict[str, Item] = {}
        unique = sorted(set(keys))
        names = {f"#{name}": name for name in (key_name, *attributes)}
        for start in range(0, len(unique), MAX_BATCH_GET_KEYS):
            request: dict[str, Any] = {
                table: {
                    "Keys": [{key_name: _s(k)} for k in unique[start : start + MAX_BATCH_GET_KEYS]],
                    "ConsistentRead": True,
                    "ProjectionExpression": ", ".join(names),
                    "ExpressionAttributeNames": names,
                }
            }
            for attempt in range(UNPROCESSED_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(table, []):
                    found[item[key_name]["S"]] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                _pause(attempt)
            else:
                raise RuntimeError(f"DynamoDB kept leaving keys of {table} unprocessed; try again")
        return found

    def _put_items(self, blobs: dict[str, bytes]) -> None:
        self._batch_write(
            [{"PutRequest": {"Item": {"key": _s(k), "blob": {"B": b}}}} for k, b in blobs.items()]
        )

    def _drop_items(self, keys: Iterable[str]) -> None:
        """Remove items no head refers to any more. Tidying only: a failure is left for good."""
        with contextlib.suppress(ClientError, RuntimeError):
            self._batch_write([{"DeleteRequest": {"Key": {"key": _s(k)}}} for k in set(keys)])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), MAX_BATCH_WRITE_ITEMS):
            pending = {self.traffic_table: requests[start : start + MAX_BATCH_WRITE_ITEMS]}
            for attempt in range(UNPROCESSED_ATTEMPTS):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                _pause(attempt)
            else:
                raise RuntimeError("DynamoDB kept leaving traffic items unprocessed; try again")

    # -- helpers ------------------------------------------------------------------------------

    def _get(self, table: str, key: Item, *attributes: str) -> Item | None:
        """The item (consistent read), with only ``attributes`` and its key when given."""
        arguments: dict[str, Any] = {"TableName": table, "Key": key, "ConsistentRead": True}
        if attributes:
            names = {f"#{name}": name for name in (*key, *attributes)}
            arguments["ProjectionExpression"] = ", ".join(names)
            arguments["ExpressionAttributeNames"] = names
        item: Item | None = self.client.get_item(**arguments).get("Item")
        return item

    def _scan(self, table: str) -> Iterator[Item]:
        return self._paged("scan", TableName=table)

    def _paged(self, operation: str, consistent: bool = True, **arguments: Any) -> Iterator[Item]:
        """Every item of a Scan or Query, following LastEvaluatedKey page by page. Reads are
        consistent but on an index (``consistent=False``), where DynamoDB refuses them."""
        call = getattr(self.client, operation)
        arguments["ConsistentRead"] = consistent
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
            _pause(attempt)
        return reasons


# The projection of a request's own document: its trail and outbox stay on the server.
_REQUEST_DOC: dict[str, Any] = {
    "ProjectionExpression": "#id, #doc",
    "ExpressionAttributeNames": {"#id": "id", "#doc": "doc"},
}
# The condition of a Put that creates an item: none may exist under its key.
_NEW_ID = {
    "ConditionExpression": "attribute_not_exists(#id)",
    "ExpressionAttributeNames": {"#id": "id"},
}


def _request_of(item: Item) -> TrackedRequest:
    return TrackedRequest.model_validate_json(item["doc"]["S"])


def _notice_of(entry: Item) -> Notice:
    return Notice(
        request=TrackedRequest.model_validate_json(entry["request"]["S"]),
        audit=AuditEntry.model_validate_json(entry["audit"]["S"]),
    )


def _waves(changes: Sequence[Change]) -> list[list[Change]]:
    """The changes in waves that touch each request once (a transaction may touch an item only
    once, and two transactions in flight must not race for one): every request's first change
    in the first wave, its second in the next, in the order given."""
    seen: dict[str, int] = {}
    waves: list[list[Change]] = []
    for change in changes:
        wave = seen.get(change.after.id, -1) + 1
        seen[change.after.id] = wave
        if wave == len(waves):
            waves.append([])
        waves[wave].append(change)
    return waves


def _chunked(changes: Sequence[Change], size: int) -> Iterator[list[Change]]:
    for start in range(0, len(changes), size):
        yield list(changes[start : start + size])


def _as_read(expected: Event | None) -> dict[str, Any]:
    """The condition that the event is stored as ``expected`` (None: that there is none)."""
    if expected is None:
        return {
            "ConditionExpression": "attribute_not_exists(#id)",
            "ExpressionAttributeNames": {"#id": "id"},
        }
    return {
        "ConditionExpression": "#doc = :read",
        "ExpressionAttributeNames": {"#doc": "doc"},
        "ExpressionAttributeValues": {":read": _s(expected.model_dump_json())},
    }


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
