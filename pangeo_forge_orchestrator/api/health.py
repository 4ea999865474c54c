"""Liveness and readiness."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from pangeo_forge_orchestrator.api.deps import DatabaseDep
from pangeo_forge_orchestrator.db import migrate

router = APIRouter(tags=["public"])


@router.get("/", summary="Service status")
def root() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health", summary="The process is alive")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="The database is reachable and migrated to head",
    responses={503: {"description": "Not ready, with the reason"}},
)
def ready(database: DatabaseDep) -> JSONResponse:
    try:
        with database.engine.connect() as conn:
            current = migrate.current_revision(conn)
    except sa.exc.SQLAlchemyError as exc:
        return JSONResponse(
            status_code=503,
            content={"detail": f"database unreachable: {type(exc).__name__}"},
        )
    head = migrate.head_revision()
    if current != head:
        return JSONResponse(
            status_code=503,
            content={
                "detail": f"database at migration {current}, expected {head}: run `pfo migrate`"
            },
        )
    return JSONResponse(content={"status": "ready", "migration": head})
