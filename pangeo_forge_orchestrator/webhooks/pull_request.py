"""`pull_request` opened, synchronize, reopened, ready_for_review: check meta.yaml, record runs.

meta.yaml is read at the head sha through the contents API (no clone, no code run); the
sha's "Recipe runs" check goes in_progress then completed; one queued test run per recipe
waits for a maintainer's `/run`. Decisions: core.pull_requests (see jobs/sync_pull_request.py).
"""

from __future__ import annotations

from pangeo_forge_orchestrator.core.events import Handled, Ignored, Outcome
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY
from pangeo_forge_orchestrator.core.pull_requests import SKIP_ACTION, SKIP_TITLE
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.github_reads import locate_and_read_meta
from pangeo_forge_orchestrator.jobs.services import (
    bakery_services,
    installation_client,
    job_context,
    rate_limits_as_retry,
)
from pangeo_forge_orchestrator.jobs.sync_pull_request import PullRequestState, sync_pull_request
from pangeo_forge_orchestrator.webhooks.payloads_pulls import PullRequestEvent, parse_pull_request
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

routes = EventRoutes("pull_request")


@routes.on(*sorted(DEFAULT_POLICY.sync_actions), parse=parse_pull_request, feedstock_only=True)
async def check_pull_request(ctx: HandlerContext, event: PullRequestEvent) -> Outcome:
    """Report meta.yaml's check for the head sha and record its test runs.

    - our own "Cleanup ..." PRs are skipped before any GitHub read;
    - drafts get the check only; invalid meta or layout fails the check with the problems;
    - runs of this PR at older shas are cancelled.
    """
    policy = DEFAULT_POLICY
    if event.action not in policy.sync_actions:
        return Ignored(SKIP_ACTION.format(action=event.action))
    if policy.skips_title(event.title):
        return Ignored(SKIP_TITLE.format(title=event.title))
    job = job_context(ctx)
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(job, event.repo, event.installation_id)
        location, meta = await locate_and_read_meta(
            gh,
            event.repo,
            number=event.number,
            sha=event.head_sha,
            policy=policy,
            known_bakeries=bakery_services(job).names,
        )
    applier = Applier(ctx=job, github=gh, installation_id=installation_id, repo=event.repo)
    state = PullRequestState(
        repo=event.repo,
        action=event.action,
        number=event.number,
        head_sha=event.head_sha,
        title=event.title,
        draft=event.draft,
    )
    skipped = await sync_pull_request(applier, state, location=location, meta=meta, policy=policy)
    return Ignored(skipped.reason) if skipped is not None else Handled()
