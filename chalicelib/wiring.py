"""Pick adapters by settings: the one place that knows which implementation runs where."""

from __future__ import annotations

from chalicelib.notify import ConsoleNotifier, Notifier
from chalicelib.policy import Policy, load_policy
from chalicelib.settings import Settings
from chalicelib.sources import FileTrafficSource, StoredTrafficSource, TrafficSource
from chalicelib.store import Store


def build_store(settings: Settings) -> Store:
    if settings.store == "dynamodb":
        from chalicelib.store.dynamodb import DynamoStore  # boto3 only where it is used

        return DynamoStore.from_settings(settings)
    from chalicelib.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


def build_notifier(settings: Settings) -> Notifier:
    return ConsoleNotifier()


def build_source(settings: Settings, store: Store) -> TrafficSource:
    if settings.traffic_source == "store":
        return StoredTrafficSource(store)
    return FileTrafficSource(settings.traffic)


def build_policy(settings: Settings) -> Policy:
    return load_policy(settings.policy_file)
