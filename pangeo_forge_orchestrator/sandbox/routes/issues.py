"""Comments on pull requests (GitHub's issue comments) and their reactions."""

from __future__ import annotations

from pangeo_forge_orchestrator.sandbox import objects, webhook_payloads
from pangeo_forge_orchestrator.sandbox.routing import (
    Call,
    NotFoundError,
    Response,
    Unprocessable,
    found,
    page,
    route,
)
from pangeo_forge_orchestrator.sandbox.simulator import Simulator
from pangeo_forge_orchestrator.sandbox.state import Comment, Reaction, Repo

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def comment_json(sim: Simulator, repo: Repo, comment: Comment) -> objects.JSON:
    return objects.issue_comment(
        sim.urls,
        full_name=repo.full_name,
        comment_id=comment.id,
        issue_number=comment.issue_number,
        body=comment.body,
        user_login=comment.user,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
        author_association=association(sim, repo, comment.user),
    )


def association(sim: Simulator, repo: Repo, login: str) -> str:
    """How GitHub describes the commenter's relation to the repository."""
    if login.endswith("[bot]"):
        return "NONE"
    if login in sim.state.org_owners.get(repo.owner.lower(), []):
        return "MEMBER"
    if login == repo.owner:
        return "OWNER"
    return "COLLABORATOR" if login in repo.permissions else "NONE"


def reaction_json(sim: Simulator, reaction: Reaction) -> objects.JSON:
    return objects.reaction(
        sim.urls,
        reaction_id=reaction.id,
        content=reaction.content,
        user_login=reaction.user,
        created_at=reaction.created_at,
    )


def find_comment(sim: Simulator, call: Call) -> tuple[Repo, Comment]:
    repo = sim.repo_of(call)
    return repo, found(repo.comments, call.int_param("comment_id"))


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_comments(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    number = call.int_param("issue_number")
    if number not in repo.pulls:
        raise NotFoundError
    items = [comment_json(sim, repo, c) for c in repo.comments.values() if c.issue_number == number]
    return page(call, items, api_url=sim.urls.api)


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def create_comment(sim: Simulator, call: Call) -> Response:
    """Comment on a pull request; like GitHub, every comment is sent as a webhook to the App."""
    repo = sim.repo_of(call)
    pull = repo.pulls.get(call.int_param("issue_number"))
    if pull is None:
        raise NotFoundError  # the sandbox has pull requests only, no plain issues
    body = call.body.get("body")
    if not isinstance(body, str) or not body:
        raise Unprocessable("Validation Failed", resource="IssueComment", field="body")
    now = sim.now()
    comment = Comment(
        id=sim.state.new_id(),
        issue_number=pull.number,
        body=body,
        user=call.identity.login,
        created_at=now,
        updated_at=now,
    )
    repo.comments[comment.id] = comment
    data = comment_json(sim, repo, comment)
    if repo.installation_id is not None:
        payload = webhook_payloads.issue_comment_event(
            sim.urls,
            action="created",
            comment=data,
            pull=sim.pull_json(repo, pull),
            repo=sim.repo_json(repo),
            sender=comment.user,
            installation_id=repo.installation_id,
        )
        sim.emit("issue_comment", "created", payload, repo)
    return Response(201, data)


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(sim: Simulator, call: Call) -> Response:
    repo, comment = find_comment(sim, call)
    return Response(200, comment_json(sim, repo, comment))


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_comment(sim: Simulator, call: Call) -> Response:
    repo, comment = find_comment(sim, call)
    body = call.body.get("body")
    if not isinstance(body, str) or not body:
        raise Unprocessable("Validation Failed", resource="IssueComment", field="body")
    comment.body, comment.updated_at = body, sim.now()
    return Response(200, comment_json(sim, repo, comment))


@route("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def delete_comment(sim: Simulator, call: Call) -> Response:
    repo, comment = find_comment(sim, call)
    del repo.comments[comment.id]
    repo.reactions.pop(comment.id, None)
    return Response(204)


@route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def list_reactions(sim: Simulator, call: Call) -> Response:
    repo, comment = find_comment(sim, call)
    reactions = repo.reactions.get(comment.id, [])
    if "content" in call.query:
        reactions = [r for r in reactions if r.content == call.query["content"]]
    return page(call, [reaction_json(sim, r) for r in reactions], api_url=sim.urls.api)


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def create_reaction(sim: Simulator, call: Call) -> Response:
    """Like GitHub: reacting twice with the same content returns the existing reaction (200)."""
    repo, comment = find_comment(sim, call)
    content = call.body.get("content")
    if content not in REACTIONS:
        raise Unprocessable("Validation Failed", resource="Reaction", field="content")
    reactions = repo.reactions.setdefault(comment.id, [])
    for reaction in reactions:
        if reaction.content == content and reaction.user == call.identity.login:
            return Response(200, reaction_json(sim, reaction))
    reaction = Reaction(
        id=sim.state.new_id(), content=content, user=call.identity.login, created_at=sim.now()
    )
    reactions.append(reaction)
    return Response(201, reaction_json(sim, reaction))
