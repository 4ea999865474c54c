"""Fixtures of the queue and worker tests: a database of the test's own, committed for real."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.db.engine import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    yield db
    db.dispose()


def job_row(database: Database, job_id: int) -> Any:
    with database.engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM job WHERE id = :id"), {"id": job_id}).one()


def delivery_row(database: Database, delivery_id: int) -> Any:
    with database.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM delivery WHERE id = :id"), {"id": delivery_id}
        ).one()


def insert_delivery(database: Database, *, guid: str = "guid-1", status: str = "queued") -> int:
    with database.engine.begin() as conn:
        delivery_id: int = conn.execute(
            sa.text(
                "INSERT INTO delivery (guid, event, payload, status) "
                "VALUES (:guid, 'ping', '{}'::jsonb, :status) RETURNING id"
            ),
            {"guid": guid, "status": status},
        ).scalar_one()
    return delivery_id
