"""/stats: counts read from the trigger-kept `stat_counter`, never counted on request."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import stats
from pangeo_forge_orchestrator.db.engine import Database
from tests.api.conftest import Seed


def count(client: TestClient, path: str) -> int:
    response = client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"count"}
    return int(body["count"])


def test_counts_start_at_zero(client: TestClient) -> None:
    for name in ("recipe_runs", "bakeries", "feedstocks", "datasets"):
        assert count(client, f"/stats/{name}") == 0


def test_counts_follow_rows_written_in_sql_and_through_the_api(
    client: TestClient, seed: Seed, admin: dict[str, str]
) -> None:
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    done = {"status": "completed", "conclusion": "success", "dataset_public_url": "https://x"}
    seed.runs(3, bakery_id=bakery_id, feedstock_id=feedstock_id)
    seed.run(bakery_id=bakery_id, feedstock_id=feedstock_id, is_test=False, **done)
    test_dataset = seed.run(bakery_id=bakery_id, feedstock_id=feedstock_id, **done)
    client.post("/feedstocks/", json={"spec": "o/second-feedstock"}, headers=admin)

    assert count(client, "/stats/recipe_runs") == 5
    assert count(client, "/stats/bakeries") == 1
    assert count(client, "/stats/feedstocks") == 2
    assert count(client, "/stats/datasets") == 2
    assert count(client, "/stats/datasets?exclude_test_runs=true") == 1
    assert count(client, "/stats/datasets?exclude_test_runs=false") == 2

    client.delete(f"/recipe_runs/{test_dataset}", headers=admin)

    assert count(client, "/stats/recipe_runs") == 4
    assert count(client, "/stats/datasets") == 1


def test_counts_are_read_from_the_counter_table(client: TestClient, database: Database) -> None:
    """The route trusts the counter: it does not count rows itself."""
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE stat_counter SET value = 1234567 WHERE name = 'recipe_runs'"))

    assert count(client, "/stats/recipe_runs") == 1234567


def test_a_missing_counter_is_503_with_the_fix(client: TestClient, database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM stat_counter WHERE name = 'production_datasets'"))

    response = client.get("/stats/datasets?exclude_test_runs=true")

    assert response.status_code == 503
    assert response.json() == {"detail": stats.MISSING_COUNTER.format(name="production_datasets")}


@pytest.mark.parametrize("query", ["exclude_test_runs=perhaps"])
def test_a_bad_flag_is_422(client: TestClient, query: str) -> None:
    assert client.get(f"/stats/datasets?{query}").status_code == 422


def test_unknown_stats_are_404(client: TestClient) -> None:
    assert client.get("/stats/everything").status_code == 404
