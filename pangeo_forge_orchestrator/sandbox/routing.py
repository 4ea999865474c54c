"""The simulator's requests, answers and route table: one function per GitHub operation.

A route is `@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")` on a function taking the
simulator and the matched Call. Path parameters named `path`, `ref` or `branch` may span several
segments, as on GitHub (`contents/feedstock/meta.yaml`, `git/refs/heads/feature/x`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, unquote, urlencode

if TYPE_CHECKING:
    from pangeo_forge_orchestrator.sandbox.simulator import Simulator

K = TypeVar("K")
V = TypeVar("V")
MULTI_SEGMENT = frozenset({"path", "ref", "branch"})
_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Identity:
    """Who made a request: the App (JWT), one of its installations (token) or a sandbox user."""

    kind: str  # "app" | "installation" | "user"
    login: str
    installation_id: int | None = None


@dataclass
class Request:
    method: str
    path: str  # relative to the API root, starting with "/"
    query: dict[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: Any = None
    raw: bytes = b""


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """A request matched to its operation, with the caller authenticated."""

    request: Request
    template: str
    params: dict[str, str]
    identity: Identity

    @property
    def query(self) -> dict[str, str]:
        return self.request.query

    @property
    def body(self) -> Any:
        return self.request.body if self.request.body is not None else {}

    def int_param(self, name: str) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise NotFoundError
        return int(value)


Handler = Callable[["Simulator", Call], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str]
    literal_segments: int


ROUTES: list[Route] = []


class NotFoundError(Exception):
    """A lookup found nothing: the route answers GitHub's 404."""


def found(items: Mapping[K, V], key: K) -> V:
    """ITEMS[KEY], or NotFoundError (GitHub's 404) when there is none."""
    if key not in items:
        raise NotFoundError
    return items[key]


class Unprocessable(Exception):  # noqa: N818 -- GitHub's "422 Validation Failed"
    def __init__(self, message: str, /, **error: str) -> None:
        super().__init__(message)
        self.message = message
        self.error = error


def _pattern(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for match in _PARAM.finditer(template):
        out.append(re.escape(template[pos : match.start()]))
        name = match.group(1)
        out.append(f"(?P<{name}>{'.+' if name in MULTI_SEGMENT else '[^/]+'})")
        pos = match.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out) + r"\Z")


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        literal = len(_PARAM.sub("", template).strip("/").split("/"))
        ROUTES.append(Route(method, template, handler, _pattern(template), literal))
        # Most literal segments first, so /issues/comments/{id} wins over /issues/{number}.
        ROUTES.sort(key=lambda r: -r.literal_segments)
        return handler

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | str:
    """The route for METHOD PATH and its parameters, or why none fits (404 or 405 text)."""
    allowed: set[str] = set()
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if found is None:
            continue
        if candidate.method == method:
            return candidate, {k: unquote(v) for k, v in found.groupdict().items()}
        allowed.add(candidate.method)
    return f"405:{','.join(sorted(allowed))}" if allowed else "404"


def page(call: Call, items: list[Any], *, api_url: str, key: str | None = None) -> Response:
    """One page of ITEMS (`per_page`, `page`) with GitHub's Link header."""
    per_page = max(1, min(int(call.query.get("per_page", "30") or 30), 100))
    number = max(1, int(call.query.get("page", "1") or 1))
    chunk = items[(number - 1) * per_page : number * per_page]
    last = max(1, -(-len(items) // per_page))
    links = []

    def url(page_number: int) -> str:
        # Encoded: a value such as `check_name=build & test` must come back as it went out.
        query = urlencode({**call.query, "page": str(page_number)})
        return f"<{api_url}{quote(call.request.path)}?{query}>"

    if number < last:
        links += [f'{url(number + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if number > 1:
        links += [f'{url(1)}; rel="first"', f'{url(number - 1)}; rel="prev"']
    body = chunk if key is None else {"total_count": len(items), key: chunk}
    return Response(200, body, {"link": ", ".join(links)} if links else {})
