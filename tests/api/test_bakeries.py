"""/bakeries: list, read with recent runs, create, update, delete."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import bakeries
from pangeo_forge_orchestrator.api.schemas import BakeryRead, BakeryWithRuns
from pangeo_forge_orchestrator.db.queries import NESTED_RUNS_LIMIT
from tests.api.conftest import Seed

NEW = {"name": "local", "region": "here", "description": "this machine", "kind": "local"}


def test_list_is_empty_without_bakeries(client: TestClient) -> None:
    response = client.get("/bakeries/")

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("path", ["/bakeries/", "/bakeries"])
def test_list_answers_both_paths_without_a_redirect(
    client: TestClient, seed: Seed, path: str
) -> None:
    bakery_id = seed.bakery()

    response = client.get(path, follow_redirects=False)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": bakery_id,
            "name": "pangeo-ldeo-nsf-earthcube",
            "region": "us-central1",
            "description": "Dataflow",
            "kind": "dataflow",
        }
    ]


def test_list_filters_by_name_and_kind(client: TestClient, seed: Seed) -> None:
    seed.bakery("a", kind="dataflow")
    local = seed.bakery("b", kind="local")

    assert [b["id"] for b in client.get("/bakeries/?name=b").json()] == [local]
    assert [b["id"] for b in client.get("/bakeries/?kind=local").json()] == [local]
    assert client.get("/bakeries/?kind=flink").json() == []
    assert client.get("/bakeries/?kind=kitchen").status_code == 422


def test_read_nests_the_most_recent_runs_newest_first_and_bounded(
    client: TestClient, seed: Seed
) -> None:
    bakery_id = seed.bakery()
    other = seed.bakery("other")
    feedstock_id = seed.feedstock()
    ids = seed.runs(NESTED_RUNS_LIMIT + 5, bakery_id=bakery_id, feedstock_id=feedstock_id)
    seed.run(bakery_id=other, feedstock_id=feedstock_id)

    response = client.get(f"/bakeries/{bakery_id}")

    assert response.status_code == 200
    body = BakeryWithRuns.model_validate(response.json())
    assert body.name == "pangeo-ldeo-nsf-earthcube"
    assert [run.id for run in body.recipe_runs] == sorted(ids, reverse=True)[:NESTED_RUNS_LIMIT]


def test_read_unknown_bakery_is_404_naming_the_bakery(client: TestClient) -> None:
    response = client.get("/bakeries/41")

    assert response.status_code == 404
    assert response.json() == {"detail": "bakery 41 not found"}


@pytest.mark.parametrize("path", ["/bakeries/", "/bakeries"])
def test_create_answers_the_new_row(
    client: TestClient, seed: Seed, admin: dict[str, str], path: str
) -> None:
    response = client.post(path, json=NEW, headers=admin, follow_redirects=False)

    assert response.status_code == 200
    created = BakeryRead.model_validate(response.json())
    assert created.model_dump(exclude={"id"}) == NEW
    assert client.get(f"/bakeries/{created.id}").json()["name"] == "local"
    assert seed.count("bakery") == 1


def test_create_with_a_taken_name_is_409_and_writes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    seed.bakery("local")

    response = client.post("/bakeries/", json=NEW, headers=admin)

    assert response.status_code == 409
    assert response.json() == {"detail": bakeries.NAME_TAKEN.format(name="local")}
    assert seed.count("bakery") == 1


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in NEW.items() if k != "region"},
        NEW | {"kind": "kitchen"},
        NEW | {"name": 5},
        NEW | {"name": ""},
        NEW | {"name": "nul\x00"},
        NEW | {"id": 7},
        NEW | {"colour": "blue"},
        ["not", "an", "object"],
    ],
    ids=["missing", "enum", "type", "empty", "nul", "id", "unknown-field", "array"],
)
def test_create_with_a_bad_body_is_422_and_writes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str], body: object
) -> None:
    response = client.post("/bakeries/", json=body, headers=admin)

    assert response.status_code == 422
    assert response.json()["detail"]
    assert seed.count("bakery") == 0


def test_create_with_malformed_json_is_422(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    headers = admin | {"Content-Type": "application/json"}

    response = client.post("/bakeries/", content=b'{"name": ', headers=headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert seed.count("bakery") == 0


def test_update_changes_only_the_fields_sent(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    bakery_id = seed.bakery()

    response = client.patch(f"/bakeries/{bakery_id}", json={"region": "eu"}, headers=admin)

    assert response.status_code == 200
    assert response.json() == {
        "id": bakery_id,
        "name": "pangeo-ldeo-nsf-earthcube",
        "region": "eu",
        "description": "Dataflow",
        "kind": "dataflow",
    }
    assert client.get(f"/bakeries/{bakery_id}").json()["region"] == "eu"


def test_update_with_an_empty_body_changes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    bakery_id = seed.bakery()

    response = client.patch(f"/bakeries/{bakery_id}", json={}, headers=admin)

    assert response.status_code == 200
    assert response.json()["region"] == "us-central1"


@pytest.mark.parametrize(
    "body", [{"name": None}, {"kind": "kitchen"}, {"region": 3}, {"colour": "blue"}]
)
def test_update_with_a_bad_body_is_422_and_changes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str], body: dict[str, object]
) -> None:
    bakery_id = seed.bakery()

    response = client.patch(f"/bakeries/{bakery_id}", json=body, headers=admin)

    assert response.status_code == 422
    assert client.get(f"/bakeries/{bakery_id}").json()["name"] == "pangeo-ldeo-nsf-earthcube"


def test_update_to_null_names_the_field(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    bakery_id = seed.bakery()

    response = client.patch(f"/bakeries/{bakery_id}", json={"name": None}, headers=admin)

    assert "name cannot be null" in response.text


def test_update_to_a_taken_name_is_409(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    seed.bakery("taken")
    bakery_id = seed.bakery("mine")

    response = client.patch(f"/bakeries/{bakery_id}", json={"name": "taken"}, headers=admin)

    assert response.status_code == 409
    assert response.json() == {"detail": bakeries.NAME_TAKEN.format(name="taken")}
    assert client.get(f"/bakeries/{bakery_id}").json()["name"] == "mine"


def test_update_unknown_bakery_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.patch("/bakeries/41", json={"region": "eu"}, headers=admin)

    assert response.status_code == 404
    assert response.json() == {"detail": "bakery 41 not found"}


def test_delete_answers_ok_and_the_bakery_is_gone(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    bakery_id = seed.bakery()

    response = client.delete(f"/bakeries/{bakery_id}", headers=admin)

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert client.get(f"/bakeries/{bakery_id}").status_code == 404


def test_delete_a_bakery_with_runs_is_409_and_deletes_nothing(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    bakery_id = seed.bakery()
    seed.run(bakery_id=bakery_id, feedstock_id=seed.feedstock())

    response = client.delete(f"/bakeries/{bakery_id}", headers=admin)

    assert response.status_code == 409
    assert response.json() == {"detail": bakeries.HAS_RUNS.format(id=bakery_id)}
    assert seed.count("bakery") == 1
    assert seed.count("recipe_run") == 1


def test_delete_unknown_bakery_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.delete("/bakeries/41", headers=admin)

    assert response.status_code == 404
    assert response.json() == {"detail": "bakery 41 not found"}
