"""Each GitHub effect as the REST request that applies it: method, URL template, body.

URL templates are GitHub's own paths (RFC 6570, as `gidgethub.sansio.format_url` expands
them); `{+path}` and `{+ref}` keep the slashes of file paths and refs. Values go in
`url_vars`, never into the template string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, assert_never

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
from pangeo_forge_orchestrator.core.messages import comment_marker

Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
REPO = "/repos/{owner}/{repo}"
# GitHub limits a deployment status description to 140 characters.
DEPLOYMENT_DESCRIPTION_LIMIT = 140


@dataclass(frozen=True, slots=True, kw_only=True)
class GitHubRequest:
    method: Method
    url_template: str
    url_vars: Mapping[str, str] = field(default_factory=dict)
    json_body: Mapping[str, Any] | None = None


def to_request(effect: GitHubEffect, repo: RepositoryRef) -> GitHubRequest:
    """The REST call that applies `effect` to `repo` (the organisation, for a new repo)."""
    where = {"owner": repo.owner, "repo": repo.name}
    match effect:
        case CreateCheckRun():
            return _post(f"{REPO}/check-runs", where, _check_run_body(effect))
        case CompleteCheckRun():
            body = {
                "status": "completed",
                "conclusion": effect.conclusion.value,
                "output": {"title": effect.title, "summary": effect.summary},
            }
            return GitHubRequest(
                method="PATCH",
                url_template=f"{REPO}/check-runs/{{check_run_id}}",
                url_vars={**where, "check_run_id": str(effect.check_run_id)},
                json_body=body,
            )
        case PostComment():
            body_text = f"{effect.body}\n\n{comment_marker(effect.key)}"
            vars_ = {**where, "issue_number": str(effect.issue_number)}
            return _post(f"{REPO}/issues/{{issue_number}}/comments", vars_, {"body": body_text})
        case AddReaction():
            vars_ = {**where, "comment_id": str(effect.comment_id)}
            url = f"{REPO}/issues/comments/{{comment_id}}/reactions"
            return _post(url, vars_, {"content": effect.content})
        case CreateDeployment():
            return _post(f"{REPO}/deployments", where, _deployment_body(effect))
        case SetDeploymentStatus():
            body = {
                "state": effect.state,
                "environment_url": effect.environment_url,
                "log_url": effect.log_url,
                "description": effect.description[:DEPLOYMENT_DESCRIPTION_LIMIT],
            }
            vars_ = {**where, "deployment_id": str(effect.deployment_id)}
            return _post(f"{REPO}/deployments/{{deployment_id}}/statuses", vars_, body)
        case CreateRepository():
            return _create_repository(effect)
        case CreateBranch():
            body = {"ref": f"refs/heads/{effect.branch}", "sha": effect.sha}
            return _post(f"{REPO}/git/refs", where, body)
        case PutFile():
            body = {"message": effect.message, "content": effect.content_base64}
            body["branch"] = effect.branch
            if effect.blob_sha is not None:
                body["sha"] = effect.blob_sha
            return GitHubRequest(
                method="PUT",
                url_template=f"{REPO}/contents/{{+path}}",
                url_vars={**where, "path": effect.path},
                json_body=body,
            )
        case DeleteFile():
            body = {"message": effect.message, "sha": effect.blob_sha, "branch": effect.branch}
            return GitHubRequest(
                method="DELETE",
                url_template=f"{REPO}/contents/{{+path}}",
                url_vars={**where, "path": effect.path},
                json_body=body,
            )
        case OpenPullRequest():
            body = {
                "title": effect.title,
                "head": effect.head,
                "base": effect.base,
                "body": effect.body,
            }
            return _post(f"{REPO}/pulls", where, body)
        case MergePullRequest():
            return GitHubRequest(
                method="PUT",
                url_template=f"{REPO}/pulls/{{pull_number}}/merge",
                url_vars={**where, "pull_number": str(effect.number)},
                json_body={
                    "commit_title": effect.commit_title,
                    "merge_method": effect.merge_method,
                },
            )
        case DeleteBranch():
            return GitHubRequest(
                method="DELETE",
                url_template=f"{REPO}/git/refs/{{+ref}}",
                url_vars={**where, "ref": f"heads/{effect.branch}"},
            )
        case _:
            assert_never(effect)


def _post(url_template: str, url_vars: Mapping[str, str], body: Mapping[str, Any]) -> GitHubRequest:
    return GitHubRequest(
        method="POST", url_template=url_template, url_vars=url_vars, json_body=body
    )


def _check_run_body(effect: CreateCheckRun) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": effect.name,
        "head_sha": effect.head_sha,
        "external_id": effect.external_id,
        "status": effect.status,
        "output": {"title": effect.title, "summary": effect.summary},
    }
    if effect.details_url is not None:
        body["details_url"] = effect.details_url
    if effect.conclusion is not None:
        body["conclusion"] = effect.conclusion.value
    return body


def _deployment_body(effect: CreateDeployment) -> dict[str, Any]:
    return {
        "ref": effect.ref,
        "environment": effect.environment,
        "description": effect.description,
        "required_contexts": list(effect.required_contexts),
        "auto_merge": effect.auto_merge,
        "production_environment": effect.production_environment,
        "payload": {"recipe_run_id": effect.recipe_run_id},
    }


def _create_repository(effect: CreateRepository) -> GitHubRequest:
    body = {
        "name": effect.name,
        "description": effect.description,
        "homepage": effect.homepage,
        "private": False,
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        # auto_init gives the repo its first commit (with licence and .gitignore) to branch from.
        "auto_init": True,
        "gitignore_template": effect.gitignore_template,
        "license_template": effect.license_template,
    }
    if effect.owner_is_org:
        return _post("/orgs/{org}/repos", {"org": effect.owner}, body)
    return _post("/user/repos", {}, body)
