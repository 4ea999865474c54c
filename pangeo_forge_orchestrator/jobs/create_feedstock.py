"""Job kind `create_feedstock`: turn a merged staged recipe into `<name>-feedstock`.

Payload: `{staged_recipes_spec, recipe_name, pr_number, merge_sha, installation_id, done}`.
The steps are core.feedstock_creation's; after each one the job writes the finished steps (and
the pull request numbers it opened) into its own payload, so a retry after a crash or a GitHub
error resumes at the first unfinished step. A step cut short is redone safely: every effect
finds what an earlier attempt made (the repository answers "already exists", files with the
same content are not written again, pull requests are found by their head branch), so the
job never makes two repositories.
"""

from __future__ import annotations

import logging
from typing import Any

from pangeo_forge_orchestrator.adapters.github import GitHubClient
from pangeo_forge_orchestrator.core.effects import OpenPullRequest
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.feedstock_creation import (
    FeedstockPlan,
    SourceFile,
    Step,
    StepFacts,
    next_step,
    step_action,
)
from pangeo_forge_orchestrator.core.layout import RecipeFolder
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.github_reads import branch_sha, changed_paths, file_at
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, job_handler
from pangeo_forge_orchestrator.jobs.services import (
    CREATE_FEEDSTOCK,
    installation_client,
    rate_limits_as_retry,
)

log = logging.getLogger(__name__)

BAD_PAYLOAD = "create_feedstock needs staged_recipes_spec, recipe_name, pr_number and merge_sha"
CLAIM_LOST = "job {job_id} lost its claim while creating {feedstock}"
REPO = "/repos/{owner}/{repo}"
# Where the pull request numbers that later steps need are kept in the payload.
PR_NUMBER_KEYS = {
    Step.OPEN_PULL_REQUEST: "feedstock_pr_number",
    Step.OPEN_CLEANUP_PULL_REQUEST: "cleanup_pr_number",
}


@job_handler(CREATE_FEEDSTOCK)
async def create_feedstock(ctx: JobContext, job: ClaimedJob) -> None:
    """Take the steps not yet done, recording each one as it finishes."""
    payload: dict[str, Any] = dict(job.payload)
    spec, name = payload.get("staged_recipes_spec"), payload.get("recipe_name")
    pr_number, merge_sha = payload.get("pr_number"), payload.get("merge_sha")
    if not (
        isinstance(spec, str)
        and isinstance(name, str)
        and isinstance(pr_number, int)
        and isinstance(merge_sha, str)
    ):
        raise PermanentFailure(BAD_PAYLOAD)
    staged = RepositoryRef.from_full_name(spec)
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(ctx, staged, payload.get("installation_id"))
        if not isinstance(payload.get("owner_is_org"), bool):
            data = await gh.getitem(REPO, {"owner": staged.owner, "repo": staged.name})
            payload["owner_is_org"] = data["owner"]["type"] == "Organization"
    plan = FeedstockPlan(
        staged_recipes=staged,
        recipe=RecipeFolder(name),
        pr_number=pr_number,
        owner_is_org=payload["owner_is_org"],
    )
    applier = Applier(ctx=ctx, github=gh, installation_id=installation_id, repo=staged)
    done = [Step(value) for value in payload.get("done") or []]
    while (step := next_step(done)) is not None:
        with rate_limits_as_retry():
            facts = await _facts_for(gh, plan, step, payload, merge_sha=merge_sha)
        action = step_action(plan, step, facts)
        for effect in action.effects:
            result = await applier.apply(effect, repo=action.repository)
            if isinstance(effect, OpenPullRequest) and step in PR_NUMBER_KEYS:
                payload[PR_NUMBER_KEYS[step]] = result
        done.append(step)
        payload["done"] = [finished.value for finished in done]
        await _record_progress(ctx, job, payload, feedstock=plan.feedstock.full_name)
        log.info("feedstock step done", extra={"feedstock": plan.feedstock.full_name, "step": step})


async def _record_progress(
    ctx: JobContext, job: ClaimedJob, payload: dict[str, Any], *, feedstock: str
) -> None:
    saved = await ctx.in_session(
        lambda s: db_runs.save_job_payload(
            s, job_id=job.id, worker=job.locked_by, attempt=job.attempt, payload=payload
        )
    )
    if not saved:
        # Another worker holds the job now; it resumes from what was recorded.
        raise RuntimeError(CLAIM_LOST.format(job_id=job.id, feedstock=feedstock))


async def _facts_for(
    gh: GitHubClient, plan: FeedstockPlan, step: Step, payload: dict[str, Any], *, merge_sha: str
) -> StepFacts:
    """Read what STEP needs from GitHub (or from what earlier steps recorded)."""
    branch = plan.policy.default_branch
    match step:
        case Step.CREATE_BRANCH:
            return StepFacts(feedstock_base_sha=await branch_sha(gh, plan.feedstock, branch))
        case Step.COPY_FILES:
            files, _ = await _source_files(gh, plan, ref=merge_sha)
            return StepFacts(source_files=files)
        case Step.MERGE_PULL_REQUEST:
            return StepFacts(feedstock_pr_number=payload.get("feedstock_pr_number"))
        case Step.CREATE_CLEANUP_BRANCH:
            return StepFacts(staged_base_sha=await branch_sha(gh, plan.staged_recipes, branch))
        case Step.REMOVE_RECIPE_FILES:
            files, gone = await _source_files(gh, plan, ref=plan.cleanup_branch)
            return StepFacts(source_files=files, removed_paths=gone)
        case Step.MERGE_CLEANUP_PULL_REQUEST:
            return StepFacts(cleanup_pr_number=payload.get("cleanup_pr_number"))
        case _:
            return StepFacts()


async def _source_files(
    gh: GitHubClient, plan: FeedstockPlan, *, ref: str
) -> tuple[tuple[SourceFile, ...], frozenset[str]]:
    """The recipe folder's files at REF (path, blob sha, base64), and those no longer there.

    The folder's files are the merged PR's: staged-recipes PRs may touch nothing else.
    """
    prefix = plan.recipe.path + "/"
    paths = sorted(
        {
            p
            for p in await changed_paths(gh, plan.staged_recipes, plan.pr_number)
            if p.startswith(prefix)
        }
    )
    files: list[SourceFile] = []
    gone: set[str] = set()
    for path in paths:
        data = await file_at(gh, plan.staged_recipes, path=path, ref=ref)
        if not isinstance(data, dict) or data.get("type", "file") != "file":
            gone.add(path)
            continue
        content = "".join(str(data.get("content") or "").split())
        files.append(SourceFile(path=path, blob_sha=str(data["sha"]), content_base64=content))
    return tuple(files), frozenset(gone)
