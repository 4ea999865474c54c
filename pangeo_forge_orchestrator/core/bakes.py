"""Bakes: what is asked of a bakery, what it hands back, and how a bake ended (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pangeo_forge_orchestrator.core.bakeries import BakeryConfig
from pangeo_forge_orchestrator.core.runner_events import Failed, RunnerEvent, Submitted
from pangeo_forge_orchestrator.core.storage import storage_subpath
from pangeo_forge_orchestrator.core.vocabulary import DatasetType, RunConclusion

# Texts of a bake's outcome; tests assert against these.
BAKE_SUCCEEDED = "Bake succeeded."
BAKE_FAILED = "Bake failed (runner exit code {code})."
BAKE_TIMED_OUT = "Bake stopped after exceeding the bakery's limit of {seconds} s."
BAKE_CANCELLED = "Bake cancelled."
NOT_SUBMITTED = "The runner exited (code {code}) without reporting a submitted job."
PROCESS_LOST = (
    "The bake's process is unknown to this service (it was restarted while the bake ran); "
    "its outcome cannot be known."
)
UNKNOWN_REMOTE_STATE = "The bakery reports job state {state!r}, which this service does not know."


_JOB_NAME_INVALID = re.compile(r"[^a-z0-9]+")
JOB_NAME_MAX = 63  # Dataflow: [a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters


class BakeState(StrEnum):
    QUEUED = "queued"  # waiting for a slot (local) or for resources (remote)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    UNKNOWN = "unknown"  # nothing known of this bake: reconciliation decides

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def conclusion(self) -> RunConclusion | None:
        """The recipe run's conclusion for a final state."""
        return _CONCLUSIONS.get(self)


_FINAL = frozenset(
    {BakeState.SUCCEEDED, BakeState.FAILED, BakeState.CANCELLED, BakeState.TIMED_OUT}
)
_CONCLUSIONS = {
    BakeState.SUCCEEDED: RunConclusion.SUCCESS,
    BakeState.FAILED: RunConclusion.FAILURE,
    BakeState.CANCELLED: RunConclusion.CANCELLED,
    BakeState.TIMED_OUT: RunConclusion.TIMED_OUT,
}


@dataclass(frozen=True, kw_only=True)
class BakeRequest:
    """One recipe run, as a bakery needs it; storage is rendered before submission."""

    recipe_run_id: int
    repo_url: str
    ref: str  # a commit sha: runs are reproducible
    recipe_id: str
    is_test: bool  # test runs are pruned and use the bakery's test profile
    feedstock_spec: str
    dataset_type: DatasetType
    job_name: str
    target_root: str
    public_url: str
    feedstock_subdir: str | None = None


def job_name(*, app_name: str, recipe_run_id: int) -> str:
    """Return a readable job name, `pfo-<app>-run-<id>`, valid for Dataflow and the runner."""
    suffix = f"-run-{recipe_run_id}"
    app = _JOB_NAME_INVALID.sub("-", app_name.lower()).strip("-")
    head = f"pfo-{app}".rstrip("-")[: JOB_NAME_MAX - len(suffix)].rstrip("-")
    return head + suffix


def plan_bake(
    bakery: BakeryConfig,
    *,
    app_name: str,
    recipe_run_id: int,
    repo_url: str,
    ref: str,
    recipe_id: str,
    is_test: bool,
    feedstock_spec: str,
    dataset_type: DatasetType,
    feedstock_subdir: str | None = None,
) -> BakeRequest:
    """Return the request for one run, its storage rendered from the bakery's profile."""
    subpath = storage_subpath(
        app_name=app_name,
        feedstock_spec=feedstock_spec,
        recipe_id=recipe_id,
        dataset_type=dataset_type.value,
        is_test=is_test,
        recipe_run_id=recipe_run_id,
    )
    storage = bakery.profile(is_test=is_test).locate(app_name=app_name, subpath=subpath)
    return BakeRequest(
        recipe_run_id=recipe_run_id,
        repo_url=repo_url,
        ref=ref,
        recipe_id=recipe_id,
        is_test=is_test,
        feedstock_spec=feedstock_spec,
        dataset_type=dataset_type,
        job_name=job_name(app_name=app_name, recipe_run_id=recipe_run_id),
        target_root=storage.target_root,
        public_url=storage.public_url,
        feedstock_subdir=feedstock_subdir,
    )


@dataclass(frozen=True, kw_only=True)
class BakeHandle:
    """What identifies a submitted bake; job_id/job_name go to the recipe run's columns."""

    bakery: str
    recipe_run_id: int
    is_test: bool
    job_name: str
    job_id: str | None = None  # remote bakeries only


@dataclass(frozen=True, kw_only=True)
class BakeStatus:
    state: BakeState
    message: str | None = None
    failure_detail: str | None = None  # a traceback or the output's tail, shown behind /logs
    # Where the dataset is, when the bakery could see it (the local bakery looks in the target
    # root for the store the recipe named); else the run's public URL is used.
    dataset_url: str | None = None


def process_outcome(
    *,
    returncode: int | None,
    events: Sequence[RunnerEvent],
    timed_out: bool,
    cancelled: bool,
    max_run_seconds: float,
    output_tail: str,
) -> BakeStatus:
    """Decide how a supervised bake ended: by the exit code and the last status line.

    - cancelled or timed out wins over whatever the process said on its way down;
    - exit code 0 and no `failed` line is success;
    - otherwise failure, detailed by the last `failed` line's traceback, else the output's tail.
    """
    if cancelled:
        return BakeStatus(state=BakeState.CANCELLED, message=BAKE_CANCELLED)
    if timed_out:
        return BakeStatus(
            state=BakeState.TIMED_OUT,
            message=BAKE_TIMED_OUT.format(seconds=max_run_seconds),
            failure_detail=output_tail or None,
        )
    failures = [event for event in events if isinstance(event, Failed)]
    if returncode == 0 and not failures:
        return BakeStatus(state=BakeState.SUCCEEDED, message=BAKE_SUCCEEDED)
    detail = (failures[-1].exc_info or failures[-1].message) if failures else output_tail
    return BakeStatus(
        state=BakeState.FAILED,
        message=BAKE_FAILED.format(code=returncode),
        failure_detail=detail or None,
    )


def submitted_job(events: Sequence[RunnerEvent]) -> Submitted | None:
    """The job a remote bakery accepted: the last `submitted` line."""
    submitted = [event for event in events if isinstance(event, Submitted)]
    return submitted[-1] if submitted else None


# Dataflow's job states (projects.locations.jobs: JobState) as bake states.
_DATAFLOW_STATES = {
    "JOB_STATE_STOPPED": BakeState.QUEUED,  # not yet started
    "JOB_STATE_PENDING": BakeState.QUEUED,
    "JOB_STATE_QUEUED": BakeState.QUEUED,
    "JOB_STATE_RUNNING": BakeState.RUNNING,
    "JOB_STATE_DRAINING": BakeState.RUNNING,
    "JOB_STATE_CANCELLING": BakeState.RUNNING,
    "JOB_STATE_RESOURCE_CLEANING_UP": BakeState.RUNNING,
    "JOB_STATE_DONE": BakeState.SUCCEEDED,
    "JOB_STATE_FAILED": BakeState.FAILED,
    "JOB_STATE_CANCELLED": BakeState.CANCELLED,
    "JOB_STATE_DRAINED": BakeState.CANCELLED,
    "JOB_STATE_UPDATED": BakeState.CANCELLED,  # replaced by another job
}


def dataflow_status(job_state: str) -> BakeStatus:
    """Map a Dataflow job state to a bake status; an unknown state is UNKNOWN, not a guess."""
    state = _DATAFLOW_STATES.get(job_state)
    if state is None:
        return BakeStatus(
            state=BakeState.UNKNOWN, message=UNKNOWN_REMOTE_STATE.format(state=job_state)
        )
    return BakeStatus(state=state, message=job_state)
