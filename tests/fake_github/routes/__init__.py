"""The fake's routes, one function per GitHub operation, keyed by (METHOD, path template).

Add an operation: in the module of its area, write `@get("/the/{template}")` (or post, patch,
put, delete) on a function taking the fake and the Call and returning an httpx.Response shaped
like GitHub's (start from `gh.example(...)`); a new module is imported at the bottom here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, FakeRepo

Route = Callable[[FakeGitHub, Call], httpx.Response]
ROUTES: dict[tuple[str, str], Route] = {}


def route(method: str, template: str) -> Callable[[Route], Route]:
    def register(handler: Route) -> Route:
        ROUTES[(method, template)] = handler
        return handler

    return register


# Routes that supersede a simpler one registered elsewhere, applied once every module is
# imported so that import order (which ruff sorts) cannot decide which handler wins.
REPLACEMENTS: dict[tuple[str, str], Route] = {}


def replace(method: str, template: str) -> Callable[[Route], Route]:
    """Register HANDLER in place of the route METHOD TEMPLATE of another module."""

    def register(handler: Route) -> Route:
        REPLACEMENTS[(method, template)] = guard(handler)
        return handler

    return register


def validation_failed(gh: FakeGitHub, message: str, /, **error: str) -> httpx.Response:
    """GitHub's 422: MESSAGE at the top, ERROR (resource, field, code, message) in `errors`."""
    return gh.error(422, message, errors=[error] if error else None)


def repo_or_404(gh: FakeGitHub, call: Call) -> FakeRepo:
    repo = gh.repo_of(call)
    if repo is None:
        raise NotFoundError
    return repo


class NotFoundError(Exception):
    """Raised by lookups; the route answers GitHub's 404."""


def find(mapping: dict[Any, Any], key: Any) -> Any:
    if key not in mapping:
        raise NotFoundError
    return mapping[key]


def int_param(call: Call, name: str) -> int:
    return int(call.path_params[name])


def guard(handler: Route) -> Route:
    """Answer GitHub's 404 when a handler looks up something that does not exist."""

    def guarded(gh: FakeGitHub, call: Call) -> httpx.Response:
        try:
            return handler(gh, call)
        except NotFoundError:
            return gh.error(404, "Not Found")

    return guarded


def get(template: str) -> Callable[[Route], Route]:
    return lambda handler: route("GET", template)(guard(handler))


def post(template: str) -> Callable[[Route], Route]:
    return lambda handler: route("POST", template)(guard(handler))


def patch(template: str) -> Callable[[Route], Route]:
    return lambda handler: route("PATCH", template)(guard(handler))


def put(template: str) -> Callable[[Route], Route]:
    return lambda handler: route("PUT", template)(guard(handler))


def delete(template: str) -> Callable[[Route], Route]:
    return lambda handler: route("DELETE", template)(guard(handler))


# Registering happens on import; these modules use the helpers above.
from tests.fake_github.routes import (  # noqa: E402
    app,
    checks,
    contents,
    deployments,
    environments,
    git,
    issues,
    orgs,
    pulls_write,
    repos,
)

ROUTES.update(REPLACEMENTS)

__all__ = [
    "ROUTES",
    "app",
    "checks",
    "contents",
    "deployments",
    "environments",
    "git",
    "issues",
    "orgs",
    "pulls_write",
    "repos",
]
