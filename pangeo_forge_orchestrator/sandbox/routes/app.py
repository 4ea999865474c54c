"""The App itself: installations, access tokens, webhook configuration and deliveries."""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.routing import Call, NotFoundError, Response, page, route
from pangeo_forge_orchestrator.sandbox.simulator import TOKEN_LIFETIME, Simulator, error
from pangeo_forge_orchestrator.sandbox.state import Delivery, Installation, Token


def installation_json(sim: Simulator, installation: Installation) -> objects.JSON:
    return objects.installation(
        sim.urls,
        installation_id=installation.id,
        app_id=sim.app_id,
        app_slug=sim.app_slug,
        account=installation.account,
        created_at=installation.created_at,
    )


@route("GET", "/app")
def get_app(sim: Simulator, call: Call) -> Response:
    owner = next(iter(sim.state.installations.values()), None)
    return Response(
        200,
        objects.app(
            sim.urls,
            app_id=sim.app_id,
            slug=sim.app_slug,
            owner=owner.account if owner else sim.app_slug,
            created_at=sim.app_created_at,
        ),
    )


@route("GET", "/app/installations")
def list_installations(sim: Simulator, call: Call) -> Response:
    items = [installation_json(sim, i) for i in sim.state.installations.values()]
    return page(call, items, api_url=sim.urls.api)


@route("POST", "/app/installations/{installation_id}/access_tokens")
def create_access_token(sim: Simulator, call: Call) -> Response:
    installation_id = call.int_param("installation_id")
    if installation_id not in sim.state.installations:
        return error(404, "Not Found")
    now = sim.now()
    # Expired tokens are dropped here, so state.json does not grow without bound.
    sim.state.tokens = {k: t for k, t in sim.state.tokens.items() if t.expires_at > now}
    token = Token(
        token=f"ghs_{secrets.token_hex(18)}",
        installation_id=installation_id,
        expires_at=now + TOKEN_LIFETIME,
    )
    sim.state.tokens[token.token] = token
    return Response(201, objects.installation_token(token=token.token, expires_at=token.expires_at))


@route("GET", "/repos/{owner}/{repo}/installation")
def get_repo_installation(sim: Simulator, call: Call) -> Response:
    repo = sim.repo_of(call)
    installation = sim.state.installations.get(repo.installation_id or -1)
    if installation is None:
        raise NotFoundError
    return Response(200, installation_json(sim, installation))


@route("GET", "/installation/repositories")
def list_installation_repos(sim: Simulator, call: Call) -> Response:
    if call.identity.kind != "installation":
        return error(403, "Resource not accessible by integration")
    repos = [
        sim.repo_json(r)
        for r in sim.state.repos.values()
        if r.installation_id == call.identity.installation_id
    ]
    return page(call, repos, api_url=sim.urls.api, key="repositories")


@route("GET", "/app/hook/config")
def get_hook_config(sim: Simulator, call: Call) -> Response:
    return Response(200, objects.hook_config(url=sim.state.hook_url))


@route("PATCH", "/app/hook/config")
def update_hook_config(sim: Simulator, call: Call) -> Response:
    if isinstance(call.body.get("url"), str):
        sim.state.hook_url = call.body["url"]
    return Response(200, objects.hook_config(url=sim.state.hook_url))


def delivery_item(delivery: Delivery) -> objects.JSON:
    return objects.hook_delivery_item(
        delivery_id=delivery.id,
        guid=delivery.guid,
        delivered_at=delivery.delivered_at,
        status_code=delivery.status_code,
        event=delivery.event,
        action=delivery.action,
        installation_id=delivery.installation_id,
        repository_id=delivery.repository_id,
        redelivery=delivery.redelivery,
        duration=delivery.duration,
    )


@route("GET", "/app/hook/deliveries")
def list_deliveries(sim: Simulator, call: Call) -> Response:
    """Newest first, paged by an opaque cursor as GitHub does (no `page` parameter)."""
    items = sorted(sim.state.deliveries, key=lambda d: (d.delivered_at, d.id), reverse=True)
    if "status" in call.query:
        wanted = call.query["status"] == "success"
        items = [d for d in items if (0 < d.status_code < 400) == wanted]
    per_page = max(1, min(int(call.query.get("per_page", "30") or 30), 100))
    cursor = call.query.get("cursor", "v1_0").removeprefix("v1_")
    start = int(cursor) if cursor.isdigit() else 0
    chunk = items[start : start + per_page]
    headers = {}
    if start + per_page < len(items):
        query = urlencode({**call.query, "cursor": f"v1_{start + per_page}"})
        headers["link"] = f'<{sim.urls.api}{call.request.path}?{query}>; rel="next"'
    body = [delivery_item(d) for d in chunk]
    return Response(200, body, headers)


@route("GET", "/app/hook/deliveries/{delivery_id}")
def get_delivery(sim: Simulator, call: Call) -> Response:
    wanted = call.int_param("delivery_id")
    found = next((d for d in sim.state.deliveries if d.id == wanted), None)
    if found is None:
        raise NotFoundError
    item = delivery_item(found)
    headers = {k: v for k, v in found.headers.items() if k != "x-hub-signature-256"}
    return Response(
        200,
        objects.hook_delivery(
            item,
            url=sim.state.hook_url,
            request_headers=headers,
            request_payload=json.loads(found.body) if found.body else None,
            response_headers={},
            response_body=None,
        ),
    )


@route("POST", "/app/hook/deliveries/{delivery_id}/attempts")
def redeliver(sim: Simulator, call: Call) -> Response:
    wanted = call.int_param("delivery_id")
    original = next((d for d in sim.state.deliveries if d.id == wanted), None)
    if original is None or sim.redeliver is None:
        raise NotFoundError
    sim.redeliver(original)
    return Response(202, {})
