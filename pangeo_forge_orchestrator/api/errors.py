"""Error handlers: client mistakes are 4xx with a reason; nothing a client sends becomes a 500."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

CONFLICT = "the change conflicts with existing data ({reason}); nothing was written"
UNFIT_VALUE = "a value does not fit its column ({reason}); nothing was written"


def _database_reason(exc: sa.exc.DBAPIError) -> str:
    """Postgres's one-line reason (no statement, no parameters), e.g. 'integer out of range'."""
    diag = getattr(exc.orig, "diag", None)
    reason = getattr(diag, "message_primary", None)
    return str(reason) if reason else type(exc.orig).__name__


def install(app: FastAPI) -> None:
    # Routes translate the constraints they expect into precise answers; these catch the rest,
    # so that a client's bad value is still a 4xx rather than a 500.
    @app.exception_handler(sa.exc.IntegrityError)
    async def integrity_error(request: Request, exc: sa.exc.IntegrityError) -> JSONResponse:
        log.warning("integrity error", extra={"path": request.url.path})
        return JSONResponse(
            status_code=409, content={"detail": CONFLICT.format(reason=_database_reason(exc))}
        )

    @app.exception_handler(sa.exc.DataError)
    async def data_error(request: Request, exc: sa.exc.DataError) -> JSONResponse:
        return JSONResponse(
            status_code=422, content={"detail": UNFIT_VALUE.format(reason=_database_reason(exc))}
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Logged with the traceback for operators; the client gets no internals.
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(status_code=500, content={"detail": "internal server error"})
