"""Check runs and commit statuses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.routing import (
    Call,
    Response,
    Unprocessable,
    found,
    page,
    route,
)
from pangeo_forge_orchestrator.sandbox.simulator import Simulator
from pangeo_forge_orchestrator.sandbox.state import CheckRun, CommitStatus, Repo


def check_run_json(sim: Simulator, repo: Repo, run: CheckRun) -> objects.JSON:
    return objects.check_run(
        sim.urls,
        full_name=repo.full_name,
        check_run_id=run.id,
        app=objects.app(
            sim.urls,
            app_id=sim.app_id,
            slug=sim.app_slug,
            owner=repo.owner,
            created_at=sim.app_created_at,
        ),
        name=run.name,
        head_sha=run.head_sha,
        status=run.status,
        conclusion=run.conclusion,
        started_at=run.started_at,
        completed_at=run.completed_at,
        details_url=run.details_url,
        external_id=run.external_id,
        output=run.output,
        actions=run.actions,
    )


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unprocessable(f"Invalid timestamp: {value}") from None


def apply(sim: Simulator, run: CheckRun, body: dict[str, Any]) -> None:
    for key in ("name", "details_url", "external_id", "status", "conclusion"):
        if key in body:
            setattr(run, key, body[key])
    if "actions" in body:
        run.actions = list(body["actions"])
    for key in ("started_at", "completed_at"):
        if key in body:
            setattr(run, key, _when(body[key]))
    if isinstance(body.get("output"), dict):
        run.output = {k: body["output"].get(k) for k in ("title", "summary", "text")}
    if run.conclusion is not None:
        run.status = "completed"
        run.completed_at = run.completed_at or sim.now()


def find_run(sim: Simulator, call: Call) -> tuple[Repo, CheckRun]:
    repo = sim.repo_of(call)
    return repo, found(repo.check_runs, call.int_param("check_run_id"))


@route("POST", "/repos/{owner}/{repo}/check-runs")
def create_check_run(sim: Simulator, call: Call) -> Response:
    repo, body = sim.repo_of(call), call.body
    head_sha = str(body.get("head_sha", ""))
    if sim.git.resolve(repo.owner, repo.name, head_sha) != head_sha:
        raise Unprocessable("No commit found for SHA: " + head_sha)
    run = CheckRun(id=sim.state.new_id(), name=str(body.get("name", "")), head_sha=head_sha)
    run.started_at = sim.now()
    apply(sim, run, body)
    repo.check_runs[run.id] = run
    return Response(201, check_run_json(sim, repo, run))


@route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def get_check_run(sim: Simulator, call: Call) -> Response:
    repo, run = find_run(sim, call)
    return Response(200, check_run_json(sim, repo, run))


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def update_check_run(sim: Simulator, call: Call) -> Response:
    repo, run = find_run(sim, call)
    apply(sim, run, call.body)
    return Response(200, check_run_json(sim, repo, run))


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs_for_ref(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    sha = sim.git.resolve(repo.owner, repo.name, call.params["ref"])
    if sha is None:
        raise Unprocessable(f"No commit found for SHA: {call.params['ref']}")
    runs = [r for r in repo.check_runs.values() if r.head_sha == sha]
    if "check_name" in call.query:
        runs = [r for r in runs if r.name == call.query["check_name"]]
    items = [check_run_json(sim, repo, r) for r in runs]
    return page(call, items, api_url=sim.urls.api, key="check_runs")


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def create_status(sim: Simulator, call: Call) -> Response:
    repo, body = sim.repo_of(call), call.body
    sha = sim.git.resolve(repo.owner, repo.name, call.params["sha"])
    if sha is None:
        raise Unprocessable(f"No commit found for SHA: {call.params['sha']}")
    status = CommitStatus(
        id=sim.state.new_id(),
        sha=sha,
        state=str(body.get("state", "")),
        context=str(body.get("context") or "default"),
        description=body.get("description"),
        target_url=body.get("target_url"),
        creator=call.identity.login,
        created_at=sim.now(),
    )
    repo.statuses.append(status)
    return Response(
        201,
        objects.commit_status(
            sim.urls,
            full_name=repo.full_name,
            status_id=status.id,
            sha=status.sha,
            state=status.state,
            description=status.description,
            target_url=status.target_url,
            context=status.context,
            creator=status.creator,
            created_at=status.created_at,
        ),
    )
