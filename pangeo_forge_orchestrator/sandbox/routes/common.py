"""What several route modules need: who may write where, and the pull requests a push moves."""

from __future__ import annotations

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.routing import Call, NotFoundError
from pangeo_forge_orchestrator.sandbox.simulator import Refused, Simulator, error
from pangeo_forge_orchestrator.sandbox.state import Repo

WRITERS = ("admin", "maintain", "write")


def permission_of(sim: Simulator, repo: Repo, login: str) -> str:
    """A collaborator's permission, or admin for the owners of the organisation; anyone else
    may read a public repository."""
    if login in repo.permissions:
        return repo.permissions[login]
    if login in sim.state.org_owners.get(repo.owner.lower(), []):
        return "admin"
    return "none" if repo.private else "read"


def require_write(sim: Simulator, call: Call, repo: Repo, *, branch: str | None = None) -> None:
    """Users push to the default branch, merge and administer only with write access.

    Other branches are open to every sandbox user: they stand in for the forks contributors
    push to on GitHub, which the simulator does not model.
    """
    identity = call.identity
    if identity.kind != "user":
        return
    if branch is not None and branch != repo.default_branch:
        return
    if permission_of(sim, repo, identity.login) not in WRITERS:
        raise Refused(error(403, f"Permission to {repo.full_name} denied to {identity.login}."))


def author_of(call: Call, sim: Simulator) -> tuple[str, str]:
    login = call.identity.login or sim.bot_login
    return login, f"{login.removesuffix('[bot]')}@users.noreply.sandbox"


def commit_facts(sim: Simulator, repo: Repo, sha: str) -> objects.CommitFacts:
    info = sim.git.info(repo.owner, repo.name, sha)
    if info is None:
        raise NotFoundError
    return objects.CommitFacts(
        sha=info.sha,
        message=info.message,
        parents=info.parents,
        author_name=info.author_name,
        author_email=info.author_email,
        date=info.date,
    )


def branch_moved(
    sim: Simulator, call: Call, repo: Repo, *, branch: str, before: str | None
) -> None:
    """After BRANCH moved: its open pull request follows, and GitHub says `synchronize`."""
    from pangeo_forge_orchestrator.sandbox.routes.pulls import announce

    repo.pushed_at = sim.now()
    pull = repo.open_pull_from(branch)
    after = sim.git.branches(repo.owner, repo.name).get(branch)
    if pull is None or after is None or after == pull.head_sha:
        return
    pull.head_sha = after
    pull.updated_at = sim.now()
    announce(sim, repo, pull, action="synchronize", sender=call.identity.login, before=before)
