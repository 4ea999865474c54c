"""`issue_comment` created on a pull request: the slash commands `/run`, `/cancel`, `/help`.

Plain comments, edits, deletions and bots cost no GitHub read (core.slash.screen_comment).
A `/run` approves the head sha *as of the comment*: the head recorded from the last
pull_request delivery received up to the comment's time must still be the PR's head when the
command is handled, else code pushed in between could run unreviewed, and the commenter is
asked for a new `/run` instead.
"""

from __future__ import annotations

from datetime import timedelta

from pangeo_forge_orchestrator.adapters.github import GitHubClient
from pangeo_forge_orchestrator.core.commands import (
    ALL,
    CancelCommand,
    Command,
    Malformed,
    RunCommand,
)
from pangeo_forge_orchestrator.core.effects import (
    AddReaction,
    DispatchRun,
    Effect,
    PostComment,
    QueueTestRun,
    Skip,
)
from pangeo_forge_orchestrator.core.events import Handled, Ignored, Outcome
from pangeo_forge_orchestrator.core.layout import LayoutViolation
from pangeo_forge_orchestrator.core.meta import FeedstockMeta, InvalidMeta
from pangeo_forge_orchestrator.core.permissions import (
    Allowed,
    CollaboratorPermission,
    may_run_code,
)
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.core.slash import (
    CommentFacts,
    decide_command,
    reply_key,
    screen_comment,
)
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.github_reads import (
    get_pull,
    locate_and_read_meta,
    permission_of,
)
from pangeo_forge_orchestrator.jobs.registry import JobContext
from pangeo_forge_orchestrator.jobs.services import (
    bakery_services,
    installation_client,
    job_context,
    links_of,
    rate_limits_as_retry,
)
from pangeo_forge_orchestrator.webhooks.payloads_pulls import (
    PullRequestComment,
    parse_issue_comment,
)
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

HEAD_MOVED = """\
@{login}, this pull request changed after your comment: its head is now `{head}`, and the \
commit it had when you commented was `{seen}`. An approval covers the code it was given for, \
so nothing was started. Comment `{command}` again to run the latest commit."""
HEAD_UNSEEN = """\
@{login}, I have not seen this pull request's latest push (`{head}`) arrive before your \
comment, so I cannot tell which commit your command approved. Nothing was started; comment \
`{command}` again in a moment. If this keeps happening, push a commit (or close and reopen \
the pull request) so that I learn its head."""
DECLINED_HEAD_MOVED = "/run declined: the head moved after the comment"

GITHUB_CLOCK_RESOLUTION = timedelta(seconds=1)

routes = EventRoutes("issue_comment")


@routes.on("created", parse=parse_issue_comment, feedstock_only=True)
async def answer_command(ctx: HandlerContext, event: PullRequestComment) -> Outcome:
    """React 👀 to a slash command on a PR, check who asked, then run, cancel or explain."""
    policy = DEFAULT_POLICY
    screened = screen_comment(
        action=event.action,
        on_pull_request=event.on_pull_request,
        login=event.login,
        kind=event.kind,
        body=event.body,
    )
    if isinstance(screened, Skip):
        return Ignored(screened.reason)
    command: Command = screened
    job = job_context(ctx)
    repo, number = event.repo, event.issue_number
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(job, repo, event.installation_id)
        head, permission, meta = await _read_facts(job, gh, event, command)
    applier = Applier(ctx=job, github=gh, installation_id=installation_id, repo=repo)
    verdict = may_run_code(
        login=event.login, kind=event.kind, permission=permission, allowed=policy.run_permissions
    )
    if isinstance(command, RunCommand) and isinstance(verdict, Allowed):
        # GitHub stamps comments in whole seconds: one made at 10:00:00.9 says 10:00:00, so a
        # push we received at 10:00:00.5 came before it. Count the whole second as "before".
        seen = await job.in_session(
            lambda s: db_runs.pull_request_head_before(
                s,
                repository=repo.full_name,
                pr_number=number,
                before=event.created_at + GITHUB_CLOCK_RESOLUTION,
            )
        )
        if seen != head:
            await applier.apply_all(_decline_moved_head(event, command, head=head, seen=seen))
            return Ignored(DECLINED_HEAD_MOVED)
    pr_runs = await job.in_session(
        lambda s: db_runs.pull_request_runs(s, feedstock_spec=repo.full_name, pr_number=number)
    )
    facts = CommentFacts(
        repo=repo,
        pr_number=number,
        comment_id=event.comment_id,
        login=event.login,
        kind=event.kind,
        permission=permission,
        head_sha=head,
        meta=meta,
        pr_runs=pr_runs,
    )
    decided = decide_command(command, facts, links=links_of(job.settings), policy=policy)
    if isinstance(decided, Skip):
        return Ignored(decided.reason)
    if isinstance(command, RunCommand):
        decided = await _not_started_before(job, decided, pr_runs, comment_id=event.comment_id)
    await applier.apply_all(decided)
    return Handled()


async def _not_started_before(
    job: JobContext,
    decided: tuple[Effect, ...],
    pr_runs: tuple[RunRecord, ...],
    *,
    comment_id: int,
) -> tuple[Effect, ...]:
    """Drop the starts this comment already made: a redelivered or replayed `/run`, once its
    run finished, would otherwise look like a request for a new attempt."""
    started = await job.in_session(lambda s: db_runs.recipes_started_by_comment(s, comment_id))
    recipe_of = {run.id: run.recipe_id for run in pr_runs}

    def repeated(effect: Effect) -> bool:
        if isinstance(effect, QueueTestRun):
            return effect.recipe_id in started
        if isinstance(effect, DispatchRun):
            return recipe_of.get(effect.run_id) in started
        return False

    return tuple(effect for effect in decided if not repeated(effect))


async def _read_facts(
    job: JobContext, gh: GitHubClient, event: PullRequestComment, command: Command
) -> tuple[str, CollaboratorPermission | None, FeedstockMeta | InvalidMeta]:
    """The PR's head now, the commenter's permission (when the command needs it), meta.yaml."""
    repo, number = event.repo, event.issue_number
    head = str((await get_pull(gh, repo, number))["head"]["sha"])
    needs_permission = isinstance(command, RunCommand | CancelCommand)
    permission = await permission_of(gh, repo, event.login) if needs_permission else None
    if isinstance(command, Malformed):  # the usage reply needs no meta.yaml
        return head, permission, InvalidMeta(())
    location, meta = await locate_and_read_meta(
        gh,
        repo,
        number=number,
        sha=head,
        policy=DEFAULT_POLICY,
        known_bakeries=bakery_services(job).names,
    )
    if isinstance(location, LayoutViolation):
        # No meta.yaml to read: the layout's problems are the answer.
        return head, permission, InvalidMeta(location.problems)
    return head, permission, meta if meta is not None else InvalidMeta(())


def _decline_moved_head(
    event: PullRequestComment, command: RunCommand, *, head: str, seen: str | None
) -> tuple[Effect, ...]:
    target = command.recipe_id if isinstance(command.recipe_id, str) else ALL.value
    typed = f"/run {target}"
    if seen is None:
        body = HEAD_UNSEEN.format(login=event.login, head=head, command=typed)
    else:
        body = HEAD_MOVED.format(login=event.login, head=head, seen=seen, command=typed)
    return (
        AddReaction(comment_id=event.comment_id, content="eyes"),
        PostComment(issue_number=event.issue_number, key=reply_key(event.comment_id), body=body),
    )
