"""/recipe_runs: list with filters, read with relations, create, update, delete."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import recipe_runs
from pangeo_forge_orchestrator.api.schemas import RecipeRunRead, RecipeRunWithRelations
from tests.api.conftest import SHA, Seed

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$")
ORIGINAL_FIELDS = {
    "id",
    "recipe_id",
    "bakery_id",
    "feedstock_id",
    "head_sha",
    "version",
    "started_at",
    "completed_at",
    "conclusion",
    "status",
    "message",
    "is_test",
    "dataset_type",
    "dataset_public_url",
}
TYPED_FIELDS = {
    "pr_number",
    "github_check_run_id",
    "github_deployment_id",
    "bakery_job_id",
    "bakery_job_name",
    "requested_by",
    "environment_url",
    "created_at",
    "updated_at",
}


@pytest.fixture
def ids(seed: Seed) -> dict[str, int]:
    return {"bakery": seed.bakery(), "feedstock": seed.feedstock()}


def new_run(ids: dict[str, int], **values: Any) -> dict[str, Any]:
    run = {
        "recipe_id": "gpcp",
        "bakery_id": ids["bakery"],
        "feedstock_id": ids["feedstock"],
        "head_sha": SHA,
        "status": "queued",
        "is_test": True,
    }
    return run | values


@pytest.mark.parametrize("path", ["/recipe_runs/", "/recipe_runs"])
def test_list_without_parameters_is_the_first_100_by_id(
    client: TestClient, seed: Seed, ids: dict[str, int], path: str
) -> None:
    """The website calls /recipe_runs/ bare and expects the first 100 rows."""
    run_ids = seed.runs(130, bakery_id=ids["bakery"], feedstock_id=ids["feedstock"])

    response = client.get(path, follow_redirects=False)

    assert response.status_code == 200
    assert [run["id"] for run in response.json()] == run_ids[:100]


def test_list_rows_have_the_original_and_typed_fields_and_no_failure_detail(
    client: TestClient, seed: Seed, ids: dict[str, int]
) -> None:
    seed.run(
        bakery_id=ids["bakery"],
        feedstock_id=ids["feedstock"],
        failure_detail="Traceback: secret internals",
        completed_at=datetime(2022, 9, 19, 16, 31, 43, 123456, tzinfo=UTC),
    )

    [row] = client.get("/recipe_runs/").json()

    assert set(row) == ORIGINAL_FIELDS | TYPED_FIELDS
    RecipeRunRead.model_validate(row)
    # isoformat() of naive UTC, as the original wrote it: the fraction is kept when present.
    assert row["completed_at"] == "2022-09-19T16:31:43.123456"
    for field in ("started_at", "created_at", "updated_at"):
        assert TIMESTAMP.match(row[field]), (field, row[field])
    assert "secret" not in client.get(f"/recipe_runs/{row['id']}").text


@pytest.fixture
def mixed(seed: Seed, ids: dict[str, int]) -> dict[str, int]:
    """Runs that differ in one filtered column each from the first."""
    other_bakery, other_feedstock = seed.bakery("other"), seed.feedstock("o/other-feedstock")
    base = {"bakery_id": ids["bakery"], "feedstock_id": ids["feedstock"]}
    return {
        "base": seed.run(**base),
        "feedstock": seed.run(bakery_id=ids["bakery"], feedstock_id=other_feedstock),
        "bakery": seed.run(bakery_id=other_bakery, feedstock_id=ids["feedstock"]),
        "status": seed.run(**base, status="completed", conclusion="success"),
        "conclusion": seed.run(**base, status="completed", conclusion="failure"),
        "production": seed.run(**base, is_test=False),
        "sha": seed.run(**base, head_sha="fedcba9876543210"),
        "recipe": seed.run(**base, recipe_id="other"),
        "other_feedstock": other_feedstock,
        "other_bakery": other_bakery,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("feedstock_id={other_feedstock}", ["feedstock"]),
        ("bakery_id={other_bakery}", ["bakery"]),
        ("status=completed", ["status", "conclusion"]),
        ("conclusion=failure", ["conclusion"]),
        ("is_test=false", ["production"]),
        ("head_sha=fedcba9876543210", ["sha"]),
        ("recipe_id=other", ["recipe"]),
        ("status=completed&conclusion=success", ["status"]),
        ("status=in_progress", []),
    ],
)
def test_list_filters_combine_with_and(
    client: TestClient, mixed: dict[str, int], query: str, expected: list[str]
) -> None:
    response = client.get("/recipe_runs/?" + query.format(**mixed))

    assert response.status_code == 200
    assert [run["id"] for run in response.json()] == [mixed[name] for name in expected]


@pytest.mark.parametrize(
    "query",
    ["status=done", "conclusion=meh", "is_test=maybe", "feedstock_id=x", "head_sha=%00"],
)
def test_list_with_a_bad_filter_is_422(client: TestClient, query: str) -> None:
    response = client.get("/recipe_runs/?" + query)

    assert response.status_code == 422
    assert response.json()["detail"]


def test_read_nests_bakery_and_feedstock(
    client: TestClient, seed: Seed, ids: dict[str, int]
) -> None:
    run_id = seed.run(bakery_id=ids["bakery"], feedstock_id=ids["feedstock"], message="hello")

    response = client.get(f"/recipe_runs/{run_id}")

    assert response.status_code == 200
    body = response.json()
    run = RecipeRunWithRelations.model_validate(body)
    assert run.message == "hello"
    assert body["bakery"] == client.get("/bakeries/").json()[0]
    assert body["feedstock"] == client.get("/feedstocks/").json()[0]


def test_read_unknown_run_is_404_naming_a_recipe_run(client: TestClient) -> None:
    response = client.get("/recipe_runs/5")

    assert response.status_code == 404
    assert response.json() == {"detail": "recipe run 5 not found"}


def test_create_answers_the_row_with_server_defaults(
    client: TestClient, seed: Seed, ids: dict[str, int], admin: dict[str, str]
) -> None:
    response = client.post("/recipe_runs/", json=new_run(ids, pr_number=12), headers=admin)

    assert response.status_code == 200
    run = RecipeRunRead.model_validate(response.json())
    assert (run.status, run.pr_number, run.version, run.conclusion) == ("queued", 12, "", None)
    started = datetime.fromisoformat(run.started_at).replace(tzinfo=UTC)
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=1)
    assert seed.count("recipe_run") == 1


def test_create_reads_timestamps_as_utc(
    client: TestClient, ids: dict[str, int], admin: dict[str, str]
) -> None:
    body = new_run(
        ids,
        started_at="2022-09-19T16:31:43",
        completed_at="2022-09-19T18:00:00+02:00",
        status="completed",
        conclusion="success",
    )

    run = client.post("/recipe_runs", json=body, headers=admin, follow_redirects=False).json()

    assert run["started_at"] == "2022-09-19T16:31:43"
    assert run["completed_at"] == "2022-09-19T16:00:00"


@pytest.mark.parametrize(
    ("field", "detail"),
    [("bakery_id", recipe_runs.MISSING_BAKERY), ("feedstock_id", recipe_runs.MISSING_FEEDSTOCK)],
)
def test_create_pointing_at_a_missing_row_is_422_and_writes_nothing(
    client: TestClient,
    seed: Seed,
    ids: dict[str, int],
    admin: dict[str, str],
    field: str,
    detail: str,
) -> None:
    response = client.post("/recipe_runs/", json=new_run(ids, **{field: 999}), headers=admin)

    assert response.status_code == 422
    assert response.json() == {"detail": detail.format(id=999)}
    assert seed.count("recipe_run") == 0


@pytest.mark.parametrize(
    "values",
    [
        {"status": "done"},
        {"conclusion": "meh"},
        {"dataset_type": "csv"},
        {"head_sha": "not-a-sha"},
        {"is_test": "maybe"},
        {"bakery_id": 2**40},
        {"pr_number": -1},
        {"started_at": "yesterday"},
        {"failure_detail": "x"},
        {"id": 3},
        {"recipe_id": None},
    ],
    ids=lambda values: next(iter(values)),
)
def test_create_with_a_bad_body_is_422_and_writes_nothing(
    client: TestClient,
    seed: Seed,
    ids: dict[str, int],
    admin: dict[str, str],
    values: dict[str, Any],
) -> None:
    response = client.post("/recipe_runs/", json=new_run(ids, **values), headers=admin)

    assert response.status_code == 422
    assert seed.count("recipe_run") == 0


def test_update_completes_a_run_and_moves_updated_at(
    client: TestClient, seed: Seed, ids: dict[str, int], admin: dict[str, str]
) -> None:
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    run_id = seed.run(bakery_id=ids["bakery"], feedstock_id=ids["feedstock"], updated_at=long_ago)
    change = {"status": "completed", "conclusion": "success", "dataset_public_url": "https://x"}

    response = client.patch(f"/recipe_runs/{run_id}", json=change, headers=admin)

    assert response.status_code == 200
    run = response.json()
    assert {key: run[key] for key in change} == change
    assert run["recipe_id"] == "gpcp"
    assert run["updated_at"] > "2020-01-01T00:00:00"


@pytest.mark.parametrize("values", [{"status": None}, {"is_test": None}, {"status": "done"}])
def test_update_with_a_bad_body_is_422(
    client: TestClient, seed: Seed, ids: dict[str, int], admin: dict[str, str], values: Any
) -> None:
    run_id = seed.run(bakery_id=ids["bakery"], feedstock_id=ids["feedstock"])

    response = client.patch(f"/recipe_runs/{run_id}", json=values, headers=admin)

    assert response.status_code == 422
    assert client.get(f"/recipe_runs/{run_id}").json()["status"] == "queued"


def test_update_to_a_missing_bakery_is_422_and_changes_nothing(
    client: TestClient, seed: Seed, ids: dict[str, int], admin: dict[str, str]
) -> None:
    run_id = seed.run(bakery_id=ids["bakery"], feedstock_id=ids["feedstock"])

    response = client.patch(
        f"/recipe_runs/{run_id}", json={"bakery_id": 999, "message": "moved"}, headers=admin
    )

    assert response.status_code == 422
    assert response.json() == {"detail": recipe_runs.MISSING_BAKERY.format(id=999)}
    run = client.get(f"/recipe_runs/{run_id}").json()
    assert (run["bakery_id"], run["message"]) == (ids["bakery"], None)


def test_update_clears_a_nullable_field(
    client: TestClient, seed: Seed, ids: dict[str, int], admin: dict[str, str]
) -> None:
    run_id = seed.run(bakery_id=ids["bakery"], feedstock_id=ids["feedstock"], message="hi")

    response = client.patch(f"/recipe_runs/{run_id}", json={"message": None}, headers=admin)

    assert response.json()["message"] is None


def test_update_unknown_run_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.patch("/recipe_runs/5", json={"message": "x"}, headers=admin)

    assert response.status_code == 404
    assert response.json() == {"detail": "recipe run 5 not found"}


def test_delete_answers_ok_and_the_run_is_gone(
    client: TestClient, seed: Seed, ids: dict[str, int], admin: dict[str, str]
) -> None:
    run_id = seed.run(bakery_id=ids["bakery"], feedstock_id=ids["feedstock"])

    response = client.delete(f"/recipe_runs/{run_id}", headers=admin)

    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert client.get(f"/recipe_runs/{run_id}").status_code == 404


def test_delete_unknown_run_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.delete("/recipe_runs/5", headers=admin)

    assert response.status_code == 404
    assert response.json() == {"detail": "recipe run 5 not found"}


@pytest.mark.parametrize(
    "path",
    [
        "/recipe_runs/99999999999999999999",
        "/feedstocks/99999999999999999999",
        "/bakeries/-3",
    ],
)
def test_ids_beyond_the_columns_range_are_not_found(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_filters_beyond_the_columns_range_match_nothing(client: TestClient) -> None:
    response = client.get("/recipe_runs/?feedstock_id=99999999999999999999")

    assert (response.status_code, response.json()) == (200, [])
