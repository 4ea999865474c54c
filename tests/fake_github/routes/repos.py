"""Fake routes of repositories: metadata, branches, contents, permissions, pulls."""

from __future__ import annotations

import base64

import httpx

from tests.fake_github.routes import delete, find, get, int_param, put, repo_or_404
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, b64, blob_sha


@get("/repos/{owner}/{repo}")
def get_repo(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.json(200, gh.repo_json(repo_or_404(gh, call)))


@get("/repos/{owner}/{repo}/branches/{branch}")
def get_branch(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    name = call.path_params["branch"]
    data = gh.example("branch-get", rename={"octocat/Hello-World": repo.full_name})
    data["name"] = name
    data["commit"]["sha"] = find(repo.branches, name)
    return gh.json(200, data)


@get("/repos/{owner}/{repo}/contents/{path}")
def get_contents(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    path, ref = call.path_params["path"], call.query.get("ref")
    content = repo.file_at(path, ref)
    if content is None:
        return gh.error(404, "Not Found")
    data = gh.example(
        "content-file-response-if-content-is-a-file", rename={"octocat/Hello-World": repo.full_name}
    )
    data.update(
        name=path.rsplit("/", 1)[-1],
        path=path,
        size=len(content),
        sha=blob_sha(content),
        content=b64(content),
    )
    return gh.json(200, data)


@put("/repos/{owner}/{repo}/contents/{path}")
def put_contents(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    path, body = call.path_params["path"], call.body
    branch = body.get("branch", repo.default_branch)
    existing = repo.file_at(path, branch)
    if existing is not None and body.get("sha") != blob_sha(existing):
        return gh.error(409, f"{path} does not match {body.get('sha')}")
    content = base64.b64decode(body["content"])
    repo.put_file(path, content, ref=branch)
    data = gh.example("file-commit", rename={"octocat/Hello-World": repo.full_name})
    data["content"] = {"name": path.rsplit("/", 1)[-1], "path": path, "sha": blob_sha(content)}
    return gh.json(200 if existing is not None else 201, data)


@delete("/repos/{owner}/{repo}/contents/{path}")
def delete_contents(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    path, body = call.path_params["path"], call.body
    branch = body.get("branch", repo.default_branch)
    existing = repo.file_at(path, branch)
    if existing is None:
        return gh.error(404, "Not Found")
    if body.get("sha") != blob_sha(existing):
        return gh.error(409, f"{path} does not match {body.get('sha')}")
    del repo.files[branch][path]
    return gh.json(200, gh.example("file-commit", rename={"octocat/Hello-World": repo.full_name}))


@get("/repos/{owner}/{repo}/collaborators/{username}/permission")
def get_permission(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    login = call.path_params["username"]
    permission = repo.permissions.get(login, "read")
    data = gh.example("repository-collaborator-permission-response-if-user-has-admin-permissions")
    data.update(permission=permission, role_name=permission, user=gh.user(login))
    return gh.json(200, data)


# ---- pull requests -------------------------------------------------------------------------


@get("/repos/{owner}/{repo}/pulls")
def list_pulls(gh: FakeGitHub, call: Call) -> httpx.Response:
    state = call.query.get("state", "open")
    pulls = [p for p in repo_or_404(gh, call).pulls.values() if state in ("all", p["state"])]
    return gh.paged(call, pulls)


@get("/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.json(200, find(repo_or_404(gh, call).pulls, int_param(call, "pull_number")))


@get("/repos/{owner}/{repo}/pulls/{pull_number}/files")
def list_pull_files(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.paged(call, find(repo_or_404(gh, call).pull_files, int_param(call, "pull_number")))
