"""The cancel_bake job: what each answer of the bakery makes of the stop, and its queueing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DATAFLOW_NOT_CONFIGURED,
    DataflowApiError,
    DataflowBakery,
    DataflowJobNotFoundError,
    DataflowPermissionError,
    DataflowUnavailableError,
)
from pangeo_forge_orchestrator.core.bakeries import parse_bakeries
from pangeo_forge_orchestrator.core.bakes import BakeHandle
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs.cancel_bake import (
    BAD_PAYLOAD,
    CANCEL_BAKE,
    cancel_bake,
    enqueue_cancel_bake,
)
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, RetryLater
from pangeo_forge_orchestrator.jobs.services import BAKERIES_SERVICE, BakeryServices
from pangeo_forge_orchestrator.settings import Settings
from tests.adapters.test_bakeries_dataflow import FakeDataflowJobs
from tests.jobs.conftest import job_row

pytestmark = pytest.mark.anyio

JOB_ID = "2024-01-02_03_04_05-123"
HANDLE = BakeHandle(bakery="gcp", recipe_run_id=7, is_test=False, job_name="n", job_id=JOB_ID)
BAKERIES = {
    "bakeries": {
        "gcp": {
            "region": "us-central1",
            "description": "Dataflow",
            "kind": "dataflow",
            "runner_config": {
                "DataflowBakery": {"project_id": "p", "temp_gcs_location": "gs://b/temp"}
            },
            "target_root": "gs://b/{subpath}",
            "public_url": "https://storage.googleapis.com/b/{subpath}",
        }
    }
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RefusingJobs(FakeDataflowJobs):
    """Dataflow's jobs API answering every cancel with ERROR."""

    def __init__(self, error: Exception) -> None:
        super().__init__({})
        self.error = error

    async def cancel(self, *, project_id: str, region: str, job_id: str) -> None:
        raise self.error


def context(database: Database, jobs: FakeDataflowJobs | None) -> JobContext:
    registry = parse_bakeries(BAKERIES, environ={})
    bakery = DataflowBakery(
        registry["gcp"], runner_command=["pfr"], environ={}, redact=registry.redact, jobs=jobs
    )
    services = BakeryServices(registry=registry, adapters={"gcp": bakery})
    return JobContext(
        settings=Settings(_env_file=None),
        database=database,
        services={BAKERIES_SERVICE: services},
    )


def claimed(payload: dict[str, Any]) -> ClaimedJob:
    return ClaimedJob(
        id=1, kind=CANCEL_BAKE, payload=payload, attempt=1, max_attempts=5, locked_by="t"
    )


def payload_of(handle: BakeHandle = HANDLE) -> dict[str, Any]:
    return {
        "bakery": handle.bakery,
        "recipe_run_id": handle.recipe_run_id,
        "is_test": handle.is_test,
        "job_name": handle.job_name,
        "job_id": handle.job_id,
    }


async def test_the_job_asks_dataflow_to_cancel_the_runs_job(database: Database) -> None:
    jobs = FakeDataflowJobs({})

    await cancel_bake(context(database, jobs), claimed(payload_of()))

    assert jobs.cancelled == [("p", "us-central1", JOB_ID)]


async def test_a_bake_never_given_a_job_id_has_nothing_to_cancel(database: Database) -> None:
    jobs = FakeDataflowJobs({})
    no_id = BakeHandle(bakery="gcp", recipe_run_id=7, is_test=False, job_name="n")

    await cancel_bake(context(database, jobs), claimed(payload_of(no_id)))

    assert jobs.cancelled == []


async def test_a_job_dataflow_does_not_have_is_nothing_to_cancel(database: Database) -> None:
    jobs = RefusingJobs(DataflowJobNotFoundError("Dataflow job x was not found", status=404))

    # Returns: the job succeeds.
    await cancel_bake(context(database, jobs), claimed(payload_of()))


async def test_unavailable_with_a_retry_after_comes_back_then(database: Database) -> None:
    jobs = RefusingJobs(
        DataflowUnavailableError("HTTP 503", status=503, retry_after=timedelta(minutes=3))
    )

    with pytest.raises(RetryLater) as later:
        await cancel_bake(context(database, jobs), claimed(payload_of()))

    assert later.value.reason == "HTTP 503"


async def test_unavailable_without_a_hint_is_left_to_the_workers_backoff(
    database: Database,
) -> None:
    jobs = RefusingJobs(DataflowUnavailableError("unreachable"))

    with pytest.raises(DataflowUnavailableError):
        await cancel_bake(context(database, jobs), claimed(payload_of()))


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (DataflowPermissionError("may not cancel job x", status=403), "may not cancel job x"),
        (None, DATAFLOW_NOT_CONFIGURED),
    ],
    ids=["permission", "not-configured"],
)
async def test_what_a_retry_cannot_fix_fails_the_job_at_once_with_the_reason(
    database: Database, error: DataflowApiError | None, reason: str
) -> None:
    jobs = RefusingJobs(error) if error is not None else None

    with pytest.raises(PermanentFailure) as failure:
        await cancel_bake(context(database, jobs), claimed(payload_of()))

    assert failure.value.reason == reason


async def test_other_api_errors_are_retried(database: Database) -> None:
    jobs = RefusingJobs(DataflowApiError("HTTP 400", status=400))

    with pytest.raises(DataflowApiError):
        await cancel_bake(context(database, jobs), claimed(payload_of()))


async def test_a_bakery_not_configured_here_fails_the_job(database: Database) -> None:
    elsewhere = BakeHandle(bakery="gone", recipe_run_id=7, is_test=False, job_name="n")

    with pytest.raises(PermanentFailure, match="bakery 'gone' is not configured here"):
        await cancel_bake(context(database, FakeDataflowJobs({})), claimed(payload_of(elsewhere)))


@pytest.mark.parametrize(
    "payload",
    [{}, {**payload_of(), "recipe_run_id": "7"}, {**payload_of(), "job_id": 5}],
)
async def test_a_malformed_payload_fails_the_job(
    database: Database, payload: dict[str, Any]
) -> None:
    with pytest.raises(PermanentFailure) as failure:
        await cancel_bake(context(database, None), claimed(payload))

    assert failure.value.reason == BAD_PAYLOAD


def test_a_runs_stop_is_queued_once_while_it_is_pending(database: Database) -> None:
    with database.session() as session:
        first = enqueue_cancel_bake(session, HANDLE)
        again = enqueue_cancel_bake(session, HANDLE)

    assert first is not None
    assert again is None
    row = job_row(database, first)
    assert (row.kind, row.dedupe_key, row.payload) == (CANCEL_BAKE, "cancel:7", payload_of())
