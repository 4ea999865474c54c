"""Repositories: create (in an organisation), read, edit, delete; branches; permissions."""

from __future__ import annotations

from typing import Any

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.routes.common import author_of, permission_of, require_write
from pangeo_forge_orchestrator.sandbox.routing import (
    Call,
    NotFoundError,
    Response,
    Unprocessable,
    page,
    route,
)
from pangeo_forge_orchestrator.sandbox.simulator import Simulator, error
from pangeo_forge_orchestrator.sandbox.state import Repo

NAME_TAKEN = "name already exists on this account"
NOT_ACCESSIBLE = "Resource not accessible by integration"
# Body fields GitHub keeps as repository settings and shows in the repository object.
SETTINGS = (
    "description",
    "homepage",
    "has_issues",
    "has_projects",
    "has_wiki",
    "has_discussions",
    "is_template",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "allow_auto_merge",
    "delete_branch_on_merge",
    "archived",
)


def initial_files(name: str, body: dict[str, Any]) -> dict[str, bytes]:
    files = {"README.md": f"# {name}\n{body.get('description') or ''}\n".encode()}
    if body.get("gitignore_template"):
        files[".gitignore"] = f"# {body['gitignore_template']} .gitignore template\n".encode()
    if body.get("license_template"):
        files["LICENSE"] = f"{body['license_template']} license text\n".encode()
    return files


def create_repo(
    sim: Simulator,
    *,
    owner: str,
    body: dict[str, Any],
    author: tuple[str, str],
    permissions: dict[str, str] | None = None,
) -> Repo:
    """Create OWNER/NAME (owned by the installation on OWNER, if any), with a first commit."""
    name = body["name"]
    if sim.state.repo(owner, name) is not None:
        raise Unprocessable(
            "Repository creation failed.",
            resource="Repository",
            code="custom",
            field="name",
            message=NAME_TAKEN,
        )
    installation = next(
        (i.id for i in sim.state.installations.values() if i.account.lower() == owner.lower()),
        None,
    )
    now = sim.now()
    repo = Repo(
        id=sim.state.new_id(),
        owner=owner,
        name=name,
        installation_id=installation,
        private=bool(body.get("private")) or body.get("visibility") in ("private", "internal"),
        created_at=now,
        updated_at=now,
        settings={key: body[key] for key in SETTINGS if key in body},
        permissions=dict(permissions or {}),
    )
    sim.git.create(owner, name, default_branch=repo.default_branch)
    sim.state.repos[repo.full_name] = repo
    if body.get("auto_init"):
        sim.git.commit(
            owner,
            name,
            files=initial_files(name, body),
            message="Initial commit",
            parents=(),
            author=author,
            when=now,
            branch=repo.default_branch,
        )
        repo.pushed_at = now
    return repo


@route("POST", "/orgs/{org}/repos")
def create_org_repo(sim: Simulator, call: Call) -> Response:
    """The App may create repositories in the organisation it is installed on; users anywhere."""
    org = call.params["org"]
    if call.identity.kind == "installation":
        installation = sim.state.installations.get(call.identity.installation_id or -1)
        if installation is None or installation.account.lower() != org.lower():
            return error(403, NOT_ACCESSIBLE)
    admins = {call.identity.login: "admin"} if call.identity.kind == "user" else {}
    repo = create_repo(
        sim, owner=org, body=call.body, author=author_of(call, sim), permissions=admins
    )
    return Response(201, sim.repo_json(repo))


@route("GET", "/orgs/{org}/repos")
def list_org_repos(sim: Simulator, call: Call) -> Response:
    """Newest first (sort=created), or by name; private ones only for their installation."""
    org, caller = call.params["org"].lower(), call.identity.installation_id
    repos = [
        r
        for r in sim.state.repos.values()
        if r.owner.lower() == org and (not r.private or r.installation_id == caller)
    ]
    by_name = call.query.get("sort") == "full_name"
    descending = call.query.get("direction", "asc" if by_name else "desc") == "desc"
    repos.sort(key=lambda r: r.full_name.lower() if by_name else f"{r.id:012d}", reverse=descending)
    return page(call, [sim.repo_json(r) for r in repos], api_url=sim.urls.api)


@route("POST", "/user/repos")
def create_user_repo(sim: Simulator, call: Call) -> Response:
    # An installation token acts for no user: GitHub refuses it here.
    if call.identity.kind != "user":
        return error(403, NOT_ACCESSIBLE)
    owner = call.identity.login
    repo = create_repo(
        sim, owner=owner, body=call.body, author=author_of(call, sim), permissions={owner: "admin"}
    )
    return Response(201, sim.repo_json(repo))


@route("GET", "/user/repos")
def list_user_repos(sim: Simulator, call: Call) -> Response:
    if call.identity.kind != "user":
        return error(403, NOT_ACCESSIBLE)
    login = call.identity.login
    repos = [r for r in sim.state.repos.values() if permission_of(sim, r, login) != "none"]
    return page(call, [sim.repo_json(r) for r in repos], api_url=sim.urls.api)


@route("GET", "/repos/{owner}/{repo}")
def get_repo(sim: Simulator, call: Call) -> Response:
    return Response(200, sim.repo_json(sim.repo_of(call)))


@route("PATCH", "/repos/{owner}/{repo}")
def update_repo(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    require_write(sim, call, repo)
    body = call.body
    branch = body.get("default_branch")
    if branch is not None and branch not in sim.git.branches(repo.owner, repo.name):
        raise Unprocessable(
            "Validation Failed", resource="Repository", field="default_branch", code="invalid"
        )
    if branch is not None:
        repo.default_branch = branch
        sim.git.set_default_branch(repo.owner, repo.name, branch)
    if "private" in body or "visibility" in body:
        repo.private = bool(body.get("private")) or body.get("visibility") == "private"
    repo.settings.update({key: body[key] for key in SETTINGS if key in body})
    new_name = body.get("name")
    if isinstance(new_name, str) and new_name and new_name != repo.name:
        if sim.state.repo(repo.owner, new_name) is not None:
            raise Unprocessable("Validation Failed", resource="Repository", field="name")
        sim.git.rename(repo.owner, repo.name, new_name)
        del sim.state.repos[repo.full_name]
        repo.name = new_name
        sim.state.repos[repo.full_name] = repo
    repo.updated_at = sim.now()
    return Response(200, sim.repo_json(repo))


@route("DELETE", "/repos/{owner}/{repo}")
def delete_repo(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    require_write(sim, call, repo)
    sim.git.delete(repo.owner, repo.name)
    del sim.state.repos[repo.full_name]
    return Response(204)


@route("GET", "/repos/{owner}/{repo}/branches/{branch}")
def get_branch(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    name = call.params["branch"]
    sha = sim.git.branches(repo.owner, repo.name).get(name)
    info = sim.git.info(repo.owner, repo.name, sha) if sha else None
    if info is None:
        return error(404, "Branch not found")
    facts = objects.CommitFacts(
        sha=info.sha,
        message=info.message,
        parents=info.parents,
        author_name=info.author_name,
        author_email=info.author_email,
        date=info.date,
    )
    return Response(
        200, objects.branch(sim.urls, full_name=repo.full_name, branch=name, commit=facts)
    )


@route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def get_permission(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    login = call.params["username"]
    permission = permission_of(sim, repo, login)
    if permission == "maintain":
        permission = "write"  # the legacy `permission` field knows admin/write/read/none only
    if not login:
        raise NotFoundError
    return Response(
        200, objects.collaborator_permission(sim.urls, login=login, permission=permission)
    )
