"""Database errors a route did not expect still answer 4xx with a reason, never a 500."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import errors
from pangeo_forge_orchestrator.db.engine import Database


def app_raising(database: Database, sql: str) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.post("/fail")
    def fail() -> None:
        with database.engine.begin() as conn:
            conn.execute(sa.text(sql))

    return TestClient(app, raise_server_exceptions=False)


def test_an_unmapped_constraint_violation_is_409(database: Database) -> None:
    client = app_raising(
        database,
        "INSERT INTO bakery (name, region, description, kind) VALUES "
        "('a', 'r', 'd', 'local'), ('a', 'r', 'd', 'local')",
    )

    response = client.post("/fail")

    assert response.status_code == 409
    assert response.json() == {
        "detail": errors.CONFLICT.format(
            reason='duplicate key value violates unique constraint "uq_bakery_name"'
        )
    }


def test_a_value_that_does_not_fit_is_422(database: Database) -> None:
    client = app_raising(database, "SELECT 2147483648::integer")

    response = client.post("/fail")

    assert response.status_code == 422
    assert response.json() == {"detail": errors.UNFIT_VALUE.format(reason="integer out of range")}


def test_anything_else_is_a_500_without_internals(database: Database) -> None:
    client = app_raising(database, "SELECT * FROM no_such_table")

    response = client.post("/fail")

    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
