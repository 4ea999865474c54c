"""The REST API on a database of the test's own, with an admin key and rows written in SQL.

Rows are seeded with plain inserts, not through the API, so a test of a read does not depend
on the write routes working.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db.api_keys import create_api_key
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.db.queries import BAKERIES, FEEDSTOCKS, RECIPE_RUNS
from pangeo_forge_orchestrator.settings import Settings

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(database_url: str, database: Database) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, log_format="console")
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


@pytest.fixture
def api_key(database: Database) -> str:
    with database.session() as session:
        return create_api_key(session, name="tests")


@pytest.fixture
def admin(api_key: str) -> dict[str, str]:
    """Headers of an admin request."""
    return {"X-API-Key": api_key}


@dataclass
class Seed:
    """Insert rows directly, returning their ids."""

    database: Database

    def _insert(self, table: Any, values: dict[str, Any]) -> int:
        with self.database.engine.begin() as conn:
            return int(
                conn.execute(sa.insert(table).values(values).returning(table.c.id)).scalar_one()
            )

    def bakery(self, name: str = "pangeo-ldeo-nsf-earthcube", **values: Any) -> int:
        row = {"name": name, "region": "us-central1", "description": "Dataflow", "kind": "dataflow"}
        return self._insert(BAKERIES.table, row | values)

    def feedstock(self, spec: str = "pangeo-forge/gpcp-feedstock", **values: Any) -> int:
        return self._insert(FEEDSTOCKS.table, {"spec": spec, "provider": "github"} | values)

    def run(self, *, bakery_id: int, feedstock_id: int, **values: Any) -> int:
        row = {
            "recipe_id": "gpcp",
            "bakery_id": bakery_id,
            "feedstock_id": feedstock_id,
            "head_sha": SHA,
            "version": "",
            "status": "queued",
            "is_test": True,
        }
        return self._insert(RECIPE_RUNS.table, row | values)

    def runs(self, count: int, *, bakery_id: int, feedstock_id: int, **values: Any) -> list[int]:
        """Many runs in one statement, ids in insertion order."""
        rows = [
            {
                "recipe_id": "gpcp",
                "bakery_id": bakery_id,
                "feedstock_id": feedstock_id,
                "head_sha": SHA,
                "version": "",
                "status": "queued",
                "is_test": True,
            }
            | values
            for _ in range(count)
        ]
        table = RECIPE_RUNS.table
        with self.database.engine.begin() as conn:
            ids = conn.execute(sa.insert(table).returning(table.c.id), rows).scalars().all()
        return sorted(ids)

    def count(self, table: str) -> int:
        with self.database.engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def seed(database: Database) -> Seed:
    return Seed(database)
