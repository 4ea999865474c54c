"""The inbox routes: admin list, detail and replay; a feedstock's deliveries in public."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import auth, deliveries
from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db.api_keys import create_api_key, revoke_api_keys
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.settings import Settings
from tests.webhooks.helpers import (
    HOOKS,
    app_settings,
    example,
    headers_for,
    run_jobs,
    stored,
)

LIST = "/github/hooks/deliveries"
FEEDSTOCK = "pangeo-forge/gpcp-feedstock"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return app_settings(database_url)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


@pytest.fixture
def admin(database: Database) -> dict[str, str]:
    with database.session() as session:
        return {"X-API-Key": create_api_key(session, name="ops")}


def deliver(client: TestClient, body: bytes, event: str) -> str:
    headers = headers_for(body, event=event)
    assert client.post(HOOKS, content=body, headers=headers).status_code == 202
    return headers["X-GitHub-Delivery"]


def push_to(full_name: str) -> bytes:
    """A push to the repository: an event with no handler, so it is ignored."""
    payload = json.loads(example("examples/push/payload.json"))
    name = full_name.split("/")[1]
    payload["repository"].update(full_name=full_name, name=name)
    return json.dumps(payload).encode()


@pytest.fixture
def three(client: TestClient) -> dict[str, str]:
    """A ping, an installation and a push to a feedstock, delivered in that order."""
    return {
        "ping": deliver(client, example("examples/ping/with-app_id.payload.json"), "ping"),
        "installation": deliver(
            client, example("examples/installation/created.payload.json"), "installation"
        ),
        "push": deliver(client, push_to(FEEDSTOCK), "push"),
    }


def guids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["guid"] for item in response.json()]


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("get", LIST), ("get", f"{LIST}/some-guid"), ("post", f"{LIST}/some-guid/replay")],
    )
    def test_admin_routes_need_a_key(self, client: TestClient, method: str, path: str) -> None:
        response = client.request(method, path)

        assert (response.status_code, response.json()) == (401, {"detail": auth.MISSING_API_KEY})

    def test_an_unknown_key_is_forbidden(self, client: TestClient) -> None:
        response = client.get(LIST, headers={"X-API-Key": "pfo_guessed"})

        assert (response.status_code, response.json()) == (
            403,
            {"detail": auth.UNKNOWN_API_KEY},
        )

    def test_a_revoked_key_is_forbidden(
        self, client: TestClient, database: Database, admin: dict[str, str]
    ) -> None:
        assert client.get(LIST, headers=admin).status_code == 200
        with database.session() as session:
            revoke_api_keys(session, name="ops")

        assert client.get(LIST, headers=admin).json() == {"detail": auth.REVOKED_API_KEY}


def test_the_list_is_newest_first_without_payloads(
    client: TestClient, admin: dict[str, str], three: dict[str, str]
) -> None:
    response = client.get(LIST, headers=admin)

    assert guids(response) == [three["push"], three["installation"], three["ping"]]
    newest = response.json()[0]
    assert set(newest) == {
        "id",
        "guid",
        "event",
        "action",
        "status",
        "received_at",
        "handled_at",
        "repository",
        "installation_id",
        "error",
    }
    assert (newest["event"], newest["action"], newest["repository"], newest["status"]) == (
        "push",
        None,
        FEEDSTOCK,
        "queued",
    )
    # Naive UTC to the second, as the rest of the API writes timestamps.
    assert len(newest["received_at"]) in (19, 26)  # naive UTC, with microseconds when present
    assert newest["received_at"][10] == "T"


def test_the_list_filters_by_event_status_and_repository(
    client: TestClient,
    settings: Settings,
    database: Database,
    admin: dict[str, str],
    three: dict[str, str],
) -> None:
    run_jobs(settings, database)  # ping, installation: handled; push: no handler

    by_event = client.get(LIST, params={"event": "installation"}, headers=admin)
    by_status = client.get(LIST, params={"status": "ignored"}, headers=admin)
    by_repository = client.get(LIST, params={"repository": FEEDSTOCK}, headers=admin)
    combined = client.get(LIST, params={"event": "ping", "status": "ignored"}, headers=admin)

    assert guids(by_event) == [three["installation"]]
    assert guids(by_status) == [three["push"]]
    assert by_status.json()[0]["error"] == "no handler for push"
    assert guids(by_repository) == [three["push"]]
    assert guids(combined) == []


def test_the_list_pages_by_limit_and_after_id(
    client: TestClient, admin: dict[str, str], three: dict[str, str]
) -> None:
    first = client.get(LIST, params={"limit": 2}, headers=admin)
    after = first.json()[-1]["id"]
    second = client.get(LIST, params={"limit": 2, "after_id": after}, headers=admin)
    oldest_first = client.get(LIST, params={"limit": 2, "sort": "asc"}, headers=admin)

    assert guids(first) == [three["push"], three["installation"]]
    assert first.headers["link"] == f'<{LIST}?limit=2&after_id={after}>; rel="next"'
    assert guids(second) == [three["ping"]]
    assert "link" not in second.headers
    assert guids(oldest_first) == [three["ping"], three["installation"]]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"status": "lost"}, {"after_id": "x"}]
)
def test_bad_list_parameters_are_422(
    client: TestClient, admin: dict[str, str], params: dict[str, object]
) -> None:
    assert client.get(LIST, params=params, headers=admin).status_code == 422


def test_one_delivery_with_its_payload_and_jobs(
    client: TestClient,
    settings: Settings,
    database: Database,
    admin: dict[str, str],
    three: dict[str, str],
) -> None:
    run_jobs(settings, database)
    guid = three["push"]

    detail = client.get(f"{LIST}/{guid}", headers=admin).json()

    assert detail["payload"] == json.loads(push_to(FEEDSTOCK))
    assert (detail["status"], detail["error"]) == ("ignored", "no handler for push")
    assert [(job["kind"], job["status"], job["attempts"]) for job in detail["jobs"]] == [
        ("handle_delivery", "succeeded", 1)
    ]


def test_an_unknown_guid_is_404(client: TestClient, admin: dict[str, str]) -> None:
    for response in (
        client.get(f"{LIST}/nope", headers=admin),
        client.post(f"{LIST}/nope/replay", headers=admin),
    ):
        assert (response.status_code, response.json()) == (
            404,
            {"detail": deliveries.DELIVERY_NOT_FOUND.format(guid="nope")},
        )


def test_replay_while_a_job_is_live_is_409_and_queues_nothing(
    client: TestClient, database: Database, admin: dict[str, str], three: dict[str, str]
) -> None:
    guid = three["ping"]

    response = client.post(f"{LIST}/{guid}/replay", headers=admin)

    assert (response.status_code, response.json()) == (
        409,
        {"detail": deliveries.ALREADY_QUEUED.format(guid=guid)},
    )
    assert len(stored(database).jobs) == 3


def test_replay_queues_the_delivery_again_and_its_new_outcome_counts(
    client: TestClient,
    settings: Settings,
    database: Database,
    admin: dict[str, str],
    three: dict[str, str],
) -> None:
    guid = three["push"]
    run_jobs(settings, database)
    with database.engine.begin() as conn:
        # As if the delivery had failed for good before a fix was deployed.
        conn.execute(
            sa.text("UPDATE delivery SET status = 'failed', error = 'boom' WHERE guid = :g"),
            {"g": guid},
        )

    response = client.post(f"{LIST}/{guid}/replay", headers=admin)
    queued = client.get(f"{LIST}/{guid}", headers=admin).json()
    run_jobs(settings, database)
    replayed = client.get(f"{LIST}/{guid}", headers=admin).json()

    assert response.status_code == 202
    assert response.json() == {"delivery": guid, "job_id": queued["jobs"][-1]["id"]}
    assert (queued["status"], queued["error"], queued["handled_at"]) == ("queued", None, None)
    assert (replayed["status"], replayed["error"]) == (
        "ignored",
        "no handler for push",
    )
    assert [job["status"] for job in replayed["jobs"]] == ["succeeded", "succeeded"]


class TestFeedstockDeliveries:
    @pytest.fixture
    def feedstock_id(self, database: Database) -> int:
        with database.engine.begin() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "INSERT INTO feedstock (spec, provider) VALUES (:s, 'github') RETURNING id"
                    ),
                    {"s": FEEDSTOCK},
                ).scalar_one()
            )

    def test_are_public_and_carry_no_payload_or_error(
        self, client: TestClient, feedstock_id: int, three: dict[str, str]
    ) -> None:
        deliver(client, push_to("pangeo-forge/other-feedstock"), "push")

        response = client.get(f"/feedstocks/{feedstock_id}/deliveries")

        assert guids(response) == [three["push"]]
        assert set(response.json()[0]) == {
            "id",
            "guid",
            "event",
            "action",
            "status",
            "received_at",
            "handled_at",
        }

    def test_page_by_limit_and_after_id(self, client: TestClient, feedstock_id: int) -> None:
        older = deliver(client, push_to(FEEDSTOCK), "push")
        newer = deliver(client, push_to(FEEDSTOCK), "push")
        path = f"/feedstocks/{feedstock_id}/deliveries"

        first = client.get(path, params={"limit": 1})
        second = client.get(path, params={"limit": 1, "after_id": first.json()[0]["id"]})

        assert (guids(first), guids(second)) == ([newer], [older])

    def test_an_unknown_feedstock_is_404(self, client: TestClient) -> None:
        response = client.get("/feedstocks/999/deliveries")

        assert (response.status_code, response.json()) == (
            404,
            {"detail": deliveries.FEEDSTOCK_NOT_FOUND.format(feedstock_id=999)},
        )
