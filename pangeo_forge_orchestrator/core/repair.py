"""What `pfo repair` reports and how it settles runs that nobody will report on any more."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from pangeo_forge_orchestrator.core.vocabulary import RunConclusion

DEFAULT_STUCK_AFTER_HOURS = 24.0
# How many ids a report line names before it says "and N more".
SHOWN_IDS = 20

# Notes appended to a run's message: the website shows them to anyone looking at the run.
TIMED_OUT_NOTE = (
    "Marked timed out by pfo repair on {day}: still in progress more than {hours} after it "
    "started, and no bakery reported on it."
)
STATUS_CORRECTED_NOTE = (
    "Marked completed by pfo repair on {day}: the run had concluded ({conclusion}) "
    "but its status was never updated."
)
MIGRATE_HINT = (
    "The database holds runs that need an operator's look ({problems}): "
    "run `pfo repair` to list them, `pfo repair --apply` to settle stuck runs."
)
DRY_RUN_HINT = "Nothing changed. Run `pfo repair --apply` to settle the {stuck} stuck run(s)."
DRY_RUN_CLEAN = "Nothing changed; no run is stuck."
NOTHING_TO_APPLY = "Nothing to settle."
APPLIED = "Settled {timed_out} run(s) as timed_out and {corrected} whose conclusion was recorded."


@dataclass(frozen=True, kw_only=True)
class DuplicateGroup:
    """Runs of one recipe at one commit of one feedstock; each stays readable by its id."""

    feedstock_spec: str
    head_sha: str
    recipe_id: str
    run_ids: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class RepairReport:
    stuck_after: timedelta
    duplicate_groups: tuple[DuplicateGroup, ...]
    stuck_run_ids: tuple[int, ...]
    completed_without_completed_at_ids: tuple[int, ...]
    json_message_ids: tuple[int, ...]

    @property
    def duplicate_runs(self) -> int:
        return sum(len(group.run_ids) for group in self.duplicate_groups)

    def counts(self) -> dict[str, int]:
        """One count per kind of problem, named as the report prints them."""
        return {
            "duplicate (feedstock, head_sha, recipe_id) groups": len(self.duplicate_groups),
            f"runs in_progress for more than {format_age(self.stuck_after)}": len(
                self.stuck_run_ids
            ),
            "completed runs without completed_at": len(self.completed_without_completed_at_ids),
            "runs whose message still holds JSON": len(self.json_message_ids),
        }

    @property
    def is_clean(self) -> bool:
        return not any(self.counts().values())


@dataclass(frozen=True, kw_only=True)
class StuckRun:
    id: int
    conclusion: RunConclusion | None
    completed_at: datetime | None
    message: str | None


@dataclass(frozen=True, kw_only=True)
class Settlement:
    """The values that complete one stuck run (its status becomes `completed`)."""

    id: int
    conclusion: RunConclusion
    completed_at: datetime
    message: str
    timed_out: bool


def stuck_after_hours(hours: float) -> timedelta:
    """The age past which an in_progress run counts as stuck; it must be positive."""
    if not (hours > 0 and math.isfinite(hours)):
        raise ValueError(f"the age must be a positive number of hours, not {hours:g}")
    return timedelta(hours=hours)


def format_age(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:g}h"


def settle_stuck_run(run: StuckRun, *, now: datetime, stuck_after: timedelta) -> Settlement:
    """Complete a run stuck in_progress.

    - a run that recorded a conclusion keeps it (and its completed_at, else now): only its
      status lagged behind;
    - any other run ends `timed_out` now.
    """
    day = now.date().isoformat()
    if run.conclusion is not None:
        note = STATUS_CORRECTED_NOTE.format(day=day, conclusion=run.conclusion.value)
        return Settlement(
            id=run.id,
            conclusion=run.conclusion,
            completed_at=run.completed_at or now,
            message=with_note(run.message, note),
            timed_out=False,
        )
    note = TIMED_OUT_NOTE.format(day=day, hours=format_age(stuck_after))
    return Settlement(
        id=run.id,
        conclusion=RunConclusion.TIMED_OUT,
        completed_at=now,
        message=with_note(run.message, note),
        timed_out=True,
    )


def with_note(message: str | None, note: str) -> str:
    """Add an operator's note after the run's own message, which stays."""
    return f"{message}\n{note}" if message else note


def report_lines(report: RepairReport) -> list[str]:
    """One line per count, for the before and after views."""
    lines = [f"  {label}: {count}" for label, count in report.counts().items()]
    if report.duplicate_groups:
        lines[0] += f" ({report.duplicate_runs} runs)"
    return lines


def detail_lines(report: RepairReport) -> list[str]:
    """Where the problems are, by run id, so an operator can look them up."""
    lines = [
        f"  duplicates: {group.feedstock_spec} {group.head_sha[:12]} {group.recipe_id}: "
        f"runs {_ids(group.run_ids)}"
        for group in report.duplicate_groups
    ]
    for label, ids in (
        ("stuck in_progress", report.stuck_run_ids),
        ("completed without completed_at", report.completed_without_completed_at_ids),
        ("message still holds JSON", report.json_message_ids),
    ):
        if ids:
            lines.append(f"  {label}: runs {_ids(ids)}")
    return lines


def migrate_hint(report: RepairReport) -> str | None:
    """What `pfo migrate` says when the data needs an operator, or None when it is clean."""
    if report.is_clean:
        return None
    problems = ", ".join(f"{label}: {n}" for label, n in report.counts().items() if n)
    return MIGRATE_HINT.format(problems=problems)


def summary(report: RepairReport) -> str:
    """The counts, then where the problems are."""
    return "\n".join(report_lines(report) + detail_lines(report))


def dry_run_line(report: RepairReport) -> str:
    stuck = len(report.stuck_run_ids)
    return DRY_RUN_HINT.format(stuck=stuck) if stuck else DRY_RUN_CLEAN


def applied_line(settlements: list[Settlement]) -> str:
    if not settlements:
        return NOTHING_TO_APPLY
    timed_out = sum(settlement.timed_out for settlement in settlements)
    return APPLIED.format(timed_out=timed_out, corrected=len(settlements) - timed_out)


def _ids(ids: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, ids[:SHOWN_IDS]))
    return f"{shown} and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else shown
