"""What GitHub shows as a recipe run starts, fails to start, and finishes.

Test runs report on their pull request (🚀 / 😕 on the `/run` comment, a check run per
recipe run, a result comment); production runs report through their GitHub deployment.
The run's own state change is `core.runs.transition`, applied by the caller first.
"""

from __future__ import annotations

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    AddReaction,
    CompleteCheckRun,
    CreateCheckRun,
    CreateDeployment,
    DeploymentState,
    DispatchRun,
    Effect,
    PostComment,
    SetDeploymentStatus,
    run_check_external_id,
)
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus

# Who a production run is requested by when the merge event names nobody.
MERGE_REQUESTER = "merge"
_DEPLOYMENT_STATES: dict[RunConclusion, DeploymentState] = {
    RunConclusion.SUCCESS: "success",
    RunConclusion.FAILURE: "failure",
}


def result_key(run_id: int) -> str:
    return f"run-{run_id}:result"


def dispatch_failed_key(run_id: int) -> str:
    return f"run-{run_id}:dispatch-failed"


def report_test_run_started(
    run: RunRecord, *, comment_id: int | None, links: Links
) -> tuple[Effect, ...]:
    """🚀 on the `/run` comment and a check run whose details link is the run's page."""
    effects: list[Effect] = []
    if comment_id is not None:
        effects.append(AddReaction(comment_id=comment_id, content="rocket"))
    if run.check_run_id is None:
        effects.append(
            CreateCheckRun(
                head_sha=run.head_sha,
                name=msg.RUN_CHECK_NAME.format(recipe_id=run.recipe_id),
                external_id=run_check_external_id(run.id),
                status="in_progress",
                title=msg.RUN_CHECK_TITLE_STARTED.format(
                    recipe_id=run.recipe_id, kind=msg.RUN_KIND_TEST
                ),
                summary=_run_summary(run, links),
                details_url=links.run_page(run_id=run.id, feedstock_id=run.feedstock_id),
                recipe_run_id=run.id,
            )
        )
    return tuple(effects)


def launch_production_run(run: RunRecord, *, links: Links) -> tuple[Effect, ...]:
    """Deploy, then launch: called until it returns nothing, with the run read again each time.

    - no deployment yet: create it (environment = recipe id, ref = the merge commit sha);
    - deployment created, run still queued: status `in_progress` (links to the run's page and
      logs), then dispatch the run;
    - anything else: already launched.
    """
    if run.is_test or run.status is not RunStatus.QUEUED:
        return ()
    if run.deployment_id is None:
        return (
            CreateDeployment(
                recipe_run_id=run.id,
                ref=run.head_sha,
                environment=run.recipe_id,
                description=msg.DEPLOYMENT_DESCRIPTION.format(
                    run_id=run.id, recipe_id=run.recipe_id
                ),
            ),
        )
    return (
        _deployment_status(run, "in_progress", links=links),
        DispatchRun(run_id=run.id, requested_by=run.requested_by or MERGE_REQUESTER),
    )


def report_run_completed(run: RunRecord, *, links: Links) -> tuple[Effect, ...]:
    """Close the run's check and comment the result (test), or set the deployment's state.

    A cancelled test run gets no comment: whoever cancelled it was already answered.
    """
    if run.status is not RunStatus.COMPLETED or run.conclusion is None:
        raise ValueError(f"recipe run {run.id} is {run.status}, not completed")
    conclusion = run.conclusion
    if not run.is_test:
        if run.deployment_id is None:
            return ()
        return (_deployment_status(run, _DEPLOYMENT_STATES.get(conclusion, "error"), links=links),)
    effects: list[Effect] = []
    if run.check_run_id is not None:
        effects.append(
            CompleteCheckRun(
                check_run_id=run.check_run_id,
                conclusion=conclusion,
                title=msg.run_check_title(run.recipe_id, conclusion),
                summary=_run_summary(run, links),
            )
        )
    if run.pr_number is not None and conclusion is not RunConclusion.CANCELLED:
        body = _result_comment(run, links)
        effects.append(PostComment(issue_number=run.pr_number, key=result_key(run.id), body=body))
    return tuple(effects)


def report_dispatch_failed(
    run: RunRecord, *, comment_id: int | None, error: str, links: Links
) -> tuple[Effect, ...]:
    """😕 and an explanation (test), or the deployment in `error` (production)."""
    if not run.is_test:
        if run.deployment_id is None:
            return ()
        return (_deployment_status(run, "error", links=links),)
    effects: list[Effect] = []
    if comment_id is not None:
        effects.append(AddReaction(comment_id=comment_id, content="confused"))
    if run.pr_number is not None:
        body = msg.DISPATCH_FAILED.format(
            recipe_id=run.recipe_id,
            sha=run.head_sha,
            error=msg.error_tail(error),
            logs=links.run_logs(run.id),
        )
        effects.append(
            PostComment(issue_number=run.pr_number, key=dispatch_failed_key(run.id), body=body)
        )
    if run.check_run_id is not None:
        effects.append(
            CompleteCheckRun(
                check_run_id=run.check_run_id,
                conclusion=RunConclusion.FAILURE,
                title=msg.run_check_title(run.recipe_id, RunConclusion.FAILURE),
                summary=_run_summary(run, links),
            )
        )
    return tuple(effects)


def _result_comment(run: RunRecord, links: Links) -> str:
    url = links.run_page(run_id=run.id, feedstock_id=run.feedstock_id)
    if run.conclusion is RunConclusion.SUCCESS:
        return msg.RESULT_SUCCESS.format(
            recipe_id=run.recipe_id,
            sha=run.head_sha,
            open_dataset=msg.open_dataset(run.dataset_type, run.dataset_public_url),
            url=url,
        )
    conclusion = str(run.conclusion)
    what = msg.RESULT_WHAT.get(conclusion, msg.RESULT_WHAT_OTHER.format(conclusion=conclusion))
    return msg.RESULT_FAILURE.format(
        recipe_id=run.recipe_id,
        sha=run.head_sha,
        what=what,
        error=msg.error_tail(run.message),
        logs=links.run_logs(run.id),
        url=url,
    )


def _run_summary(run: RunRecord, links: Links) -> str:
    return msg.RUN_CHECK_SUMMARY.format(
        run_id=run.id,
        recipe_id=run.recipe_id,
        sha=run.head_sha,
        url=links.run_page(run_id=run.id, feedstock_id=run.feedstock_id),
        logs=links.run_logs(run.id),
    )


def _deployment_status(
    run: RunRecord, state: DeploymentState, *, links: Links
) -> SetDeploymentStatus:
    assert run.deployment_id is not None
    template = msg.DEPLOYMENT_STATE_DESCRIPTIONS.get(
        state, msg.DEPLOYMENT_STATE_DESCRIPTIONS["error"]
    )
    return SetDeploymentStatus(
        deployment_id=run.deployment_id,
        state=state,
        environment_url=links.run_page(run_id=run.id, feedstock_id=run.feedstock_id),
        log_url=links.run_logs(run.id),
        description=template.format(conclusion=run.conclusion or state),
    )
