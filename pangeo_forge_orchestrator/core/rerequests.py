"""The "Re-run" buttons of a check run or check suite: re-run the sha's failed recipe runs.

The same rule as `/run` applies to the `sender`: bots are ignored, people without write
access are answered on the pull request (when there is one) and nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import Effect, PostComment, QueueTestRun, Skip
from pangeo_forge_orchestrator.core.events import ActorKind, RepositoryRef
from pangeo_forge_orchestrator.core.permissions import (
    BotSender,
    CollaboratorPermission,
    Refused,
    may_run_code,
)
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, Policy
from pangeo_forge_orchestrator.core.runs import RunRecord, latest_attempts
from pangeo_forge_orchestrator.core.vocabulary import RunStatus

SKIP_BOT = "re-run requested by a bot ({login}) is never acted on"
SKIP_REFUSED_NO_PR = (
    "re-run requested by {login} ({level}) without write access, on no pull request"
)
SKIP_NOTHING_FAILED = "no failed recipe run at {sha} to re-run"


@dataclass(frozen=True, slots=True, kw_only=True)
class RerequestFacts:
    repo: RepositoryRef
    head_sha: str
    login: str
    kind: ActorKind | None
    permission: CollaboratorPermission | None
    # The pull request the check belongs to, if GitHub names one (where a refusal is posted).
    pr_number: int | None
    # Test runs of this feedstock at head_sha, every attempt.
    runs_at_head: tuple[RunRecord, ...] = ()


def decide_rerequest(
    facts: RerequestFacts, *, policy: Policy = DEFAULT_POLICY
) -> tuple[Effect, ...] | Skip:
    """Queue a new attempt of each recipe whose latest run at the sha failed or timed out."""
    verdict = may_run_code(
        login=facts.login,
        kind=facts.kind,
        permission=facts.permission,
        allowed=policy.run_permissions,
    )
    if isinstance(verdict, BotSender):
        return Skip(SKIP_BOT.format(login=facts.login))
    if isinstance(verdict, Refused):
        if facts.pr_number is None:
            return Skip(SKIP_REFUSED_NO_PR.format(login=facts.login, level=verdict.level))
        body = msg.RERUN_REFUSAL.format(
            login=facts.login, repo=facts.repo.full_name, level=verdict.level
        )
        key = f"rerun-refused:{facts.head_sha}:{facts.login}"
        return (PostComment(issue_number=facts.pr_number, key=key, body=body),)
    failed = [
        run
        for run in latest_attempts(
            r for r in facts.runs_at_head if r.head_sha == facts.head_sha
        ).values()
        if run.is_test
        and run.status is RunStatus.COMPLETED
        and run.conclusion in policy.rerun_conclusions
    ]
    if not failed:
        return Skip(SKIP_NOTHING_FAILED.format(sha=facts.head_sha))
    return tuple(
        QueueTestRun(
            feedstock_spec=facts.repo.full_name,
            head_sha=run.head_sha,
            recipe_id=run.recipe_id,
            bakery=run.bakery,
            pr_number=run.pr_number if run.pr_number is not None else facts.pr_number,
            requested_by=facts.login,
            after_run_id=run.id,
        )
        for run in sorted(failed, key=lambda r: r.id)
    )
