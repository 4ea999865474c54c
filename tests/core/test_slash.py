import json

import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.commands import (
    ALL,
    CancelCommand,
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
    PostComment,
    QueueTestRun,
    Skip,
)
from pangeo_forge_orchestrator.core.events import ActorKind, RepositoryRef
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.core.meta import (
    DictObjectSpec,
    FeedstockMeta,
    InvalidMeta,
    RecipeSpec,
)
from pangeo_forge_orchestrator.core.permissions import CollaboratorPermission
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.core.slash import (
    SKIP_ACTION,
    SKIP_BOT,
    SKIP_NOT_A_COMMAND,
    SKIP_NOT_A_PR,
    CommentFacts,
    decide_command,
    screen_comment,
)
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus
from tests.conftest import shared_path

REPO = RepositoryRef(owner="pangeo-forge", name="staged-recipes")
SHA, OLD = "c" * 40, "d" * 40
LINKS = Links(
    dashboard_url="https://pangeo-forge.org/dashboard", public_url="https://api.example.org"
)
META = FeedstockMeta(
    recipes=(RecipeSpec("a", "recipe:a"), RecipeSpec("b", "recipe:b")), bakery_id="local"
)
WRITE = CollaboratorPermission("write", "maintain")
EYES = AddReaction(comment_id=900, content="eyes")


def facts(**kw):
    base = dict(
        repo=REPO,
        pr_number=7,
        comment_id=900,
        login="maintainer",
        kind=ActorKind.USER,
        permission=WRITE,
        head_sha=SHA,
        meta=META,
    )
    return CommentFacts(**(base | kw))


def decide(body, **kw):
    command = parse_command(body)
    assert command is not None
    return decide_command(command, facts(**kw), links=LINKS)


def run(run_id, recipe_id, *, sha=SHA, status=RunStatus.QUEUED, **kw):
    base = dict(feedstock_id=1, head_sha=sha, bakery="local", status=status, pr_number=7)
    return RunRecord(id=run_id, recipe_id=recipe_id, **(base | kw))


def reply(body):
    return PostComment(issue_number=7, key="command-900", body=body)


def new_run(recipe_id, *, after=None, bakery="local"):
    return QueueTestRun(
        feedstock_spec=REPO.full_name,
        head_sha=SHA,
        recipe_id=recipe_id,
        bakery=bakery,
        pr_number=7,
        requested_by="maintainer",
        comment_id=900,
        after_run_id=after,
    )


def test_run_starts_the_run_awaiting_approval_at_the_head_sha():
    assert decide("/run a", pr_runs=(run(1, "a"), run(2, "b"))) == (
        EYES,
        DispatchRun(run_id=1, requested_by="maintainer", comment_id=900),
    )


def test_run_all_starts_every_recipe():
    assert decide("/run all", pr_runs=(run(1, "a"), run(2, "b"))) == (
        EYES,
        DispatchRun(run_id=1, requested_by="maintainer", comment_id=900),
        DispatchRun(run_id=2, requested_by="maintainer", comment_id=900),
    )


def test_run_without_a_recorded_run_queues_one_bound_to_the_head_sha():
    # e.g. a draft PR, whose pushes record no runs, or runs recorded only at an older sha.
    assert decide("/run b", pr_runs=(run(1, "b", sha=OLD),)) == (EYES, new_run("b"))


def test_run_of_a_finished_run_starts_a_new_attempt_and_keeps_the_old():
    finished = run(
        3, "a", status=RunStatus.COMPLETED, conclusion=RunConclusion.FAILURE, bakery="other"
    )
    assert decide("/run a", pr_runs=(finished,)) == (EYES, new_run("a", after=3, bakery="other"))


def test_run_of_a_queued_run_says_so_and_starts_nothing():
    waiting = run(4, "a", requested_by="someone")
    url = LINKS.run_page(run_id=4, feedstock_id=1)
    line = msg.ALREADY_QUEUED.format(recipe_id="a", sha=SHA, url=url)
    assert decide("/run a", pr_runs=(waiting,)) == (EYES, reply(f"@maintainer, {line}"))


def test_run_of_a_running_run_says_so():
    running = run(4, "a", status=RunStatus.IN_PROGRESS, requested_by="someone")
    line = msg.ALREADY_RUNNING.format(
        recipe_id="a", sha=SHA, url=LINKS.run_page(run_id=4, feedstock_id=1)
    )
    assert decide("/run a", pr_runs=(running,)) == (EYES, reply(f"@maintainer, {line}"))


def test_run_all_starts_the_rest_and_lists_those_already_on_their_way():
    runs = (run(4, "a", status=RunStatus.IN_PROGRESS, requested_by="x"), run(5, "b"))
    effects = decide("/run all", pr_runs=runs)
    line = msg.ALREADY_RUNNING.format(
        recipe_id="a", sha=SHA, url=LINKS.run_page(run_id=4, feedstock_id=1)
    )
    assert effects == (
        EYES,
        reply(f"@maintainer, {line}"),
        DispatchRun(run_id=5, requested_by="maintainer", comment_id=900),
    )


def test_several_already_active_recipes_share_one_reply():
    runs = (
        run(4, "a", requested_by="x"),
        run(5, "b", status=RunStatus.IN_PROGRESS, requested_by="x"),
    )
    [_, comment] = decide("/run all", pr_runs=runs)
    assert comment.body.startswith(msg.ALREADY_ACTIVE_MANY.format(login="maintainer"))
    assert comment.body.count("\n- ") == 2


def test_unknown_recipe_names_the_valid_ids():
    assert decide("/run nope") == (
        EYES,
        reply(
            msg.UNKNOWN_RECIPE.format(
                login="maintainer", recipe_id="nope", sha=SHA, ids="`a`, `b`", example="a"
            )
        ),
    )


@pytest.mark.parametrize(
    ("permission", "level"),
    [
        (CollaboratorPermission("read", "triage"), "triage"),
        (CollaboratorPermission("read"), "read"),
        (None, "none"),
    ],
)
def test_without_write_access_the_reply_is_polite_and_nothing_runs(permission, level):
    effects = decide("/run a", permission=permission, login="contributor", pr_runs=(run(1, "a"),))
    body = msg.REFUSAL.format(
        login="contributor", repo=REPO.full_name, level=level, command="/run a"
    )
    assert effects == (EYES, reply(body))
    assert "admin, maintain or write" in body


def test_refusal_repeats_the_command_a_maintainer_would_type():
    [_, comment] = decide("/cancel b", permission=None)
    assert "`/cancel b`" in comment.body
    [_, comment] = decide("/run all", permission=None)
    assert "`/run all`" in comment.body


def test_bots_get_no_reaction_and_no_reply():
    result = decide("/run a", login="pangeo-forge[bot]", kind=ActorKind.BOT)
    assert result == Skip(SKIP_BOT.format(login="pangeo-forge[bot]"))
    assert isinstance(decide("/help", login="x[bot]", kind=None), Skip)


def test_malformed_command_gets_the_usage():
    assert decide("/run") == (
        EYES,
        reply(
            msg.USAGE.format(
                login="maintainer", line="/run", problem=msg.MISSING_RECIPE_ID.format(word="run")
            )
        ),
    )


def test_help_lists_commands_and_recipe_ids_for_anyone():
    assert decide("/help", permission=None) == (
        EYES,
        reply(msg.HELP.format(sha=SHA, ids="`a`, `b`")),
    )


def test_help_when_meta_is_invalid():
    [_, comment] = decide("/help", meta=InvalidMeta(("x",)))
    assert msg.HELP_META_INVALID in comment.body


def test_run_with_invalid_meta_explains_and_runs_nothing():
    effects = decide("/run a", meta=InvalidMeta(("Bakery `x` is not known here.",)))
    body = msg.META_INVALID_REPLY.format(
        login="maintainer",
        sha=SHA,
        check=msg.SYNC_CHECK_NAME,
        problems="- Bakery `x` is not known here.",
    )
    assert effects == (EYES, reply(body))


def test_dict_object_ids_come_from_runs_recorded_after_expansion():
    meta = FeedstockMeta(recipes=(DictObjectSpec("recipe:recipes"),), bakery_id="local")
    runs = (run(1, "x"), run(2, "y"), run(3, "z", sha=OLD))
    assert decide("/run y", meta=meta, pr_runs=runs) == (
        EYES,
        DispatchRun(run_id=2, requested_by="maintainer", comment_id=900),
    )
    [_, comment] = decide("/run z", meta=meta, pr_runs=runs)
    assert "Valid ids: `x`, `y`" in comment.body


def test_dict_object_ids_not_yet_listed():
    meta = FeedstockMeta(recipes=(DictObjectSpec("recipe:recipes"),), bakery_id="local")
    assert decide("/run y", meta=meta) == (
        EYES,
        reply(msg.EXPANSION_PENDING.format(login="maintainer", sha=SHA)),
    )


def test_cancel_stops_the_recipes_active_runs_of_this_pr_at_any_sha():
    runs = (
        run(1, "a", sha=OLD, status=RunStatus.IN_PROGRESS, check_run_id=31, requested_by="m"),
        run(2, "a"),
        run(3, "a", status=RunStatus.COMPLETED, conclusion=RunConclusion.SUCCESS),
        run(4, "b"),
    )
    reason = msg.CANCEL_REASON_COMMAND.format(login="maintainer")
    assert decide("/cancel a", pr_runs=runs) == (
        EYES,
        CancelRun(run_id=1, reason=reason),
        CompleteCheckRun(
            check_run_id=31,
            conclusion=RunConclusion.CANCELLED,
            title=msg.run_check_title("a", "cancelled"),
            summary=msg.CANCELLED_BY_COMMAND_SUMMARY.format(login="maintainer", recipe_id="a"),
        ),
        CancelRun(run_id=2, reason=reason),
    )


def test_cancel_with_nothing_active_says_so():
    finished = run(3, "a", status=RunStatus.COMPLETED, conclusion=RunConclusion.SUCCESS)
    assert decide("/cancel a", pr_runs=(finished,)) == (
        EYES,
        reply(msg.NOTHING_TO_CANCEL.format(login="maintainer", recipe_id="a")),
    )


def test_cancel_needs_write_access():
    effects = decide("/cancel a", permission=CollaboratorPermission("read"), pr_runs=(run(2, "a"),))
    assert not any(isinstance(e, CancelRun) for e in effects)


def test_cancel_of_an_unknown_recipe_names_the_valid_ids():
    [_, comment] = decide("/cancel nope")
    assert "there is no recipe `nope`" in comment.body


def test_commands_are_typed_values_not_strings():
    assert decide_command(RunCommand(ALL), facts(pr_runs=(run(1, "a"),)), links=LINKS)[0] == EYES
    assert decide_command(HelpCommand(), facts(), links=LINKS)[0] == EYES
    assert decide_command(Malformed("/run", "x"), facts(), links=LINKS)[0] == EYES
    assert decide_command(CancelCommand("a"), facts(), links=LINKS)[0] == EYES


# -- screen_comment ---------------------------------------------------------------------------
def screen(**kw):
    base = dict(
        action="created", on_pull_request=True, login="m", kind=ActorKind.USER, body="/run a"
    )
    return screen_comment(**(base | kw))


def test_a_new_pr_comment_with_a_command_passes_the_screen():
    assert screen() == RunCommand("a")
    assert screen(body="/run") == Malformed("/run", msg.MISSING_RECIPE_ID.format(word="run"))


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"action": "edited"}, SKIP_ACTION.format(action="edited")),
        ({"action": "deleted"}, SKIP_ACTION.format(action="deleted")),
        ({"on_pull_request": False}, SKIP_NOT_A_PR),
        (
            {"login": "pangeo-forge[bot]", "kind": ActorKind.BOT},
            SKIP_BOT.format(login="pangeo-forge[bot]"),
        ),
        ({"body": "LGTM, thanks!"}, SKIP_NOT_A_COMMAND),
        ({"body": None}, SKIP_NOT_A_COMMAND),
    ],
)
def test_everything_else_is_dropped_silently(kw, reason):
    assert screen(**kw) == Skip(reason)


REAL_COMMENTS = {
    "examples-more/issue_comment/issue_comment.created.bot.json": SKIP_BOT.format(
        login="repo-one-bot[bot]"
    ),
    "examples-more/issue_comment/issue_comment.edited.json": SKIP_ACTION.format(action="edited"),
    "examples-more/issue_comment/pull_request_comment.json": SKIP_NOT_A_COMMAND,
    "examples-extra/issue_comment/issue_comment.created.nonreply.json": SKIP_NOT_A_COMMAND,
    "examples/issue_comment/created.payload.json": SKIP_NOT_A_PR,
    "examples/issue_comment/deleted.payload.json": SKIP_ACTION.format(action="deleted"),
}


def screen_payload(payload):
    user = payload["comment"]["user"]
    return screen_comment(
        action=payload["action"],
        on_pull_request="pull_request" in payload["issue"],
        login=user["login"],
        kind=ActorKind(user["type"]) if user.get("type") else None,
        body=payload["comment"]["body"],
    )


@pytest.mark.parametrize("path", sorted(REAL_COMMENTS))
def test_real_deliveries_of_plain_comments_get_no_reaction(path):
    payload = json.loads(shared_path(f"github/webhooks/{path}").read_text())
    assert screen_payload(payload) == Skip(REAL_COMMENTS[path])


def test_a_real_pr_comment_with_a_crlf_command():
    payload = json.loads(
        shared_path(
            "github/webhooks/examples-more/issue_comment/pull_request_comment.json"
        ).read_text()
    )
    payload["comment"]["body"] = "/run noaa-oisst\r\n\r\nThanks!"
    assert screen_payload(payload) == RunCommand("noaa-oisst")


def test_cancel_works_even_when_the_latest_push_broke_meta():
    running = run(1, "a", sha=OLD, status=RunStatus.IN_PROGRESS, requested_by="m")
    effects = decide("/cancel a", meta=InvalidMeta(("broken",)), pr_runs=(running,))
    reason = msg.CANCEL_REASON_COMMAND.format(login="maintainer")
    assert effects == (EYES, CancelRun(run_id=1, reason=reason))


def test_cancel_with_broken_meta_and_no_runs_says_nothing_to_cancel():
    assert decide("/cancel a", meta=InvalidMeta(("broken",))) == (
        EYES,
        reply(msg.NOTHING_TO_CANCEL.format(login="maintainer", recipe_id="a")),
    )
