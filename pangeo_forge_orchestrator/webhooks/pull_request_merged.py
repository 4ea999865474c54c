"""`pull_request` closed and merged: deploy a feedstock's recipes, or create a new feedstock.

- a feedstock PR that changed files under `feedstock/`: meta.yaml is read at the merge commit
  and one production run per recipe is recorded; each run's dispatch job creates its GitHub
  deployment (environment = recipe id, ref = merge sha) and launches it;
- a staged-recipes PR adding one `recipes/<name>/`: the resumable create_feedstock job.
Decisions: core.merges. A PR closed without merging needs nothing.
"""

from __future__ import annotations

import dataclasses

from pangeo_forge_orchestrator.core.effects import Skip
from pangeo_forge_orchestrator.core.events import Handled, Ignored, Outcome
from pangeo_forge_orchestrator.core.merges import MergeFacts, decide_merge, needs_meta
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.github_reads import changed_paths, read_meta
from pangeo_forge_orchestrator.jobs.services import (
    bakery_services,
    installation_client,
    job_context,
    rate_limits_as_retry,
)
from pangeo_forge_orchestrator.webhooks.payloads_pulls import PullRequestEvent, parse_pull_request
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

CLOSED_UNMERGED = "pull request #{number} was closed without merging"
NO_MERGE_SHA = "merged pull request #{number} names no merge commit"

routes = EventRoutes("pull_request")


@routes.on("closed", parse=parse_pull_request, feedstock_only=True)
async def start_merged_work(ctx: HandlerContext, event: PullRequestEvent) -> Outcome:
    """Start the production runs or the feedstock creation a merge calls for."""
    policy = DEFAULT_POLICY
    if not event.merged:
        return Ignored(CLOSED_UNMERGED.format(number=event.number))
    if event.merge_sha is None:
        return Ignored(NO_MERGE_SHA.format(number=event.number))
    merge_sha = event.merge_sha
    job = job_context(ctx)
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(job, event.repo, event.installation_id)
        facts = MergeFacts(
            repo=event.repo,
            kind=policy.repo_kind(event.repo.name),
            pr_number=event.number,
            title=event.title,
            merge_sha=merge_sha,
            merged_by=event.merged_by,
            changed_paths=await changed_paths(gh, event.repo, event.number),
        )
        if needs_meta(facts, policy=policy):
            meta = await read_meta(
                gh,
                event.repo,
                path=f"{policy.feedstock_dir}/meta.yaml",
                ref=merge_sha,
                known_bakeries=bakery_services(job).names,
            )
            production = await job.in_session(
                lambda s: db_runs.runs_at(
                    s, feedstock_spec=event.repo.full_name, head_sha=merge_sha, is_test=False
                )
            )
            facts = dataclasses.replace(facts, meta=meta, production_runs=production)
    decided = decide_merge(facts, policy=policy)
    if isinstance(decided, Skip):
        return Ignored(decided.reason)
    applier = Applier(ctx=job, github=gh, installation_id=installation_id, repo=event.repo)
    await applier.apply_all(decided)
    return Handled()
