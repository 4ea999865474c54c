"""`GET /recipe_runs/{id}/logs`: the output stored at completion, redacted, tail kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.run_logs import (
    MAX_LOG_BYTES,
    read_run_log,
    run_log_path,
    save_run_log,
)
from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.core.bakeries import BakeryRegistry, default_registry
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs.complete_run import complete_run
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext
from pangeo_forge_orchestrator.jobs.services import BAKERIES_SERVICE, BakeryServices
from pangeo_forge_orchestrator.settings import Settings
from tests.webhooks.runs_seed import run_state, seed_run

SECRET = "s3cr3t-token-value-0123456789"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, log_format="console", data_dir=tmp_path)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


def services(data_dir: Path) -> BakeryServices:
    registry = default_registry(data_dir=data_dir)
    return BakeryServices(
        registry=BakeryRegistry(bakeries=registry.bakeries, secrets=(SecretStr(SECRET),))
    )


def complete(settings: Settings, database: Database, payload: dict[str, object]) -> None:
    ctx = JobContext(
        settings=settings,
        database=database,
        services={BAKERIES_SERVICE: services(settings.data_dir)},
    )
    job = ClaimedJob(
        id=0, kind="complete_run", payload=payload, attempt=1, max_attempts=5, locked_by="t"
    )
    # A run with neither check run nor pull request has nothing to report on GitHub.
    asyncio.run(complete_run(ctx, job))


def test_the_output_stored_at_completion_is_served_with_secrets_redacted(
    client: TestClient, settings: Settings, database: Database
) -> None:
    run_id = seed_run(database, data_dir=settings.data_dir)
    detail = f"Traceback ...\nrequests.HTTPError: 403 for token {SECRET}\n"

    complete(
        settings,
        database,
        {"recipe_run_id": run_id, "state": "failed", "message": "boom", "failure_detail": detail},
    )

    assert run_state(database, run_id)[:2] == ("completed", "failure")
    response = client.get(f"/recipe_runs/{run_id}/logs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "requests.HTTPError: 403 for token ***" in response.text
    assert SECRET not in response.text
    assert SECRET not in run_log_path(settings.data_dir, run_id).read_text()


def test_a_run_without_logs_yet_says_so(
    client: TestClient, settings: Settings, database: Database
) -> None:
    run_id = seed_run(database, data_dir=settings.data_dir)

    response = client.get(f"/recipe_runs/{run_id}/logs")

    assert (response.status_code, response.text) == (
        200,
        f"no logs stored for recipe run {run_id} yet\n",
    )


def test_an_unknown_run_is_404(client: TestClient, settings: Settings, database: Database) -> None:
    seed_run(database, data_dir=settings.data_dir)

    response = client.get("/recipe_runs/4242/logs")

    assert (response.status_code, response.json()) == (
        404,
        {"detail": "recipe run 4242 does not exist"},
    )


def test_a_dataflow_run_links_to_its_console_logs(
    client: TestClient, settings: Settings, database: Database
) -> None:
    run_id = seed_run(database, data_dir=settings.data_dir, bakery_job_id="2026-11-23_04_05-123")
    with database.engine.begin() as conn:
        bakery_id = conn.execute(
            sa.text(
                "INSERT INTO bakery (name, region, description, kind) "
                "VALUES ('gcp', 'us-central1', 'Dataflow', 'dataflow') RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE recipe_run SET bakery_id = :b WHERE id = :r"),
            {"b": bakery_id, "r": run_id},
        )

    response = client.get(f"/recipe_runs/{run_id}/logs")

    assert response.status_code == 200
    assert (
        "https://console.cloud.google.com/dataflow/jobs/us-central1/2026-11-23_04_05-123"
        in response.text
    )


def test_a_long_log_keeps_its_tail_and_never_a_half_cut_secret(tmp_path: Path) -> None:
    text = "early line\n" * 100_000 + f"token={SECRET}\n" + "last line\n"

    save_run_log(tmp_path, 7, text, redact=lambda t: t.replace(SECRET, "***"))

    stored = read_run_log(tmp_path, 7)
    assert stored is not None
    assert len(stored.encode()) <= MAX_LOG_BYTES + 100
    assert stored.startswith("[... earlier output dropped")
    assert stored.endswith("token=***\nlast line\n")
    assert SECRET not in stored
    assert read_run_log(tmp_path, 8) is None
