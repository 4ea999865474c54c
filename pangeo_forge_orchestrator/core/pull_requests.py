"""A pull request was opened, pushed to, reopened or made ready: check meta.yaml, record runs.

The handler works in two steps, each decided here:

1. `begin_sync(facts)`: record the feedstock, open the sha's check run `in_progress`, cancel
   the PR's runs at older shas, then queue one test run per recipe not yet recorded at this
   sha (or enqueue expand-meta for `dict_object` recipes). Nothing runs yet: test runs wait
   for a maintainer's `/run`.
2. `finish_sync(facts, check_run_id=...)`, with facts gathered again after step 1 applied:
   complete that check run with the runs and their links, or with the problems to fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    CancelRun,
    CompleteCheckRun,
    CreateCheckRun,
    Effect,
    ExpandMeta,
    QueueTestRun,
    RecordFeedstock,
    Skip,
    sync_check_external_id,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import LayoutViolation, MetaLocation
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.core.meta import FeedstockMeta, InvalidMeta
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, Policy
from pangeo_forge_orchestrator.core.runs import RunRecord, latest_attempts
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion

SKIP_ACTION = "pull_request.{action} does not start a sync"
SKIP_TITLE = "automated pull request ({title!r}) is skipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestFacts:
    repo: RepositoryRef
    action: str
    number: int
    head_sha: str
    title: str
    draft: bool
    # From `layout.locate_meta`; meta is None when the layout is violated (nothing to read).
    location: MetaLocation | LayoutViolation
    meta: FeedstockMeta | InvalidMeta | None
    # Test runs of this feedstock at head_sha, and this PR's active test runs at other shas.
    runs_at_head: tuple[RunRecord, ...] = ()
    older_active_runs: tuple[RunRecord, ...] = ()


def begin_sync(
    facts: PullRequestFacts, *, policy: Policy = DEFAULT_POLICY
) -> tuple[Effect, ...] | Skip:
    """Open the check, retire superseded runs, queue the missing test runs.

    - skipped: actions outside `policy.sync_actions`, and our own "Cleanup ..." PRs;
    - invalid layout or meta: the check only (`finish_sync` fails it);
    - draft: the check only, unless the policy queues runs for drafts;
    - `dict_object` recipes: expand-meta first; it calls `begin_sync` again with the ids.
    """
    if facts.action not in policy.sync_actions:
        return Skip(SKIP_ACTION.format(action=facts.action))
    if policy.skips_title(facts.title):
        return Skip(SKIP_TITLE.format(title=facts.title))
    meta = facts.meta
    expanding = isinstance(meta, FeedstockMeta) and meta.needs_expansion
    effects: list[Effect] = [
        RecordFeedstock(spec=facts.repo.full_name),
        CreateCheckRun(
            head_sha=facts.head_sha,
            name=msg.SYNC_CHECK_NAME,
            external_id=sync_check_external_id(facts.head_sha),
            status="in_progress",
            title=msg.SYNC_IN_PROGRESS_TITLE,
            summary=_in_progress_summary(facts, expanding=expanding),
        ),
    ]
    if policy.cancel_superseded_runs:
        effects.extend(_cancel_superseded(facts))
    if not isinstance(facts.location, MetaLocation) or not isinstance(meta, FeedstockMeta):
        return tuple(effects)
    if facts.draft and not policy.queue_runs_for_drafts:
        return tuple(effects)
    if expanding:
        effects.append(
            ExpandMeta(
                feedstock_spec=facts.repo.full_name,
                head_sha=facts.head_sha,
                feedstock_subdir=facts.location.subdir,
                pr_number=facts.number,
            )
        )
        return tuple(effects)
    recorded = {run.recipe_id for run in facts.runs_at_head}
    effects.extend(
        QueueTestRun(
            feedstock_spec=facts.repo.full_name,
            head_sha=facts.head_sha,
            recipe_id=recipe_id,
            bakery=meta.bakery_id,
            pr_number=facts.number,
        )
        for recipe_id in meta.recipe_ids
        if recipe_id not in recorded
    )
    return tuple(effects)


def finish_sync(
    facts: PullRequestFacts,
    *,
    check_run_id: int,
    links: Links,
    policy: Policy = DEFAULT_POLICY,
) -> CompleteCheckRun | None:
    """Complete the sha's check; None while expand-meta has yet to list the recipes."""
    location, meta = facts.location, facts.meta

    def complete(conclusion: RunConclusion, title: str, summary: str) -> CompleteCheckRun:
        return CompleteCheckRun(
            check_run_id=check_run_id,
            conclusion=conclusion,
            title=title,
            summary=msg.truncate(summary),
        )

    if isinstance(location, LayoutViolation):
        summary = f"{msg.LAYOUT_RULE}\n\n{msg.problem_list(location.problems)}"
        return complete(RunConclusion.FAILURE, msg.SYNC_LAYOUT_TITLE, summary)
    if not isinstance(meta, FeedstockMeta):
        problems = (
            meta.problems
            if meta is not None
            else (msg.META_MISSING.format(path=location.meta_path),)
        )
        return complete(
            RunConclusion.FAILURE,
            msg.SYNC_FAILURE_TITLE,
            _problems_summary(facts, location, problems),
        )
    if facts.draft and not policy.queue_runs_for_drafts:
        ids = msg.DRAFT_IDS_PENDING if meta.needs_expansion else msg.code_list(meta.recipe_ids)
        summary = msg.SYNC_DRAFT_SUMMARY.format(
            meta_path=location.meta_path, sha=facts.head_sha, ids=ids
        )
        return complete(RunConclusion.SUCCESS, msg.SYNC_DRAFT_TITLE, summary)
    if meta.needs_expansion:
        return None
    latest = latest_attempts(facts.runs_at_head)
    lines = [
        msg.SYNC_RUN_LINE.format(
            recipe_id=recipe_id,
            url=links.run_page(run_id=run.id, feedstock_id=run.feedstock_id),
            status=run.conclusion or run.status,
        )
        for recipe_id in meta.recipe_ids
        if (run := latest.get(recipe_id)) is not None
    ]
    summary = "\n\n".join([msg.SYNC_SUCCESS_SUMMARY.format(sha=facts.head_sha), "\n".join(lines)])
    title = msg.SYNC_SUCCESS_TITLE.format(count=len(lines))
    return complete(RunConclusion.SUCCESS, title, summary)


def _in_progress_summary(facts: PullRequestFacts, *, expanding: bool) -> str:
    if isinstance(facts.location, LayoutViolation):
        return msg.SYNC_IN_PROGRESS_SUMMARY.format(meta_path="recipes/", sha=facts.head_sha)
    template = msg.SYNC_EXPANDING_SUMMARY if expanding else msg.SYNC_IN_PROGRESS_SUMMARY
    return template.format(meta_path=facts.location.meta_path, sha=facts.head_sha)


def _problems_summary(
    facts: PullRequestFacts, location: MetaLocation, problems: tuple[str, ...]
) -> str:
    heading = msg.SYNC_FAILURE_SUMMARY.format(meta_path=location.meta_path, sha=facts.head_sha)
    return f"{heading}\n\n{msg.problem_list(problems)}\n\n{msg.SYNC_FAILURE_FOOTER}"


def _cancel_superseded(facts: PullRequestFacts) -> list[Effect]:
    """Stop this PR's queued and running test runs of older shas, and close their checks."""
    effects: list[Effect] = []
    for run in sorted(facts.older_active_runs, key=lambda r: r.id):
        if run.head_sha == facts.head_sha or not run.is_active or not run.is_test:
            continue
        effects.append(
            CancelRun(
                run_id=run.id, reason=msg.CANCEL_REASON_SUPERSEDED.format(new_sha=facts.head_sha)
            )
        )
        if run.check_run_id is not None:
            summary = msg.SUPERSEDED_SUMMARY.format(new_sha=facts.head_sha, sha=run.head_sha)
            effects.append(
                CompleteCheckRun(
                    check_run_id=run.check_run_id,
                    conclusion=RunConclusion.CANCELLED,
                    title=msg.SUPERSEDED_TITLE,
                    summary=summary,
                )
            )
    return effects
