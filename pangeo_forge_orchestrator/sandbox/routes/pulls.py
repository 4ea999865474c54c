"""Pull requests between branches of one repository: open, list, edit, files, merge.

A pull request's changes are the difference between its base commit (the base branch's head
when it was opened) and its head; merging applies exactly those changes to the base branch's
current files in a new commit whose second parent is the head, so the head stays reachable
(and clonable) after its branch is deleted.
"""

from __future__ import annotations

from pangeo_forge_orchestrator.sandbox import objects, webhook_payloads
from pangeo_forge_orchestrator.sandbox.diffs import changes
from pangeo_forge_orchestrator.sandbox.routes.common import author_of, require_write
from pangeo_forge_orchestrator.sandbox.routing import (
    Call,
    Response,
    Unprocessable,
    found,
    page,
    route,
)
from pangeo_forge_orchestrator.sandbox.simulator import Simulator, error
from pangeo_forge_orchestrator.sandbox.state import Pull, Repo

MERGED = "Pull Request successfully merged"
NOT_MERGEABLE = "Pull Request is not mergeable"
HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."


def announce(
    sim: Simulator, repo: Repo, pull: Pull, *, action: str, sender: str, before: str | None = None
) -> None:
    """Send the `pull_request` webhook GitHub sends for ACTION."""
    if repo.installation_id is None:
        return
    payload = webhook_payloads.pull_request_event(
        sim.urls,
        action=action,
        pull=sim.pull_json(repo, pull),
        repo=sim.repo_json(repo),
        sender=sender or sim.bot_login,
        installation_id=repo.installation_id,
        before=before,
        after=pull.head_sha if before else None,
    )
    sim.emit("pull_request", action, payload, repo)


def find_pull(sim: Simulator, call: Call) -> tuple[Repo, Pull]:
    repo = sim.repo_of(call)
    return repo, found(repo.pulls, call.int_param("pull_number"))


def _invalid(field: str) -> Unprocessable:
    return Unprocessable("Validation Failed", resource="PullRequest", field=field, code="invalid")


@route("POST", "/repos/{owner}/{repo}/pulls")
def create_pull(sim: Simulator, call: Call) -> Response:
    repo, body = sim.repo_of(call), call.body
    owner, _, head = str(body.get("head", "")).rpartition(":")
    base = str(body.get("base", ""))
    heads = sim.git.branches(repo.owner, repo.name)
    if owner not in ("", repo.owner) or head not in heads:
        raise _invalid("head")
    if base not in heads:
        raise _invalid("base")
    if repo.open_pull_from(head) is not None:
        raise Unprocessable(
            "Validation Failed",
            resource="PullRequest",
            code="custom",
            message=f"A pull request already exists for {repo.owner}:{head}.",
        )
    if sim.git.is_ancestor(repo.owner, repo.name, heads[head], heads[base]):
        raise Unprocessable(
            "Validation Failed",
            resource="PullRequest",
            code="custom",
            message=f"No commits between {base} and {head}",
        )
    now = sim.now()
    pull = Pull(
        id=sim.state.new_id(),
        number=max([0, *repo.pulls]) + 1,
        title=str(body.get("title") or head),
        body=body.get("body"),
        user=call.identity.login,
        draft=bool(body.get("draft", False)),
        head_ref=head,
        head_sha=heads[head],
        base_ref=base,
        base_sha=heads[base],
        created_at=now,
        updated_at=now,
    )
    repo.pulls[pull.number] = pull
    announce(sim, repo, pull, action="opened", sender=call.identity.login)
    return Response(201, sim.pull_json(repo, pull))


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(sim: Simulator, call: Call) -> Response:
    """Filtered by state, base and `owner:branch` head (a bare `head` filters nothing)."""
    repo, query = sim.repo_of(call), call.query
    state = query.get("state", "open")
    pulls = [p for p in repo.pulls.values() if state in ("all", p.state)]
    if "base" in query:
        pulls = [p for p in pulls if p.base_ref == query["base"]]
    if ":" in query.get("head", ""):
        pulls = [p for p in pulls if f"{repo.owner}:{p.head_ref}" == query["head"]]
    pulls.sort(key=lambda p: p.number, reverse=query.get("direction", "desc") == "desc")
    return page(call, [sim.pull_json(repo, p) for p in pulls], api_url=sim.urls.api)


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(sim: Simulator, call: Call) -> Response:
    repo, pull = find_pull(sim, call)
    return Response(200, sim.pull_json(repo, pull))


@route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}")
def update_pull(sim: Simulator, call: Call) -> Response:
    repo, pull = find_pull(sim, call)
    # GitHub lets the author edit, close and reopen their pull request; others need write.
    if call.identity.login != pull.user:
        require_write(sim, call, repo)
    body = call.body
    action = None
    if body.get("state") == "open" and pull.state == "closed":
        if pull.merged_at is not None or repo.open_pull_from(pull.head_ref) is not None:
            raise Unprocessable("Validation Failed", resource="PullRequest", code="custom")
        pull.state, pull.closed_at, action = "open", None, "reopened"
    elif body.get("state") == "closed" and pull.state == "open":
        pull.state, pull.closed_at, action = "closed", sim.now(), "closed"
    for key in ("title", "body"):
        if key in body:
            setattr(pull, key, body[key])
    if isinstance(body.get("base"), str):
        pull.base_ref = body["base"]
    pull.updated_at = sim.now()
    if action is not None:
        announce(sim, repo, pull, action=action, sender=call.identity.login)
    return Response(200, sim.pull_json(repo, pull))


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files")
def list_pull_files(sim: Simulator, call: Call) -> Response:
    repo, pull = find_pull(sim, call)
    entries = [
        objects.diff_entry(
            sim.urls,
            full_name=repo.full_name,
            filename=c.filename,
            status=c.status,
            blob_sha=c.blob_sha,
            additions=c.additions,
            deletions=c.deletions,
            ref=pull.head_sha,
        )
        for c in changes(sim.git, repo, pull)
    ]
    return page(call, entries, api_url=sim.urls.api)


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def check_merged(sim: Simulator, call: Call) -> Response:
    _, pull = find_pull(sim, call)
    return Response(204) if pull.merged_at is not None else error(404, "Not Found")


@route("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def merge_pull(sim: Simulator, call: Call) -> Response:
    """Merge: 405 unless open and its base exists; 409 when `sha` is not the head any more."""
    repo, pull = find_pull(sim, call)
    require_write(sim, call, repo)
    body = call.body
    base_head = sim.git.branches(repo.owner, repo.name).get(pull.base_ref)
    if pull.state != "open" or base_head is None:
        return error(405, NOT_MERGEABLE)
    if body.get("sha") not in (None, pull.head_sha):
        return error(409, HEAD_MODIFIED)
    files = dict(sim.git.tree(repo.owner, repo.name, base_head) or {})
    head_files = sim.git.tree(repo.owner, repo.name, pull.head_sha) or {}
    for change in changes(sim.git, repo, pull):
        if change.status == "removed":
            files.pop(change.filename, None)
        else:
            files[change.filename] = head_files[change.filename]
    method = body.get("merge_method", "merge")
    label = f"{repo.owner}/{pull.head_ref}"
    message = body.get("commit_title") or f"Merge pull request #{pull.number} from {label}"
    parents = (base_head, pull.head_sha) if method == "merge" else (base_head,)
    now = sim.now()
    sha = sim.git.commit(
        repo.owner,
        repo.name,
        files=files,
        message=str(message),
        parents=parents,
        author=author_of(call, sim),
        when=now,
        branch=pull.base_ref,
    )
    if method != "merge":
        # Squash and rebase leave the head unreachable from main: keep it clonable by name.
        sim.git.set_branch(repo.owner, repo.name, f"sandbox/pull-{pull.number}-head", pull.head_sha)
    pull.state, pull.merged_at, pull.closed_at, pull.updated_at = "closed", now, now, now
    pull.merge_commit_sha, pull.merged_by = sha, call.identity.login
    repo.pushed_at = now
    announce(sim, repo, pull, action="closed", sender=call.identity.login)
    return Response(200, {"sha": sha, "merged": True, "message": MERGED})
