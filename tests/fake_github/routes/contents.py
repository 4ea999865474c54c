"""Fake routes of file contents as commits: each write is a new commit on its branch.

These replace the simpler contents routes of repos.py: reads resolve any ref (branch, commit
sha, or the head sha of a branch) and list directories; writes return a real commit sha that
later reads, git refs and pull requests see, and move the branch's open pull request along.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.fake_github.routes import replace, repo_or_404
from tests.fake_github.routes.pulls_write import sync_pull_head
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, FakeRepo, b64, blob_sha

GET, PUT, DELETE = "GET", "PUT", "DELETE"
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
RAW = "https://raw.githubusercontent.com"
SHA_MISSING = 'Invalid request.\n\n"sha" wasn\'t supplied.'


def entry(gh: FakeGitHub, repo: FakeRepo, path: str, data: bytes | None) -> dict[str, object]:
    """The short description of a file (DATA) or a directory (None) in listings and commits."""
    kind = "dir" if data is None else "file"
    sha = blob_sha(data if data is not None else path.encode())
    url = f"{gh.repo_url(repo)}/contents/{path}"
    html = f"https://github.com/{repo.full_name}/{'tree' if data is None else 'blob'}/{path}"
    git = f"{gh.repo_url(repo)}/git/{'trees' if data is None else 'blobs'}/{sha}"
    return {
        "type": kind,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": 0 if data is None else len(data),
        "url": url,
        "html_url": html,
        "git_url": git,
        "download_url": None if data is None else f"{RAW}/{repo.full_name}/HEAD/{path}",
        "_links": {"self": url, "git": git, "html": html},
    }


@replace(GET, CONTENTS)
def get_contents(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    path, ref = call.path_params["path"].strip("/"), call.query.get("ref")
    files = repo.tree(ref)
    if files is None:
        return gh.error(404, f"No commit found for the ref {ref}")
    if path in files:
        data = gh.example(
            "content-file-response-if-content-is-a-file",
            rename={"octocat/Hello-World": repo.full_name},
        )
        data.update(entry(gh, repo, path, files[path]))
        data.update(encoding="base64", content=b64(files[path]))
        return gh.json(200, data)
    children: dict[str, bytes | None] = {}
    for name, content in files.items():
        if name.startswith(path + "/"):
            child, _, rest = name[len(path) + 1 :].partition("/")
            children[f"{path}/{child}"] = None if rest else content
    if not children:
        return gh.error(404, "Not Found")
    return gh.json(200, [entry(gh, repo, p, d) for p, d in sorted(children.items())])


def branch_or_error(gh: FakeGitHub, repo: FakeRepo, call: Call) -> str | httpx.Response:
    """The branch a write goes to; an empty repository takes a first commit on any branch."""
    branch = call.body.get("branch") or repo.default_branch
    if repo.branches and branch not in repo.branches:
        return gh.error(404, f"Branch {branch} not found")
    return branch


def commit_response(
    gh: FakeGitHub, repo: FakeRepo, sha: str, *, content: dict[str, object] | None
) -> dict[str, Any]:
    data: dict[str, Any] = gh.example("file-commit", rename={"octocat/Hello-World": repo.full_name})
    commit = data["commit"]
    commit.update(
        sha=sha,
        message=repo.commits[sha]["message"],
        url=f"{gh.repo_url(repo)}/git/commits/{sha}",
        html_url=f"https://github.com/{repo.full_name}/commit/{sha}",
        parents=[
            {"sha": p, "url": f"{gh.repo_url(repo)}/git/commits/{p}", "html_url": ""}
            for p in repo.commits[sha]["parents"]
        ],
    )
    data["content"] = content
    return data


@replace(PUT, CONTENTS)
def put_contents(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Create (201) or update (200, `sha` of the current blob required) a file on a branch."""
    repo, body = repo_or_404(gh, call), call.body
    path = call.path_params["path"].strip("/")
    branch = branch_or_error(gh, repo, call)
    if isinstance(branch, httpx.Response):
        return branch
    files = dict(repo.tree(branch) or {}) if branch in repo.branches else {}
    existing = files.get(path)
    if existing is not None and "sha" not in body:
        return gh.error(422, SHA_MISSING)
    if existing is not None and body["sha"] != blob_sha(existing):
        return gh.error(409, f"{path} does not match {body['sha']}")
    files[path] = base64.b64decode(body["content"])
    sha = repo.commit(branch, files, message=body["message"])
    sync_pull_head(gh, repo, branch)
    data = commit_response(gh, repo, sha, content=entry(gh, repo, path, files[path]))
    return gh.json(201 if existing is None else 200, data)


@replace(DELETE, CONTENTS)
def delete_contents(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo, body = repo_or_404(gh, call), call.body
    path = call.path_params["path"].strip("/")
    branch = branch_or_error(gh, repo, call)
    if isinstance(branch, httpx.Response):
        return branch
    files = dict(repo.tree(branch) or {})
    existing = files.get(path)
    if existing is None:
        return gh.error(404, "Not Found")
    if body["sha"] != blob_sha(existing):
        return gh.error(409, f"{path} does not match {body['sha']}")
    del files[path]
    sha = repo.commit(branch, files, message=body["message"])
    sync_pull_head(gh, repo, branch)
    return gh.json(200, commit_response(gh, repo, sha, content=None))
