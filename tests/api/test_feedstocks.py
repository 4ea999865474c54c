"""/feedstocks: list, read with recent runs, datasets, create, update, delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import feedstocks
from pangeo_forge_orchestrator.api.schemas import DatasetRead, FeedstockRead, FeedstockWithRuns
from pangeo_forge_orchestrator.db.datasets import DATASET_COLUMNS
from pangeo_forge_orchestrator.db.queries import NESTED_RUNS_LIMIT
from tests.api.conftest import Seed

SPEC = "pangeo-forge/noaa-oisst-feedstock"
TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$"


@pytest.mark.parametrize("path", ["/feedstocks/", "/feedstocks"])
def test_list_answers_both_paths_without_a_redirect(
    client: TestClient, seed: Seed, path: str
) -> None:
    feedstock_id = seed.feedstock()

    response = client.get(path, follow_redirects=False)

    assert response.status_code == 200
    [row] = response.json()
    assert FeedstockRead.model_validate(row).id == feedstock_id
    assert row["spec"] == "pangeo-forge/gpcp-feedstock"
    assert row["provider"] == "github"
    # Naive UTC, whole seconds: the form the website parses.
    assert row["created_at"] is not None
    assert re.match(TIMESTAMP, row["created_at"])


def test_list_filters_by_spec(client: TestClient, seed: Seed) -> None:
    seed.feedstock("pangeo-forge/a-feedstock")
    wanted = seed.feedstock(SPEC)

    assert [f["id"] for f in client.get(f"/feedstocks/?spec={SPEC}").json()] == [wanted]
    assert client.get("/feedstocks/?provider=gitlab").status_code == 422


def test_read_nests_the_most_recent_runs_newest_first_and_bounded(
    client: TestClient, seed: Seed
) -> None:
    bakery_id = seed.bakery()
    feedstock_id = seed.feedstock()
    other = seed.feedstock(SPEC)
    ids = seed.runs(NESTED_RUNS_LIMIT + 3, bakery_id=bakery_id, feedstock_id=feedstock_id)
    seed.run(bakery_id=bakery_id, feedstock_id=other)

    response = client.get(f"/feedstocks/{feedstock_id}")

    assert response.status_code == 200
    body = FeedstockWithRuns.model_validate(response.json())
    assert body.spec == "pangeo-forge/gpcp-feedstock"
    assert [run.id for run in body.recipe_runs] == sorted(ids, reverse=True)[:NESTED_RUNS_LIMIT]


def test_read_a_feedstock_without_runs(client: TestClient, seed: Seed) -> None:
    feedstock_id = seed.feedstock()

    assert client.get(f"/feedstocks/{feedstock_id}").json()["recipe_runs"] == []


def test_read_unknown_feedstock_is_404(client: TestClient) -> None:
    response = client.get("/feedstocks/12")

    assert response.status_code == 404
    assert response.json() == {"detail": "feedstock 12 not found"}


@pytest.fixture
def datasets(seed: Seed) -> dict[str, Any]:
    """One feedstock's runs: two datasets (production, test) and runs that are not datasets."""
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    done = {"status": "completed", "conclusion": "success", "dataset_type": "zarr"}

    def run(**values: Any) -> int:
        return seed.run(bakery_id=bakery_id, feedstock_id=feedstock_id, **values)

    production = run(is_test=False, dataset_public_url="https://x/prod.zarr", **done)
    test = run(is_test=True, dataset_public_url="https://x/test.zarr", **done)
    run(is_test=False, **done)  # no URL
    run(is_test=False, status="completed", conclusion="failure", dataset_public_url="https://f")
    run(is_test=False, status="in_progress", dataset_public_url="https://x/soon.zarr")
    return {"feedstock_id": feedstock_id, "production": production, "test": test}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["test", "production"]),
        ("?type=all", ["test", "production"]),
        ("?type=production", ["production"]),
        ("?type=test", ["test"]),
    ],
)
def test_datasets_are_successful_completed_runs_with_a_url(
    client: TestClient, datasets: dict[str, Any], query: str, expected: list[str]
) -> None:
    response = client.get(f"/feedstocks/{datasets['feedstock_id']}/datasets{query}")

    assert response.status_code == 200
    rows = response.json()
    assert [row["id"] for row in rows] == [datasets[kind] for kind in expected]
    for row in rows:
        assert tuple(row) == DATASET_COLUMNS
        DatasetRead.model_validate(row)


def test_datasets_row_shape(client: TestClient, datasets: dict[str, Any]) -> None:
    url = f"/feedstocks/{datasets['feedstock_id']}/datasets?type=production"

    assert client.get(url).json() == [
        {
            "id": datasets["production"],
            "recipe_id": "gpcp",
            "feedstock_id": datasets["feedstock_id"],
            "dataset_type": "zarr",
            "dataset_public_url": "https://x/prod.zarr",
            "is_test": False,
        }
    ]


def test_datasets_of_an_unknown_feedstock_are_empty(client: TestClient) -> None:
    response = client.get("/feedstocks/999/datasets?type=production")

    assert response.status_code == 200
    assert response.json() == []


def test_datasets_with_an_unknown_type_is_422(client: TestClient) -> None:
    assert client.get("/feedstocks/1/datasets?type=staging").status_code == 422


@pytest.mark.parametrize("path", ["/feedstocks/", "/feedstocks"])
def test_create_answers_the_new_row_with_provider_github(
    client: TestClient, seed: Seed, admin: dict[str, str], path: str
) -> None:
    response = client.post(path, json={"spec": SPEC}, headers=admin, follow_redirects=False)

    assert response.status_code == 200
    created = FeedstockRead.model_validate(response.json())
    assert (created.spec, created.provider) == (SPEC, "github")
    assert created.created_at is not None
    assert seed.count("feedstock") == 1


def test_create_with_a_taken_spec_is_409_and_writes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    seed.feedstock(SPEC)

    response = client.post("/feedstocks/", json={"spec": SPEC}, headers=admin)

    assert response.status_code == 409
    assert response.json() == {"detail": feedstocks.SPEC_TAKEN.format(spec=SPEC)}
    assert seed.count("feedstock") == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"spec": "no-slash"},
        {"spec": "a/b/c"},
        {"spec": SPEC, "provider": "gitlab"},
        {"spec": 42},
        {"spec": SPEC, "created_at": "2020-01-01T00:00:00"},
    ],
    ids=["missing", "no-owner", "too-deep", "provider", "type", "read-only-field"],
)
def test_create_with_a_bad_body_is_422_and_writes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str], body: dict[str, object]
) -> None:
    response = client.post("/feedstocks/", json=body, headers=admin)

    assert response.status_code == 422
    assert seed.count("feedstock") == 0


def test_update_changes_the_spec(client: TestClient, seed: Seed, admin: dict[str, str]) -> None:
    feedstock_id = seed.feedstock()

    response = client.patch(f"/feedstocks/{feedstock_id}", json={"spec": SPEC}, headers=admin)

    assert response.status_code == 200
    assert response.json()["spec"] == SPEC
    assert client.get(f"/feedstocks/{feedstock_id}").json()["spec"] == SPEC


def test_update_to_a_taken_spec_is_409(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    seed.feedstock(SPEC)
    feedstock_id = seed.feedstock()

    response = client.patch(f"/feedstocks/{feedstock_id}", json={"spec": SPEC}, headers=admin)

    assert response.status_code == 409
    assert response.json() == {"detail": feedstocks.SPEC_TAKEN.format(spec=SPEC)}


def test_update_spec_to_null_is_422(client: TestClient, seed: Seed, admin: dict[str, str]) -> None:
    feedstock_id = seed.feedstock()

    response = client.patch(f"/feedstocks/{feedstock_id}", json={"spec": None}, headers=admin)

    assert response.status_code == 422
    assert "spec cannot be null" in response.text


def test_update_unknown_feedstock_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.patch("/feedstocks/12", json={"spec": SPEC}, headers=admin)

    assert response.status_code == 404
    assert response.json() == {"detail": "feedstock 12 not found"}


def test_delete_answers_ok(client: TestClient, seed: Seed, admin: dict[str, str]) -> None:
    feedstock_id = seed.feedstock()

    response = client.delete(f"/feedstocks/{feedstock_id}", headers=admin)

    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert seed.count("feedstock") == 0


def test_delete_a_feedstock_with_runs_is_409_and_deletes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    feedstock_id = seed.feedstock()
    seed.run(bakery_id=seed.bakery(), feedstock_id=feedstock_id)

    response = client.delete(f"/feedstocks/{feedstock_id}", headers=admin)

    assert response.status_code == 409
    assert response.json() == {"detail": feedstocks.HAS_RUNS.format(id=feedstock_id)}
    assert seed.count("feedstock") == 1


def test_delete_unknown_feedstock_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.delete("/feedstocks/12", headers=admin)

    assert response.status_code == 404
    assert response.json() == {"detail": "feedstock 12 not found"}
