"""Apply one GitHub effect, after looking for the result of an earlier attempt.

Jobs run at least once, so every effect is applied as "find, else make": check runs are found
by `external_id`, deployments by `payload.recipe_run_id`, comments by their hidden marker,
deployment statuses by state, pull requests by head branch; repositories, branches and files
answer "already there" themselves. The REST call itself comes from core.github_requests.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any, assert_never

from pangeo_forge_orchestrator.adapters.github import GitHubClient, NotFound, ValidationFailed
from pangeo_forge_orchestrator.core.effects import (
    AddReaction,
    CompleteCheckRun,
    CreateBranch,
    CreateCheckRun,
    CreateDeployment,
    CreateRepository,
    DeleteBranch,
    DeleteFile,
    GitHubEffect,
    MergePullRequest,
    OpenPullRequest,
    PostComment,
    PutFile,
    SetDeploymentStatus,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.github_requests import GitHubRequest, to_request
from pangeo_forge_orchestrator.core.messages import comment_marker

REPO = "/repos/{owner}/{repo}"
CHECK_RUNS_FOR_REF = REPO + "/commits/{ref}/check-runs{?check_name,per_page}"
ISSUE_COMMENTS = REPO + "/issues/{issue_number}/comments{?per_page}"
DEPLOYMENTS = REPO + "/deployments{?ref,environment,per_page}"
DEPLOYMENT_STATUSES = REPO + "/deployments/{deployment_id}/statuses{?per_page}"
CONTENTS = REPO + "/contents/{+path}{?ref}"
PULLS = REPO + "/pulls{?head,base,state,per_page}"
PULL_MERGE = REPO + "/pulls/{pull_number}/merge"
PER_PAGE = 100


async def apply_github_effect(
    gh: GitHubClient, effect: GitHubEffect, repo: RepositoryRef
) -> int | None:
    """Apply EFFECT to REPO unless it was applied before; the id it made or found, if any.

    The id is a check run's, a deployment's or a pull request's number; None otherwise.
    """
    where: dict[str, Any] = {"owner": repo.owner, "repo": repo.name}
    match effect:
        case CreateCheckRun():
            found = await _find_check_run(gh, effect, where)
            return found if found is not None else _id(await _send(gh, effect, repo))
        case CompleteCheckRun() | AddReaction():
            # Completing twice changes nothing; GitHub answers 200 to a repeated reaction.
            await _send(gh, effect, repo)
            return None
        case PostComment():
            if not await _comment_exists(gh, effect, where):
                await _send(gh, effect, repo)
            return None
        case CreateDeployment():
            found = await _find_deployment(gh, effect, where)
            return found if found is not None else _id(await _send(gh, effect, repo))
        case SetDeploymentStatus():
            if not await _deployment_status_exists(gh, effect, where):
                await _send(gh, effect, repo)
            return None
        case CreateRepository():
            try:
                await _send(gh, effect, repo)
            except ValidationFailed:
                # "name already exists": an earlier attempt made it; make sure it is there.
                await gh.getitem(REPO, {"owner": effect.owner, "repo": effect.name})
            return None
        case CreateBranch():
            with contextlib.suppress(ValidationFailed):  # "Reference already exists"
                await _send(gh, effect, repo)
            return None
        case PutFile():
            await _put_file(gh, effect, repo, where)
            return None
        case DeleteFile() | DeleteBranch():
            with contextlib.suppress(NotFound, ValidationFailed):  # already gone
                await _send(gh, effect, repo)
            return None
        case OpenPullRequest():
            found = await _find_pull(gh, effect, where)
            return found if found is not None else _number(await _send(gh, effect, repo))
        case MergePullRequest():
            if not await _is_merged(gh, effect, where):
                await _send(gh, effect, repo)
            return None
        case _:
            assert_never(effect)


async def _send(gh: GitHubClient, effect: GitHubEffect, repo: RepositoryRef) -> Any:
    request: GitHubRequest = to_request(effect, repo)
    body = dict(request.json_body) if request.json_body is not None else None
    match request.method:
        case "POST":
            return await gh.post(request.url_template, request.url_vars, data=body)
        case "PATCH":
            return await gh.patch(request.url_template, request.url_vars, data=body)
        case "PUT":
            return await gh.put(request.url_template, request.url_vars, data=body)
        case "DELETE":
            if body is None:
                return await gh.delete(request.url_template, request.url_vars)
            return await gh.delete(request.url_template, request.url_vars, data=body)
        case "GET":
            return await gh.getitem(request.url_template, request.url_vars)
        case _:
            assert_never(request.method)


def _id(data: Any) -> int:
    return int(data["id"])


def _number(data: Any) -> int:
    return int(data["number"])


async def _find_check_run(
    gh: GitHubClient, effect: CreateCheckRun, where: dict[str, Any]
) -> int | None:
    url_vars = {**where, "ref": effect.head_sha, "check_name": effect.name, "per_page": PER_PAGE}
    async for run in gh.getiter(CHECK_RUNS_FOR_REF, url_vars, iterable_key="check_runs"):
        if run.get("external_id") == effect.external_id:
            return int(run["id"])
    return None


async def _comment_exists(gh: GitHubClient, effect: PostComment, where: dict[str, Any]) -> bool:
    marker = comment_marker(effect.key)
    url_vars = {**where, "issue_number": effect.issue_number, "per_page": PER_PAGE}
    async for comment in gh.getiter(ISSUE_COMMENTS, url_vars):
        if marker in (comment.get("body") or ""):
            return True
    return False


async def _find_deployment(
    gh: GitHubClient, effect: CreateDeployment, where: dict[str, Any]
) -> int | None:
    url_vars = {**where, "ref": effect.ref, "environment": effect.environment, "per_page": PER_PAGE}
    async for deployment in gh.getiter(DEPLOYMENTS, url_vars):
        payload = deployment.get("payload")
        if isinstance(payload, str):  # GitHub returns a payload sent as a string as a string
            try:
                payload = json.loads(payload)
            except ValueError:
                continue
        if isinstance(payload, dict) and payload.get("recipe_run_id") == effect.recipe_run_id:
            return int(deployment["id"])
    return None


async def _deployment_status_exists(
    gh: GitHubClient, effect: SetDeploymentStatus, where: dict[str, Any]
) -> bool:
    url_vars = {**where, "deployment_id": effect.deployment_id, "per_page": PER_PAGE}
    async for status in gh.getiter(DEPLOYMENT_STATUSES, url_vars):
        if status.get("state") == effect.state:
            return True
    return False


async def _put_file(
    gh: GitHubClient, effect: PutFile, repo: RepositoryRef, where: dict[str, Any]
) -> None:
    try:
        existing = await gh.getitem(CONTENTS, {**where, "path": effect.path, "ref": effect.branch})
    except NotFound:
        existing = None
    if isinstance(existing, dict) and existing.get("type", "file") == "file":
        wanted = base64.b64decode(effect.content_base64)
        if base64.b64decode(existing.get("content") or "") == wanted:
            return
        if effect.blob_sha is None:
            effect = PutFile(
                path=effect.path,
                content_base64=effect.content_base64,
                message=effect.message,
                branch=effect.branch,
                blob_sha=str(existing["sha"]),
            )
    await _send(gh, effect, repo)


async def _find_pull(
    gh: GitHubClient, effect: OpenPullRequest, where: dict[str, Any]
) -> int | None:
    url_vars = {
        **where,
        "head": f"{where['owner']}:{effect.head}",
        "base": effect.base,
        "state": "all",
        "per_page": PER_PAGE,
    }
    async for pull in gh.getiter(PULLS, url_vars):
        # A PR closed unmerged cannot be merged: a new one is opened instead.
        usable = pull.get("state") == "open" or pull.get("merged_at") is not None
        if pull.get("head", {}).get("ref") == effect.head and usable:
            return int(pull["number"])
    return None


async def _is_merged(gh: GitHubClient, effect: MergePullRequest, where: dict[str, Any]) -> bool:
    try:
        await gh.getitem(PULL_MERGE, {**where, "pull_number": effect.number})
    except NotFound:
        return False
    return True
