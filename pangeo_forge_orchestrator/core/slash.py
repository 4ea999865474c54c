"""A slash command on a pull request: what to answer and what to run.

The handler calls `screen_comment` first and stops at a `Skip` (plain comments get no
reaction and cost no GitHub reads); it then gathers `CommentFacts` and applies
`decide_command`. Runs bind to `head_sha` as of the comment: a later push needs a new `/run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.commands import (
    ALL,
    CancelCommand,
    Command,
    HelpCommand,
    Malformed,
    RunCommand,
    parse_command,
)
from pangeo_forge_orchestrator.core.effects import (
    AddReaction,
    CancelRun,
    CompleteCheckRun,
    DispatchRun,
    Effect,
    PostComment,
    QueueTestRun,
    Skip,
)
from pangeo_forge_orchestrator.core.events import ActorKind, RepositoryRef
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.core.meta import FeedstockMeta, InvalidMeta
from pangeo_forge_orchestrator.core.permissions import (
    BotSender,
    CollaboratorPermission,
    Refused,
    is_bot,
    may_run_code,
)
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, Policy
from pangeo_forge_orchestrator.core.runs import RunRecord, latest_attempts
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus

SKIP_BOT = "comment by a bot ({login}) is never acted on"
SKIP_ACTION = "issue_comment.{action} is not acted on (only new comments are)"
SKIP_NOT_A_PR = "comment on an issue, not on a pull request"
SKIP_NOT_A_COMMAND = "comment is not a slash command"


def screen_comment(
    *, action: str, on_pull_request: bool, login: str, kind: ActorKind | None, body: str | None
) -> Command | Skip:
    """The command to handle, or why the comment is dropped before any GitHub read.

    Edits and deletions, comments on plain issues, comments by bots and comments that are
    not commands get no reaction and no reply.
    """
    if action != "created":
        return Skip(SKIP_ACTION.format(action=action))
    if not on_pull_request:
        return Skip(SKIP_NOT_A_PR)
    if is_bot(login=login, kind=kind):
        return Skip(SKIP_BOT.format(login=login))
    command = parse_command(body)
    if command is None:
        return Skip(SKIP_NOT_A_COMMAND)
    return command


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentFacts:
    repo: RepositoryRef
    pr_number: int
    comment_id: int
    login: str
    kind: ActorKind | None
    # GitHub's answer for `login` on the base repository; None when not a collaborator.
    permission: CollaboratorPermission | None
    head_sha: str
    meta: FeedstockMeta | InvalidMeta
    # This PR's test runs, at every sha (a /cancel reaches runs of older pushes too).
    pr_runs: tuple[RunRecord, ...] = ()


def reply_key(comment_id: int) -> str:
    """One reply per command comment, however often its delivery is replayed."""
    return f"command-{comment_id}"


def decide_command(
    command: Command, facts: CommentFacts, *, links: Links, policy: Policy = DEFAULT_POLICY
) -> tuple[Effect, ...] | Skip:
    """React 👀 to the command, then answer it.

    - malformed: the usage; `/help`: the commands and recipe ids (anyone may ask);
    - `/run` and `/cancel` need write access, else a polite refusal and nothing runs;
    - unknown recipe id, or meta.yaml with problems: a reply naming what is valid;
    - `/run`: start the recipe's run awaiting approval, or a new attempt after a finished
      one; one already queued or running is left alone, and the reply says so;
    - `/cancel`: cancel the recipe's queued or running test runs of this PR.
    """
    if is_bot(login=facts.login, kind=facts.kind):
        return Skip(SKIP_BOT.format(login=facts.login))
    seen = AddReaction(comment_id=facts.comment_id, content="eyes")

    def reply(body: str) -> tuple[Effect, ...]:
        key = reply_key(facts.comment_id)
        return (seen, PostComment(issue_number=facts.pr_number, key=key, body=body))

    if isinstance(command, Malformed):
        return reply(
            msg.USAGE.format(login=facts.login, line=command.line, problem=command.problem)
        )
    if isinstance(command, HelpCommand):
        return reply(msg.HELP.format(sha=facts.head_sha, ids=_ids_text(facts)))
    verdict = may_run_code(
        login=facts.login,
        kind=facts.kind,
        permission=facts.permission,
        allowed=policy.run_permissions,
    )
    if isinstance(verdict, BotSender):
        return Skip(SKIP_BOT.format(login=facts.login))
    if isinstance(verdict, Refused):
        return reply(
            msg.REFUSAL.format(
                login=facts.login,
                repo=facts.repo.full_name,
                level=verdict.level,
                command=_as_typed(command),
            )
        )
    if isinstance(command, CancelCommand):
        return _answer_cancel(command.recipe_id, facts, reply=reply, seen=seen)
    meta = facts.meta
    if isinstance(meta, InvalidMeta):
        problems = msg.problem_list(meta.problems)
        return reply(
            msg.META_INVALID_REPLY.format(
                login=facts.login, sha=facts.head_sha, check=msg.SYNC_CHECK_NAME, problems=problems
            )
        )
    ids = _recipe_ids(facts)
    if not ids:
        return reply(msg.EXPANSION_PENDING.format(login=facts.login, sha=facts.head_sha))
    wanted = ids if command.recipe_id is ALL else (command.recipe_id,)
    if wanted[0] not in ids:
        return reply(_unknown_recipe(wanted[0], ids, facts))
    started, already = _run(wanted, facts, meta=meta, links=links)
    if already:
        return (*reply(msg.already_active(facts.login, already)), *started)
    return (seen, *started)


def _as_typed(command: RunCommand | CancelCommand) -> str:
    word = "run" if isinstance(command, RunCommand) else "cancel"
    target = command.recipe_id if isinstance(command.recipe_id, str) else command.recipe_id.value
    return f"/{word} {target}"


def _recipe_ids(facts: CommentFacts) -> tuple[str, ...]:
    """meta.yaml's ids; for `dict_object` recipes, the ids expand-meta recorded at this sha."""
    assert isinstance(facts.meta, FeedstockMeta)
    ids = list(facts.meta.recipe_ids)
    if facts.meta.needs_expansion:
        recorded = sorted({r.recipe_id for r in facts.pr_runs if r.head_sha == facts.head_sha})
        ids.extend(recipe_id for recipe_id in recorded if recipe_id not in ids)
    return tuple(ids)


def _ids_text(facts: CommentFacts) -> str:
    if isinstance(facts.meta, InvalidMeta):
        return msg.HELP_META_INVALID
    return msg.code_list(_recipe_ids(facts))


def _run(
    wanted: tuple[str, ...], facts: CommentFacts, *, meta: FeedstockMeta, links: Links
) -> tuple[list[Effect], list[str]]:
    """Effects that start each wanted recipe, and a line for each one left alone."""
    at_head = [run for run in facts.pr_runs if run.head_sha == facts.head_sha]
    latest = latest_attempts(at_head)
    effects: list[Effect] = []
    already: list[str] = []
    for recipe_id in wanted:
        run = latest.get(recipe_id)
        if run is not None and run.awaits_approval:
            effects.append(
                DispatchRun(run_id=run.id, requested_by=facts.login, comment_id=facts.comment_id)
            )
        elif run is None or run.status is RunStatus.COMPLETED:
            effects.append(
                QueueTestRun(
                    feedstock_spec=facts.repo.full_name,
                    head_sha=facts.head_sha,
                    recipe_id=recipe_id,
                    bakery=run.bakery if run is not None else meta.bakery_id,
                    pr_number=facts.pr_number,
                    requested_by=facts.login,
                    comment_id=facts.comment_id,
                    after_run_id=run.id if run is not None else None,
                )
            )
        else:
            template = (
                msg.ALREADY_RUNNING if run.status is RunStatus.IN_PROGRESS else msg.ALREADY_QUEUED
            )
            url = links.run_page(run_id=run.id, feedstock_id=run.feedstock_id)
            already.append(template.format(recipe_id=recipe_id, sha=facts.head_sha, url=url))
    return effects, already


def _unknown_recipe(recipe_id: str, ids: tuple[str, ...], facts: CommentFacts) -> str:
    return msg.UNKNOWN_RECIPE.format(
        login=facts.login,
        recipe_id=recipe_id,
        sha=facts.head_sha,
        ids=msg.code_list(ids),
        example=ids[0],
    )


def _answer_cancel(
    recipe_id: str,
    facts: CommentFacts,
    *,
    reply: Callable[[str], tuple[Effect, ...]],
    seen: AddReaction,
) -> tuple[Effect, ...]:
    """Cancel without reading meta.yaml: a broken push must not keep a run from stopping."""
    cancelled = _cancel(recipe_id, facts)
    if cancelled:
        return (seen, *cancelled)
    known = {run.recipe_id for run in facts.pr_runs}
    if isinstance(facts.meta, FeedstockMeta):
        known.update(_recipe_ids(facts))
    if known and recipe_id not in known:
        return reply(_unknown_recipe(recipe_id, tuple(sorted(known)), facts))
    return reply(msg.NOTHING_TO_CANCEL.format(login=facts.login, recipe_id=recipe_id))


def _cancel(recipe_id: str, facts: CommentFacts) -> list[Effect]:
    effects: list[Effect] = []
    reason = msg.CANCEL_REASON_COMMAND.format(login=facts.login)
    for run in sorted(facts.pr_runs, key=lambda r: r.id):
        if run.recipe_id != recipe_id or not run.is_active or not run.is_test:
            continue
        effects.append(CancelRun(run_id=run.id, reason=reason))
        if run.check_run_id is not None:
            effects.append(
                CompleteCheckRun(
                    check_run_id=run.check_run_id,
                    conclusion=RunConclusion.CANCELLED,
                    title=msg.RUN_CHECK_TITLES["cancelled"].format(recipe_id=recipe_id),
                    summary=msg.CANCELLED_BY_COMMAND_SUMMARY.format(
                        login=facts.login, recipe_id=recipe_id
                    ),
                )
            )
    return effects
