from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pangeo_forge_orchestrator.core.repair import (
    APPLIED,
    DRY_RUN_CLEAN,
    DRY_RUN_HINT,
    MIGRATE_HINT,
    NOTHING_TO_APPLY,
    STATUS_CORRECTED_NOTE,
    TIMED_OUT_NOTE,
    DuplicateGroup,
    RepairReport,
    Settlement,
    StuckRun,
    applied_line,
    detail_lines,
    dry_run_line,
    format_age,
    migrate_hint,
    report_lines,
    settle_stuck_run,
    stuck_after_hours,
)
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
GROUP = DuplicateGroup(
    feedstock_spec="pangeo-forge/x-feedstock",
    head_sha="8768399762ab6a715b752b749e65a590761a7cd8",
    recipe_id="x",
    run_ids=(36, 38, 39),
)


def make_report(**counts: tuple[int, ...]) -> RepairReport:
    fields: dict[str, tuple[int, ...]] = {
        "stuck_run_ids": (),
        "completed_without_completed_at_ids": (),
        "json_message_ids": (),
    }
    return RepairReport(
        stuck_after=DAY,
        duplicate_groups=(GROUP,) if counts.pop("duplicates", ()) else (),
        **(fields | counts),
    )


def test_a_stuck_run_without_a_conclusion_times_out_now() -> None:
    run = StuckRun(id=7, conclusion=None, completed_at=None, message=None)

    settled = settle_stuck_run(run, now=NOW, stuck_after=DAY)

    assert settled == Settlement(
        id=7,
        conclusion=RunConclusion.TIMED_OUT,
        completed_at=NOW,
        message=TIMED_OUT_NOTE.format(day="2026-11-23", hours="24h"),
        timed_out=True,
    )


def test_a_run_that_recorded_its_end_keeps_it() -> None:
    ended = datetime(2022, 4, 22, 18, 8, 36, tzinfo=UTC)
    run = StuckRun(id=51, conclusion=RunConclusion.FAILURE, completed_at=ended, message=None)

    settled = settle_stuck_run(run, now=NOW, stuck_after=DAY)

    assert settled.conclusion is RunConclusion.FAILURE
    assert settled.completed_at == ended
    assert settled.message == STATUS_CORRECTED_NOTE.format(day="2026-11-23", conclusion="failure")
    assert not settled.timed_out


def test_a_recorded_conclusion_without_an_end_ends_now() -> None:
    run = StuckRun(id=1, conclusion=RunConclusion.SUCCESS, completed_at=None, message=None)

    settled = settle_stuck_run(run, now=NOW, stuck_after=DAY)

    assert (settled.conclusion, settled.completed_at) == (RunConclusion.SUCCESS, NOW)


def test_the_runs_own_message_stays_before_the_note() -> None:
    run = StuckRun(id=1, conclusion=None, completed_at=None, message="Manual run by @someone.")

    settled = settle_stuck_run(run, now=NOW, stuck_after=timedelta(hours=1.5))

    first, note = settled.message.split("\n")
    assert first == "Manual run by @someone."
    assert "more than 1.5h after it started" in note


@pytest.mark.parametrize("hours", [0, -1, float("nan"), float("inf")])
def test_the_age_must_be_positive(hours: float) -> None:
    with pytest.raises(ValueError, match="positive number of hours"):
        stuck_after_hours(hours)


def test_the_age_is_in_hours() -> None:
    assert stuck_after_hours(0.5) == timedelta(minutes=30)
    assert format_age(timedelta(hours=48)) == "48h"


def test_a_clean_report_gives_no_migrate_hint() -> None:
    assert make_report().is_clean
    assert migrate_hint(make_report()) is None


def test_the_migrate_hint_names_only_what_was_found() -> None:
    hint = migrate_hint(make_report(stuck_run_ids=(1, 2)))

    assert hint == MIGRATE_HINT.format(problems="runs in_progress for more than 24h: 2")


def test_report_lines_count_every_kind_of_problem() -> None:
    lines = report_lines(make_report(duplicates=(1,), json_message_ids=(5,)))

    assert lines == [
        "  duplicate (feedstock, head_sha, recipe_id) groups: 1 (3 runs)",
        "  runs in_progress for more than 24h: 0",
        "  completed runs without completed_at: 0",
        "  runs whose message still holds JSON: 1",
    ]


def test_details_name_the_runs_and_cut_long_lists() -> None:
    lines = detail_lines(make_report(duplicates=(1,), stuck_run_ids=tuple(range(1, 26))))

    assert lines == [
        "  duplicates: pangeo-forge/x-feedstock 8768399762ab x: runs 36, 38, 39",
        "  stuck in_progress: runs " + ", ".join(map(str, range(1, 21))) + " and 5 more",
    ]


def test_dry_run_and_applied_lines() -> None:
    timed_out = Settlement(
        id=1, conclusion=RunConclusion.TIMED_OUT, completed_at=NOW, message="", timed_out=True
    )
    corrected = Settlement(
        id=2, conclusion=RunConclusion.FAILURE, completed_at=NOW, message="", timed_out=False
    )

    assert dry_run_line(make_report(stuck_run_ids=(1, 2))) == DRY_RUN_HINT.format(stuck=2)
    assert dry_run_line(make_report()) == DRY_RUN_CLEAN
    assert applied_line([]) == NOTHING_TO_APPLY
    assert applied_line([timed_out, timed_out, corrected]) == APPLIED.format(
        timed_out=2, corrected=1
    )
