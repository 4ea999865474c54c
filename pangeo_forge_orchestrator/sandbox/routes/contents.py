"""File contents as commits: each write is a new commit on its branch (the default if unnamed)."""

from __future__ import annotations

import base64
import binascii

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.objects import git_blob_sha
from pangeo_forge_orchestrator.sandbox.routes.common import (
    author_of,
    branch_moved,
    commit_facts,
    require_write,
)
from pangeo_forge_orchestrator.sandbox.routing import Call, Response, Unprocessable, route
from pangeo_forge_orchestrator.sandbox.simulator import Simulator, error
from pangeo_forge_orchestrator.sandbox.state import Repo

CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
SHA_MISSING = 'Invalid request.\n\n"sha" wasn\'t supplied.'


@route("GET", CONTENTS)
def get_contents(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    path = call.params["path"].strip("/")
    ref = call.query.get("ref") or repo.default_branch
    files = sim.git.tree(repo.owner, repo.name, ref)
    if files is None:
        return error(404, f"No commit found for the ref {ref}")
    if path in files:
        return Response(
            200,
            objects.content_file(
                sim.urls, full_name=repo.full_name, path=path, data=files[path], ref=ref
            ),
        )
    children: dict[str, bytes | None] = {}
    for name, content in files.items():
        if not path or name.startswith(path + "/"):
            rest = name[len(path) + 1 :] if path else name
            child, _, deeper = rest.partition("/")
            children[f"{path}/{child}" if path else child] = None if deeper else content
    if not children:
        return error(404, "Not Found")
    listing = [
        objects.content_entry(sim.urls, full_name=repo.full_name, path=p, data=d, ref=ref)
        for p, d in sorted(children.items())
    ]
    return Response(200, listing)


def target_branch(sim: Simulator, call: Call, repo: Repo) -> tuple[str, str | None]:
    """The branch a write goes to and its head (None: an empty repository's first commit)."""
    branch = call.body.get("branch") or repo.default_branch
    heads = sim.git.branches(repo.owner, repo.name)
    if heads and branch not in heads:
        raise _BranchMissing(branch)
    require_write(sim, call, repo, branch=branch)
    return branch, heads.get(branch)


class _BranchMissing(Exception):  # noqa: N818 -- control flow, not an error
    pass


def _write(sim: Simulator, call: Call, *, delete: bool) -> Response:
    repo, body = sim.repo_of(call), call.body
    path = call.params["path"].strip("/")
    try:
        branch, head = target_branch(sim, call, repo)
    except _BranchMissing as missing:
        return error(404, f"Branch {missing} not found")
    files = dict(sim.git.tree(repo.owner, repo.name, head) or {}) if head else {}
    existing = files.get(path)
    if delete and existing is None:
        return error(404, "Not Found")
    if existing is not None and "sha" not in body:
        return error(422, SHA_MISSING)
    if existing is not None and body["sha"] != git_blob_sha(existing):
        return error(409, f"{path} does not match {body['sha']}")
    if delete:
        del files[path]
    else:
        try:
            files[path] = base64.b64decode(body.get("content", ""), validate=False)
        except (binascii.Error, ValueError):
            raise Unprocessable("content is not valid Base64") from None
    sha = sim.git.commit(
        repo.owner,
        repo.name,
        files=files,
        message=str(body.get("message") or ("Delete " if delete else "Update ") + path),
        parents=() if head is None else (head,),
        author=author_of(call, sim),
        when=sim.now(),
        branch=branch,
    )
    branch_moved(sim, call, repo, branch=branch, before=head)
    content = (
        None
        if delete
        else objects.content_entry(
            sim.urls, full_name=repo.full_name, path=path, data=files[path], ref=branch
        )
    )
    answer = objects.file_commit(
        sim.urls, full_name=repo.full_name, commit=commit_facts(sim, repo, sha), content=content
    )
    return Response(200 if existing is not None else 201, answer)


@route("PUT", CONTENTS)
def put_contents(sim: Simulator, call: Call) -> Response:
    """Create (201) or update (200, `sha` of the current blob required) a file on a branch."""
    return _write(sim, call, delete=False)


@route("DELETE", CONTENTS)
def delete_contents(sim: Simulator, call: Call) -> Response:
    return _write(sim, call, delete=True)
