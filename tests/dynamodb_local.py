"""DynamoDB Local for the tests: fetched from npm on first use, run from the repo's .dynamodb/.

AWS's emulator ships inside the npm package ``amplify-dynamodb-simulator`` as
``emulator/DynamoDBLocal.jar`` (DynamoDB Local 1.25.1 in the pinned version) and runs on Java 17.
Nothing here skips: a missing java or npm, or a failed install, is an error, so CI cannot pass
without really running the DynamoDB tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

PACKAGE = "amplify-dynamodb-simulator"
VERSION = "2.9.30"  # ships DynamoDB Local 1.25.1
REPO = Path(__file__).resolve().parents[1]
INSTALL_DIR = REPO / ".dynamodb"  # gitignored
EMULATOR_DIR = INSTALL_DIR / "node_modules" / PACKAGE / "emulator"
INSTALL_TIMEOUT = 600
START_TIMEOUT = 60.0

# Credentials and region the tests talk to DynamoDB Local with: made up, never real.
DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    # No ~/.aws files either: point botocore at files that do not exist.
    "AWS_CONFIG_FILE": str(INSTALL_DIR / "no-aws-config"),
    "AWS_SHARED_CREDENTIALS_FILE": str(INSTALL_DIR / "no-aws-credentials"),
}
# Unset so that nothing of a developer's own AWS set-up leaks into the tests.
CLEARED_ENVIRONMENT = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
)


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started; the message says why and what to do."""


def installed_version() -> str | None:
    manifest = EMULATOR_DIR.parent / "package.json"
    if not (EMULATOR_DIR / "DynamoDBLocal.jar").is_file() or not manifest.is_file():
        return None
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))
    except (OSError, ValueError):
        return None


def ensure_installed() -> Path:
    """The emulator directory, installing the pinned package first if it is not there yet.
    A file lock keeps two test runs from installing into the same folder at once."""
    INSTALL_DIR.mkdir(exist_ok=True)
    with (INSTALL_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version() == VERSION:
            return EMULATOR_DIR
        npm = shutil.which("npm")
        if npm is None:
            raise DynamoDBLocalError(
                "npm is not on PATH: the DynamoDB tests fetch DynamoDB Local from the npm "
                f"package {PACKAGE}@{VERSION}; install Node.js and npm (apt-get install npm)"
            )
        command = [
            npm, "install", "--no-save", "--no-audit", "--no-fund", "--ignore-scripts",
            "--loglevel=error", "--prefix", str(INSTALL_DIR), f"{PACKAGE}@{VERSION}",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise DynamoDBLocalError(
                f"`npm install {PACKAGE}@{VERSION}` took over {INSTALL_TIMEOUT} s"
            ) from None
        if done.returncode != 0 or installed_version() != VERSION:
            raise DynamoDBLocalError(
                f"`npm install {PACKAGE}@{VERSION}` into .dynamodb/ failed "
                f"(exit {done.returncode}):\n{done.stderr.strip()[-2000:]}"
            )
        return EMULATOR_DIR


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _probe(endpoint: str) -> Callable[[], bool]:
    """A check that the server at ``endpoint`` answers ListTables."""
    client = boto3.session.Session().client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=DUMMY_ENVIRONMENT["AWS_DEFAULT_REGION"],
        aws_access_key_id=DUMMY_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
    )

    def answers() -> bool:
        try:
            client.list_tables(Limit=1)
        except (BotoCoreError, ClientError):
            return False
        return True

    return answers


@contextlib.contextmanager
def running(log_path: Path) -> Iterator[str]:
    """Start DynamoDB Local in memory on a free loopback port; yield its endpoint URL; stop it."""
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError(
            "java is not on PATH: DynamoDB Local needs a Java 17 runtime "
            "(apt-get install openjdk-17-jre-headless)"
        )
    emulator = ensure_installed()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [
        java, "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
        "-inMemory", "-disableTelemetry", "-port", str(port),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=emulator, stdout=log, stderr=subprocess.STDOUT)
    try:
        answers = _probe(endpoint)
        deadline = time.monotonic() + START_TIMEOUT
        while not answers():
            if process.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with {process.returncode} before it answered:\n"
                    + log_path.read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                raise DynamoDBLocalError(
                    f"DynamoDB Local did not answer ListTables within {START_TIMEOUT:.0f} s:\n"
                    + log_path.read_text(errors="replace")[-2000:]
                )
            time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
