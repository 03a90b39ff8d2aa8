"""Uploads (issue 10, item 7): concurrent uploads all land, and an upload becomes visible all at
once: a writer killed (SIGKILL) at any write step leaves the old data or the new, never a mix."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from chalicelib.adapters.store.dynamodb import DynamoStore
from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.config.settings import Settings
from chalicelib.domain.traffic import Series, TrafficSet

UTC = dt.UTC
REPO = Path(__file__).resolve().parent.parent
MONTHS = 126  # 2015-01 .. 2025-06: more chunks than one DynamoDB transaction can carry
WRITERS = 20

# The child: connects to the store, counts its write steps, and kills itself with SIGKILL right
# after step KILL_AFTER (DynamoDB: a batch or transaction sent; SQLite: a statement begun).
CHILD = """
import os, signal, sys
import numpy as np
from chalicelib.domain.traffic import Series, TrafficSet

kind, where, prefix, kill_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
steps = 0

def step():
    global steps
    steps += 1
    if steps == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)

if kind == "dynamodb":
    from chalicelib.adapters.store.dynamodb import DynamoStore
    store = DynamoStore.connect(prefix, where)
    for name in ("batch_write_item", "transact_write_items"):
        def counted(*args, _send=getattr(store.client, name), **kwargs):
            answer = _send(*args, **kwargs)
            step()
            return answer
        setattr(store.client, name, counted)
else:
    from chalicelib.adapters.store.sqlite import SqliteStore
    store = SqliteStore(where)
    store._db.set_trace_callback(
        lambda sql: step() if sql.lstrip().upper().startswith(("INSERT", "COMMIT")) else None
    )
times = np.load(sys.argv[5])
new = Series("bandwidth", "CN", times, np.full(len(times), 2.0))
store.put_traffic(TrafficSet({("bandwidth", "CN"): new}))
print(steps)
"""


def hourly_points() -> np.ndarray:
    start = int(dt.datetime(2015, 1, 1, tzinfo=UTC).timestamp())
    end = int(dt.datetime(2025, 7, 1, tzinfo=UTC).timestamp())
    return np.arange(start, end, 3600, dtype=np.int64)


def flat(times: np.ndarray, value: float) -> TrafficSet:
    series = Series("bandwidth", "CN", times, np.full(len(times), value))
    return TrafficSet({("bandwidth", "CN"): series})


def killed_upload(kind: str, where: str, prefix: str, kill_after: int, times: Path) -> bool:
    """Run the child; True when it was killed, False when it finished the upload."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, where, prefix, str(kill_after), str(times)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode == -9:
        return True
    assert done.returncode == 0, done.stderr
    return False


def old_or_new(store: SqliteStore | DynamoStore, times: np.ndarray) -> float:
    """The one value every stored point has: 1.0 (the old data) or 2.0 (the new)."""
    stored = store.get_traffic().series[("bandwidth", "CN")]
    np.testing.assert_array_equal(stored.times, times)
    seen = set(stored.values.tolist())
    assert len(seen) == 1, f"a mix of old and new: {sorted(seen)}"
    return seen.pop()


def kill_at_every_step(
    store: SqliteStore | DynamoStore,
    child: tuple[str, str, str],
    tmp_path: Path,
    steps: list[int] | None = None,
) -> list[float]:
    """The child (kind, where, prefix) killed after step 1, 2, ... (or ``steps``) of its
    upload, over the old data each time; the store's value after each, the last run whole."""
    times = hourly_points()
    saved = tmp_path / "times.npy"
    np.save(saved, times)
    outcomes = []
    for kill_after in steps or range(1, 100):
        store.put_traffic(flat(times, 1.0))  # the old data, whole again
        killed = killed_upload(*child, kill_after, saved)
        outcomes.append(old_or_new(store, times))
        if not killed:
            break
    assert outcomes[-1] == 2.0  # the last run finished
    return outcomes


@pytest.mark.slow
@pytest.mark.dynamodb
def test_a_killed_upload_on_dynamodb_leaves_the_old_data_or_the_new(
    dynamo_store: DynamoStore, dynamodb_settings: Settings, tmp_path: Path
) -> None:
    endpoint = dynamodb_settings.dynamodb_endpoint
    assert endpoint
    child = ("dynamodb", endpoint, dynamodb_settings.table_prefix)
    outcomes = kill_at_every_step(dynamo_store, child, tmp_path)
    assert len(outcomes) > 2  # the upload took several write steps
    assert 1.0 in outcomes  # and some kills came before its switch


@pytest.mark.slow
def test_a_killed_upload_on_sqlite_leaves_the_old_data_or_the_new(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SqliteStore(path)
    try:
        steps = [1, 2, MONTHS // 2, MONTHS, MONTHS + 1, 999]  # MONTHS + 1: its COMMIT
        outcomes = kill_at_every_step(store, ("sqlite", str(path), "-"), tmp_path, steps)
    finally:
        store.close()
    assert outcomes == [1.0] * 5 + [2.0]


@pytest.mark.slow
@pytest.mark.dynamodb
def test_twenty_concurrent_uploads_of_the_same_months_all_land(
    dynamo_store: DynamoStore, dynamodb_settings: Settings
) -> None:
    """Each writer has its own points (minute 5 x i of every day of Jan-Mar 2026): the merged
    result must hold every one of them with its writer's value."""
    first_day = int(dt.datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    days = 90
    endpoint = dynamodb_settings.dynamodb_endpoint
    start = threading.Barrier(WRITERS)
    failures: list[Exception] = []

    def upload(writer: int) -> None:
        store = DynamoStore.connect(dynamodb_settings.table_prefix, endpoint)
        times = first_day + 86_400 * np.arange(days, dtype=np.int64) + 300 * writer
        start.wait()
        try:
            store.put_traffic(flat(times, float(writer)))
        except Exception as exc:  # reported below, with the others
            failures.append(exc)

    threads = [threading.Thread(target=upload, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    merged = dynamo_store.get_traffic().series[("bandwidth", "CN")]
    assert len(merged.times) == WRITERS * days
    writer_of_point = (merged.times - first_day) % 86_400 // 300
    np.testing.assert_array_equal(merged.values, writer_of_point.astype(float))


@pytest.mark.dynamodb
def test_chunks_stored_before_the_head_existed_are_read_and_merged(
    dynamo_store: DynamoStore,
) -> None:
    """A table written by the version before upload heads: one item per chunk, under the
    chunk's own key. Read as it is; the first upload merges over it and takes it in."""
    from chalicelib.adapters.store.chunks import split_into_chunks

    times = hourly_points()[:48]  # 2015-01-01 and 02
    (old,) = split_into_chunks(flat(times, 1.0))
    dynamo_store.client.put_item(
        TableName=dynamo_store.traffic_table,
        Item={"key": {"S": old.key}, "blob": {"B": old.encode()}, "version": {"N": "3"}},
    )
    assert old_or_new(dynamo_store, times) == 1.0

    dynamo_store.put_traffic(flat(times[24:], 2.0))
    merged = dynamo_store.get_traffic().series[("bandwidth", "CN")]
    assert merged.values.tolist() == [1.0] * 24 + [2.0] * 24
    keys = {
        item["key"]["S"]
        for item in dynamo_store.client.scan(TableName=dynamo_store.traffic_table)["Items"]
    }
    assert old.key not in keys  # replaced by its new version, then dropped
