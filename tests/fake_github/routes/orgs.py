"""Fake routes that create, list, edit and delete repositories.

A repository created by an installation belongs to that installation (GitHub Apps installed on
"all repositories" see new ones at once). With `auto_init`, the first commit on the default
branch holds README.md and, when asked for, .gitignore and LICENSE naming their template, so a
test can assert which templates were requested from the files alone.
"""

from __future__ import annotations

import httpx

# GitHub's answers and the settings a repository keeps: the simulator's, so the two fakes agree.
from pangeo_forge_orchestrator.sandbox.routes.repos import (
    NAME_TAKEN,
    NOT_ACCESSIBLE,
    SETTINGS,
    initial_files,
)
from tests.fake_github.routes import (
    delete,
    get,
    patch,
    post,
    repo_or_404,
    validation_failed,
)
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, FakeRepo


def installation_of(call: Call) -> int | None:
    """The installation whose token made CALL; None for the App's JWT."""
    if not call.identity.startswith("installation:"):
        return None
    return int(call.identity.removeprefix("installation:"))


def create_repo(gh: FakeGitHub, call: Call, *, owner: str, installation_id: int) -> httpx.Response:
    body = call.body
    name = body["name"]
    wanted = f"{owner}/{name}".lower()
    if any(full_name.lower() == wanted for full_name in gh.repos):
        return validation_failed(
            gh,
            "Repository creation failed.",
            resource="Repository",
            code="custom",
            field="name",
            message=NAME_TAKEN,
        )
    repo = gh.add_repo(f"{owner}/{name}", installation_id=installation_id)
    # add_repo seeds a head commit; a new repository has none until its first commit.
    repo.branches.clear()
    repo.private = bool(body.get("private")) or body.get("visibility") in ("private", "internal")
    repo.metadata.update({key: body[key] for key in SETTINGS if key in body})
    if body.get("auto_init"):
        repo.commit(repo.default_branch, initial_files(name, body), message="Initial commit")
    return gh.json(201, gh.repo_json(repo))


@post("/orgs/{org}/repos")
def create_org_repo(gh: FakeGitHub, call: Call) -> httpx.Response:
    org = call.path_params["org"]
    installation_id = installation_of(call)
    installation = gh.installations.get(installation_id or -1, {})
    if installation_id is None or installation.get("account", {}).get("login") != org:
        return gh.error(403, NOT_ACCESSIBLE)
    return create_repo(gh, call, owner=org, installation_id=installation_id)


@get("/orgs/{org}/repos")
def list_org_repos(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Newest first (sort=created), or by name; private ones only for their installation."""
    org, caller = call.path_params["org"], installation_of(call)
    repos = [
        r
        for r in gh.repos.values()
        if r.owner == org and (not r.private or r.installation_id == caller)
    ]
    by_name = call.query.get("sort") == "full_name"
    descending = call.query.get("direction", "asc" if by_name else "desc") == "desc"
    repos.sort(key=lambda r: r.full_name.lower() if by_name else f"{r.id:012d}", reverse=descending)
    return gh.paged(call, [gh.repo_json(r) for r in repos])


@post("/user/repos")
def create_user_repo(gh: FakeGitHub, call: Call) -> httpx.Response:
    # An installation token acts for no user: GitHub refuses it here.
    return gh.error(403, NOT_ACCESSIBLE)


@get("/user/repos")
def list_user_repos(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.error(403, NOT_ACCESSIBLE)


@patch("/repos/{owner}/{repo}")
def update_repo(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    body = call.body or {}
    branch = body.get("default_branch")
    if branch is not None and branch not in repo.branches:
        return validation_failed(
            gh, "Validation Failed", resource="Repository", field="default_branch", code="invalid"
        )
    if branch is not None:
        repo.default_branch = branch
    if "private" in body or "visibility" in body:
        repo.private = bool(body.get("private")) or body.get("visibility") == "private"
    repo.metadata.update({key: body[key] for key in SETTINGS if key in body})
    if body.get("name") and body["name"] != repo.name:
        rename(gh, repo, body["name"])
    return gh.json(200, gh.repo_json(repo))


def rename(gh: FakeGitHub, repo: FakeRepo, name: str) -> None:
    del gh.repos[repo.full_name]
    repo.name = name
    gh.repos[repo.full_name] = repo


@delete("/repos/{owner}/{repo}")
def delete_repo(gh: FakeGitHub, call: Call) -> httpx.Response:
    del gh.repos[repo_or_404(gh, call).full_name]
    return httpx.Response(204)
