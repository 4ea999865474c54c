"""Fake routes of check runs and commit statuses."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fake_github.routes import find, get, int_param, patch, post, repo_or_404
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, FakeRepo


def _check_run_json(gh: FakeGitHub, repo: FakeRepo, run_id: int, body: dict[str, Any]) -> Any:
    run = gh.example("check-run", rename={"github/hello-world": repo.full_name})
    run.update(
        id=run_id,
        status="queued",
        conclusion=None,
        started_at=gh.now_iso(),
        completed_at=None,
        pull_requests=[],
        url=f"{gh.repo_url(repo)}/check-runs/{run_id}",
        html_url=f"https://github.com/{repo.full_name}/runs/{run_id}",
    )
    run["app"]["id"] = gh.app_id
    return _apply_check_run(gh, run, body)


def _apply_check_run(gh: FakeGitHub, run: dict[str, Any], body: dict[str, Any]) -> Any:
    for key in ("name", "head_sha", "details_url", "external_id", "status", "conclusion"):
        if key in body:
            run[key] = body[key]
    for key in ("started_at", "completed_at"):
        if key in body:
            run[key] = body[key]
    if "output" in body:
        run["output"].update({k: body["output"].get(k) for k in ("title", "summary", "text")})
    if run.get("conclusion") is not None:
        run["status"] = "completed"
        run["completed_at"] = run.get("completed_at") or gh.now_iso()
    return run


@post("/repos/{owner}/{repo}/check-runs")
def create_check_run(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    run_id = gh.next_id()
    run = _check_run_json(gh, repo, run_id, call.body)
    repo.check_runs[run_id] = run
    return gh.json(201, run)


@get("/repos/{owner}/{repo}/check-runs/{check_run_id}")
def get_check_run(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.json(200, find(repo_or_404(gh, call).check_runs, int_param(call, "check_run_id")))


@patch("/repos/{owner}/{repo}/check-runs/{check_run_id}")
def update_check_run(gh: FakeGitHub, call: Call) -> httpx.Response:
    run = find(repo_or_404(gh, call).check_runs, int_param(call, "check_run_id"))
    return gh.json(200, _apply_check_run(gh, run, call.body))


@get("/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs_for_ref(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    ref = call.path_params["ref"]
    sha = repo.branches.get(ref, ref)
    runs = [r for r in repo.check_runs.values() if r["head_sha"] == sha]
    if "check_name" in call.query:
        runs = [r for r in runs if r["name"] == call.query["check_name"]]
    return gh.paged(call, runs, key="check_runs")


@post("/repos/{owner}/{repo}/statuses/{sha}")
def create_status(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    status = gh.example("status", rename={"octocat/Hello-World": repo.full_name})
    status.update(id=gh.next_id(), created_at=gh.now_iso(), updated_at=gh.now_iso())
    status.update({k: call.body.get(k) for k in ("state", "target_url", "description")})
    status["context"] = call.body.get("context", "default")
    status["sha"] = call.path_params["sha"]
    repo.statuses.append(status)
    return gh.json(201, status)
