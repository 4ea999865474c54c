"""Deployments, their statuses, and deployment environments.

As on GitHub, deploying to an environment that does not exist creates it, so GET finds
environments named by a deployment as well as those made with PUT.
"""

from __future__ import annotations

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.routing import (
    Call,
    NotFoundError,
    Response,
    Unprocessable,
    found,
    page,
    route,
)
from pangeo_forge_orchestrator.sandbox.simulator import Simulator, error
from pangeo_forge_orchestrator.sandbox.state import (
    Deployment,
    DeploymentStatus,
    Environment,
    Repo,
)

ENVIRONMENT = "/repos/{owner}/{repo}/environments/{environment_name}"
STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def deployment_json(sim: Simulator, repo: Repo, deployment: Deployment) -> objects.JSON:
    return objects.deployment(
        sim.urls,
        full_name=repo.full_name,
        deployment_id=deployment.id,
        sha=deployment.sha,
        ref=deployment.ref,
        task=deployment.task,
        environment=deployment.environment,
        description=deployment.description,
        payload=deployment.payload,
        creator=deployment.creator,
        created_at=deployment.created_at,
        updated_at=deployment.updated_at,
        transient_environment=deployment.transient_environment,
        production_environment=deployment.production_environment,
    )


def status_json(
    sim: Simulator, repo: Repo, deployment: Deployment, status: DeploymentStatus
) -> objects.JSON:
    return objects.deployment_status(
        sim.urls,
        full_name=repo.full_name,
        status_id=status.id,
        deployment_id=deployment.id,
        state=status.state,
        description=status.description,
        environment=status.environment,
        environment_url=status.environment_url,
        log_url=status.log_url,
        target_url=status.target_url,
        creator=status.creator,
        created_at=status.created_at,
        updated_at=status.created_at,
    )


def environment_json(sim: Simulator, repo: Repo, environment: Environment) -> objects.JSON:
    return objects.environment(
        sim.urls,
        full_name=repo.full_name,
        environment_id=environment.id,
        name=environment.name,
        created_at=environment.created_at,
        updated_at=environment.updated_at,
    )


def find_deployment(sim: Simulator, call: Call) -> tuple[Repo, Deployment]:
    repo = sim.repo_of(call)
    return repo, found(repo.deployments, call.int_param("deployment_id"))


def ensure_environment(sim: Simulator, repo: Repo, name: str) -> Environment:
    if name not in repo.environments:
        now = sim.now()
        repo.environments[name] = Environment(
            id=sim.state.new_id(), name=name, created_at=now, updated_at=now
        )
    return repo.environments[name]


@route("POST", "/repos/{owner}/{repo}/deployments")
def create_deployment(sim: Simulator, call: Call) -> Response:
    repo, body = sim.repo_of(call), call.body
    ref = str(body.get("ref", ""))
    sha = sim.git.resolve(repo.owner, repo.name, ref)
    if sha is None:
        raise Unprocessable(f"No ref found for: {ref}")
    environment = str(body.get("environment") or "production")
    now = sim.now()
    deployment = Deployment(
        id=sim.state.new_id(),
        sha=sha,
        ref=ref,
        task=str(body.get("task") or "deploy"),
        environment=environment,
        description=body.get("description"),
        payload=body.get("payload", {}),
        creator=call.identity.login,
        created_at=now,
        updated_at=now,
        transient_environment=bool(body.get("transient_environment", False)),
        production_environment=bool(
            body.get("production_environment", environment == "production")
        ),
    )
    repo.deployments[deployment.id] = deployment
    ensure_environment(sim, repo, environment)
    return Response(201, deployment_json(sim, repo, deployment))


@route("GET", "/repos/{owner}/{repo}/deployments")
def list_deployments(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    deployments = sorted(repo.deployments.values(), key=lambda d: d.id, reverse=True)
    for key in ("sha", "ref", "task", "environment"):
        if key in call.query:
            deployments = [d for d in deployments if getattr(d, key) == call.query[key]]
    return page(call, [deployment_json(sim, repo, d) for d in deployments], api_url=sim.urls.api)


@route("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}")
def get_deployment(sim: Simulator, call: Call) -> Response:
    repo, deployment = find_deployment(sim, call)
    return Response(200, deployment_json(sim, repo, deployment))


@route("DELETE", "/repos/{owner}/{repo}/deployments/{deployment_id}")
def delete_deployment(sim: Simulator, call: Call) -> Response:
    repo, deployment = find_deployment(sim, call)
    if deployment.statuses and deployment.statuses[-1].state != "inactive":
        return error(422, "We cannot delete an active deployment unless it is the only one")
    del repo.deployments[deployment.id]
    return Response(204)


@route("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
def create_deployment_status(sim: Simulator, call: Call) -> Response:
    repo, deployment = find_deployment(sim, call)
    body = call.body
    if body.get("state") not in STATES:
        raise Unprocessable("Validation Failed", resource="DeploymentStatus", field="state")
    target = str(body.get("target_url") or body.get("log_url") or "")
    status = DeploymentStatus(
        id=sim.state.new_id(),
        state=body["state"],
        description=str(body.get("description") or ""),
        environment=str(body.get("environment") or deployment.environment),
        environment_url=str(body.get("environment_url") or ""),
        log_url=str(body.get("log_url") or target),
        target_url=target,
        creator=call.identity.login,
        created_at=sim.now(),
    )
    deployment.statuses.append(status)
    deployment.updated_at = status.created_at
    return Response(201, status_json(sim, repo, deployment, status))


@route("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
def list_deployment_statuses(sim: Simulator, call: Call) -> Response:
    repo, deployment = find_deployment(sim, call)
    items = [status_json(sim, repo, deployment, s) for s in reversed(deployment.statuses)]
    return page(call, items, api_url=sim.urls.api)


@route("GET", ENVIRONMENT)
def get_environment(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    environment = repo.environments.get(call.params["environment_name"])
    if environment is None:
        raise NotFoundError
    return Response(200, environment_json(sim, repo, environment))


@route("PUT", ENVIRONMENT)
def put_environment(sim: Simulator, call: Call) -> Response:
    """Create or update: always 200, as GitHub answers both."""
    repo = sim.repo_of(call)
    environment = ensure_environment(sim, repo, call.params["environment_name"])
    environment.settings.update(call.body)
    environment.updated_at = sim.now()
    return Response(200, environment_json(sim, repo, environment))


@route("DELETE", ENVIRONMENT)
def delete_environment(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    if repo.environments.pop(call.params["environment_name"], None) is None:
        raise NotFoundError
    return Response(204)
