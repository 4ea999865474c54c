"""Bakery status reports: `/bakery/callbacks/` (JSON, signed) and the `dataflow` form delivery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.core.vocabulary import RunStatus
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.settings import Settings
from tests.webhooks.helpers import HOOKS, app_settings, sign, stored
from tests.webhooks.runs_seed import drain, jobs_of, run_state, seed_run

CALLBACKS = "/bakery/callbacks/"
CALLBACK_SECRET = "bakery-callback-secret"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return app_settings(
        database_url, bakery_callback_secret=SecretStr(CALLBACK_SECRET), data_dir=tmp_path
    )


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


def body_of(run_id: int, state: str, *, job_id: str = "job-1", message: str | None = None) -> bytes:
    report = {"recipe_run_id": run_id, "job_id": job_id, "state": state, "message": message}
    return json.dumps(report).encode()


def report(client: TestClient, body: bytes, *, signature: str | None = "good") -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PFO-Signature-256"] = (
            sign(body, CALLBACK_SECRET) if signature == "good" else signature
        )
    response = client.post(CALLBACKS, content=body, headers=headers)
    return response.status_code, response.json()


def dataflow(client: TestClient, run_id: int, conclusion: str) -> int:
    body = f"action=completed&recipe_run_id={run_id}&conclusion={conclusion}".encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "dataflow",
        "X-Hub-Signature-256": sign(body),
    }
    return client.post(HOOKS, content=body, headers=headers).status_code


def deliveries(database: Database) -> dict[str, tuple[str, str | None]]:
    return {d.guid: (d.status, d.error) for d in stored(database).deliveries}


def test_a_signed_report_is_stored_then_completes_the_run(
    client: TestClient, settings: Settings, database: Database, tmp_path: Path
) -> None:
    run_id = seed_run(database, data_dir=tmp_path)

    status, answer = report(client, body_of(run_id, "succeeded"))

    assert (status, answer) == (
        202,
        {"delivery": f"bakery:{run_id}:job-1:succeeded", "duplicate": False},
    )
    # Stored and queued only: the run changes when the worker handles it.
    assert run_state(database, run_id)[:2] == ("in_progress", None)
    drain(settings, database)
    assert run_state(database, run_id)[:2] == ("completed", "success")
    assert deliveries(database) == {f"bakery:{run_id}:job-1:succeeded": ("handled", None)}


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(
    client: TestClient, database: Database, tmp_path: Path, signature: str | None
) -> None:
    run_id = seed_run(database, data_dir=tmp_path)

    status, answer = report(client, body_of(run_id, "succeeded"), signature=signature)

    assert (status, answer) == (401, {"detail": "missing or invalid X-PFO-Signature-256"})
    assert stored(database).deliveries == []


def test_a_report_signed_with_another_secret_is_refused(
    client: TestClient, database: Database, tmp_path: Path
) -> None:
    run_id = seed_run(database, data_dir=tmp_path)
    body = body_of(run_id, "succeeded")

    status, _ = report(client, body, signature=sign(body, "not-the-secret"))

    assert status == 401


def test_without_a_callback_secret_reports_are_refused_with_the_reason(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    settings = app_settings(database_url, data_dir=tmp_path)
    with TestClient(create_app(settings, database=database)) as client:
        status, answer = report(client, body_of(1, "succeeded"))

    assert status == 503
    assert "PFO_BAKERY_CALLBACK_SECRET" in answer["detail"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "body"),
        (b'{"recipe_run_id": 1, "job_id": "j", "state": "exploded"}', "state"),
        (b'{"recipe_run_id": "1", "job_id": "j", "state": "failed"}', "recipe_run_id"),
        (b'{"recipe_run_id": 1, "state": "failed"}', "job_id"),
    ],
)
def test_a_bad_body_is_422_with_the_problem(
    client: TestClient, database: Database, body: bytes, problem: str
) -> None:
    status, answer = report(client, body)

    assert status == 422
    assert problem in answer["detail"]
    assert stored(database).deliveries == []


def test_a_report_for_an_unknown_run_is_404_and_nothing_is_stored(
    client: TestClient, database: Database, tmp_path: Path
) -> None:
    seed_run(database, data_dir=tmp_path)

    status, answer = report(client, body_of(4242, "succeeded"))

    assert (status, answer) == (404, {"detail": "recipe run 4242 does not exist"})
    assert stored(database).deliveries == []
    assert jobs_of(database, "handle_delivery") == []


def test_a_duplicate_report_is_stored_once_and_completes_once(
    client: TestClient, settings: Settings, database: Database, tmp_path: Path
) -> None:
    run_id = seed_run(database, data_dir=tmp_path)

    first = report(client, body_of(run_id, "succeeded"))
    second = report(client, body_of(run_id, "succeeded"))

    assert first[1]["duplicate"] is False
    assert second == (202, {"delivery": f"bakery:{run_id}:job-1:succeeded", "duplicate": True})
    drain(settings, database)
    assert len(stored(database).deliveries) == 1
    assert len(jobs_of(database, "complete_run")) == 1
    assert run_state(database, run_id)[:2] == ("completed", "success")


def test_a_late_running_report_after_completion_is_recorded_and_ignored(
    client: TestClient, settings: Settings, database: Database, tmp_path: Path
) -> None:
    run_id = seed_run(database, data_dir=tmp_path)
    report(client, body_of(run_id, "failed", message="the bake failed"))
    drain(settings, database)

    status, _ = report(client, body_of(run_id, "running"))
    drain(settings, database)

    assert status == 202
    assert run_state(database, run_id) == ("completed", "failure", "the bake failed")
    assert deliveries(database)[f"bakery:{run_id}:job-1:running"] == (
        "ignored",
        "run is already completed (failure); a late or duplicate start is ignored",
    )


def test_a_finish_before_the_run_started_is_ignored(
    client: TestClient, settings: Settings, database: Database, tmp_path: Path
) -> None:
    run_id = seed_run(database, data_dir=tmp_path, status=RunStatus.QUEUED)

    report(client, body_of(run_id, "succeeded"))
    drain(settings, database)

    assert run_state(database, run_id)[:2] == ("queued", None)
    (state,) = deliveries(database).values()
    assert state[0] == "ignored"
    assert "never started" in (state[1] or "")


@pytest.mark.parametrize(
    ("conclusion", "expected"), [("success", "success"), ("failure", "failure")]
)
def test_the_dataflow_form_delivery_completes_the_run(
    client: TestClient,
    settings: Settings,
    database: Database,
    tmp_path: Path,
    conclusion: str,
    expected: str,
) -> None:
    run_id = seed_run(database, data_dir=tmp_path, bakery_job_id="2026-11-23_01")

    assert dataflow(client, run_id, conclusion) == 202
    drain(settings, database)

    assert run_state(database, run_id)[:2] == ("completed", expected)
    assert deliveries(database) == {f"dataflow:{run_id}:{conclusion}": ("handled", None)}


def test_both_formats_reporting_success_complete_the_run_once(
    client: TestClient, settings: Settings, database: Database, tmp_path: Path
) -> None:
    run_id = seed_run(database, data_dir=tmp_path)

    report(client, body_of(run_id, "succeeded"))
    drain(settings, database)
    dataflow(client, run_id, "success")
    drain(settings, database)

    assert len(jobs_of(database, "complete_run")) == 1
    assert deliveries(database)[f"dataflow:{run_id}:success"][0] == "ignored"


def test_a_stored_dataflow_delivery_for_an_unknown_run_is_ignored_with_the_reason(
    client: TestClient, settings: Settings, database: Database
) -> None:
    assert dataflow(client, 777, "success") == 202
    drain(settings, database)

    assert deliveries(database) == {
        "dataflow:777:success": (
            "ignored",
            "recipe run 777 does not exist; the status report is ignored",
        )
    }
    assert jobs_of(database, "complete_run") == []
