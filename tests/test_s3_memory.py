"""The S3 drop's memory (issue 10, item 8): a 64 MiB CSV is parsed as it streams in, well
within the function's 1,024 MB; an object past the size limit is refused unread, by name."""

from __future__ import annotations

import datetime as dt
import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.domain.policy import Policy
from chalicelib.entry.s3_drop import MAX_OBJECT_BYTES, ingest_object

REPO = Path(__file__).resolve().parent.parent
PEAK_LIMIT_MB = 400
SERIES = [("bandwidth", area) for area in ("CN", "AP1", "AP2", "AP3", "MEAA", "SA", "EU")] + [
    ("concurrency", kind) for kind in ("transcoding", "recording", "snapshot")
]

# The child drops the file through ingest_object, its body a real botocore StreamingBody over
# the file, into SQLite; then prints the result and its peak resident memory in MB.
CHILD = """
import datetime as dt, json, logging, os, sys
from botocore.response import StreamingBody
from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.domain.policy import Policy
from chalicelib.entry.s3_drop import ingest_object

path, database = sys.argv[1], sys.argv[2]

class S3:
    def head_object(self, Bucket, Key):
        return {"ContentLength": os.path.getsize(path)}

    def get_object(self, Bucket, Key):
        return {"Body": StreamingBody(open(path, "rb"), os.path.getsize(path))}

now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
result = ingest_object(
    SqliteStore(database), "drop", "big.csv", logging.getLogger(), S3(), policy=Policy(), now=now
)
# VmHWM: this process's peak resident memory. (ru_maxrss would carry the parent's over exec.)
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"result": result, "peak_mb": peak_kib / 1024}))
"""


def write_csv(path: Path, size: int) -> int:
    """A forecast CSV of about ``size`` bytes: ten series at 5-minute points from 2025-06-01
    (+08:00); returns its rows."""
    start = dt.datetime(2025, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    written, rows = 0, 0
    with path.open("w") as out:
        out.write("time,metric,scope,value\n")
        while written < size:
            moment = (start + dt.timedelta(minutes=5 * rows)).isoformat()
            level = rows % 997 + 0.5
            block = "".join(
                f"{moment},{metric},{scope},{level if metric == 'bandwidth' else rows % 5000}\n"
                for metric, scope in SERIES
            )
            out.write(block)
            written += len(block)
            rows += 1
    return rows * len(SERIES)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_a_64_mib_csv_is_parsed_streaming_within_400_mb(tmp_path: Path) -> None:
    import json

    big = tmp_path / "big.csv"
    points = write_csv(big, 64 * 1024 * 1024)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(big), str(tmp_path / "store.sqlite3")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["result"] == {"stored": True, "series": len(SERIES), "points": points}
    assert report["peak_mb"] < PEAK_LIMIT_MB, f"peak {report['peak_mb']:.0f} MB"


class _S3:
    def __init__(self, size: int) -> None:
        self.size = size
        self.read = False

    def head_object(self, Bucket: str, Key: str) -> dict[str, int]:
        return {"ContentLength": self.size}

    def get_object(self, Bucket: str, Key: str) -> dict[str, object]:
        self.read = True
        return {"Body": io.BytesIO(b"")}


def test_an_object_past_the_limit_is_refused_unread_by_name(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3")
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    s3 = _S3(MAX_OBJECT_BYTES + 1)
    result = ingest_object(
        store, "drop", "f/huge.csv", logging.getLogger("t"), s3, policy=Policy(), now=now
    )
    assert result == {
        "stored": False,
        "reason": f"s3://drop/f/huge.csv is {MAX_OBJECT_BYTES + 1} bytes, over the limit of "
        f"{MAX_OBJECT_BYTES} bytes (max_object_bytes)",
    }
    assert not s3.read
    small = _S3(1001)
    refused = ingest_object(
        store, "drop", "f.csv", logging.getLogger("t"), small, policy=Policy(), now=now,
        max_bytes=1000,
    )  # fmt: skip
    assert "over the limit of 1000 bytes" in refused["reason"]
    assert MAX_OBJECT_BYTES == 256 * 1024 * 1024
    store.close()
