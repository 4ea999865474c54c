"""GitHub's JSON objects, part 6: check runs, commit statuses, deployments, environments."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pangeo_forge_orchestrator.sandbox.objects_base import (
    JSON,
    Urls,
    iso,
    iso_or_none,
    node_id,
    stable_id,
    user,
)
from pangeo_forge_orchestrator.sandbox.objects_pulls import pull_request_minimal

CHECK_STATUSES = frozenset(
    {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
)
CHECK_CONCLUSIONS = frozenset(
    {"success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"}
)
COMMIT_STATES = frozenset({"error", "failure", "pending", "success"})
DEPLOYMENT_STATES = frozenset(
    {"error", "failure", "inactive", "pending", "success", "queued", "in_progress"}
)


def check_run(
    urls: Urls,
    *,
    full_name: str,
    check_run_id: int,
    app: Mapping[str, Any],
    name: str,
    head_sha: str,
    status: str,
    conclusion: str | None,
    started_at: datetime | None,
    completed_at: datetime | None,
    details_url: str | None,
    external_id: str | None,
    output: Mapping[str, Any] | None,
    actions: Sequence[Mapping[str, Any]] = (),
    check_suite_id: int | None = None,
    pull_requests: Sequence[Mapping[str, Any]] = (),
) -> JSON:
    """A check run (POST/PATCH/GET check-runs); `pull_requests` are full pull request objects.

    `actions` (the requested-action buttons) are accepted but, as on GitHub, not echoed back.
    Raises ValueError unless a conclusion is given exactly when the run is completed.
    """
    del actions  # GitHub shows the buttons on the check page; the API object has no field
    if status not in CHECK_STATUSES:
        raise ValueError(f"unknown check run status {status!r}")
    if (status == "completed") != (conclusion is not None):
        raise ValueError("a check run has a conclusion exactly when it is completed")
    if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
        raise ValueError(f"unknown check run conclusion {conclusion!r}")
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    given = output or {}
    if check_suite_id is None:
        # GitHub makes one suite per (app, head commit): derive it so it is stable too.
        check_suite_id = stable_id(f"suite {full_name}@{head_sha} app {app['id']}")
    return {
        "id": check_run_id,
        "node_id": node_id("CheckRun", check_run_id),
        "head_sha": head_sha,
        "external_id": external_id,
        "url": f"{api}/check-runs/{check_run_id}",
        "html_url": f"{web}/runs/{check_run_id}",
        "details_url": details_url,
        "status": status,
        "conclusion": conclusion,
        "started_at": iso_or_none(started_at),
        "completed_at": iso_or_none(completed_at),
        "output": {
            "title": given.get("title"),
            "summary": given.get("summary"),
            "text": given.get("text"),
            "annotations_count": len(given.get("annotations") or ()),
            "annotations_url": f"{api}/check-runs/{check_run_id}/annotations",
        },
        "name": name,
        "check_suite": {"id": check_suite_id},
        "app": dict(app),
        "pull_requests": [pull_request_minimal(p) for p in pull_requests],
    }


def check_run_list(runs: Sequence[Mapping[str, Any]]) -> JSON:
    """GET commits/{ref}/check-runs: the runs of one commit with their count."""
    return {"total_count": len(runs), "check_runs": [dict(r) for r in runs]}


def commit_status(
    urls: Urls,
    *,
    full_name: str,
    status_id: int,
    sha: str,
    state: str,
    description: str | None,
    target_url: str | None,
    context: str,
    creator: str,
    created_at: datetime,
) -> JSON:
    """A commit status (POST statuses/{sha}, 201)."""
    if state not in COMMIT_STATES:
        raise ValueError(f"unknown commit status state {state!r}")
    who = user(urls, creator)
    return {
        "url": f"{urls.repo_api(full_name)}/statuses/{sha}",
        "avatar_url": who["avatar_url"],
        "id": status_id,
        "node_id": node_id("StatusContext", status_id),
        "state": state,
        "description": description,
        "target_url": target_url,
        "context": context,
        "created_at": iso(created_at),
        "updated_at": iso(created_at),
        "creator": who,
    }


def deployment(
    urls: Urls,
    *,
    full_name: str,
    deployment_id: int,
    sha: str,
    ref: str,
    task: str,
    environment: str,
    description: str | None,
    payload: Any,
    creator: str,
    created_at: datetime,
    updated_at: datetime,
    transient_environment: bool,
    production_environment: bool,
    app: Mapping[str, Any] | None = None,
) -> JSON:
    """A deployment; `payload` is kept as given when an object or a string, else JSON-encoded."""
    api = urls.repo_api(full_name)
    url = f"{api}/deployments/{deployment_id}"
    body: JSON = {
        "url": url,
        "id": deployment_id,
        "node_id": node_id("Deployment", deployment_id),
        "sha": sha,
        "ref": ref,
        "task": task,
        "payload": payload if isinstance(payload, dict | str) else json.dumps(payload),
        "original_environment": environment,
        "environment": environment,
        "description": description,
        "creator": user(urls, creator),
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "statuses_url": f"{url}/statuses",
        "repository_url": api,
        "transient_environment": transient_environment,
        "production_environment": production_environment,
    }
    if app is not None:
        body["performed_via_github_app"] = dict(app)
    return body


def deployment_status(
    urls: Urls,
    *,
    full_name: str,
    status_id: int,
    deployment_id: int,
    state: str,
    description: str,
    environment: str,
    environment_url: str,
    log_url: str,
    target_url: str,
    creator: str,
    created_at: datetime,
    updated_at: datetime,
    app: Mapping[str, Any] | None = None,
) -> JSON:
    """One status of a deployment; GitHub writes "" for URLs that were not given."""
    if state not in DEPLOYMENT_STATES:
        raise ValueError(f"unknown deployment state {state!r}")
    api = urls.repo_api(full_name)
    deployment_url = f"{api}/deployments/{deployment_id}"
    body: JSON = {
        "url": f"{deployment_url}/statuses/{status_id}",
        "id": status_id,
        "node_id": node_id("DeploymentStatus", status_id),
        "state": state,
        "creator": user(urls, creator),
        "description": description,
        "environment": environment,
        "target_url": target_url,
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "deployment_url": deployment_url,
        "repository_url": api,
        "environment_url": environment_url,
        "log_url": log_url,
    }
    if app is not None:
        body["performed_via_github_app"] = dict(app)
    return body


def environment(
    urls: Urls,
    *,
    full_name: str,
    environment_id: int,
    name: str,
    created_at: datetime,
    updated_at: datetime,
) -> JSON:
    """A deployment environment with no protection rules (GET/PUT environments/{name})."""
    qname = quote(name, safe="")
    activity = f"{urls.repo_web(full_name)}/deployments/activity_log"
    return {
        "id": environment_id,
        "node_id": node_id("Environment", environment_id),
        "name": name,
        "url": f"{urls.repo_api(full_name)}/environments/{qname}",
        "html_url": f"{activity}?environments_filter={qname}",
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "protection_rules": [],
        "deployment_branch_policy": None,
    }
