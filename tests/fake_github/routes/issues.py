"""Fake routes of issue comments and their reactions."""

from __future__ import annotations

import httpx

from tests.fake_github.routes import delete, find, get, int_param, patch, post, repo_or_404
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call


@get("/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_comments(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.paged(call, repo_or_404(gh, call).comments_on(int_param(call, "issue_number")))


@post("/repos/{owner}/{repo}/issues/{issue_number}/comments")
def create_comment(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    number = int_param(call, "issue_number")
    comment = gh.example("issue-comment", rename={"octocat/Hello-World": repo.full_name})
    comment_id = gh.next_id()
    comment.update(
        id=comment_id,
        body=call.body["body"],
        user=gh.user(f"app-{gh.app_id}[bot]"),
        created_at=gh.now_iso(),
        updated_at=gh.now_iso(),
        author_association="NONE",
        url=f"{gh.repo_url(repo)}/issues/comments/{comment_id}",
        issue_url=f"{gh.repo_url(repo)}/issues/{number}",
        html_url=f"https://github.com/{repo.full_name}/pull/{number}#issuecomment-{comment_id}",
    )
    repo.comments[comment_id] = comment
    return gh.json(201, comment)


@get("/repos/{owner}/{repo}/issues/comments/{comment_id}")
def get_comment(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.json(200, find(repo_or_404(gh, call).comments, int_param(call, "comment_id")))


@patch("/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_comment(gh: FakeGitHub, call: Call) -> httpx.Response:
    comment = find(repo_or_404(gh, call).comments, int_param(call, "comment_id"))
    comment.update(body=call.body["body"], updated_at=gh.now_iso())
    return gh.json(200, comment)


@delete("/repos/{owner}/{repo}/issues/comments/{comment_id}")
def delete_comment(gh: FakeGitHub, call: Call) -> httpx.Response:
    comments, comment_id = repo_or_404(gh, call).comments, int_param(call, "comment_id")
    find(comments, comment_id)
    del comments[comment_id]
    return httpx.Response(204)


@get("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def list_reactions(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    comment_id = int_param(call, "comment_id")
    _ = find(repo.comments, comment_id)
    reactions = repo.reactions.get(comment_id, [])
    if "content" in call.query:
        reactions = [r for r in reactions if r["content"] == call.query["content"]]
    return gh.paged(call, reactions)


@post("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def create_reaction(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Like GitHub: reacting twice with the same content returns the existing reaction (200)."""
    repo = repo_or_404(gh, call)
    comment_id = int_param(call, "comment_id")
    _ = find(repo.comments, comment_id)
    login = f"app-{gh.app_id}[bot]"
    reactions = repo.reactions.setdefault(comment_id, [])
    for reaction in reactions:
        if reaction["content"] == call.body["content"] and reaction["user"]["login"] == login:
            return gh.json(200, reaction)
    reaction = gh.example("reaction")
    reaction.update(
        id=gh.next_id(), content=call.body["content"], user=gh.user(login), created_at=gh.now_iso()
    )
    reactions.append(reaction)
    return gh.json(201, reaction)
