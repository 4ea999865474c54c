"""What the model routers share: connections, JSON answers, not-found and conflict texts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import HTTPException, Response

from pangeo_forge_orchestrator.api.deps import DatabaseDep
from pangeo_forge_orchestrator.api.schemas import Problem
from pangeo_forge_orchestrator.db import queries
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.db.queries import Resource

NOT_FOUND = "{model} {id} not found"

# Documented error answers, merged into each route's `responses`.
NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No row with this id"}
}


# Kept as the routers' name for the database dependency.
AppDatabase = DatabaseDep


def json_response(
    content: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Pre-serialised JSON: the route's response model documents it but does not re-validate it."""
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def not_found(model: str, row_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=NOT_FOUND.format(model=model, id=row_id))


@contextmanager
def reading(database: Database) -> Iterator[sa.Connection]:
    """A connection for reads, in autocommit: one round trip per statement.

    Each statement sees the data committed when it starts (read committed). A route that reads
    twice may see a write land between its statements; the API's nested reads accept that (see
    `queries.with_recent_runs`).
    """
    with database.reader.connect() as conn:
        yield conn


@contextmanager
def reading_on_loop(database: Database) -> Iterator[sa.Connection]:
    """The probe connection, for a read bounded by a key, made on the event loop.

    For async routes whose whole read is one or two indexed rows: the threadpool's hop and its
    handoffs between threads cost more than such a query, and made the p99 (measured: see
    docs/benchmarks.md). Only the loop's thread uses this connection, one read at a time; a
    statement timeout bounds how long a sick database can hold the loop.
    """
    with database.probe.connect() as conn:
        yield conn


@contextmanager
def writing(database: Database, conflicts: Mapping[str, HTTPException]) -> Iterator[sa.Connection]:
    """One transaction, committed before the answer; a known constraint becomes a clear 4xx.

    `conflicts` maps constraint names to the answer for this request. An unlisted violation
    falls through to the app's generic handler (409).
    """
    try:
        with database.engine.begin() as conn:
            yield conn
    except sa.exc.IntegrityError as exc:
        answer = conflicts.get(constraint_name(exc) or "")
        if answer is None:
            raise
        raise answer from None


def create(
    database: Database,
    resource: Resource,
    values: Mapping[str, Any],
    *,
    conflicts: Mapping[str, HTTPException],
) -> Response:
    """Insert a row and answer it; a known constraint violation answers its 4xx instead."""
    with writing(database, conflicts) as conn:
        row = queries.insert_row(conn, resource, dict(values))
    return json_response(row)


def update(
    database: Database,
    resource: Resource,
    row_id: int,
    changes: Mapping[str, Any],
    *,
    conflicts: Mapping[str, HTTPException],
    model: str,
) -> Response:
    """Change a row's fields and answer the row; 404 naming MODEL when there is none."""
    with writing(database, conflicts) as conn:
        row = queries.update_row(conn, resource, row_id, dict(changes))
    if row is None:
        raise not_found(model, row_id)
    return json_response(row)


def delete(
    database: Database,
    resource: Resource,
    row_id: int,
    *,
    conflicts: Mapping[str, HTTPException],
    model: str,
) -> Response:
    """Delete a row: `{"ok": true}`, 404 naming MODEL, or the 409 of a row still referenced."""
    with writing(database, conflicts) as conn:
        deleted = queries.delete_row(conn, resource, row_id)
    if not deleted:
        raise not_found(model, row_id)
    return json_response({"ok": True})


def constraint_name(exc: sa.exc.DBAPIError) -> str | None:
    """The violated constraint's name as Postgres reports it (psycopg2's diagnostics)."""
    diag = getattr(exc.orig, "diag", None)
    name: str | None = getattr(diag, "constraint_name", None)
    return name
