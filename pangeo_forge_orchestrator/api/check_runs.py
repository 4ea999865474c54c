"""GET /feedstocks/{id}/commits/{sha}/check-runs: GitHub's check runs of a feedstock's commit.

A read-through to GitHub as the App's installation on the feedstock's repository (nothing is
stored), so the website can show what GitHub shows next to a commit. GitHub's failures become
clear answers: 404 for an unknown feedstock or commit, 503 when the App is not configured or
GitHub limits us (with Retry-After), 502 when GitHub does not answer.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, HTTPException, Path, Request
from pydantic import BaseModel

from pangeo_forge_orchestrator.adapters.github import GitHubApp
from pangeo_forge_orchestrator.adapters.github.errors import (
    GitHubError,
    GitHubNotConfigured,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from pangeo_forge_orchestrator.api.deps import DatabaseDep
from pangeo_forge_orchestrator.api.schemas import INT64_MAX, Problem
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.db.queries import FEEDSTOCKS

router = APIRouter()

CHECK_RUNS = "/repos/{owner}/{repo}/commits/{ref}/check-runs"
REPO_INSTALLATION = "/repos/{owner}/{repo}/installation"
MAX_CHECK_RUNS = 300  # GitHub's own cap per commit is 1,000; a page of the website needs few
NO_FEEDSTOCK = "feedstock {id} not found"
NO_COMMIT = "GitHub has no commit {sha} in {spec}"
NOT_INSTALLED = "the GitHub App is not installed on {spec}"
NOT_CONFIGURED = "GitHub is not configured on this service (PFO_GITHUB_APP_ID and its key)"
LIMITED = "GitHub is rate-limiting this service until {at}; try again then"
UNAVAILABLE = "GitHub did not answer as expected: {error}"


class CheckRunRead(BaseModel):
    """One check run as GitHub reports it, reduced to what a page shows."""

    id: int
    name: str
    status: str
    conclusion: str | None
    started_at: str | None
    completed_at: str | None
    title: str | None
    summary: str | None
    details_url: str | None
    html_url: str | None
    app: str | None


@router.get(
    "/feedstocks/{feedstock_id}/commits/{sha}/check-runs",
    tags=["public"],
    response_model=list[CheckRunRead],
    responses={
        404: {"model": Problem},
        502: {"model": Problem},
        503: {"model": Problem},
    },
)
async def commit_check_runs(
    request: Request,
    database: DatabaseDep,
    feedstock_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    sha: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{7,40}$", description="A commit sha")],
) -> list[dict[str, Any]]:
    """The check runs GitHub has for SHA in the feedstock's repository (read through, live)."""
    spec, installation_id = await asyncio.to_thread(_feedstock, database, feedstock_id)
    owner, _, name = spec.partition("/")
    app = github_app(request.app)
    where = {"owner": owner, "repo": name}
    try:
        if installation_id is None:
            installation = await app.app_client().getitem(REPO_INSTALLATION, where)
            installation_id = int(installation["id"])
        client = app.installation_client(installation_id)
        found = []
        async for item in client.getiter(
            CHECK_RUNS + "?per_page=100", {**where, "ref": sha}, iterable_key="check_runs"
        ):
            found.append(_check_run(item))
            if len(found) >= MAX_CHECK_RUNS:
                break
    except (NotFound, ValidationFailed) as error:
        message = NOT_INSTALLED if "installation" in str(error).lower() else NO_COMMIT
        raise HTTPException(404, message.format(sha=sha, spec=spec)) from None
    except RateLimited as limited:
        wait = max(1, math.ceil((limited.reset_at - datetime.now(UTC)).total_seconds()))
        at = limited.reset_at.isoformat(timespec="seconds")
        raise HTTPException(
            503, LIMITED.format(at=at), headers={"Retry-After": str(wait)}
        ) from None
    except GitHubError as error:
        raise HTTPException(502, UNAVAILABLE.format(error=error)) from None
    return found


def _feedstock(database: Database, feedstock_id: int) -> tuple[str, int | None]:
    with database.session() as session:
        table = FEEDSTOCKS.table
        spec = session.execute(
            sa.select(table.c.spec).where(table.c.id == feedstock_id)
        ).scalar_one_or_none()
        if spec is None:
            raise HTTPException(404, NO_FEEDSTOCK.format(id=feedstock_id))
        return str(spec), db_runs.installation_of(session, str(spec))


def _check_run(item: dict[str, Any]) -> dict[str, Any]:
    output = item.get("output") or {}
    app = item.get("app") or {}
    return {
        "id": item["id"],
        "name": item.get("name", ""),
        "status": item.get("status", ""),
        "conclusion": item.get("conclusion"),
        "started_at": item.get("started_at"),
        "completed_at": item.get("completed_at"),
        "title": output.get("title"),
        "summary": output.get("summary"),
        "details_url": item.get("details_url"),
        "html_url": item.get("html_url"),
        "app": app.get("slug"),
    }


def github_app(app: FastAPI) -> GitHubApp:
    """The App's client, made on first use and kept for the process (closed at shutdown)."""
    existing = getattr(app.state, "github_app", None)
    if isinstance(existing, GitHubApp):
        return existing
    try:
        made = GitHubApp(app.state.settings)
    except GitHubNotConfigured:
        raise HTTPException(503, NOT_CONFIGURED) from None
    app.state.github_app = made
    return made


async def close_github_app(app: FastAPI) -> None:
    existing = getattr(app.state, "github_app", None)
    if isinstance(existing, GitHubApp):
        await existing.aclose()
        app.state.github_app = None
