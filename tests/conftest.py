"""Shared fixtures: DynamoDB Local for the session, a fresh store per test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dynamodb_local import CLEARED_ENVIRONMENT, DUMMY_ENVIRONMENT, DynamoDBLocalError, running

from chalicelib.adapters.store.dynamodb import DynamoStore
from chalicelib.adapters.store.sqlite import SqliteStore
from chalicelib.config.settings import Settings
from chalicelib.workflows.ports import Store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs DynamoDB Local carries the ``dynamodb`` marker (-m "not dynamodb")."""
    for item in items:
        if "dynamodb_endpoint" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dynamodb)


@pytest.fixture(scope="session")
def dynamodb_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a DynamoDB Local started for this test session, with made-up credentials
    in the environment for as long as it runs (the environment is restored afterwards)."""
    with pytest.MonkeyPatch.context() as env, contextlib.ExitStack() as stack:
        for name in CLEARED_ENVIRONMENT:
            env.delenv(name, raising=False)
        for name, value in DUMMY_ENVIRONMENT.items():
            env.setenv(name, value)
        log = tmp_path_factory.mktemp("dynamodb-local") / "dynamodb-local.log"
        try:
            endpoint = stack.enter_context(running(log))
        except DynamoDBLocalError as exc:
            problem = str(exc)
        else:
            problem = None
        if problem is not None:  # fail, never skip: CI must really run the DynamoDB tests
            pytest.fail(f"cannot run the DynamoDB tests: {problem}", pytrace=False)
        yield endpoint


@pytest.fixture
def dynamodb_settings(dynamodb_endpoint: str) -> Settings:
    """Settings for a DynamoDB store with tables of its own (a unique prefix per test)."""
    return Settings(
        store="dynamodb",
        table_prefix=f"test-{uuid.uuid4().hex[:12]}",
        dynamodb_endpoint=dynamodb_endpoint,
    )


@pytest.fixture
def dynamo_store(dynamodb_settings: Settings) -> Iterator[DynamoStore]:
    """A DynamoStore on fresh, empty tables; they are dropped after the test."""
    store = DynamoStore.connect(dynamodb_settings.table_prefix, dynamodb_settings.dynamodb_endpoint)
    store.create_tables()
    yield store
    store.delete_tables()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "burst-assurance.sqlite3"


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def store(request: pytest.FixtureRequest, sqlite_path: Path) -> Iterator[Store]:
    """Each store adapter in turn: what holds for one must hold for both."""
    if request.param == "dynamodb":
        yield request.getfixturevalue("dynamo_store")
        return
    sqlite = SqliteStore(sqlite_path)
    yield sqlite
    sqlite.close()
