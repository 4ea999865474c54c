import re
from pathlib import Path

import pytest

from pangeo_forge_orchestrator.core.runs import (
    IGNORED_ALREADY_STARTED,
    IGNORED_COMPLETED,
    IGNORED_NOT_STARTED,
    TRANSITIONS,
    Cancel,
    Finish,
    Ignored,
    RunEventKind,
    RunRecord,
    Start,
    Transition,
    latest_attempts,
    transition,
)
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus

DOC = Path(__file__).resolve().parents[2] / "docs" / "recipe-runs.md"
Q, P, C = RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.COMPLETED


def test_queued_run_starts():
    assert transition(Q, None, Start()) == Transition(P, None)


@pytest.mark.parametrize("conclusion", list(RunConclusion))
def test_running_run_finishes_with_the_reported_conclusion(conclusion):
    assert transition(P, None, Finish(conclusion)) == Transition(C, conclusion)


@pytest.mark.parametrize("status", [Q, P])
def test_queued_or_running_run_can_be_cancelled(status):
    assert transition(status, None, Cancel()) == Transition(C, RunConclusion.CANCELLED)


@pytest.mark.parametrize("event", [Start(), Cancel(), Finish(RunConclusion.SUCCESS)])
def test_nothing_leaves_completed(event):
    result = transition(C, RunConclusion.CANCELLED, event)
    assert result == Ignored(IGNORED_COMPLETED.format(conclusion="cancelled", event=event.kind))


def test_late_success_after_cancel_is_ignored_with_a_reason():
    result = transition(C, RunConclusion.CANCELLED, Finish(RunConclusion.SUCCESS))
    assert isinstance(result, Ignored)
    assert "already completed (cancelled)" in result.reason


def test_duplicate_start_is_ignored():
    assert transition(P, None, Start()) == Ignored(IGNORED_ALREADY_STARTED)


def test_finish_before_start_is_ignored():
    result = transition(Q, None, Finish(RunConclusion.FAILURE))
    assert result == Ignored(IGNORED_NOT_STARTED.format(conclusion="failure"))


def test_every_status_and_event_pair_is_decided():
    """The table and the fallbacks cover the whole (status, event) space without raising."""
    events = {
        RunEventKind.START: Start(),
        RunEventKind.FINISH: Finish(RunConclusion.SUCCESS),
        RunEventKind.CANCEL: Cancel(),
    }
    for status in RunStatus:
        for kind, event in events.items():
            result = transition(status, None, event)
            if (status, kind) in TRANSITIONS:
                assert result == Transition(TRANSITIONS[status, kind], result.conclusion)
            else:
                assert isinstance(result, Ignored)


def _mermaid_edges(text: str) -> set[tuple[str, str, str]]:
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block, "docs/recipe-runs.md has no mermaid block"
    edges = set()
    for line in block.group(1).splitlines():
        m = re.fullmatch(r"\s*(\S+)\s*-->\s*(\S+?)(?:\s*:\s*(\S+))?\s*", line)
        if m and "[*]" not in (m.group(1), m.group(2)):
            edges.add((m.group(1), m.group(2), m.group(3) or ""))
    return edges


def test_the_documented_diagram_is_the_code_table():
    documented = _mermaid_edges(DOC.read_text())
    coded = {(src.value, dst.value, kind.value) for (src, kind), dst in TRANSITIONS.items()}
    assert documented == coded


def test_the_diagram_parser_sees_edges():
    text = "```mermaid\nstateDiagram-v2\n  [*] --> queued\n  a --> b: go\n```"
    assert _mermaid_edges(text) == {("a", "b", "go")}


def _run(run_id, recipe_id, **kw):
    base = dict(feedstock_id=1, head_sha="a" * 40, bakery="local", status=C)
    return RunRecord(id=run_id, recipe_id=recipe_id, **(base | kw))


def test_latest_attempts_keeps_the_highest_id_per_recipe():
    runs = [_run(5, "a"), _run(9, "a"), _run(7, "b"), _run(3, "a")]
    assert {k: v.id for k, v in latest_attempts(runs).items()} == {"a": 9, "b": 7}


def test_run_awaits_approval_only_while_queued_and_unrequested():
    assert _run(1, "a", status=Q).awaits_approval
    assert not _run(1, "a", status=Q, requested_by="maintainer").awaits_approval
    assert not _run(1, "a", status=P).awaits_approval
    assert _run(1, "a", status=P).is_active
    assert not _run(1, "a").is_active
