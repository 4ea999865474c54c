"""/feedstocks: repositories of recipes, and the datasets their runs produced."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from pangeo_forge_orchestrator.api import crud
from pangeo_forge_orchestrator.api.answer_cache import cached
from pangeo_forge_orchestrator.api.auth import AUTH_RESPONSES, AdminKey
from pangeo_forge_orchestrator.api.crud import (
    NOT_FOUND_RESPONSE,
    AppDatabase,
    json_response,
    not_found,
)
from pangeo_forge_orchestrator.api.paging import MAX_PAGE_SIZE, page_parameters, split_page
from pangeo_forge_orchestrator.api.schemas import (
    INT64_MAX,
    DatasetRead,
    Deleted,
    FeedstockCreate,
    FeedstockRead,
    FeedstockSpec,
    FeedstockUpdate,
    FeedstockWithRuns,
    Problem,
)
from pangeo_forge_orchestrator.core.vocabulary import Provider
from pangeo_forge_orchestrator.db import queries
from pangeo_forge_orchestrator.db.datasets import DatasetScope, datasets_of_feedstock
from pangeo_forge_orchestrator.db.queries import FEEDSTOCKS, PageRequest

router = APIRouter()

MODEL = "feedstock"
SPEC_TAKEN = "feedstock {spec!r} already exists"
HAS_RUNS = "feedstock {id} still has recipe runs: delete them first"
UNIQUE_SPEC = "uq_feedstock_spec"
RUN_FEEDSTOCK_FK = "fk_recipe_run_feedstock_id_feedstock"

WRITE_RESPONSES = {
    **AUTH_RESPONSES,
    409: {"model": Problem, "description": "The spec is taken"},
}

Page = Annotated[PageRequest, Depends(page_parameters(FEEDSTOCKS.names))]


@router.get("/feedstocks/", tags=["public"], response_model=list[FeedstockRead])
@router.get("/feedstocks", include_in_schema=False)
async def list_feedstocks(
    request: Request,
    database: AppDatabase,
    page: Page,
    spec: FeedstockSpec | None = None,
    provider: Provider | None = None,
) -> Response:
    """List feedstocks."""

    def compute(conn: sa.Connection) -> Response:
        rows = queries.list_rows(
            conn, FEEDSTOCKS, filters={"spec": spec, "provider": provider}, page=page, extra=1
        )
        rows, headers = split_page(rows, page=page, request=request)
        return json_response(rows, headers=headers)

    return await cached(request, compute)


@router.get(
    "/feedstocks/{feedstock_id}",
    tags=["public"],
    response_model=FeedstockWithRuns,
    responses=NOT_FOUND_RESPONSE,
)
async def read_feedstock(feedstock_id: int, request: Request, database: AppDatabase) -> Response:
    """Read a feedstock with its most recent recipe runs (newest first, at most 100)."""

    def compute(conn: sa.Connection) -> Response:
        row = queries.with_recent_runs(conn, FEEDSTOCKS, owner="feedstock_id", row_id=feedstock_id)
        if row is None:
            raise not_found(MODEL, feedstock_id)
        return json_response(row)

    return await cached(request, compute)


@router.get(
    "/feedstocks/{feedstock_id}/datasets", tags=["public"], response_model=list[DatasetRead]
)
async def list_feedstock_datasets(
    feedstock_id: int,
    request: Request,
    database: AppDatabase,
    scope: Annotated[
        DatasetScope,
        Query(alias="type", description="production runs, test runs, or both"),
    ] = DatasetScope.ALL,
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_PAGE_SIZE, description="page size; without it, every dataset"),
    ] = None,
    after_id: Annotated[
        int | None,
        Query(ge=0, le=INT64_MAX, description="keyset paging: datasets older than this id"),
    ] = None,
) -> Response:
    """List the datasets of a feedstock: completed, successful runs with a URL, newest first.

    Without `limit` the answer is the whole list, as in the original API: pangeo-forge.org reads
    it in one request and de-duplicates it by URL. With `limit` it is one page, newest first; a
    full page carries a `Link: rel="next"` header whose `after_id` continues after its last row,
    so following the links reaches every dataset. An unknown feedstock has no datasets (an empty
    list), as in the original API.
    """

    def compute(conn: sa.Connection) -> Response:
        rows = datasets_of_feedstock(
            conn,
            feedstock_id=feedstock_id,
            scope=scope,
            after_id=after_id,
            limit=None if limit is None else limit + 1,
        )
        if limit is None:
            return json_response(rows)
        page = PageRequest(descending=True, limit=limit, after_id=after_id)
        rows, headers = split_page(rows, page=page, request=request)
        return json_response(rows, headers=headers)

    return await cached(request, compute)


@router.post(
    "/feedstocks/",
    tags=["admin"],
    response_model=FeedstockRead,
    responses=WRITE_RESPONSES,
    dependencies=[AdminKey],
)
@router.post("/feedstocks", include_in_schema=False, dependencies=[AdminKey])
def create_feedstock(body: FeedstockCreate, database: AppDatabase) -> Response:
    """Record a feedstock."""
    conflicts = {UNIQUE_SPEC: HTTPException(409, SPEC_TAKEN.format(spec=body.spec))}
    return crud.create(database, FEEDSTOCKS, body.model_dump(), conflicts=conflicts)


@router.patch(
    "/feedstocks/{feedstock_id}",
    tags=["admin"],
    response_model=FeedstockRead,
    responses={**WRITE_RESPONSES, **NOT_FOUND_RESPONSE},
    dependencies=[AdminKey],
)
def update_feedstock(feedstock_id: int, body: FeedstockUpdate, database: AppDatabase) -> Response:
    """Change some fields of a feedstock."""
    conflicts = {UNIQUE_SPEC: HTTPException(409, SPEC_TAKEN.format(spec=body.spec))}
    return crud.update(
        database, FEEDSTOCKS, feedstock_id, body.changes(), conflicts=conflicts, model=MODEL
    )


@router.delete(
    "/feedstocks/{feedstock_id}",
    tags=["admin"],
    response_model=Deleted,
    responses={
        **AUTH_RESPONSES,
        **NOT_FOUND_RESPONSE,
        409: {"model": Problem, "description": "Recipe runs still belong to this feedstock"},
    },
    dependencies=[AdminKey],
)
def delete_feedstock(feedstock_id: int, database: AppDatabase) -> Response:
    """Delete a feedstock that has no recipe runs."""
    conflicts = {RUN_FEEDSTOCK_FK: HTTPException(409, HAS_RUNS.format(id=feedstock_id))}
    return crud.delete(database, FEEDSTOCKS, feedstock_id, conflicts=conflicts, model=MODEL)
