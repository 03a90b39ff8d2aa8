"""The embedded default store: one SQLite file, created on first use, schema versioned.

Deletions of traffic are logged in the audit table under the reserved id ``TRAFFIC_LOG``
(no request has that id), numbered from 1, append-only like a request's history.

Besides its document, a request row carries what a planning cycle selects by (its period, whether
it is live, when its burst ends), and a traffic chunk its revision (a hash of its content).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.store.chunk_keys import (
    TRAFFIC_LOG,
    months_of,
    revision_of,
    revision_of_chunks,
    touched_by,
)
from chalicelib.adapters.store.plans import pack_mark, plan_moment, unpack_mark
from chalicelib.domain.errors import Conflict, StalePlan
from chalicelib.domain.events import Event
from chalicelib.domain.notices import Notice, in_sending_order
from chalicelib.domain.tracking import AuditEntry, Change, Reach, TrackedRequest, period_of
from chalicelib.workflows.ports import ANY, Answer, CycleMark, Saved

if TYPE_CHECKING:  # traffic (and NumPy) load with the first traffic call, not with the store
    from chalicelib.domain.traffic import TimeRange, TrafficDeletion, TrafficSet

# Changes written per transaction: a cycle with thousands holds the write lock for a moment at a
# time, not for all of them.
CHANGES_PER_TRANSACTION = 500
# The ids come as one JSON list: a parameter, whatever their number.
VERSIONS_OF = "SELECT id, version FROM requests WHERE id IN (SELECT value FROM json_each(?))"
AUDITED_VERSIONS_OF = (
    "SELECT request_id, version FROM audit WHERE request_id IN (SELECT value FROM json_each(?))"
)
UPSERT_REQUEST = (
    "INSERT INTO requests (id, version, deadline, doc, period, live, ends_us) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version, deadline = excluded.deadline, "
    "doc = excluded.doc, period = excluded.period, live = excluded.live, ends_us = excluded.ends_us"
)


def _request_row(tracked: TrackedRequest) -> tuple[str, int, str, str, str, int, int]:
    return (
        tracked.id,
        tracked.version,
        tracked.request.deadline.isoformat(),
        tracked.model_dump_json(),
        period_of(tracked.id),
        int(tracked.is_live),
        plan_moment(tracked.request.burst_end),
    )


def _add_reach_and_revisions(db: sqlite3.Connection) -> None:
    """Version 6: the columns a planning cycle reads by, filled in for what is stored."""
    for statement in (
        "ALTER TABLE requests ADD COLUMN period TEXT",
        "ALTER TABLE requests ADD COLUMN live INTEGER",
        "ALTER TABLE requests ADD COLUMN ends_us INTEGER",
        "ALTER TABLE traffic ADD COLUMN revision TEXT",
        "ALTER TABLE latest_plan ADD COLUMN cycle BLOB",
    ):
        db.execute(statement)
    docs = [doc for (doc,) in db.execute("SELECT doc FROM requests")]
    db.executemany(
        "UPDATE requests SET period = ?, live = ?, ends_us = ? WHERE id = ?",
        [(*row[4:], row[0]) for row in map(_request_row, map(_parse_request, docs))],
    )
    blobs = db.execute("SELECT key, blob FROM traffic").fetchall()
    db.executemany(
        "UPDATE traffic SET revision = ? WHERE key = ?",
        [(revision_of(blob), key) for key, blob in blobs],
    )


def _parse_request(doc: str) -> TrackedRequest:
    return TrackedRequest.model_validate_json(doc)


# Each entry moves the schema from version i to i + 1 (PRAGMA user_version): SQL statements, or
# a step that needs Python to fill new columns in.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
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
    _add_reach_and_revisions,
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
            # WAL is kept in the file: set it once. Asking to set it again takes a lock that
            # the busy timeout does not cover, and failed now and then with 20 stores opening.
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
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
                step = MIGRATIONS[version]
                if callable(step):
                    step(db)
                else:
                    for statement in step.split(";"):
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

    def requests_in_reach(self, reach: Reach) -> list[TrackedRequest]:
        docs = self._db.execute(
            "SELECT doc FROM requests WHERE period >= ? OR (live = 1 AND ends_us >= ?)",
            (reach.first_month, plan_moment(reach.ends_from)),
        )
        tracked = [t for t in map(_parse_request, (doc for (doc,) in docs)) if reach.covers(t)]
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
            self._write(db, tracked, expected_version, audit, announce)

    def save_requests(
        self, changes: Sequence[Change], planned_at: dt.datetime | None = None
    ) -> Saved:
        written: list[Change] = []
        conflicted: list[Change] = []
        for start in range(0, len(changes), CHANGES_PER_TRANSACTION):
            with self._transaction() as db:
                if planned_at is not None:
                    try:
                        self._claim_plan(db, planned_at)
                    except StalePlan:
                        return Saved(written, conflicted, stale=True)
                batch = changes[start : start + CHANGES_PER_TRANSACTION]
                fitting, clashing = self._sort_out(db, batch)
                self._write_all(db, fitting)
            written.extend(fitting)
            conflicted.extend(clashing)
        return Saved(written, conflicted)

    @staticmethod
    def _sort_out(
        db: sqlite3.Connection, batch: Sequence[Change]
    ) -> tuple[list[Change], list[Change]]:
        """The changes that find their expected version and no audit entry in their place,
        taken in order as if each were written before the next is checked; and the others.
        The write lock is held: what is read here stays true until the batch is written."""
        ids = (json.dumps(sorted({c.after.id for c in batch})),)
        versions = dict(db.execute(VERSIONS_OF, ids))
        audited = set(db.execute(AUDITED_VERSIONS_OF, ids))
        fitting: list[Change] = []
        clashing: list[Change] = []
        for change in batch:
            entry = (change.audit.request_id, change.audit.version)
            if versions.get(change.after.id) != change.expected_version or entry in audited:
                clashing.append(change)
                continue
            fitting.append(change)
            versions[change.after.id] = change.after.version
            audited.add(entry)
        return fitting, clashing

    @staticmethod
    def _write_all(
        db: sqlite3.Connection, changes: Sequence[Change], announce: bool = True
    ) -> None:
        """The changes' requests, audit entries and (when ``announce``) notices."""
        db.executemany(UPSERT_REQUEST, [_request_row(c.after) for c in changes])
        db.executemany(
            "INSERT INTO audit (request_id, version, doc) VALUES (?, ?, ?)",
            [(c.audit.request_id, c.audit.version, c.audit.model_dump_json()) for c in changes],
        )
        if announce:
            notices = [Notice(request=c.after, audit=c.audit) for c in changes]
            db.executemany(
                "INSERT OR REPLACE INTO notices (request_id, version, doc) VALUES (?, ?, ?)",
                [(n.request_id, n.version, n.model_dump_json()) for n in notices],
            )

    @staticmethod
    def _write(
        db: sqlite3.Connection,
        tracked: TrackedRequest,
        expected_version: int | None,
        audit: AuditEntry,
        announce: bool,
    ) -> None:
        row = db.execute("SELECT version FROM requests WHERE id = ?", (tracked.id,)).fetchone()
        stored_version = row[0] if row else None
        if stored_version != expected_version:
            raise Conflict(
                f"request {tracked.id} is at version {stored_version}, "
                f"not {expected_version} as read"
            )
        try:
            SqliteStore._write_all(db, [Change(tracked, expected_version, audit)], announce)
        except sqlite3.IntegrityError:
            raise Conflict(
                f"audit entry {audit.request_id} v{audit.version} exists already"
            ) from None

    @staticmethod
    def _claim_plan(
        db: sqlite3.Connection, planned_at: dt.datetime, cycle: CycleMark | None = None
    ) -> None:
        at = plan_moment(planned_at)
        row = db.execute("SELECT at_us FROM latest_plan").fetchone()
        if row and row[0] > at:
            raise StalePlan(f"a plan made after {planned_at.isoformat()} was applied already")
        db.execute(
            "INSERT INTO latest_plan (one, at_us, cycle) VALUES (1, ?, ?) "
            "ON CONFLICT (one) DO UPDATE SET at_us = excluded.at_us, cycle = excluded.cycle",
            (at, pack_mark(cycle) if cycle else None),
        )

    def record_plan(self, planned_at: dt.datetime, cycle: CycleMark | None = None) -> None:
        with self._transaction() as db:
            self._claim_plan(db, planned_at, cycle)

    def last_cycle(self) -> CycleMark | None:
        row = self._db.execute("SELECT cycle FROM latest_plan").fetchone()
        return unpack_mark(row[0]) if row and row[0] is not None else None

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
        from chalicelib.adapters.store.chunks import Chunk, merge_chunk, split_into_chunks

        with self._transaction() as db:  # all chunks of one upload, or none
            for chunk in split_into_chunks(traffic):
                row = db.execute("SELECT blob FROM traffic WHERE key = ?", (chunk.key,)).fetchone()
                merged = merge_chunk(Chunk.decode(chunk.key, row[0]) if row else None, chunk)
                blob = merged.encode()
                db.execute(
                    "INSERT INTO traffic (key, blob, revision) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET blob = excluded.blob, "
                    "revision = excluded.revision",
                    (merged.key, blob, revision_of(blob)),
                )

    def get_traffic(self, span: TimeRange | None = None) -> TrafficSet:
        from chalicelib.adapters.store.chunks import Chunk, assemble

        if span is None:
            rows = self._db.execute("SELECT key, blob FROM traffic")
            return assemble([Chunk.decode(key, blob) for key, blob in rows])
        rows = self._db.execute(
            "SELECT key, blob FROM traffic WHERE substr(key, -7) BETWEEN ? AND ?", months_of(span)
        )
        return assemble([Chunk.decode(key, blob) for key, blob in rows]).within(span)

    def traffic_revision(self, span: TimeRange) -> str | None:
        rows = self._db.execute(
            "SELECT key, revision FROM traffic WHERE substr(key, -7) BETWEEN ? AND ?",
            months_of(span),
        )
        return revision_of_chunks(rows)

    def delete_traffic(self, deletion: TrafficDeletion) -> TrafficDeletion:
        from chalicelib.adapters.store.chunks import Chunk

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
                    blob = kept.encode()
                    db.execute(
                        "UPDATE traffic SET blob = ?, revision = ? WHERE key = ?",
                        (blob, revision_of(blob), key),
                    )
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
        from chalicelib.domain.traffic import TrafficDeletion

        rows = self._db.execute(
            "SELECT doc FROM audit WHERE request_id = ? ORDER BY version", (TRAFFIC_LOG,)
        )
        return [TrafficDeletion.model_validate_json(doc) for (doc,) in rows]
