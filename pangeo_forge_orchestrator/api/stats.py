"""/stats: exact counts kept by triggers in `stat_counter`, never count(*) on a request."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from pangeo_forge_orchestrator.api.crud import AppDatabase, json_response, reading_on_loop
from pangeo_forge_orchestrator.api.schemas import Count
from pangeo_forge_orchestrator.db import counters

router = APIRouter(prefix="/stats", tags=["public"])

MISSING_COUNTER = "counter {name!r} is missing: the database is not fully migrated (`pfo migrate`)"


def counter_response(database: AppDatabase, name: str) -> Response:
    """One counter: one indexed row, read on the event loop (the routes are async)."""
    with reading_on_loop(database) as conn:
        count = counters.stat_count(conn, name)
    if count is None:
        raise HTTPException(status_code=503, detail=MISSING_COUNTER.format(name=name))
    return json_response({"count": count})


@router.get("/recipe_runs", response_model=Count)
async def count_recipe_runs(database: AppDatabase) -> Response:
    """Count recipe runs."""
    return counter_response(database, "recipe_runs")


@router.get("/bakeries", response_model=Count)
async def count_bakeries(database: AppDatabase) -> Response:
    """Count bakeries."""
    return counter_response(database, "bakeries")


@router.get("/feedstocks", response_model=Count)
async def count_feedstocks(database: AppDatabase) -> Response:
    """Count feedstocks."""
    return counter_response(database, "feedstocks")


@router.get("/datasets", response_model=Count)
async def count_datasets(database: AppDatabase, exclude_test_runs: bool = False) -> Response:
    """Count datasets: completed, successful runs with a URL; production runs only if asked."""
    return counter_response(database, "production_datasets" if exclude_test_runs else "datasets")
