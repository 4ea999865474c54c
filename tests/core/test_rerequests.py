from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import PostComment, QueueTestRun, Skip
from pangeo_forge_orchestrator.core.events import ActorKind, RepositoryRef
from pangeo_forge_orchestrator.core.permissions import CollaboratorPermission
from pangeo_forge_orchestrator.core.policy import Policy
from pangeo_forge_orchestrator.core.rerequests import (
    SKIP_BOT,
    SKIP_NOTHING_FAILED,
    SKIP_REFUSED_NO_PR,
    RerequestFacts,
    decide_rerequest,
)
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus

REPO = RepositoryRef(owner="pangeo-forge", name="x-feedstock")
SHA = "1" * 40
C = RunStatus.COMPLETED


def run(run_id, recipe_id, conclusion=None, *, status=C, **kw):
    base = dict(
        feedstock_id=1,
        head_sha=SHA,
        bakery="local",
        pr_number=3,
        status=status,
        conclusion=conclusion,
    )
    return RunRecord(id=run_id, recipe_id=recipe_id, **(base | kw))


def facts(**kw):
    base = dict(
        repo=REPO,
        head_sha=SHA,
        login="maintainer",
        kind=ActorKind.USER,
        permission=CollaboratorPermission("admin", "admin"),
        pr_number=3,
    )
    return RerequestFacts(**(base | kw))


def again(recipe_id, after):
    return QueueTestRun(
        feedstock_spec=REPO.full_name,
        head_sha=SHA,
        recipe_id=recipe_id,
        bakery="local",
        pr_number=3,
        requested_by="maintainer",
        after_run_id=after,
    )


def test_rerun_button_retries_the_latest_failed_attempts_only():
    runs = (
        run(1, "a", RunConclusion.FAILURE),
        run(2, "a", RunConclusion.SUCCESS),  # a's latest attempt succeeded
        run(3, "b", RunConclusion.FAILURE),
        run(4, "c", RunConclusion.TIMED_OUT),
        run(5, "d", RunConclusion.CANCELLED),  # cancelled on purpose
        run(6, "e", status=RunStatus.IN_PROGRESS),
    )
    assert decide_rerequest(facts(runs_at_head=runs)) == (again("b", 3), again("c", 4))


def test_nothing_failed():
    runs = (run(1, "a", RunConclusion.SUCCESS),)
    assert decide_rerequest(facts(runs_at_head=runs)) == Skip(SKIP_NOTHING_FAILED.format(sha=SHA))


def test_policy_decides_what_counts_as_failed():
    runs = (run(5, "d", RunConclusion.CANCELLED),)
    policy = Policy(rerun_conclusions=frozenset({RunConclusion.CANCELLED}))
    assert decide_rerequest(facts(runs_at_head=runs), policy=policy) == (again("d", 5),)


def test_sender_without_write_access_is_answered_on_the_pr():
    result = decide_rerequest(
        facts(
            login="visitor",
            permission=CollaboratorPermission("read"),
            runs_at_head=(run(1, "a", RunConclusion.FAILURE),),
        )
    )
    assert result == (
        PostComment(
            issue_number=3,
            key=f"rerun-refused:{SHA}:visitor",
            body=msg.RERUN_REFUSAL.format(login="visitor", repo=REPO.full_name, level="read"),
        ),
    )


def test_refusal_without_a_pr_is_only_recorded():
    result = decide_rerequest(facts(permission=None, pr_number=None))
    assert result == Skip(SKIP_REFUSED_NO_PR.format(login="maintainer", level="none"))


def test_bot_sender_is_ignored():
    result = decide_rerequest(facts(login="ci[bot]", kind=ActorKind.BOT))
    assert result == Skip(SKIP_BOT.format(login="ci[bot]"))
