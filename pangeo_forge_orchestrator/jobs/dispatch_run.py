"""Job kind `dispatch_run`: start a recipe run on its bakery and say so on GitHub.

Payload: `{recipe_run_id, installation_id, comment_id}`. Enqueued with the run (outbox) by a
`/run`, a re-run button or a merge.

- test run: `in_progress`, 🚀 on the `/run` comment and a check run for the run, then submit
  (pruned) from the PR's head repository at the run's sha;
- production run: its GitHub deployment (environment = recipe id, ref = merge sha), status
  `in_progress`, then submit (core.run_reports.launch_production_run, until it asks nothing);
- a bakery that refuses the run completes it `failure` and explains (😕, a comment, the check
  or the deployment in `error`).
Retries are safe: a submitted bake is never submitted again, GitHub effects find their
earlier results, and a failure report lost to a GitHub error is sent again on the next attempt.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.adapters.bakeries.base import BakeSubmitError
from pangeo_forge_orchestrator.adapters.github import GitHubClient
from pangeo_forge_orchestrator.core.bakes import plan_bake
from pangeo_forge_orchestrator.core.effects import DispatchRun
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import RecipeFolder, staged_recipe_folder
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, RepoKind
from pangeo_forge_orchestrator.core.run_reports import (
    launch_production_run,
    report_dispatch_failed,
    report_test_run_started,
)
from pangeo_forge_orchestrator.core.runs import (
    Finish,
    RunEvent,
    RunRecord,
    Start,
    Transition,
    transition,
)
from pangeo_forge_orchestrator.core.vocabulary import DatasetType, RunConclusion, RunStatus
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.github_reads import (
    changed_paths,
    get_pull,
    repo_clone_url,
)
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, job_handler
from pangeo_forge_orchestrator.jobs.services import (
    DISPATCH_RUN,
    bakery_services,
    installation_client,
    links_of,
    rate_limits_as_retry,
)

log = logging.getLogger(__name__)

NO_RUN = "recipe run {run_id} does not exist"
BAD_PAYLOAD = "dispatch_run needs an integer recipe_run_id"
NOT_SUBMITTED = "the bakery did not accept the run: {error}"
BAKERY_UNAVAILABLE = "bakery `{bakery}` cannot take runs on this service right now"
REPO = "/repos/{owner}/{repo}"
LAUNCH_ROUNDS = 3


@job_handler(DISPATCH_RUN)
async def dispatch_run(ctx: JobContext, job: ClaimedJob) -> None:
    """Launch the run (see the module docstring); a run completed meanwhile is left alone."""
    run_id = job.payload.get("recipe_run_id")
    if not isinstance(run_id, int):
        raise PermanentFailure(BAD_PAYLOAD)
    comment_id = job.payload.get("comment_id")
    found = await ctx.in_session(lambda s: db_runs.get_run(s, run_id))
    if found is None:
        raise PermanentFailure(NO_RUN.format(run_id=run_id))
    repo = RepositoryRef.from_full_name(found.feedstock_spec)
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(
            ctx, repo, job.payload.get("installation_id")
        )
    applier = Applier(ctx=ctx, github=gh, installation_id=installation_id, repo=repo)
    launcher = _Launcher(ctx=ctx, applier=applier, repo=repo, comment_id=comment_id)
    await launcher.launch(found.run, retried=job.attempt > 1)


class _Launcher:
    def __init__(
        self, *, ctx: JobContext, applier: Applier, repo: RepositoryRef, comment_id: int | None
    ) -> None:
        self.ctx = ctx
        self.applier = applier
        self.repo = repo
        self.comment_id = comment_id
        self.links = links_of(ctx.settings)

    async def launch(self, run: RunRecord, *, retried: bool) -> None:
        if run.is_test:
            if run.status is RunStatus.QUEUED:
                run = await self._record(run.id, Start())
            if run.status is RunStatus.IN_PROGRESS:
                started = report_test_run_started(run, comment_id=self.comment_id, links=self.links)
                await self.applier.apply_all(started)
        else:
            run = await self._deploy(run)
        run = await self._reload(run.id)
        submitted, _ = await self.ctx.in_session(lambda s: db_runs.bake_of(s, run.id))
        if run.status is RunStatus.IN_PROGRESS and submitted is None:
            await self._submit(run)
        elif self._failed_to_start(run, submitted) and retried:
            # The failure was recorded but its report may not have reached GitHub.
            await self._report_failure(run, run.message or "")

    async def _deploy(self, run: RunRecord) -> RunRecord:
        """Create the deployment, set it `in_progress` and start the run."""
        # Deployment, then status and start: two rounds; a third would mean no progress.
        for _ in range(LAUNCH_ROUNDS):
            effects = launch_production_run(run, links=self.links)
            if not effects:
                break
            for effect in effects:
                if isinstance(effect, DispatchRun):
                    await self._record(run.id, Start())
                else:
                    await self.applier.apply(effect)
            run = await self._reload(run.id)
        return run

    async def _submit(self, run: RunRecord) -> None:
        services = bakery_services(self.ctx)
        if run.bakery not in services.registry or run.bakery not in services.adapters:
            await self._fail(run, BAKERY_UNAVAILABLE.format(bakery=run.bakery))
            return
        with rate_limits_as_retry():
            repo_url, subdir = await _bake_source(self.applier.github, self.repo, run)
        request = plan_bake(
            services.registry[run.bakery],
            app_name=self.ctx.settings.github_app_name,
            recipe_run_id=run.id,
            repo_url=repo_url,
            ref=run.head_sha,
            recipe_id=run.recipe_id,
            is_test=run.is_test,
            feedstock_spec=self.repo.full_name,
            dataset_type=run.dataset_type or DatasetType.ZARR,
            feedstock_subdir=subdir,
        )
        try:
            handle = await services.adapter(run.bakery).submit(request)
        except (BakeSubmitError, OSError) as error:
            await self._fail(run, NOT_SUBMITTED.format(error=error))
            return
        await self.ctx.in_session(
            lambda s: db_runs.set_bake(s, run.id, job_name=handle.job_name, job_id=handle.job_id)
        )
        log.info("recipe run submitted", extra={"run": run.id, "bakery": run.bakery})

    async def _fail(self, run: RunRecord, error: str) -> None:
        run = await self._record(run.id, Finish(RunConclusion.FAILURE), message=error)
        await self._report_failure(run, error)

    async def _report_failure(self, run: RunRecord, error: str) -> None:
        effects = report_dispatch_failed(
            run, comment_id=self.comment_id, error=error, links=self.links
        )
        await self.applier.apply_all(effects)

    @staticmethod
    def _failed_to_start(run: RunRecord, submitted: str | None) -> bool:
        return (
            run.status is RunStatus.COMPLETED
            and run.conclusion is RunConclusion.FAILURE
            and submitted is None
        )

    async def _record(
        self, run_id: int, event: RunEvent, *, message: str | None = None
    ) -> RunRecord:
        def record(session: Session) -> RunRecord:
            found = db_runs.lock_run(session, run_id)
            if found is None:
                raise PermanentFailure(NO_RUN.format(run_id=run_id))
            outcome = transition(found.run.status, found.run.conclusion, event)
            if isinstance(outcome, Transition):
                now = datetime.now(UTC)
                db_runs.apply_transition(session, run_id, outcome, now=now, message=message)
            return _must(db_runs.get_run(session, run_id), run_id)

        return await self.ctx.in_session(record)

    async def _reload(self, run_id: int) -> RunRecord:
        return await self.ctx.in_session(lambda s: _must(db_runs.get_run(s, run_id), run_id))


def _must(found: db_runs.RunWithFeedstock | None, run_id: int) -> RunRecord:
    if found is None:
        raise PermanentFailure(NO_RUN.format(run_id=run_id))
    return found.run


async def _bake_source(
    gh: GitHubClient, repo: RepositoryRef, run: RunRecord
) -> tuple[str, str | None]:
    """Where the runner fetches the recipe: the repository holding the sha, and the subdir.

    A test run's sha lives in the PR's head repository (a fork, maybe); a staged-recipes PR
    keeps its recipe in its one `recipes/<name>/` folder.
    """
    policy = DEFAULT_POLICY
    where = {"owner": repo.owner, "repo": repo.name}
    url: str | None = None
    if run.is_test and run.pr_number is not None:
        pull = await get_pull(gh, repo, run.pr_number)
        url = repo_clone_url(pull.get("head", {}).get("repo")) or repo_clone_url(
            pull.get("base", {}).get("repo")
        )
    if url is None:
        url = repo_clone_url(await gh.getitem(REPO, where))
    if url is None:
        raise PermanentFailure(f"GitHub gave no web URL for {repo.full_name}")
    subdir: str | None = policy.feedstock_dir
    if policy.repo_kind(repo.name) is RepoKind.STAGED_RECIPES and run.pr_number is not None:
        folder = staged_recipe_folder(await changed_paths(gh, repo, run.pr_number))
        subdir = folder.path if isinstance(folder, RecipeFolder) else None
    return url, subdir
