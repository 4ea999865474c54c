from __future__ import annotations

import re
from pathlib import Path

import pytest

from pangeo_forge_orchestrator.core.bakeries import default_registry
from pangeo_forge_orchestrator.core.bakes import (
    BAKE_CANCELLED,
    BAKE_FAILED,
    BAKE_SUCCEEDED,
    BAKE_TIMED_OUT,
    BakeState,
    BakeStatus,
    dataflow_status,
    job_name,
    plan_bake,
    process_outcome,
    submitted_job,
)
from pangeo_forge_orchestrator.core.runner_events import Failed, Running, Setup, Submitted
from pangeo_forge_orchestrator.core.vocabulary import DatasetType, RunConclusion

DATAFLOW_JOB_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


@pytest.mark.parametrize(
    ("app_name", "run_id", "expected"),
    [
        ("pangeo-forge", 7, "pfo-pangeo-forge-run-7"),
        ("Pangeo_Forge Staging", 123456, "pfo-pangeo-forge-staging-run-123456"),
        ("--", 1, "pfo-run-1"),
        ("a" * 100, 99999999999, "pfo-" + "a" * 43 + "-run-99999999999"),
        # Cut right after a dash: the dash goes too.
        ("x" * 52 + "-y", 5, "pfo-" + "x" * 52 + "-run-5"),
    ],
)
def test_job_names_are_readable_and_valid_for_dataflow(app_name, run_id, expected):
    name = job_name(app_name=app_name, recipe_run_id=run_id)

    assert name == expected
    assert len(name) <= 63
    assert DATAFLOW_JOB_NAME.fullmatch(name)


def test_plan_bake_renders_the_storage_of_the_run(tmp_path: Path):
    bakery = default_registry(data_dir=tmp_path)["local"]

    request = plan_bake(
        bakery,
        app_name="pangeo-forge",
        recipe_run_id=12,
        repo_url="https://github.com/pangeo-forge/gpcp-feedstock",
        ref="a" * 40,
        recipe_id="gpcp",
        is_test=True,
        feedstock_spec="pangeo-forge/gpcp-feedstock",
        dataset_type=DatasetType.ZARR,
    )

    subpath = "pangeo-forge/test/pangeo-forge/gpcp-feedstock/recipe-run-12/gpcp.zarr"
    assert request.target_root == f"{tmp_path}/outputs/{subpath}"
    assert request.public_url == f"file://{tmp_path}/outputs/{subpath}"
    assert request.job_name == "pfo-pangeo-forge-run-12"
    assert (request.is_test, request.feedstock_subdir) == (True, None)


def outcome(**overrides):
    arguments = {
        "returncode": 0,
        "events": [Setup("s"), Running("r")],
        "timed_out": False,
        "cancelled": False,
        "max_run_seconds": 60,
        "output_tail": "the tail\n",
    } | overrides
    return process_outcome(**arguments)


def test_exit_zero_without_a_failed_line_is_success():
    assert outcome() == BakeStatus(state=BakeState.SUCCEEDED, message=BAKE_SUCCEEDED)


def test_a_failed_line_gives_its_traceback():
    status = outcome(returncode=1, events=[Setup("s"), Failed("boom", exc_info="Traceback")])

    assert status == BakeStatus(
        state=BakeState.FAILED, message=BAKE_FAILED.format(code=1), failure_detail="Traceback"
    )
    # Even with exit code 0, a failed line is a failure.
    assert outcome(events=[Failed("boom")]).failure_detail == "boom"


def test_a_crash_without_a_status_line_gives_the_output_tail():
    status = outcome(returncode=-11, events=[])

    assert status.state is BakeState.FAILED
    assert status.message == BAKE_FAILED.format(code=-11)
    assert status.failure_detail == "the tail\n"


def test_cancel_and_timeout_win_over_what_the_process_said():
    assert outcome(returncode=-15, cancelled=True, timed_out=True).state is BakeState.CANCELLED
    assert outcome(cancelled=True).message == BAKE_CANCELLED
    timed_out = outcome(returncode=-9, timed_out=True, events=[Failed("killed")])
    assert timed_out.state is BakeState.TIMED_OUT
    assert timed_out.message == BAKE_TIMED_OUT.format(seconds=60)


def test_final_states_map_to_run_conclusions():
    assert BakeState.SUCCEEDED.conclusion is RunConclusion.SUCCESS
    assert BakeState.TIMED_OUT.conclusion is RunConclusion.TIMED_OUT
    assert BakeState.RUNNING.conclusion is None
    assert [s for s in BakeState if s.is_final] == [
        BakeState.SUCCEEDED,
        BakeState.FAILED,
        BakeState.CANCELLED,
        BakeState.TIMED_OUT,
    ]


def test_submitted_job_is_the_last_submitted_line():
    first, last = Submitted("a", job_id="1", job_name="n"), Submitted("b", job_id="2", job_name="n")

    assert submitted_job([Setup("s"), first, Running("r"), last]) is last
    assert submitted_job([Setup("s")]) is None


@pytest.mark.parametrize(
    ("job_state", "state"),
    [
        ("JOB_STATE_PENDING", BakeState.QUEUED),
        ("JOB_STATE_RUNNING", BakeState.RUNNING),
        ("JOB_STATE_CANCELLING", BakeState.RUNNING),
        ("JOB_STATE_DONE", BakeState.SUCCEEDED),
        ("JOB_STATE_FAILED", BakeState.FAILED),
        ("JOB_STATE_CANCELLED", BakeState.CANCELLED),
        ("JOB_STATE_DRAINED", BakeState.CANCELLED),
        ("JOB_STATE_UNKNOWN", BakeState.UNKNOWN),
        ("SOMETHING_NEW", BakeState.UNKNOWN),
    ],
)
def test_dataflow_states_map_to_bake_states(job_state, state):
    assert dataflow_status(job_state).state is state
