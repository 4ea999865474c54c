from __future__ import annotations

from pathlib import Path

import pytest

from pangeo_forge_orchestrator.adapters.bakeries.base import BakeSubmitError
from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DATAFLOW_NOT_CONFIGURED,
    DataflowBakery,
    DataflowNotConfiguredError,
)
from pangeo_forge_orchestrator.core.bakeries import BAKERY_CLASSES, parse_bakeries
from pangeo_forge_orchestrator.core.bakes import NOT_SUBMITTED, BakeHandle, BakeState, plan_bake
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, DatasetType
from tests.fake_runner import FakeRunner, install_fake_runner

pytestmark = pytest.mark.anyio

SHA = "0123456789abcdef0123456789abcdef01234567"
ENVIRON = {"GCP_PROJECT": "pangeo-forge-4967", "SA_KEY": "service-account-key-json"}


@pytest.fixture
def fake_runner(tmp_path: Path) -> FakeRunner:
    return install_fake_runner(tmp_path)


class FakeDataflowJobs:
    """The Dataflow jobs API as a dict of job id -> state; records cancellations."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states
        self.asked: list[tuple[str, str, str]] = []
        self.cancelled: list[tuple[str, str, str]] = []

    async def get_state(self, *, project_id: str, region: str, job_id: str) -> str:
        self.asked.append((project_id, region, job_id))
        return self.states[job_id]

    async def cancel(self, *, project_id: str, region: str, job_id: str) -> None:
        self.cancelled.append((project_id, region, job_id))


def bakery(fake_runner: FakeRunner, jobs: FakeDataflowJobs | None = None) -> DataflowBakery:
    def profile(bucket: str, project: str, region: str) -> dict:
        return {
            "runner_config": {
                "DataflowBakery": {
                    "project_id": project,
                    "region": region,
                    "temp_gcs_location": f"gs://{bucket}/temp",
                    "use_public_ips": True,
                }
            },
            "env": {"GOOGLE_APPLICATION_CREDENTIALS_JSON": "${SA_KEY}"},
            "target_root": f"gs://{bucket}/{{subpath}}",
            "public_url": f"https://storage.googleapis.com/{bucket}/{{subpath}}",
        }

    doc = {
        "bakeries": {
            "gcp": {
                "region": "us-central1",
                "description": "Dataflow",
                "kind": "dataflow",
                **profile("prod", "${GCP_PROJECT}", "us-central1"),
                "test": profile("test", "pangeo-forge-test", "europe-west1"),
            }
        }
    }
    registry = parse_bakeries(doc, environ=ENVIRON)
    return DataflowBakery(
        registry["gcp"],
        runner_command=[fake_runner.command],
        environ=fake_runner.environ,
        redact=registry.redact,
        jobs=jobs,
    )


def request(bakery: DataflowBakery, recipe: str, *, is_test: bool, run_id: int = 5):
    return plan_bake(
        bakery.config,
        app_name="pangeo-forge",
        recipe_run_id=run_id,
        repo_url="https://github.com/pangeo-forge/gpcp-feedstock",
        ref=SHA,
        recipe_id=recipe,
        is_test=is_test,
        feedstock_spec="pangeo-forge/gpcp-feedstock",
        dataset_type=DatasetType.ZARR,
        feedstock_subdir="feedstock",
    )


async def test_submit_records_the_job_the_runner_submitted(fake_runner: FakeRunner):
    df = bakery(fake_runner)

    handle = await df.submit(request(df, "remote", is_test=False))

    assert handle == BakeHandle(
        bakery="gcp",
        recipe_run_id=5,
        is_test=False,
        job_name="pfo-pangeo-forge-run-5",
        job_id="2024-01-02_03_04_05-123",
    )
    (call,) = fake_runner.calls()
    assert call["argv"] == [
        "bake",
        "--repo=https://github.com/pangeo-forge/gpcp-feedstock",
        f"--ref={SHA}",
        "--json",
        "--Bake.recipe_id=remote",
        "-f",
        call["argv"][-2],
        "--feedstock-subdir=feedstock",
    ]
    assert call["config"] == {
        "Bake": {
            "bakery_class": BAKERY_CLASSES[BakeryKind.DATAFLOW],
            "job_name": "pfo-pangeo-forge-run-5",
        },
        "DataflowBakery": {
            "project_id": "pangeo-forge-4967",
            "region": "us-central1",
            "temp_gcs_location": "gs://prod/temp",
            "use_public_ips": True,
        },
        "TargetStorage": {
            "root_path": "gs://prod/pangeo-forge/pangeo-forge/gpcp-feedstock/remote.zarr"
        },
    }
    assert call["env"]["GOOGLE_APPLICATION_CREDENTIALS_JSON"] == "service-account-key-json"


async def test_a_test_submission_is_pruned_into_the_test_project(fake_runner: FakeRunner):
    df = bakery(fake_runner)

    await df.submit(request(df, "remote", is_test=True))

    (call,) = fake_runner.calls()
    assert call["argv"][3:5] == ["--json", "--prune"]
    assert call["config"]["DataflowBakery"]["project_id"] == "pangeo-forge-test"
    assert call["config"]["TargetStorage"]["root_path"].startswith(
        "gs://test/pangeo-forge/test/pangeo-forge/gpcp-feedstock/recipe-run-5/"
    )


async def test_a_crashed_submission_raises_with_its_traceback(fake_runner: FakeRunner):
    df = bakery(fake_runner)

    with pytest.raises(BakeSubmitError) as caught:
        await df.submit(request(df, "crash", is_test=True))

    assert caught.value.detail is not None
    assert caught.value.detail.rstrip().endswith("ValueError: boom")
    assert "Traceback" in caught.value.output


async def test_an_exit_without_a_submitted_job_is_an_error(fake_runner: FakeRunner):
    df = bakery(fake_runner)

    with pytest.raises(BakeSubmitError, match="without reporting a submitted job") as caught:
        await df.submit(request(df, "remote-nojob", is_test=True))

    assert str(caught.value) == NOT_SUBMITTED.format(code=0)


async def test_status_and_cancel_go_to_the_jobs_api_of_the_runs_project(fake_runner: FakeRunner):
    jobs = FakeDataflowJobs({"job-1": "JOB_STATE_RUNNING", "job-2": "JOB_STATE_DONE"})
    df = bakery(fake_runner, jobs)
    production = BakeHandle(
        bakery="gcp", recipe_run_id=1, is_test=False, job_name="n", job_id="job-1"
    )
    test = BakeHandle(bakery="gcp", recipe_run_id=2, is_test=True, job_name="n", job_id="job-2")

    assert (await df.status(production)).state is BakeState.RUNNING
    assert (await df.status(test)).state is BakeState.SUCCEEDED
    await df.cancel(production)

    assert jobs.asked == [
        ("pangeo-forge-4967", "us-central1", "job-1"),
        ("pangeo-forge-test", "europe-west1", "job-2"),
    ]
    assert jobs.cancelled == [("pangeo-forge-4967", "us-central1", "job-1")]


async def test_without_a_jobs_client_status_says_it_is_not_configured(fake_runner: FakeRunner):
    df = bakery(fake_runner)
    handle = BakeHandle(bakery="gcp", recipe_run_id=1, is_test=False, job_name="n", job_id="j")

    with pytest.raises(DataflowNotConfiguredError, match="No Dataflow jobs client") as caught:
        await df.status(handle)
    assert str(caught.value) == DATAFLOW_NOT_CONFIGURED
    with pytest.raises(DataflowNotConfiguredError):
        await df.cancel(handle)


async def test_a_handle_without_a_job_id_is_unknown(fake_runner: FakeRunner):
    df = bakery(fake_runner, FakeDataflowJobs({}))
    handle = BakeHandle(bakery="gcp", recipe_run_id=1, is_test=False, job_name="n")

    assert (await df.status(handle)).state is BakeState.UNKNOWN
