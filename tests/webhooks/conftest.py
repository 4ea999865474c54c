"""An app configured as a GitHub App on a database of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.settings import Settings
from tests.webhooks.helpers import app_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return app_settings(database_url)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client
