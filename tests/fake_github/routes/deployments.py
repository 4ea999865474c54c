"""Fake routes of deployments and deployment statuses."""

from __future__ import annotations

import httpx

from tests.fake_github.routes import delete, find, get, int_param, post, repo_or_404
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call


@post("/repos/{owner}/{repo}/deployments")
def create_deployment(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    body = call.body
    deployment_id = gh.next_id()
    deployment = gh.example("deployment", rename={"octocat/example": repo.full_name})
    environment = body.get("environment", "production")
    deployment.update(
        id=deployment_id,
        ref=body["ref"],
        sha=repo.branches.get(body["ref"], body["ref"]),
        task=body.get("task", "deploy"),
        payload=body.get("payload", {}),
        environment=environment,
        original_environment=environment,
        description=body.get("description"),
        creator=gh.user(f"app-{gh.app_id}[bot]"),
        created_at=gh.now_iso(),
        updated_at=gh.now_iso(),
        transient_environment=body.get("transient_environment", False),
        production_environment=body.get("production_environment", environment == "production"),
        url=f"{gh.repo_url(repo)}/deployments/{deployment_id}",
        statuses_url=f"{gh.repo_url(repo)}/deployments/{deployment_id}/statuses",
    )
    repo.deployments[deployment_id] = deployment
    repo.deployment_statuses[deployment_id] = []
    return gh.json(201, deployment)


@get("/repos/{owner}/{repo}/deployments")
def list_deployments(gh: FakeGitHub, call: Call) -> httpx.Response:
    deployments = list(reversed(repo_or_404(gh, call).deployments.values()))
    for key in ("sha", "ref", "task", "environment"):
        if key in call.query:
            deployments = [d for d in deployments if d[key] == call.query[key]]
    return gh.paged(call, deployments)


@get("/repos/{owner}/{repo}/deployments/{deployment_id}")
def get_deployment(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.json(200, find(repo_or_404(gh, call).deployments, int_param(call, "deployment_id")))


@delete("/repos/{owner}/{repo}/deployments/{deployment_id}")
def delete_deployment(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    deployment_id = int_param(call, "deployment_id")
    find(repo.deployments, deployment_id)
    statuses = repo.deployment_statuses.get(deployment_id, [])
    if statuses and statuses[-1]["state"] != "inactive":
        return gh.error(422, "We cannot delete an active deployment unless it is the only one")
    del repo.deployments[deployment_id]
    return httpx.Response(204)


@post("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
def create_deployment_status(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    deployment_id = int_param(call, "deployment_id")
    deployment = find(repo.deployments, deployment_id)
    status = gh.example("deployment-status", rename={"octocat/example": repo.full_name})
    status.update(
        id=gh.next_id(),
        state=call.body["state"],
        description=call.body.get("description", ""),
        environment=call.body.get("environment", deployment["environment"]),
        target_url=call.body.get("target_url", call.body.get("log_url", "")),
        log_url=call.body.get("log_url", call.body.get("target_url", "")),
        environment_url=call.body.get("environment_url", ""),
        creator=gh.user(f"app-{gh.app_id}[bot]"),
        created_at=gh.now_iso(),
        updated_at=gh.now_iso(),
        deployment_url=deployment["url"],
    )
    find(repo.deployment_statuses, deployment_id).append(status)
    return gh.json(201, status)


@get("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
def list_deployment_statuses(gh: FakeGitHub, call: Call) -> httpx.Response:
    statuses = find(repo_or_404(gh, call).deployment_statuses, int_param(call, "deployment_id"))
    return gh.paged(call, list(reversed(statuses)))
