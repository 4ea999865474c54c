"""`GET /recipe_runs/{id}/logs`: a run's stored output as plain text, or where to read it."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import PlainTextResponse

from pangeo_forge_orchestrator.adapters.run_logs import read_run_log
from pangeo_forge_orchestrator.api.deps import DatabaseDep, SettingsDep
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.db.tables import Bakery, RecipeRun

NO_RUN = "recipe run {run_id} does not exist"
NO_LOGS_YET = "no logs stored for recipe run {run_id} yet\n"
DATAFLOW_CONSOLE = "https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}"
REMOTE_LOGS = (
    "recipe run {run_id} ran on the Dataflow bakery {bakery!r}; its logs are in the Google "
    "Cloud console:\n{url}\n"
)

RUNS = RecipeRun.__table__  # type: ignore[attr-defined]
BAKERIES = Bakery.__table__  # type: ignore[attr-defined]

router = APIRouter(tags=["public"])


@router.get(
    "/recipe_runs/{run_id}/logs",
    response_class=PlainTextResponse,
    summary="A recipe run's logs (secrets redacted)",
    responses={404: {"description": "No such recipe run"}},
)
async def run_logs(
    database: DatabaseDep,
    settings: SettingsDep,
    run_id: int = Path(ge=1, le=2**31 - 1),
) -> PlainTextResponse:
    """The run's output tail as stored when it completed; remote bakeries link their console."""
    row = await asyncio.to_thread(_run_and_bakery, database, run_id)
    if row is None:
        raise HTTPException(404, NO_RUN.format(run_id=run_id))
    text = await asyncio.to_thread(read_run_log, settings.data_dir, run_id)
    if text is not None:
        return PlainTextResponse(text)
    if row.kind == BakeryKind.DATAFLOW and row.bakery_job_id:
        url = DATAFLOW_CONSOLE.format(
            region=quote(row.region, safe=""), job_id=quote(row.bakery_job_id, safe="")
        )
        return PlainTextResponse(REMOTE_LOGS.format(run_id=run_id, bakery=row.name, url=url))
    return PlainTextResponse(NO_LOGS_YET.format(run_id=run_id))


def _run_and_bakery(database: Database, run_id: int) -> Any:
    query = (
        sa.select(RUNS.c.bakery_job_id, BAKERIES.c.name, BAKERIES.c.kind, BAKERIES.c.region)
        .select_from(RUNS.join(BAKERIES, BAKERIES.c.id == RUNS.c.bakery_id))
        .where(RUNS.c.id == run_id)
    )
    with database.engine.connect() as conn:
        return conn.execute(query).first()
