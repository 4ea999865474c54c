"""/bakeries: where recipes run. Reads are public; writes need an admin key."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request, Response

from pangeo_forge_orchestrator.api import crud
from pangeo_forge_orchestrator.api.answer_cache import cached
from pangeo_forge_orchestrator.api.auth import AUTH_RESPONSES, AdminKey
from pangeo_forge_orchestrator.api.crud import (
    NOT_FOUND_RESPONSE,
    AppDatabase,
    json_response,
    not_found,
)
from pangeo_forge_orchestrator.api.paging import page_parameters, split_page
from pangeo_forge_orchestrator.api.schemas import (
    BakeryCreate,
    BakeryRead,
    BakeryUpdate,
    BakeryWithRuns,
    Deleted,
    Name,
    Problem,
)
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind
from pangeo_forge_orchestrator.db import queries
from pangeo_forge_orchestrator.db.queries import BAKERIES, PageRequest

router = APIRouter()

MODEL = "bakery"
NAME_TAKEN = "a bakery named {name!r} already exists"
HAS_RUNS = "bakery {id} still has recipe runs: delete them first"
UNIQUE_NAME = "uq_bakery_name"
RUN_BAKERY_FK = "fk_recipe_run_bakery_id_bakery"

WRITE_RESPONSES = {
    **AUTH_RESPONSES,
    409: {"model": Problem, "description": "The name is taken"},
}

Page = Annotated[PageRequest, Depends(page_parameters(BAKERIES.names))]


@router.get("/bakeries/", tags=["public"], response_model=list[BakeryRead])
@router.get("/bakeries", include_in_schema=False)
async def list_bakeries(
    request: Request,
    database: AppDatabase,
    page: Page,
    name: Name | None = None,
    kind: BakeryKind | None = None,
) -> Response:
    """List bakeries."""

    def compute(conn: sa.Connection) -> Response:
        rows = queries.list_rows(
            conn, BAKERIES, filters={"name": name, "kind": kind}, page=page, extra=1
        )
        rows, headers = split_page(rows, page=page, request=request)
        return json_response(rows, headers=headers)

    return await cached(request, compute)


@router.get(
    "/bakeries/{bakery_id}",
    tags=["public"],
    response_model=BakeryWithRuns,
    responses=NOT_FOUND_RESPONSE,
)
async def read_bakery(bakery_id: int, request: Request, database: AppDatabase) -> Response:
    """Read a bakery with its most recent recipe runs (newest first, at most 100)."""

    def compute(conn: sa.Connection) -> Response:
        row = queries.with_recent_runs(conn, BAKERIES, owner="bakery_id", row_id=bakery_id)
        if row is None:
            raise not_found(MODEL, bakery_id)
        return json_response(row)

    return await cached(request, compute)


@router.post(
    "/bakeries/",
    tags=["admin"],
    response_model=BakeryRead,
    responses=WRITE_RESPONSES,
    dependencies=[AdminKey],
)
@router.post("/bakeries", include_in_schema=False, dependencies=[AdminKey])
def create_bakery(body: BakeryCreate, database: AppDatabase) -> Response:
    """Create a bakery."""
    conflicts = {UNIQUE_NAME: HTTPException(409, NAME_TAKEN.format(name=body.name))}
    return crud.create(database, BAKERIES, body.model_dump(), conflicts=conflicts)


@router.patch(
    "/bakeries/{bakery_id}",
    tags=["admin"],
    response_model=BakeryRead,
    responses={**WRITE_RESPONSES, **NOT_FOUND_RESPONSE},
    dependencies=[AdminKey],
)
def update_bakery(bakery_id: int, body: BakeryUpdate, database: AppDatabase) -> Response:
    """Change some fields of a bakery."""
    conflicts = {UNIQUE_NAME: HTTPException(409, NAME_TAKEN.format(name=body.name))}
    return crud.update(
        database, BAKERIES, bakery_id, body.changes(), conflicts=conflicts, model=MODEL
    )


@router.delete(
    "/bakeries/{bakery_id}",
    tags=["admin"],
    response_model=Deleted,
    responses={
        **AUTH_RESPONSES,
        **NOT_FOUND_RESPONSE,
        409: {"model": Problem, "description": "Recipe runs still use this bakery"},
    },
    dependencies=[AdminKey],
)
def delete_bakery(bakery_id: int, database: AppDatabase) -> Response:
    """Delete a bakery that no recipe run uses."""
    conflicts = {RUN_BAKERY_FK: HTTPException(409, HAS_RUNS.format(id=bakery_id))}
    return crud.delete(database, BAKERIES, bakery_id, conflicts=conflicts, model=MODEL)
