"""Bakes on Google Cloud Dataflow (DataflowBakery).

`submit` runs `bake` to its end: the runner builds the pipeline, submits it and exits, printing
a `submitted` line with the Dataflow job's id and name. Completion comes later, by callback
(POST /bakery/callbacks/), with `status()` over the Dataflow jobs API as the reconciliation
poller's safety net. That API sits behind the DataflowJobs protocol: GoogleDataflowJobs
(dataflow_api.py) when the run's profile has a service-account key, a fake in tests; without
one `status`/`cancel` raise DataflowNotConfiguredError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from pangeo_forge_orchestrator.adapters.bakeries.base import BakeSubmitError
from pangeo_forge_orchestrator.adapters.runner import start_runner, write_config_file
from pangeo_forge_orchestrator.core.bakeries import BakeryConfig
from pangeo_forge_orchestrator.core.bakes import (
    NOT_SUBMITTED,
    BakeHandle,
    BakeRequest,
    BakeState,
    BakeStatus,
    dataflow_status,
    process_outcome,
    submitted_job,
)
from pangeo_forge_orchestrator.core.runner_args import bake_argv, bake_config, bake_env
from pangeo_forge_orchestrator.core.secrets import reveal
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind

DATAFLOW_NOT_CONFIGURED = (
    "No Dataflow jobs client is configured: job status and cancellation need one "
    "(an implementation of adapters.bakeries.dataflow.DataflowJobs)"
)
DEFAULT_REGION = "us-central1"  # DataflowBakery.region's default in pangeo-forge-runner


class DataflowNotConfiguredError(RuntimeError):
    pass


class DataflowApiError(RuntimeError):
    """The Dataflow jobs API refused a call; `status` is its HTTP status (0: no response)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class DataflowJobNotFoundError(DataflowApiError):
    """No such job in that project and region (HTTP 404)."""


class DataflowPermissionError(DataflowApiError):
    """The service account lacks the permission (HTTP 403)."""


class DataflowAuthError(DataflowApiError):
    """The service-account key is unusable, or Google refused to exchange it for a token."""


class DataflowUnavailableError(DataflowApiError):
    """Rate-limited (429), failing (5xx) or unreachable: the same call may work later.

    `retry_after` is Google's hint when it gave one.
    """

    def __init__(
        self, message: str, *, status: int = 0, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class DataflowJobs(Protocol):
    """The slice of the Dataflow jobs API (projects.locations.jobs) this service uses."""

    async def get_state(self, *, project_id: str, region: str, job_id: str) -> str:
        """Return the job's `currentState`, e.g. `JOB_STATE_RUNNING`."""
        ...

    async def cancel(self, *, project_id: str, region: str, job_id: str) -> None:
        """Ask Dataflow to cancel the job (`requestedState: JOB_STATE_CANCELLED`)."""
        ...


class UnconfiguredDataflowJobs:
    async def get_state(self, *, project_id: str, region: str, job_id: str) -> str:
        raise DataflowNotConfiguredError(DATAFLOW_NOT_CONFIGURED)

    async def cancel(self, *, project_id: str, region: str, job_id: str) -> None:
        raise DataflowNotConfiguredError(DATAFLOW_NOT_CONFIGURED)


class DataflowBakery:
    """Submit with `bake` (DataflowBakery); follow and cancel through the jobs API."""

    def __init__(
        self,
        config: BakeryConfig,
        *,
        runner_command: Sequence[str],
        environ: Mapping[str, str],
        redact: Callable[[str], str],
        jobs: DataflowJobs | None = None,
        test_jobs: DataflowJobs | None = None,
    ) -> None:
        if config.kind is not BakeryKind.DATAFLOW:
            raise ValueError(f"bakery {config.name} is {config.kind}, not dataflow")
        self.config = config
        self._command = list(runner_command)
        self._environ = dict(environ)
        self._redact = redact
        self._jobs: DataflowJobs = jobs or UnconfiguredDataflowJobs()
        # Test runs' jobs live where the test profile submitted them, maybe as another account.
        self._test_jobs: DataflowJobs = test_jobs or self._jobs

    @property
    def command(self) -> list[str]:
        """The argv prefix that starts the runner."""
        return list(self._command)

    async def submit(self, request: BakeRequest) -> BakeHandle:
        """Run the submission to its end; raise BakeSubmitError unless a job was submitted."""
        config_path = write_config_file(bake_config(self.config, request))
        argv = bake_argv(self._command, request=request, config_path=str(config_path))
        process = await start_runner(
            argv,
            env=bake_env(self.config, request, self._environ),
            timeout=self.config.max_run_seconds,
            redact=self._redact,
            config_file=config_path,
        )
        result = await process.wait()
        job = submitted_job(result.status_events)
        if result.returncode == 0 and job is not None:
            return BakeHandle(
                bakery=self.config.name,
                recipe_run_id=request.recipe_run_id,
                is_test=request.is_test,
                job_name=job.job_name,
                job_id=job.job_id,
            )
        outcome = process_outcome(
            returncode=result.returncode,
            events=result.status_events,
            timed_out=result.timed_out,
            cancelled=result.cancelled,
            max_run_seconds=self.config.max_run_seconds,
            output_tail=result.output,
        )
        message = outcome.message
        if outcome.state is BakeState.SUCCEEDED:  # exit 0, but nothing was submitted
            message = NOT_SUBMITTED.format(code=result.returncode)
        raise BakeSubmitError(
            message or NOT_SUBMITTED.format(code=result.returncode),
            detail=outcome.failure_detail,
            output=result.output,
        )

    async def status(self, handle: BakeHandle) -> BakeStatus:
        if handle.job_id is None:
            return BakeStatus(state=BakeState.UNKNOWN, message="no Dataflow job id recorded")
        project_id, region = self._location(handle)
        state = await self._jobs_for(handle).get_state(
            project_id=project_id, region=region, job_id=handle.job_id
        )
        return dataflow_status(state)

    async def cancel(self, handle: BakeHandle) -> None:
        if handle.job_id is None:
            return
        project_id, region = self._location(handle)
        await self._jobs_for(handle).cancel(
            project_id=project_id, region=region, job_id=handle.job_id
        )

    def _jobs_for(self, handle: BakeHandle) -> DataflowJobs:
        return self._test_jobs if handle.is_test else self._jobs

    def _location(self, handle: BakeHandle) -> tuple[str, str]:
        """The project and region the run's profile submitted to."""
        config = reveal(self.config.profile(is_test=handle.is_test).runner_config)
        options: dict[str, Any] = config.get("DataflowBakery") or {}
        return str(options["project_id"]), str(options.get("region") or DEFAULT_REGION)
