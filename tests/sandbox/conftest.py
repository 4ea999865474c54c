"""Fixtures of the simulator tests: a Simulator that GitHub's own descriptions keep honest.

Every request a test makes goes through the simulator's `validate` hook, which checks it against
GitHub's OpenAPI description (a request GitHub would not understand is a violation, and the
fixture fails the test at teardown); every 2xx JSON answer is checked against the operation's
response schema, and every error body against GitHub's `basic-error`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pangeo_forge_orchestrator.sandbox import mode, objects
from pangeo_forge_orchestrator.sandbox.routing import Request, Response, match
from pangeo_forge_orchestrator.sandbox.simulator import Simulator, user_token
from pangeo_forge_orchestrator.sandbox.state import Repo
from tests.fake_github import AppKey
from tests.github_openapi import github_openapi
from tests.sandbox.schemas import assert_component, assert_rest_response, json_responses

URLS = objects.Urls(api="http://sim.test/api", web="http://sim.test/web")
APP_SLUG = "pangeo-forge"
START = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ORG, STAGED = mode.ORG, f"{mode.ORG}/{mode.STAGED_RECIPES}"
DANA, MAX, OTTO = mode.CONTRIBUTOR, mode.MAINTAINER, mode.OUTSIDER


@functools.cache
def stranger_key() -> rsa.RSAPrivateKey:
    """A key that is not the App's (one per session: 2048-bit keys are slow to make)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Clock:
    """The simulator's clock, moved by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def openapi_check(urls: objects.Urls) -> Callable[[Request], None]:
    """The simulator's `validate` hook: the request as httpx would send it, against GitHub's API."""
    description = github_openapi()

    def validate(request: Request) -> None:
        query = urlencode(request.query)
        url = f"{urls.api}{request.path}" + (f"?{query}" if query else "")
        sent = httpx.Request(
            request.method, url, headers=dict(request.headers), content=request.raw
        )
        description.validate(sent, base_url=urls.api)

    return validate


@dataclass(frozen=True)
class Event:
    """A webhook the simulator would send: `sim.emit` arguments, the repository by name."""

    name: str
    action: str | None
    payload: dict[str, Any]
    repo: str


def check_answer(method: str, path: str, response: Response) -> None:
    """RESPONSE is what GitHub documents for METHOD PATH, with its schema."""
    # The ASGI layer sends json.dumps(body): anything it cannot encode would be a 500 there.
    assert json.loads(json.dumps(response.body)) == response.body
    if response.status >= 400:
        assert isinstance(response.body, dict), f"{method} {path}: error without a JSON body"
        assert {"message", "documentation_url"} <= response.body.keys()
        assert_component("basic-error", response.body)
        return
    found = match(method, path)
    assert not isinstance(found, str), f"{method} {path} answered {response.status} unrouted"
    template = found[0].template
    documented = github_openapi().document["paths"][template][method.lower()]["responses"]
    assert str(response.status) in documented, (
        f"{method} {template} answered {response.status}; GitHub documents {sorted(documented)}"
    )
    if (method, template, response.status) in json_responses():
        assert_rest_response(method, template, response.status, response.body)
    else:
        assert response.body in (None, {}), f"{method} {template} {response.status} has a body"


@dataclass
class SimAPI:
    """Call the simulator as a person, an installation or the App, checking every answer."""

    sim: Simulator
    clock: Clock
    events: list[Event] = field(default_factory=list)
    _tokens: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sim.listeners.append(self._record)

    def _record(self, name: str, action: str | None, payload: dict[str, Any], repo: Repo) -> None:
        self.events.append(Event(name, action, payload, repo.full_name))

    def events_of(self, name: str, action: str | None = None) -> list[Event]:
        return [e for e in self.events if e.name == name and action in (None, e.action)]

    # ---- credentials (values of the Authorization header) ---------------------------------

    @staticmethod
    def user(login: str) -> str:
        return f"token {user_token(login)}"

    def jwt(
        self,
        *,
        key: rsa.RSAPrivateKey | None = None,
        app_id: int | None = None,
        issued: timedelta = timedelta(seconds=-60),
        expires: timedelta = timedelta(minutes=9),
    ) -> str:
        """The App's JWT as the service signs it (back-dated a minute, 9 minutes to live)."""
        now = self.clock()
        claims = {
            "iat": int((now + issued).timestamp()),
            "exp": int((now + expires).timestamp()),
            "iss": str(app_id or self.sim.app_id),
        }
        return jwt.encode(claims, key or AppKey.generate().private_key, algorithm="RS256")

    def app(self) -> str:
        return f"Bearer {self.jwt()}"

    def installation(self, installation_id: int = mode.INSTALLATION_ID) -> str:
        """A fresh access token of the installation, minted as the App does it."""
        if installation_id not in self._tokens:
            path = f"/app/installations/{installation_id}/access_tokens"
            answer = self.ok("POST", path, auth=self.app(), status=201)
            self._tokens[installation_id] = answer["token"]
        return f"token {self._tokens[installation_id]}"

    # ---- requests -------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *, auth: str | None) -> Response:
        """METHOD PATH (a query may follow `?`) with a JSON BODY; the answer is checked."""
        path, _, query_text = path.partition("?")
        raw = b"" if body is None else json.dumps(body).encode()
        headers = {
            "accept": "application/vnd.github+json",
            "x-github-api-version": "2022-11-28",
            "user-agent": "pfo-simulator-tests",
        }
        if raw:
            headers["content-type"] = "application/json"
        if auth is not None:
            headers["authorization"] = auth
        query = dict(parse_qsl(query_text, keep_blank_values=True))
        response = self.sim.handle(Request(method, path, query, headers, body, raw))
        check_answer(method, path, response)
        return response

    def ok(
        self, method: str, path: str, body: Any = None, *, auth: str | None, status: int = 200
    ) -> Any:
        """The body of an answer that must have STATUS."""
        response = self.call(method, path, body, auth=auth)
        assert response.status == status, f"{method} {path}: {response.status} {response.body}"
        return response.body

    def follow(self, link: str) -> str:
        """The API-relative path and query of an absolute URL of a Link header."""
        assert link.startswith(URLS.api + "/"), link
        parts = urlsplit(link)
        relative = parts.path.removeprefix(urlsplit(URLS.api).path)
        return f"{relative}?{parts.query}" if parts.query else relative


def make_simulator(root: Path, clock: Clock, *, validate: bool = True) -> Simulator:
    return Simulator(
        root=root,
        urls=URLS,
        app_id=mode.APP_ID,
        app_slug=APP_SLUG,
        public_key=AppKey.generate().public_key,
        clock=clock,
        validate=openapi_check(URLS) if validate else None,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(tmp_path: Path, clock: Clock) -> Iterator[Simulator]:
    """A simulator on tmp_path that records every request GitHub would refuse."""
    simulator = make_simulator(tmp_path / "sim", clock)
    yield simulator
    assert simulator.violations == []


@pytest.fixture
def api(sim: Simulator, clock: Clock) -> SimAPI:
    """The simulator seeded as sandbox mode seeds it: installation 1 on pangeo-forge,
    staged-recipes with a README, max an owner of the organisation."""
    calls = SimAPI(sim, clock)
    mode.seed(sim)
    return calls


@pytest.fixture
def bare_api(tmp_path: Path, clock: Clock) -> SimAPI:
    """A seeded simulator that does not validate requests: for requests GitHub has no route for."""
    simulator = make_simulator(tmp_path / "bare", clock, validate=False)
    calls = SimAPI(simulator, clock)
    mode.seed(simulator)
    return calls
