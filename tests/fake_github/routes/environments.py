"""Fake routes of deployment environments.

As on GitHub, deploying to an environment that does not exist creates it, so GET finds
environments named by a deployment as well as those made with PUT.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.fake_github.routes import delete, get, put, repo_or_404
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, FakeRepo

ENVIRONMENT = "/repos/{owner}/{repo}/environments/{environment_name}"


def environment_json(gh: FakeGitHub, repo: FakeRepo, name: str) -> dict[str, Any]:
    data: dict[str, Any] = gh.example("environment", rename={"github/hello-world": repo.full_name})
    data.update(
        id=gh.next_id(),
        name=name,
        url=f"{gh.repo_url(repo)}/environments/{name}",
        html_url=f"https://github.com/{repo.full_name}/deployments/activity_log"
        f"?environments_filter={name}",
        created_at=gh.now_iso(),
        updated_at=gh.now_iso(),
        protection_rules=[],
        deployment_branch_policy=None,
    )
    return data


def apply_settings(gh: FakeGitHub, environment: dict[str, Any], body: dict[str, Any]) -> None:
    rules = [r for r in environment["protection_rules"] if r["type"] != "wait_timer"]
    if body.get("wait_timer"):
        rules.append({"id": gh.next_id(), "type": "wait_timer", "wait_timer": body["wait_timer"]})
    environment["protection_rules"] = rules
    if "deployment_branch_policy" in body:
        environment["deployment_branch_policy"] = body["deployment_branch_policy"]
    environment["updated_at"] = gh.now_iso()


@get(ENVIRONMENT)
def get_environment(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    name = call.path_params["environment_name"]
    deployed = any(d["environment"] == name for d in repo.deployments.values())
    if name not in repo.environments and deployed:
        repo.environments[name] = environment_json(gh, repo, name)
    if name not in repo.environments:
        return gh.error(404, "Not Found")
    return gh.json(200, repo.environments[name])


@put(ENVIRONMENT)
def put_environment(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Create or update: always 200, as GitHub answers both."""
    repo = repo_or_404(gh, call)
    name = call.path_params["environment_name"]
    environment = repo.environments.get(name) or environment_json(gh, repo, name)
    apply_settings(gh, environment, call.body or {})
    repo.environments[name] = environment
    return gh.json(200, environment)


@delete(ENVIRONMENT)
def delete_environment(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    if repo.environments.pop(call.path_params["environment_name"], None) is None:
        return gh.error(404, "Not Found")
    return httpx.Response(204)
