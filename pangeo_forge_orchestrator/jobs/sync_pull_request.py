"""A pull request's sync, shared by its webhook handler and the expand-meta job.

Two decisions of core.pull_requests with the I/O between them: `begin_sync` on the facts as
gathered, apply its effects, gather the runs at the head sha again, then `finish_sync`
completes the sha's check run (unless expand-meta still has to list the recipes).
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.effects import CreateCheckRun, Skip, sync_check_external_id
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import LayoutViolation, MetaLocation
from pangeo_forge_orchestrator.core.meta import FeedstockMeta, InvalidMeta
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, Policy
from pangeo_forge_orchestrator.core.pull_requests import (
    PullRequestFacts,
    begin_sync,
    finish_sync,
)
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.registry import JobContext
from pangeo_forge_orchestrator.jobs.services import links_of


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestState:
    """What GitHub says about the PR at the sha being synced."""

    repo: RepositoryRef
    action: str
    number: int
    head_sha: str
    title: str
    draft: bool


async def runs_of(
    ctx: JobContext, repo: RepositoryRef, *, number: int, head_sha: str
) -> tuple[tuple[RunRecord, ...], tuple[RunRecord, ...]]:
    """Test runs at the head sha, and this PR's active test runs at other shas."""

    def read(session: Session) -> tuple[tuple[RunRecord, ...], tuple[RunRecord, ...]]:
        at_head = db_runs.runs_at(
            session, feedstock_spec=repo.full_name, head_sha=head_sha, is_test=True
        )
        pr_runs = db_runs.pull_request_runs(
            session, feedstock_spec=repo.full_name, pr_number=number
        )
        older = tuple(r for r in pr_runs if r.head_sha != head_sha and r.is_active)
        return at_head, older

    return await ctx.in_session(read)


async def sync_pull_request(
    applier: Applier,
    state: PullRequestState,
    *,
    location: MetaLocation | LayoutViolation,
    meta: FeedstockMeta | InvalidMeta | None,
    policy: Policy = DEFAULT_POLICY,
) -> Skip | None:
    """Open (or find) the sha's check, record what the sha needs, and complete the check."""
    ctx = applier.ctx
    at_head, older = await runs_of(ctx, state.repo, number=state.number, head_sha=state.head_sha)
    facts = PullRequestFacts(
        repo=state.repo,
        action=state.action,
        number=state.number,
        head_sha=state.head_sha,
        title=state.title,
        draft=state.draft,
        location=location,
        meta=meta,
        runs_at_head=at_head,
        older_active_runs=older,
    )
    decided = begin_sync(facts, policy=policy)
    if isinstance(decided, Skip):
        return decided
    check_run_id: int | None = None
    for effect in decided:
        result = await applier.apply(effect)
        if (
            isinstance(effect, CreateCheckRun)
            and effect.external_id == sync_check_external_id(state.head_sha)
            and result is not None
        ):
            check_run_id = result
    assert check_run_id is not None, "begin_sync always opens the sha's check run"
    at_head, _ = await runs_of(ctx, state.repo, number=state.number, head_sha=state.head_sha)
    again = dataclasses.replace(facts, runs_at_head=at_head, older_active_runs=())
    complete = finish_sync(
        again, check_run_id=check_run_id, links=links_of(ctx.settings), policy=policy
    )
    if complete is not None:
        await applier.apply(complete)
    return None
