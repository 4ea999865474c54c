"""The simulator's webhook sender, posting to a receiver behind httpx.MockTransport: signed as
GitHub signs, in order, recorded as deliveries the App can list and redeliver."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from pangeo_forge_orchestrator.sandbox import hooks
from pangeo_forge_orchestrator.sandbox.hooks import WebhookSender
from pangeo_forge_orchestrator.webhooks.signature import signature_matches
from tests.sandbox.conftest import DANA, MAX, STAGED, SimAPI
from tests.sandbox.test_simulator import open_pull

SECRET = b"sandbox-test-secret"
HOOK_URL = "http://service.test/github/hooks/"


@dataclass
class Received:
    body: bytes
    headers: httpx.Headers

    @property
    def event(self) -> str:
        return self.headers["x-github-event"]

    @property
    def guid(self) -> str:
        return self.headers["x-github-delivery"]

    @property
    def action(self) -> str | None:
        action = json.loads(self.body).get("action")
        return None if action is None else str(action)


@dataclass
class Receiver:
    """The service's end: records each request and answers what `answer` says."""

    answer: Callable[[Received], int] = lambda received: 202
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        got = Received(request.read(), request.headers)
        with self.lock:
            self.received.append(got)
        assert str(request.url) == HOOK_URL
        return httpx.Response(self.answer(got), json={"delivery": got.guid})


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def sender(api: SimAPI, receiver: Receiver) -> Iterator[WebhookSender]:
    sending = WebhookSender(
        api.sim, url=HOOK_URL, secret=SECRET, transport=httpx.MockTransport(receiver)
    )
    sending.start()
    yield sending
    sending.stop()


def deliveries(api: SimAPI, query: str = "") -> list[dict[str, object]]:
    found: list[dict[str, object]] = api.ok("GET", f"/app/hook/deliveries{query}", auth=api.app())
    return found


def test_events_are_posted_signed_and_in_order(
    api: SimAPI, sender: WebhookSender, receiver: Receiver
) -> None:
    open_pull(api)
    api.ok(
        "POST", f"/repos/{STAGED}/issues/1/comments", {"body": "hi"}, auth=api.user(MAX), status=201
    )
    assert sender.wait_idle(10)
    assert [(r.event, r.action) for r in receiver.received] == [
        ("pull_request", "opened"),
        ("issue_comment", "created"),
    ]
    # The seeding's `installation` event went out before this sender listened.
    emitted_since = [e for e in api.events if e.name != "installation"]
    for got, emitted in zip(receiver.received, emitted_since, strict=True):
        assert signature_matches(got.body, got.headers["x-hub-signature-256"], [SECRET])
        assert not signature_matches(got.body, got.headers["x-hub-signature-256"], [b"other"])
        assert json.loads(got.body) == emitted.payload
        assert got.headers["content-type"] == "application/json"
        assert got.headers["x-github-hook-installation-target-id"] == str(api.sim.app_id)
    assert len({r.guid for r in receiver.received}) == 2


def test_deliveries_record_the_status_the_receiver_answered(
    api: SimAPI, sender: WebhookSender, receiver: Receiver
) -> None:
    receiver.answer = lambda got: 500 if got.event == "issue_comment" else 202
    open_pull(api)
    api.ok(
        "POST", f"/repos/{STAGED}/issues/1/comments", {"body": "x"}, auth=api.user(DANA), status=201
    )
    assert sender.wait_idle(10)
    listed = deliveries(api)
    by_event = {d["event"]: d for d in listed}
    assert (by_event["pull_request"]["status_code"], by_event["issue_comment"]["status_code"]) == (
        202,
        500,
    )
    assert {d["guid"] for d in listed} == {r.guid for r in receiver.received}
    assert [d["event"] for d in deliveries(api, "?status=failure")] == ["issue_comment"]
    assert [d["event"] for d in deliveries(api, "?status=success")] == ["pull_request"]
    one = api.ok("GET", f"/app/hook/deliveries/{by_event['issue_comment']['id']}", auth=api.app())
    assert one["request"]["payload"]["comment"]["body"] == "x"
    assert "x-hub-signature-256" not in one["request"]["headers"]


def test_a_redelivery_sends_the_same_body_with_the_same_guid(
    api: SimAPI, sender: WebhookSender, receiver: Receiver
) -> None:
    receiver.answer = lambda got: 503
    open_pull(api)
    assert sender.wait_idle(10)
    (failed,) = deliveries(api, "?status=failure")
    receiver.answer = lambda got: 202
    path = f"/app/hook/deliveries/{failed['id']}/attempts"
    api.ok("POST", path, auth=api.app(), status=202)
    assert sender.wait_idle(10)
    first, again = receiver.received
    assert (again.body, again.guid) == (first.body, first.guid)
    assert again.headers["x-hub-signature-256"] == first.headers["x-hub-signature-256"]
    latest = deliveries(api)[0]
    assert (latest["guid"], latest["redelivery"], latest["status_code"]) == (
        failed["guid"],
        True,
        202,
    )
    assert api.call("POST", "/app/hook/deliveries/123456/attempts", auth=api.app()).status == 404


def test_deliveries_are_paged_by_cursor(
    api: SimAPI, sender: WebhookSender, receiver: Receiver
) -> None:
    open_pull(api)
    for text in ("a", "b"):
        body = {"body": text}
        api.ok("POST", f"/repos/{STAGED}/issues/1/comments", body, auth=api.user(MAX), status=201)
    assert sender.wait_idle(10)
    first = api.call("GET", "/app/hook/deliveries?per_page=2", auth=api.app())
    assert len(first.body) == 2
    following = first.headers["link"].partition(">")[0].removeprefix("<")
    rest = api.ok("GET", api.follow(following), auth=api.app())
    assert {d["id"] for d in first.body} | {d["id"] for d in rest} == {
        d["id"] for d in deliveries(api)
    }
    assert len(rest) == 1


def test_a_refused_connection_is_retried_then_recorded_as_502(
    api: SimAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "CONNECT_RETRY_DELAYS", (0.0, 0.0))
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    sending = WebhookSender(
        api.sim, url=HOOK_URL, secret=SECRET, transport=httpx.MockTransport(refuse)
    )
    sending.start()
    try:
        open_pull(api)
        assert sending.wait_idle(10)
    finally:
        sending.stop()
    assert len(attempts) == 3  # the first try and one per retry delay
    (delivery,) = deliveries(api)
    assert (delivery["event"], delivery["status_code"]) == ("pull_request", 502)


def test_a_sender_never_started_stops_cleanly(api: SimAPI) -> None:
    sending = WebhookSender(api.sim, url=HOOK_URL, secret=SECRET)
    sending.stop()
