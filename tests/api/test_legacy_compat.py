"""After `pfo migrate` on the original's database, the website's routes show the same records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.api_keys import create_api_key
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.settings import Settings
from tests.conftest import create_database, drop_database
from tests.db.legacy_backup import Original, read_original, restore_legacy_backup

# What /recipe_runs/{id} gave the website, which polls it until the run completes.
RUN_FIELDS = ("status", "conclusion", "head_sha", "dataset_public_url", "is_test", "recipe_id")
DATASET_FIELDS = (
    "id",
    "recipe_id",
    "feedstock_id",
    "dataset_type",
    "dataset_public_url",
    "is_test",
)


@dataclass(frozen=True)
class Legacy:
    template: str
    original: Original


@pytest.fixture(scope="module")
def legacy(pg_server: EmbeddedPostgres, admin_engine: sa.Engine) -> Iterator[Legacy]:
    """The backup restored, read as the original left it, then upgraded; tests use copies."""
    name = restore_legacy_backup(pg_server, admin_engine)
    url = pg_server.url(name)
    original = read_original(url)
    migrate.upgrade(url)
    yield Legacy(template=name, original=original)
    drop_database(admin_engine, name)


@contextmanager
def client_on_copy(
    legacy: Legacy, pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> Iterator[tuple[TestClient, Database]]:
    name = create_database(admin_engine, template=legacy.template)
    database = Database.from_url(pg_server.url(name))
    settings = Settings(database_url=pg_server.url(name), log_format="console")
    try:
        with TestClient(create_app(settings, database=database)) as client:
            yield client, database
    finally:
        database.dispose()
        drop_database(admin_engine, name)


@pytest.fixture(scope="module")
def client(
    legacy: Legacy, pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> Iterator[TestClient]:
    """A read-only client shared by the module: nothing here writes through it."""
    with client_on_copy(legacy, pg_server, admin_engine) as (test_client, _):
        yield test_client


def get(client: TestClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text)
    return response.json()


def same_instant(written: str | None, original: datetime | None) -> bool:
    """A timestamp as the website parses it: naive UTC, no zone suffix, the same second.

    The original stored some ends with microseconds (85 of 372 completed_at in the backup);
    whether the API writes them or whole seconds, the website shows the same time.
    """
    if written is None or original is None:
        return written is None and original is None
    parsed = datetime.fromisoformat(written)
    return parsed.tzinfo is None and parsed.replace(microsecond=0) == original.replace(
        microsecond=0
    )


def human_message(message: str | None) -> str | None:
    """The backup's JSON messages all moved into typed columns; plain text stays."""
    if message is None:
        return None
    try:
        json.loads(message)
    except ValueError:
        return message
    return None


def test_feedstocks_list_the_same_ids_and_specs(client: TestClient, legacy: Legacy) -> None:
    expected = {i: f["spec"] for i, f in legacy.original.feedstocks.items()}

    for url in ("/feedstocks/", "/feedstocks"):
        assert {f["id"]: f["spec"] for f in get(client, url)} == expected
    assert get(client, "/feedstocks/1")["spec"] == "pangeo-forge/staged-recipes"


def test_a_feedstock_nests_its_most_recent_runs(client: TestClient, legacy: Legacy) -> None:
    for feedstock_id in legacy.original.feedstocks:
        body = get(client, f"/feedstocks/{feedstock_id}")
        runs = sorted(
            (i for i, r in legacy.original.runs.items() if r["feedstock_id"] == feedstock_id),
            reverse=True,
        )

        assert [run["id"] for run in body["recipe_runs"]] == runs[:100], feedstock_id


def test_production_datasets_are_those_of_the_original_tables(
    client: TestClient, legacy: Legacy
) -> None:
    total = 0
    for feedstock_id in [*legacy.original.feedstocks, 9999]:
        expected = sorted(
            (
                {field: run[field] for field in DATASET_FIELDS}
                for run in legacy.original.runs.values()
                if run["feedstock_id"] == feedstock_id
                and run["status"] == "completed"
                and run["conclusion"] == "success"
                and not run["is_test"]
                and run["dataset_public_url"] is not None
            ),
            key=lambda row: -row["id"],
        )
        body = get(client, f"/feedstocks/{feedstock_id}/datasets?type=production")

        assert [{field: row[field] for field in DATASET_FIELDS} for row in body] == expected
        total += len(body)
    assert total == 42


def test_the_bakery_keeps_its_fields(client: TestClient, legacy: Legacy) -> None:
    body = get(client, "/bakeries/1")
    original = legacy.original.bakeries[1]

    assert {k: body[k] for k in ("id", "name", "region", "description")} == {
        k: original[k] for k in ("id", "name", "region", "description")
    }
    assert [run["id"] for run in body["recipe_runs"]] == sorted(legacy.original.runs)[::-1][:100]


def all_runs(client: TestClient) -> list[dict[str, Any]]:
    """Every run, through the list route's keyset pages."""
    runs: list[dict[str, Any]] = []
    while page := get(client, f"/recipe_runs/?after_id={runs[-1]['id'] if runs else 0}"):
        runs += page
    return runs


def assert_reads_as_before(body: dict[str, Any], original: dict[str, Any]) -> None:
    run_id = original["id"]
    assert {f: body[f] for f in RUN_FIELDS} == {f: original[f] for f in RUN_FIELDS}, run_id
    assert same_instant(body["started_at"], original["started_at"]), run_id
    assert same_instant(body["completed_at"], original["completed_at"]), run_id
    assert body["message"] == human_message(original["message"]), run_id


def test_every_recipe_run_reads_as_the_website_knew_it(client: TestClient, legacy: Legacy) -> None:
    runs = all_runs(client)

    assert [run["id"] for run in runs] == sorted(legacy.original.runs)
    for body in runs:
        assert_reads_as_before(body, legacy.original.runs[body["id"]])


# One run of each kind: a plain-text message, a traceback, an end with microseconds, a run
# left in_progress with a conclusion, the first and the last; and every 50th for the rest.
SAMPLE_RUNS = sorted({1, 51, 1172, 1331, 1449, 1481, 1568, *range(2, 1568, 50)})


def test_a_recipe_run_nests_its_bakery_and_feedstock(client: TestClient, legacy: Legacy) -> None:
    feedstocks = legacy.original.feedstocks
    sample = [run_id for run_id in SAMPLE_RUNS if run_id in legacy.original.runs]
    for run_id in sample:
        original = legacy.original.runs[run_id]
        body = get(client, f"/recipe_runs/{run_id}")

        assert_reads_as_before(body, original)
        assert body["feedstock"]["spec"] == feedstocks[original["feedstock_id"]]["spec"]
        assert body["bakery"]["name"] == legacy.original.bakeries[original["bakery_id"]]["name"]
    assert len(sample) > 20


def test_the_first_page_of_runs_is_the_first_hundred_ids(
    client: TestClient, legacy: Legacy
) -> None:
    assert [run["id"] for run in get(client, "/recipe_runs/")] == sorted(legacy.original.runs)[:100]


def test_stats_equal_the_counts_of_the_original_tables(client: TestClient, legacy: Legacy) -> None:
    runs = legacy.original.runs.values()
    production_datasets = sum(
        run["status"] == "completed"
        and run["conclusion"] == "success"
        and not run["is_test"]
        and run["dataset_public_url"] is not None
        for run in runs
    )

    assert get(client, "/stats/feedstocks") == {"count": len(legacy.original.feedstocks)}
    assert get(client, "/stats/bakeries") == {"count": len(legacy.original.bakeries)}
    assert get(client, "/stats/recipe_runs") == {"count": 1416}
    assert get(client, "/stats/datasets?exclude_test_runs=true") == {"count": production_datasets}
    assert production_datasets == 42


def test_new_records_get_ids_after_the_highest_old_one(
    legacy: Legacy, pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> None:
    with client_on_copy(legacy, pg_server, admin_engine) as (client, database):
        with database.session() as session:
            admin = {"X-API-Key": create_api_key(session, name="compat")}
        feedstock = client.post(
            "/feedstocks/",
            json={"spec": "pangeo-forge/new-feedstock", "provider": "github"},
            headers=admin,
        )
        assert feedstock.status_code == 200, feedstock.text
        run = client.post(
            "/recipe_runs/",
            json={
                "recipe_id": "new",
                "bakery_id": 1,
                "feedstock_id": feedstock.json()["id"],
                "head_sha": "0" * 40,
                "version": "",
                "status": "queued",
                "is_test": True,
            },
            headers=admin,
        )
        assert run.status_code == 200, run.text

        assert feedstock.json()["id"] > max(legacy.original.feedstocks)
        assert run.json()["id"] > max(legacy.original.runs) == 1568
        assert get(client, "/stats/recipe_runs") == {"count": 1417}
