"""The embedded default store: one SQLite file, created on first use, schema versioned.

Deletions of traffic are logged in the audit table under the reserved id ``TRAFFIC_LOG``
(no request has that id), numbered from 1, append-only like a request's history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalicelib.adapters.store.chunks import (
    TRAFFIC_LOG,
    Chunk,
    assemble,
    merge_chunk,
    months_of,
    split_into_chunks,
    touched_by,
)
from chalicelib.adapters.store.plans import plan_moment
from chalicelib.domain.errors import Conflict, StalePlan
from chalicelib.domain.events import Event
from chalicelib.domain.notices import Notice, in_sending_order
from chalicelib.domain.tracking import AuditEntry, TrackedRequest
from chalicelib.domain.traffic import TimeRange, TrafficDeletion, TrafficSet
from chalicelib.workflows.ports import ANY, Answer

# Each entry moves the schema from version i to i + 1 (PRAGMA user_version).
MIGRATIONS = (
    """
    CREATE TABLE events (id TEXT PRIMARY KEY, start TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE TABLE requests (
        id TEXT PRIMARY KEY, version INTEGER NOT NULL, deadline TEXT NOT NULL, doc TEXT NOT NULL
    );
    CREATE TABLE audit (
        request_id TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (request_id, version)
    );
    """,
    """
    CREATE TABLE traffic (key TEXT PRIMARY KEY, blob BLOB NOT NULL);
    """,
    """
    CREATE TABLE notices (
        request_id TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (request_id, version)
    );
    """,
    """
    CREATE TABLE latest_plan (one INTEGER PRIMARY KEY CHECK (one = 1), at_us INTEGER NOT NULL);
    """,
    """
    CREATE TABLE answers (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
    """,
)


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # one connection per thread (chalice local is threaded)
        self._connections: list[sqlite3.Connection] = []
        self._migrate()

    @property
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a read-check-write
            # holds the write lock from the read on, and another writer waits its turn.
            # Each connection is used only by the thread that opened it; check_same_thread=False
            # only lets close() shut them all from whichever thread ends the store.
            db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
            self._connections.append(db)
        return db

    def close(self) -> None:
        for db in self._connections:
            db.close()
        self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._transaction() as db:
            current = db.execute("PRAGMA user_version").fetchone()[0]
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"{self.path} has schema version {current}, newer than this program "
                    f"({len(MIGRATIONS)}); upgrade Burst Assurance"
                )
            for version in range(current, len(MIGRATIONS)):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")

    # -- events -------------------------------------------------------------------------------

    def put_event(
        self, event: Event, expected: Event | Any | None = ANY, first_answer: Answer | None = None
    ) -> None:
        with self._transaction() as db:
            if expected is not ANY:
                self._check_event(db, event.id, expected)
            if first_answer is not None:
                try:
                    db.execute(
                        "INSERT INTO answers (key, doc) VALUES (?, ?)",
                        (first_answer.key, json.dumps(dataclasses.asdict(first_answer))),
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(
                        f"idempotency key {first_answer.key!r} was used already"
                    ) from None
            db.execute(
                "INSERT INTO events (id, start, doc) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET start = excluded.start, doc = excluded.doc",
                (event.id, event.start.isoformat(), event.model_dump_json()),
            )

    def get_event(self, event_id: str) -> Event | None:
        row = self._db.execute("SELECT doc FROM events WHERE id = ?", (event_id,)).fetchone()
        return Event.model_validate_json(row[0]) if row else None

    def delete_event(self, event_id: str, expected: Event | None = None) -> bool:
        with self._transaction() as db:
            if expected is not None:
                self._check_event(db, event_id, expected)
            return db.execute("DELETE FROM events WHERE id = ?", (event_id,)).rowcount > 0

    def first_answer(self, key: str) -> Answer | None:
        row = self._db.execute("SELECT doc FROM answers WHERE key = ?", (key,)).fetchone()
        return Answer(**json.loads(row[0])) if row else None

    @staticmethod
    def _check_event(db: sqlite3.Connection, event_id: str, expected: Event | None) -> None:
        """Conflict unless the stored event is ``expected`` (None: unless there is none)."""
        row = db.execute("SELECT doc FROM events WHERE id = ?", (event_id,)).fetchone()
        stored = row[0] if row else None
        if stored != (expected.model_dump_json() if expected is not None else None):
            raise Conflict(f"event {event_id} is not as read")

    def list_events(self) -> list[Event]:
        events = [
            Event.model_validate_json(doc) for (doc,) in self._db.execute("SELECT doc FROM events")
        ]
        return sorted(events, key=lambda e: (e.start, e.id))

    # -- tracked requests ---------------------------------------------------------------------

    def get_request(self, request_id: str) -> TrackedRequest | None:
        row = self._db.execute("SELECT doc FROM requests WHERE id = ?", (request_id,)).fetchone()
        return TrackedRequest.model_validate_json(row[0]) if row else None

    def list_requests(self) -> list[TrackedRequest]:
        docs = self._db.execute("SELECT doc FROM requests")
        tracked = [TrackedRequest.model_validate_json(doc) for (doc,) in docs]
        return sorted(tracked, key=lambda t: (t.request.deadline, t.id))

    def save_request(
        self,
        tracked: TrackedRequest,
        expected_version: int | None,
        audit: AuditEntry,
        announce: bool = True,
        planned_at: dt.datetime | None = None,
    ) -> None:
        with self._transaction() as db:
            if planned_at is not None:
                self._claim_plan(db, planned_at)
            row = db.execute("SELECT version FROM requests WHERE id = ?", (tracked.id,)).fetchone()
            stored_version = row[0] if row else None
            if stored_version != expected_version:
                raise Conflict(
                    f"request {tracked.id} is at version {stored_version}, "
                    f"not {expected_version} as read"
                )
            db.execute(
                "INSERT INTO requests (id, version, deadline, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
                "deadline = excluded.deadline, doc = excluded.doc",
                (
                    tracked.id,
                    tracked.version,
                    tracked.request.deadline.isoformat(),
                    tracked.model_dump_json(),
                ),
            )
            try:
                db.execute(
                    "INSERT INTO audit (request_id, version, doc) VALUES (?, ?, ?)",
                    (audit.request_id, audit.version, audit.model_dump_json()),
                )
            except sqlite3.IntegrityError:
                raise Conflict(
                    f"audit entry {audit.request_id} v{audit.version} exists already"
                ) from None
            if announce:
                notice = Notice(request=tracked, audit=audit)
                db.execute(
                    "INSERT OR REPLACE INTO notices (request_id, version, doc) VALUES (?, ?, ?)",
                    (notice.request_id, notice.version, notice.model_dump_json()),
                )

    @staticmethod
    def _claim_plan(db: sqlite3.Connection, planned_at: dt.datetime) -> None:
        at = plan_moment(planned_at)
        row = db.execute("SELECT at_us FROM latest_plan").fetchone()
        if row and row[0] > at:
            raise StalePlan(f"a plan made after {planned_at.isoformat()} was applied already")
        db.execute(
            "INSERT INTO latest_plan (one, at_us) VALUES (1, ?) "
            "ON CONFLICT (one) DO UPDATE SET at_us = excluded.at_us",
            (at,),
        )

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        rows = self._db.execute(
            "SELECT doc FROM audit WHERE request_id = ? ORDER BY version", (request_id,)
        )
        return [AuditEntry.model_validate_json(doc) for (doc,) in rows]

    # -- the outbox of notices ----------------------------------------------------------------

    def pending_notices(self) -> list[Notice]:
        rows = self._db.execute("SELECT doc FROM notices")
        return in_sending_order([Notice.model_validate_json(doc) for (doc,) in rows])

    def notice_sent(self, notice: Notice) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM notices WHERE request_id = ? AND version = ?",
                (notice.request_id, notice.version),
            )

    # -- traffic ------------------------------------------------------------------------------

    def put_traffic(self, traffic: TrafficSet) -> None:
        with self._transaction() as db:  # all chunks of one upload, or none
            for chunk in split_into_chunks(traffic):
                row = db.execute("SELECT blob FROM traffic WHERE key = ?", (chunk.key,)).fetchone()
                merged = merge_chunk(Chunk.decode(chunk.key, row[0]) if row else None, chunk)
                db.execute(
                    "INSERT INTO traffic (key, blob) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET blob = excluded.blob",
                    (merged.key, merged.encode()),
                )

    def get_traffic(self, span: TimeRange | None = None) -> TrafficSet:
        if span is None:
            rows = self._db.execute("SELECT key, blob FROM traffic")
            return assemble([Chunk.decode(key, blob) for key, blob in rows])
        rows = self._db.execute(
            "SELECT key, blob FROM traffic WHERE substr(key, -7) BETWEEN ? AND ?", months_of(span)
        )
        return assemble([Chunk.decode(key, blob) for key, blob in rows]).within(span)

    def delete_traffic(self, deletion: TrafficDeletion) -> TrafficDeletion:
        with self._transaction() as db:  # the points and the record of their removal, or neither
            removed = 0
            keys = [key for (key,) in db.execute("SELECT key FROM traffic")]
            for key in filter(lambda k: touched_by(k, deletion), keys):
                (blob,) = db.execute("SELECT blob FROM traffic WHERE key = ?", (key,)).fetchone()
                old = Chunk.decode(key, blob)
                kept = old.without(deletion.span)
                removed += old.points - (kept.points if kept else 0)
                if kept is None:
                    db.execute("DELETE FROM traffic WHERE key = ?", (key,))
                else:
                    db.execute("UPDATE traffic SET blob = ? WHERE key = ?", (kept.encode(), key))
            (last,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM audit WHERE request_id = ?", (TRAFFIC_LOG,)
            ).fetchone()
            record = deletion.model_copy(update={"points": removed, "sequence": last + 1})
            db.execute(
                "INSERT INTO audit (request_id, version, doc) VALUES (?, ?, ?)",
                (TRAFFIC_LOG, record.sequence, record.model_dump_json()),
            )
        return record

    def traffic_deletions(self) -> list[TrafficDeletion]:
        rows = self._db.execute(
            "SELECT doc FROM audit WHERE request_id = ? ORDER BY version", (TRAFFIC_LOG,)
        )
        return [TrafficDeletion.model_validate_json(doc) for (doc,) in rows]
