"""Git references: create, move and delete branches (`refs/heads/...`); other refs are refused."""

from __future__ import annotations

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.routes.common import branch_moved, require_write
from pangeo_forge_orchestrator.sandbox.routing import Call, Response, Unprocessable, route
from pangeo_forge_orchestrator.sandbox.simulator import Simulator

REF_EXISTS = "Reference already exists"
REF_MISSING = "Reference does not exist"
OBJECT_MISSING = "Object does not exist"
NOT_FAST_FORWARD = "Update is not a fast forward"
BAD_REF_NAME = "Reference name must start with 'refs/' and have at least two slashes."
BRANCHES_ONLY = "The sandbox models branches only (refs/heads/...)."


def branch_of(ref: str) -> str:
    """The branch of `heads/NAME` (a path parameter) or `refs/heads/NAME` (a body)."""
    name = ref.removeprefix("refs/")
    if not name.startswith("heads/") or name == "heads/":
        raise Unprocessable(BRANCHES_ONLY)
    return name.removeprefix("heads/")


@route("POST", "/repos/{owner}/{repo}/git/refs")
def create_ref(sim: Simulator, call: Call) -> Response:
    repo, body = sim.repo_of(call), call.body
    ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise Unprocessable(BAD_REF_NAME)
    branch = branch_of(ref)
    require_write(sim, call, repo, branch=branch)
    if branch in sim.git.branches(repo.owner, repo.name):
        raise Unprocessable(REF_EXISTS)
    if sim.git.resolve(repo.owner, repo.name, sha) != sha:
        raise Unprocessable(OBJECT_MISSING)
    sim.git.set_branch(repo.owner, repo.name, branch, sha)
    return Response(
        201, objects.git_ref(sim.urls, full_name=repo.full_name, branch=branch, sha=sha)
    )


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}")
def update_ref(sim: Simulator, call: Call) -> Response:
    """Move a branch: only forward unless `force`, as a push would."""
    repo, body = sim.repo_of(call), call.body
    branch = branch_of(call.params["ref"])
    require_write(sim, call, repo, branch=branch)
    before = sim.git.branches(repo.owner, repo.name).get(branch)
    if before is None:
        raise Unprocessable(REF_MISSING)
    sha = str(body.get("sha", ""))
    if sim.git.resolve(repo.owner, repo.name, sha) != sha:
        raise Unprocessable(OBJECT_MISSING)
    if not body.get("force") and not sim.git.is_ancestor(repo.owner, repo.name, before, sha):
        raise Unprocessable(NOT_FAST_FORWARD)
    sim.git.set_branch(repo.owner, repo.name, branch, sha)
    branch_moved(sim, call, repo, branch=branch, before=before)
    return Response(
        200, objects.git_ref(sim.urls, full_name=repo.full_name, branch=branch, sha=sha)
    )


@route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}")
def delete_ref(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    branch = branch_of(call.params["ref"])
    require_write(sim, call, repo, branch=branch)
    if branch not in sim.git.branches(repo.owner, repo.name):
        raise Unprocessable(REF_MISSING)
    if branch == repo.default_branch:
        raise Unprocessable("Cannot delete the default branch")
    # Commits stay readable by sha afterwards, as on GitHub: merges keep them reachable.
    sim.git.delete_branch(repo.owner, repo.name, branch)
    return Response(204)
