"""`check_run` rerequested: the "Re-run" button of one of our check runs.

Re-runs the sha's failed recipe runs, with the `/run` permission rule applied to the sender
(core.rerequests); check_suite.py shares `rerun_failed`.
"""

from __future__ import annotations

from pangeo_forge_orchestrator.core.effects import Skip, run_check_external_id
from pangeo_forge_orchestrator.core.events import Handled, Ignored, Outcome
from pangeo_forge_orchestrator.core.permissions import is_bot
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY
from pangeo_forge_orchestrator.core.rerequests import RerequestFacts, decide_rerequest
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.github_reads import permission_of
from pangeo_forge_orchestrator.jobs.services import (
    installation_client,
    job_context,
    rate_limits_as_retry,
)
from pangeo_forge_orchestrator.webhooks.payloads_pulls import CheckRerequested, parse_check_run
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

routes = EventRoutes("check_run")
RUN_CHECK_PREFIX = run_check_external_id(0).removesuffix("0")


@routes.on("rerequested", parse=parse_check_run, feedstock_only=True)
async def rerun_check_run(ctx: HandlerContext, event: CheckRerequested) -> Outcome:
    """Start a new attempt of each recipe whose latest run at the check's sha failed."""
    return await rerun_failed(ctx, event)


async def rerun_failed(ctx: HandlerContext, event: CheckRerequested) -> Outcome:
    """Re-run the sha's failed test runs if the sender may run code; else say why not."""
    policy = DEFAULT_POLICY
    job = job_context(ctx)
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(job, event.repo, event.installation_id)
        # A bot is refused by the decision whatever its permission: no read for it.
        bot = is_bot(login=event.login, kind=event.kind)
        permission = None if bot else await permission_of(gh, event.repo, event.login)
    runs = await job.in_session(
        lambda s: db_runs.runs_at(
            s, feedstock_spec=event.repo.full_name, head_sha=event.head_sha, is_test=True
        )
    )
    runs = pressed_run_history(runs, event.external_id)
    facts = RerequestFacts(
        repo=event.repo,
        head_sha=event.head_sha,
        login=event.login,
        kind=event.kind,
        permission=permission,
        pr_number=event.pr_number,
        runs_at_head=runs,
    )
    decided = decide_rerequest(facts, policy=policy)
    if isinstance(decided, Skip):
        return Ignored(decided.reason)
    applier = Applier(ctx=job, github=gh, installation_id=installation_id, repo=event.repo)
    await applier.apply_all(decided)
    return Handled()


def pressed_run_history(
    runs: tuple[RunRecord, ...], external_id: str | None
) -> tuple[RunRecord, ...]:
    """When the button was a recipe run's own check, that run is the one to re-run.

    Judging by the run the check belongs to, not by the recipe's latest attempt, makes a
    replayed press find its re-run already recorded (core.service_effects: `after_run_id`)
    instead of starting yet another attempt once that one has failed too.
    """
    if external_id is None or not external_id.startswith(RUN_CHECK_PREFIX):
        return runs
    try:
        run_id = int(external_id.removeprefix(RUN_CHECK_PREFIX))
    except ValueError:
        return runs
    pressed = next((run for run in runs if run.id == run_id), None)
    if pressed is None:
        return runs
    return tuple(r for r in runs if r.recipe_id == pressed.recipe_id and r.id <= run_id)
