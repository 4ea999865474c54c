"""The simulator's protocol: authentication, errors, paging, rate-limit headers, persistence,
and the checks that hold every request and answer to GitHub's description (conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from pangeo_forge_orchestrator.sandbox.routing import Response, match
from pangeo_forge_orchestrator.sandbox.state import Installation
from tests.sandbox.conftest import (
    DANA,
    MAX,
    OTTO,
    SimAPI,
    check_answer,
    make_simulator,
    stranger_key,
)
from tests.sandbox.test_simulator import BRANCH, REPO, main_sha, open_pull


def test_link_headers_keep_query_values_intact(api: SimAPI) -> None:
    bot = api.installation()
    head = main_sha(api)
    name = "build & test"
    for _ in range(2):
        body = {"name": name, "head_sha": head}
        api.ok("POST", f"{REPO}/check-runs", body, auth=bot, status=201)
    query = urlencode({"check_name": name, "per_page": 1})
    first = api.call("GET", f"{REPO}/commits/main/check-runs?{query}", auth=bot)
    assert first.body["total_count"] == 2
    following = parse_links(first.headers["link"])["next"]
    assert dict(parse_qsl(urlsplit(following).query)) == {
        "check_name": name,
        "per_page": "1",
        "page": "2",
    }
    second = api.call("GET", api.follow(following), auth=bot)
    assert [r["name"] for r in second.body["check_runs"]] == [name]


def test_the_checker_refuses_answers_github_would_not_give() -> None:
    with pytest.raises(AssertionError):
        check_answer("GET", "/repos/o/r", Response(200, {"id": "not a number"}))
    with pytest.raises(AssertionError, match="documents"):
        check_answer("POST", "/repos/o/r/pulls", Response(200, {}))
    with pytest.raises(AssertionError):
        check_answer("GET", "/repos/o/r", Response(404, {"detail": "no"}))


def test_unknown_routes_answer_githubs_404(bare_api: SimAPI) -> None:
    dana = bare_api.user(DANA)
    answer = bare_api.call("GET", "/repos/pangeo-forge/staged-recipes/wikis", auth=dana)
    assert answer.status == 404
    assert answer.body["message"] == "Not Found"
    assert answer.body["documentation_url"].startswith("https://docs.github.com")
    # A known path with a method it lacks: the route table knows which methods it has, and
    # GitHub answers 404 as for any unknown route.
    assert match("DELETE", "/repos/o/r/pulls/1") == "405:GET,PATCH"
    assert match("GET", "/nothing/here") == "404"
    assert bare_api.call("DELETE", "/repos/o/r/pulls/1", auth=dana).status == 404


def test_a_request_github_would_refuse_is_recorded_as_a_violation(bare_api: SimAPI) -> None:
    simulator = make_simulator(bare_api.sim.root, bare_api.clock)
    checked = SimAPI(simulator, bare_api.clock)
    bad = {"title": 7, "head": BRANCH, "base": "main"}
    answer = checked.call("POST", f"{REPO}/pulls", bad, auth=checked.user(DANA))
    assert answer.status == 422
    assert len(simulator.violations) == 1
    assert "title" in simulator.violations[0]


def test_authentication(api: SimAPI, clock: Any) -> None:
    pulls = f"{REPO}/pulls"
    assert api.call("GET", pulls, auth=None).status == 401
    assert api.call("GET", pulls, auth="token ghs_unknown").status == 401
    token = api.installation()
    assert api.call("GET", pulls, auth=token).status == 200
    # An installation token opens its own installation's repositories only.
    api.sim.state.installations[2] = Installation(id=2, account="elsewhere", created_at=clock())
    assert api.call("GET", pulls, auth=api.installation(2)).status == 404
    # The App's JWT: its key, on /app routes only.
    assert api.ok("GET", "/app", auth=api.app())["slug"] == "pangeo-forge"
    forged = f"Bearer {api.jwt(key=stranger_key())}"
    assert api.call("GET", "/app", auth=forged).status == 401
    assert api.call("GET", "/app", auth=f"Bearer {api.jwt(app_id=99)}").status == 401
    assert api.call("GET", "/app", auth=token).status == 401
    assert api.call("GET", "/app", auth=None).status == 401
    expired = api.jwt(issued=timedelta(minutes=-12), expires=timedelta(minutes=-2))
    assert api.call("GET", "/app", auth=f"Bearer {expired}").status == 401
    too_long = api.jwt(expires=timedelta(minutes=30))
    assert api.call("GET", "/app", auth=f"Bearer {too_long}").status == 401
    assert api.call("GET", "/app", auth="Bearer not-a-jwt").status == 401
    clock.advance(timedelta(hours=1, minutes=1))
    assert api.call("GET", pulls, auth=token).status == 401


def test_rate_limit_headers_are_present(api: SimAPI) -> None:
    answer = api.call("GET", REPO, auth=api.user(DANA))
    assert int(answer.headers["x-ratelimit-remaining"]) <= int(answer.headers["x-ratelimit-limit"])
    assert answer.headers["x-ratelimit-resource"] == "core"


def test_lists_are_paged_with_link_headers(api: SimAPI) -> None:
    open_pull(api)
    for text in ("first", "second", "third"):
        api.ok("POST", f"{REPO}/issues/1/comments", {"body": text}, auth=api.user(OTTO), status=201)
    first = api.call("GET", f"{REPO}/issues/1/comments?per_page=1", auth=api.user(DANA))
    assert [c["body"] for c in first.body] == ["first"]
    links = parse_links(first.headers["link"])
    assert set(links) == {"next", "last"}
    second = api.call("GET", api.follow(links["next"]), auth=api.user(DANA))
    assert [c["body"] for c in second.body] == ["second"]
    assert set(parse_links(second.headers["link"])) == {"next", "last", "first", "prev"}
    last = api.call("GET", api.follow(links["last"]), auth=api.user(DANA))
    assert [c["body"] for c in last.body] == ["third"]
    assert "next" not in parse_links(last.headers["link"])


def parse_links(header: str) -> dict[str, str]:
    links = {}
    for part in header.split(","):
        url, _, rel = part.partition(";")
        links[rel.strip().removeprefix('rel="').removesuffix('"')] = url.strip().strip("<>")
    return links


def test_a_second_simulator_on_the_same_root_sees_the_same_state(api: SimAPI) -> None:
    open_pull(api)
    body = {"body": "looks good"}
    api.ok("POST", f"{REPO}/issues/1/comments", body, auth=api.user(MAX), status=201)
    token = api.installation()
    restarted = SimAPI(make_simulator(api.sim.root, api.clock), api.clock)
    pull = restarted.ok("GET", f"{REPO}/pulls/1", auth=restarted.user(DANA))
    assert (pull["title"], pull["head"]["ref"]) == ("Add gpcp", BRANCH)
    comments = restarted.ok("GET", f"{REPO}/issues/1/comments", auth=restarted.user(DANA))
    assert [c["body"] for c in comments] == ["looks good"]
    # Installation tokens survive too: a restarted sandbox keeps serving the running service.
    assert restarted.call("GET", REPO, auth=token).status == 200
    assert restarted.sim.violations == []
