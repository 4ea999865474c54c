"""/recipe_runs: one execution of a recipe at a commit, on a bakery."""

from __future__ import annotations

from typing import Annotated, Any

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
    reading_on_loop,
)
from pangeo_forge_orchestrator.api.paging import page_parameters, split_page
from pangeo_forge_orchestrator.api.schemas import (
    Deleted,
    Name,
    Problem,
    RecipeRunCreate,
    RecipeRunRead,
    RecipeRunUpdate,
    RecipeRunWithRelations,
)
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus
from pangeo_forge_orchestrator.db import queries
from pangeo_forge_orchestrator.db.queries import RECIPE_RUNS, PageRequest

router = APIRouter()

MODEL = "recipe run"
MISSING_BAKERY = "bakery_id: bakery {id} not found"
MISSING_FEEDSTOCK = "feedstock_id: feedstock {id} not found"
RUN_BAKERY_FK = "fk_recipe_run_bakery_id_bakery"
RUN_FEEDSTOCK_FK = "fk_recipe_run_feedstock_id_feedstock"

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    422: {"model": Problem, "description": "Invalid body, or the bakery or feedstock is missing"},
}

Page = Annotated[PageRequest, Depends(page_parameters(RECIPE_RUNS.names))]


def missing_references(values: dict[str, Any]) -> dict[str, HTTPException]:
    """The answer for a foreign key that points nowhere, naming the value that was sent."""
    return {
        RUN_BAKERY_FK: HTTPException(422, MISSING_BAKERY.format(id=values.get("bakery_id"))),
        RUN_FEEDSTOCK_FK: HTTPException(
            422, MISSING_FEEDSTOCK.format(id=values.get("feedstock_id"))
        ),
    }


@router.get("/recipe_runs/", tags=["public"], response_model=list[RecipeRunRead])
@router.get("/recipe_runs", include_in_schema=False)
async def list_recipe_runs(
    request: Request,
    database: AppDatabase,
    page: Page,
    feedstock_id: int | None = None,
    bakery_id: int | None = None,
    status: RunStatus | None = None,
    conclusion: RunConclusion | None = None,
    is_test: bool | None = None,
    head_sha: Name | None = None,
    recipe_id: Name | None = None,
) -> Response:
    """List recipe runs; filters combine with AND. Without parameters: the first 100 by id."""
    filters = {
        "feedstock_id": feedstock_id,
        "bakery_id": bakery_id,
        "status": status,
        "conclusion": conclusion,
        "is_test": is_test,
        "head_sha": head_sha,
        "recipe_id": recipe_id,
    }

    def compute(conn: sa.Connection) -> Response:
        rows = queries.list_rows(conn, RECIPE_RUNS, filters=filters, page=page, extra=1)
        rows, headers = split_page(rows, page=page, request=request)
        return json_response(rows, headers=headers)

    return await cached(request, compute)


@router.get(
    "/recipe_runs/{recipe_run_id}",
    tags=["public"],
    response_model=RecipeRunWithRelations,
    responses=NOT_FOUND_RESPONSE,
)
async def read_recipe_run(recipe_run_id: int, database: AppDatabase) -> Response:
    """Read a recipe run with its bakery and feedstock."""
    # One primary-key read, made on the event loop and not kept in the answer cache: random
    # ids over a million runs would rarely hit it, and checking it costs a second round trip.
    with reading_on_loop(database) as conn:
        row = queries.recipe_run_with_relations(conn, recipe_run_id)
    if row is None:
        raise not_found(MODEL, recipe_run_id)
    return json_response(row)


@router.post(
    "/recipe_runs/",
    tags=["admin"],
    response_model=RecipeRunRead,
    responses=WRITE_RESPONSES,
    dependencies=[AdminKey],
)
@router.post("/recipe_runs", include_in_schema=False, dependencies=[AdminKey])
def create_recipe_run(body: RecipeRunCreate, database: AppDatabase) -> Response:
    """Record a recipe run."""
    # Unset optional fields take the column defaults (started_at: now).
    values = body.model_dump(exclude_none=True)
    return crud.create(database, RECIPE_RUNS, values, conflicts=missing_references(values))


@router.patch(
    "/recipe_runs/{recipe_run_id}",
    tags=["admin"],
    response_model=RecipeRunRead,
    responses={**WRITE_RESPONSES, **NOT_FOUND_RESPONSE},
    dependencies=[AdminKey],
)
def update_recipe_run(recipe_run_id: int, body: RecipeRunUpdate, database: AppDatabase) -> Response:
    """Change some fields of a recipe run; `updated_at` follows."""
    values = body.changes()
    if values:
        values["updated_at"] = sa.func.now()
    return crud.update(
        database,
        RECIPE_RUNS,
        recipe_run_id,
        values,
        conflicts=missing_references(values),
        model=MODEL,
    )


@router.delete(
    "/recipe_runs/{recipe_run_id}",
    tags=["admin"],
    response_model=Deleted,
    responses={**AUTH_RESPONSES, **NOT_FOUND_RESPONSE},
    dependencies=[AdminKey],
)
def delete_recipe_run(recipe_run_id: int, database: AppDatabase) -> Response:
    """Delete a recipe run."""
    return crud.delete(database, RECIPE_RUNS, recipe_run_id, conflicts={}, model=MODEL)
