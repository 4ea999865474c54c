"""Reconciliation of Dataflow runs: the poller settles what no callback reported, and stops bakes.

The runs really go through `/run` -> dispatch -> the fake runner's `submitted` line; Dataflow's
jobs API is a fake behind the DataflowJobs protocol (the adapter tests' FakeDataflowJobs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DataflowJobNotFoundError,
    DataflowNotConfiguredError,
    DataflowPermissionError,
    DataflowUnavailableError,
)
from pangeo_forge_orchestrator.adapters.bakeries.registry import build_bakeries
from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.core.reconcile import SETTLED_MESSAGE
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.cancel_bake import CANCEL_BAKE
from pangeo_forge_orchestrator.jobs.reconcile_runs import RECONCILE_RUNS, reconcile_runs
from pangeo_forge_orchestrator.jobs.services import (
    BAKERIES_SERVICE,
    COMPLETE_RUN,
    BakeryServices,
    enqueue_completion,
)
from tests.adapters.test_bakeries_dataflow import FakeDataflowJobs
from tests.fake_github import FakeGitHub, FakeRepo
from tests.fake_runner import FakeRunner
from tests.webhooks.helpers import sign
from tests.workflows.harness import (
    FEEDSTOCK,
    HEAD_SHA,
    MAINTAINER,
    Harness,
    build_harness,
    make_settings,
)
from tests.workflows.test_reconcile import force, reconcile, run_of
from tests.workflows.test_slash_commands import comment, our_comments

pytestmark = pytest.mark.anyio

PROJECT, REGION = "pangeo-forge-4967", "us-central1"
SUBMITTED_JOB = "2024-01-02_03_04_05-123"  # what the fake runner's `remote` recipe submits
CALLBACK_SECRET = "bakery-callback-secret"
META = """\
title: Ocean temperatures on Dataflow
recipes:
  - id: ok
    object: "recipe:recipe"
  - id: crash
    object: "recipe:recipe"
  - id: remote
    object: "recipe:recipe"
bakery:
  id: gcp
"""
BAKERIES = """\
bakeries:
  gcp:
    region: us-central1
    description: Dataflow
    kind: dataflow
    runner_config:
      DataflowBakery: {{project_id: {project}, region: {region}, temp_gcs_location: gs://b/temp}}
    target_root: "gs://b/{{subpath}}"
    public_url: "https://storage.googleapis.com/b/{{subpath}}"
    max_run_seconds: 3600
"""


class DataflowApi(FakeDataflowJobs):
    """The fake jobs API, where a job may answer with an error instead of its state."""

    def __init__(self) -> None:
        super().__init__({})
        self.errors: dict[str, Exception] = {}
        self.cancel_errors: dict[str, Exception] = {}

    async def get_state(self, *, project_id: str, region: str, job_id: str) -> str:
        if job_id in self.errors:
            self.asked.append((project_id, region, job_id))
            raise self.errors[job_id]
        return await super().get_state(project_id=project_id, region=region, job_id=job_id)

    async def cancel(self, *, project_id: str, region: str, job_id: str) -> None:
        if job_id in self.cancel_errors:
            raise self.cancel_errors.pop(job_id)
        await super().cancel(project_id=project_id, region=region, job_id=job_id)


@pytest.fixture
def api() -> DataflowApi:
    return DataflowApi()


@pytest.fixture
def harness(
    fake_github: FakeGitHub,
    database_url: str,
    runner: FakeRunner,
    tmp_path: Path,
    api: DataflowApi,
) -> Iterator[Harness]:
    settings = make_settings(fake_github, database_url=database_url, runner=runner, tmp=tmp_path)
    settings = settings.model_copy(update={"bakery_callback_secret": SecretStr(CALLBACK_SECRET)})
    assert settings.bakeries_file is not None
    settings.bakeries_file.write_text(BAKERIES.format(project=PROJECT, region=REGION))
    database = Database.from_url(database_url)
    try:
        with TestClient(create_app(settings, database=database)) as client:
            built = build_harness(
                fake_github, settings=settings, database=database, client=client, runner=runner
            )
            # The worker's bakeries, following their jobs through the fake API.
            registry = built.ctx.services[BAKERIES_SERVICE].registry
            adapters = build_bakeries(
                registry,
                runner_command_line=settings.runner_command,
                environ=runner.environ,
                data_dir=settings.data_dir,
                dataflow_jobs=api,
                on_complete=enqueue_completion(database),
            )
            services = BakeryServices(registry=registry, adapters=adapters)
            built.ctx = dataclasses.replace(
                built.ctx, services={**built.ctx.services, BAKERIES_SERVICE: services}
            )
            yield built
    finally:
        database.dispose()


async def submitted(harness: Harness) -> tuple[FakeRepo, Any]:
    """PR #7 on a Dataflow feedstock; `/run remote` submitted its Dataflow job 5 minutes ago."""
    repo = harness.add_feedstock()
    repo.permissions[MAINTAINER] = "write"
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})
    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    await harness.work()
    comment(harness, repo, "/run remote")
    await harness.work()
    remote = run_of(harness, "remote")
    assert (remote.status, remote.bakery_job_id) == ("in_progress", SUBMITTED_JOB)
    force(harness, remote.id, "updated_at = now() - interval '5 minutes'")
    harness.reset_calls()
    return repo, remote


def baking(harness: Harness, recipe_id: str, *, job_id: str) -> int:
    """Put another of the PR's runs in progress on Dataflow, as if /run had submitted JOB_ID."""
    run_id = int(run_of(harness, recipe_id).id)
    force(
        harness,
        run_id,
        "status = 'in_progress', requested_by = 'maintainer', bakery_job_name = 'n', "
        f"bakery_job_id = '{job_id}', updated_at = now() - interval '5 minutes'",
    )
    return run_id


def run_check(repo: FakeRepo, recipe_id: str) -> dict[str, Any]:
    check: dict[str, Any] = next(
        c for c in repo.check_runs.values() if c["name"] == f"Recipe run: {recipe_id}"
    )
    return check


def callback(harness: Harness, run_id: int, state: str) -> dict[str, Any]:
    body = json.dumps({"recipe_run_id": run_id, "job_id": SUBMITTED_JOB, "state": state}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-PFO-Signature-256": sign(body, CALLBACK_SECRET),
    }
    response = harness.client.post("/bakery/callbacks/", content=body, headers=headers)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def delivery_status(harness: Harness, guid: str) -> tuple[str, str | None]:
    (found,) = [d for d in harness.deliveries() if d.guid == guid]
    return found.status, found.error


async def test_a_job_done_without_a_callback_is_completed_success_and_reported(
    harness: Harness, api: DataflowApi
) -> None:
    repo, remote = await submitted(harness)
    api.states[SUBMITTED_JOB] = "JOB_STATE_DONE"

    ran = await reconcile(harness)

    assert ran == [(RECONCILE_RUNS, "succeeded"), (COMPLETE_RUN, "succeeded")]
    # Asked where the run's profile submitted it.
    assert api.asked == [(PROJECT, REGION, SUBMITTED_JOB)]
    remote = run_of(harness, "remote")
    assert (remote.status, remote.conclusion) == ("completed", "success")
    assert remote.message == SETTLED_MESSAGE.format(state="JOB_STATE_DONE")
    url = (
        f"https://storage.googleapis.com/b/pangeo-forge/test/{FEEDSTOCK}/"
        f"recipe-run-{remote.id}/remote.zarr"
    )
    assert remote.dataset_public_url == url
    # Reported on GitHub as a callback's completion would be.
    assert (run_check(repo, "remote")["status"], run_check(repo, "remote")["conclusion"]) == (
        "completed",
        "success",
    )
    (result,) = our_comments(repo)
    assert json.dumps(url) in result
    # Settled once: the next pass asks nothing of a completed run.
    assert {kind for kind, _ in await reconcile(harness)} == {RECONCILE_RUNS}
    assert len(api.asked) == 1


async def test_a_failed_job_is_completed_failure_with_dataflows_word_in_the_comment(
    harness: Harness, api: DataflowApi
) -> None:
    repo, _ = await submitted(harness)
    api.states[SUBMITTED_JOB] = "JOB_STATE_FAILED"

    await reconcile(harness)

    remote = run_of(harness, "remote")
    assert (remote.status, remote.conclusion) == ("completed", "failure")
    assert remote.dataset_public_url is None
    assert run_check(repo, "remote")["conclusion"] == "failure"
    (result,) = our_comments(repo)
    assert "JOB_STATE_FAILED" in result
    assert f"https://pfo.example/recipe_runs/{remote.id}/logs" in result


@pytest.mark.parametrize("state", ["JOB_STATE_RUNNING", "JOB_STATE_QUEUED", "JOB_STATE_WEIRD"])
async def test_a_job_still_running_or_in_an_unknown_state_is_left_alone(
    harness: Harness, api: DataflowApi, state: str
) -> None:
    await submitted(harness)
    api.states[SUBMITTED_JOB] = state

    ran = await reconcile(harness)

    assert ran == [(RECONCILE_RUNS, "succeeded")]
    assert api.asked == [(PROJECT, REGION, SUBMITTED_JOB)]
    assert run_of(harness, "remote").status == "in_progress"
    assert harness.calls() == {}


async def test_a_job_submitted_a_moment_ago_is_not_asked_about(
    harness: Harness, api: DataflowApi
) -> None:
    await submitted(harness)
    force(harness, run_of(harness, "remote").id, "updated_at = now()")
    api.states[SUBMITTED_JOB] = "JOB_STATE_DONE"

    await reconcile(harness)

    assert api.asked == []
    assert run_of(harness, "remote").status == "in_progress"


async def test_runs_dataflow_cannot_answer_for_stay_as_they_are_and_the_others_are_settled(
    harness: Harness, api: DataflowApi, caplog: pytest.LogCaptureFixture
) -> None:
    _, remote = await submitted(harness)
    # Asked first (lower ids): one job Dataflow cannot serve now, one the account may not read.
    down = baking(harness, "ok", job_id="job-down")
    denied = baking(harness, "crash", job_id="job-denied")
    api.errors["job-down"] = DataflowUnavailableError("Dataflow answered HTTP 503", status=503)
    api.errors["job-denied"] = DataflowPermissionError("may not read job-denied", status=403)
    api.states[SUBMITTED_JOB] = "JOB_STATE_DONE"

    with caplog.at_level(logging.WARNING, logger="pangeo_forge_orchestrator.jobs.reconcile_runs"):
        ran = await reconcile(harness)

    assert ran == [(RECONCILE_RUNS, "succeeded"), (COMPLETE_RUN, "succeeded")]
    assert [job_id for _, _, job_id in api.asked] == ["job-down", "job-denied", SUBMITTED_JOB]
    assert run_of(harness, "remote").conclusion == "success"
    states = {r.id: r.status for r in harness.runs()}
    assert (states[down], states[denied]) == ("in_progress", "in_progress")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [(r.run, r.error) for r in warnings] == [  # type: ignore[attr-defined]
        (down, "DataflowUnavailableError"),
        (denied, "DataflowPermissionError"),
    ]
    assert remote.id not in {r.run for r in warnings}  # type: ignore[attr-defined]


async def test_a_bakery_without_a_jobs_client_leaves_its_runs_to_the_timeout(
    harness: Harness, api: DataflowApi, caplog: pytest.LogCaptureFixture
) -> None:
    await submitted(harness)
    api.errors[SUBMITTED_JOB] = DataflowNotConfiguredError("no Dataflow jobs client")

    with caplog.at_level(logging.INFO, logger="pangeo_forge_orchestrator.jobs.reconcile_runs"):
        assert await reconcile(harness) == [(RECONCILE_RUNS, "succeeded")]

    assert run_of(harness, "remote").status == "in_progress"
    # Callbacks only, by the operator's choice: said once per pass, not as a warning.
    (said,) = [r for r in caplog.records if r.msg == "could not ask the bakery how a run is doing"]
    assert (said.levelno, said.error) == (logging.INFO, "DataflowNotConfiguredError")  # type: ignore[attr-defined]

    # Past the bakery's limit, the timeout settles it all the same.
    force(harness, run_of(harness, "remote").id, "updated_at = now() - interval '2 hours'")
    await reconcile(harness)
    assert run_of(harness, "remote").conclusion == "timed_out"


async def test_a_callback_after_the_poller_settled_the_run_is_recorded_and_ignored(
    harness: Harness, api: DataflowApi
) -> None:
    repo, remote = await submitted(harness)
    api.states[SUBMITTED_JOB] = "JOB_STATE_DONE"
    await reconcile(harness)
    harness.reset_calls()

    answer = callback(harness, remote.id, "succeeded")
    late_failure = callback(harness, remote.id, "failed")
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded"), ("handle_delivery", "succeeded")]
    for guid in (answer["delivery"], late_failure["delivery"]):
        status, reason = delivery_status(harness, guid)
        assert status == "ignored"
        assert reason is not None
        assert "completed" in reason
    remote = run_of(harness, "remote")
    assert (remote.status, remote.conclusion) == ("completed", "success")
    assert harness.calls() == {}
    assert len(our_comments(repo)) == 1


async def test_a_callback_racing_the_pollers_completion_completes_the_run_once(
    harness: Harness, api: DataflowApi
) -> None:
    repo, remote = await submitted(harness)
    api.states[SUBMITTED_JOB] = "JOB_STATE_DONE"
    # The poller's complete_run is queued, not yet run, when the callback arrives.
    with harness.database.session() as session:
        queue.enqueue(session, kind=RECONCILE_RUNS, payload={})
    harness.make_due()
    with harness.database.session() as session:
        (job,) = queue.claim(session, worker="test", limit=1, lease=timedelta(minutes=5))
    await reconcile_runs(harness.ctx, job)
    callback(harness, remote.id, "succeeded")

    ran = await harness.work()

    assert ran.count((COMPLETE_RUN, "succeeded")) == 1
    completions = [j for j in harness.jobs() if j.kind == COMPLETE_RUN]
    assert [j.dedupe_key for j in completions] == [f"complete:{remote.id}:succeeded"]
    assert len(our_comments(repo)) == 1


# ---- stopping bakes ----------------------------------------------------------------------------
async def test_cancel_stops_the_dataflow_job(harness: Harness, api: DataflowApi) -> None:
    repo, _ = await submitted(harness)

    comment(harness, repo, "/cancel remote")
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded"), (CANCEL_BAKE, "succeeded")]
    assert run_of(harness, "remote").conclusion == "cancelled"
    assert api.cancelled == [(PROJECT, REGION, SUBMITTED_JOB)]


async def test_a_cancel_dataflow_cannot_take_now_is_rescheduled_as_it_asks(
    harness: Harness, api: DataflowApi
) -> None:
    repo, _ = await submitted(harness)
    api.cancel_errors[SUBMITTED_JOB] = DataflowUnavailableError(
        "Dataflow answered HTTP 429", status=429, retry_after=timedelta(seconds=120)
    )

    comment(harness, repo, "/cancel remote")
    ran = await harness.work()

    # The run is cancelled at once; the bake's stop comes back when Dataflow said to.
    assert ran == [("handle_delivery", "succeeded"), (CANCEL_BAKE, "rescheduled")]
    assert run_of(harness, "remote").conclusion == "cancelled"
    (stop,) = [j for j in harness.jobs() if j.kind == CANCEL_BAKE]
    assert (stop.status, stop.attempts) == ("queued", 0)
    waits = (stop.run_after - datetime.now(UTC)).total_seconds()
    assert 100 <= waits <= 120
    assert api.cancelled == []

    harness.make_due()
    assert await harness.work() == [(CANCEL_BAKE, "succeeded")]
    assert api.cancelled == [(PROJECT, REGION, SUBMITTED_JOB)]


async def test_a_cancel_of_a_job_dataflow_no_longer_has_is_done(
    harness: Harness, api: DataflowApi
) -> None:
    repo, _ = await submitted(harness)
    api.cancel_errors[SUBMITTED_JOB] = DataflowJobNotFoundError("no such job", status=404)

    comment(harness, repo, "/cancel remote")

    assert await harness.work() == [("handle_delivery", "succeeded"), (CANCEL_BAKE, "succeeded")]
    assert run_of(harness, "remote").conclusion == "cancelled"


async def test_a_timed_out_run_has_its_dataflow_job_stopped(
    harness: Harness, api: DataflowApi
) -> None:
    _, remote = await submitted(harness)
    force(harness, remote.id, "updated_at = now() - interval '2 hours'")
    api.states[SUBMITTED_JOB] = "JOB_STATE_RUNNING"

    ran = await reconcile(harness)

    assert ran == [
        (RECONCILE_RUNS, "succeeded"),
        (COMPLETE_RUN, "succeeded"),
        (CANCEL_BAKE, "succeeded"),
    ]
    # The timeout wins without asking Dataflow how the job is doing.
    assert api.asked == []
    assert run_of(harness, "remote").conclusion == "timed_out"
    assert api.cancelled == [(PROJECT, REGION, SUBMITTED_JOB)]
