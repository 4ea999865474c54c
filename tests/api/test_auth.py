"""Writes need a valid X-API-Key: 401 without, 403 unknown or revoked; reads need none."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import auth
from pangeo_forge_orchestrator.db.api_keys import revoke_api_keys
from pangeo_forge_orchestrator.db.engine import Database
from tests.api.conftest import SHA, Seed


@pytest.fixture
def rows(seed: Seed) -> dict[str, int]:
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    run_id = seed.run(bakery_id=bakery_id, feedstock_id=feedstock_id)
    return {"bakery": bakery_id, "feedstock": feedstock_id, "run": run_id}


def writes(rows: dict[str, int]) -> list[tuple[str, str, Any]]:
    """Every write route, with a body that would succeed given a key."""
    new_run = {
        "recipe_id": "r",
        "bakery_id": rows["bakery"],
        "feedstock_id": rows["feedstock"],
        "head_sha": SHA,
        "status": "queued",
        "is_test": True,
    }
    new_bakery = {"name": "b", "region": "r", "description": "d", "kind": "local"}
    return [
        ("POST", "/bakeries/", new_bakery),
        ("POST", "/bakeries", new_bakery),
        ("PATCH", f"/bakeries/{rows['bakery']}", {"region": "eu"}),
        ("DELETE", f"/bakeries/{rows['bakery']}", None),
        ("POST", "/feedstocks/", {"spec": "o/new-feedstock"}),
        ("PATCH", f"/feedstocks/{rows['feedstock']}", {"spec": "o/renamed"}),
        ("DELETE", f"/feedstocks/{rows['feedstock']}", None),
        ("POST", "/recipe_runs/", new_run),
        ("PATCH", f"/recipe_runs/{rows['run']}", {"message": "changed"}),
        ("DELETE", f"/recipe_runs/{rows['run']}", None),
    ]


def snapshot(client: TestClient) -> list[Any]:
    return [client.get(path).json() for path in ("/bakeries/", "/feedstocks/", "/recipe_runs/")]


def send(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers, follow_redirects=False)


def test_writes_without_a_key_are_401_with_a_challenge_and_write_nothing(
    client: TestClient, rows: dict[str, int]
) -> None:
    before = snapshot(client)
    for method, path, body in writes(rows):
        for headers in ({}, {"X-API-Key": ""}):
            response = send(client, method, path, body, headers)

            assert response.status_code == 401, (method, path)
            assert response.json() == {"detail": auth.MISSING_API_KEY}
            assert response.headers["www-authenticate"] == auth.CHALLENGE
    assert snapshot(client) == before


def test_writes_with_an_unknown_key_are_403(client: TestClient, rows: dict[str, int]) -> None:
    before = snapshot(client)
    for method, path, body in writes(rows):
        response = send(client, method, path, body, {"X-API-Key": "pfo_not-a-key"})

        assert response.status_code == 403, (method, path)
        assert response.json() == {"detail": auth.UNKNOWN_API_KEY}
    assert snapshot(client) == before


def test_writes_with_a_revoked_key_are_403(
    client: TestClient, rows: dict[str, int], database: Database, admin: dict[str, str]
) -> None:
    with database.session() as session:
        assert revoke_api_keys(session, name="tests") == 1
    before = snapshot(client)
    for method, path, body in writes(rows):
        response = send(client, method, path, body, admin)

        assert response.status_code == 403, (method, path)
        assert response.json() == {"detail": auth.REVOKED_API_KEY}
    assert snapshot(client) == before


def test_writes_with_a_valid_key_succeed(
    client: TestClient, rows: dict[str, int], admin: dict[str, str]
) -> None:
    by_route = {(method, path): body for method, path, body in writes(rows)}
    created = send(client, "POST", "/recipe_runs/", by_route["POST", "/recipe_runs/"], admin)
    assert created.status_code == 200
    # Runs go first, so that their bakery and feedstock can be deleted after them.
    rest = sorted(
        ((m, p, b) for (m, p), b in by_route.items() if (m, p) != ("POST", "/recipe_runs/")),
        key=lambda write: "/recipe_runs" not in write[1],
    )
    ordered = [("DELETE", f"/recipe_runs/{created.json()['id']}", None), *rest]
    for method, path, body in ordered:
        if path == "/bakeries":
            body = body | {"name": "another"}
        response = send(client, method, path, body, admin)

        assert response.status_code == 200, (method, path, response.text)


@pytest.mark.parametrize(
    "path",
    [
        "/bakeries/",
        "/feedstocks/",
        "/recipe_runs/",
        "/stats/recipe_runs",
        "/feedstocks/{feedstock}",
        "/bakeries/{bakery}",
        "/recipe_runs/{run}",
    ],
)
def test_reads_need_no_key(client: TestClient, rows: dict[str, int], path: str) -> None:
    assert client.get(path.format(**rows)).status_code == 200
