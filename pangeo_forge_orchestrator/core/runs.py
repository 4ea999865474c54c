"""The recipe-run state machine, and the snapshot of a run that decisions read.

    queued --start--> in_progress --finish(conclusion)--> completed
    queued --cancel--> completed(cancelled)
    in_progress --cancel--> completed(cancelled)

Nothing leaves `completed`: a late or duplicate update (a bakery callback after a cancel, a
redelivered webhook) is answered `Ignored(reason)`, which the caller records and drops.
docs/recipe-runs.md draws `TRANSITIONS`; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pangeo_forge_orchestrator.core.vocabulary import DatasetType, RunConclusion, RunStatus

# Why an update was ignored; callers record these (tests assert against them).
IGNORED_COMPLETED = (
    "run is already completed ({conclusion}); a late or duplicate {event} is ignored"
)
IGNORED_NOT_STARTED = "run was never started; a finish ({conclusion}) before a start is ignored"
IGNORED_ALREADY_STARTED = "run is already in progress; a duplicate start is ignored"


class RunEventKind(StrEnum):
    START = "start"
    FINISH = "finish"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Start:
    """The bakery accepted the run (or the dispatcher is about to submit it)."""

    kind = RunEventKind.START


@dataclass(frozen=True, slots=True)
class Finish:
    conclusion: RunConclusion
    kind = RunEventKind.FINISH


@dataclass(frozen=True, slots=True)
class Cancel:
    kind = RunEventKind.CANCEL


RunEvent = Start | Finish | Cancel


@dataclass(frozen=True, slots=True)
class Transition:
    status: RunStatus
    conclusion: RunConclusion | None


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


TRANSITIONS: Mapping[tuple[RunStatus, RunEventKind], RunStatus] = MappingProxyType(
    {
        (RunStatus.QUEUED, RunEventKind.START): RunStatus.IN_PROGRESS,
        (RunStatus.QUEUED, RunEventKind.CANCEL): RunStatus.COMPLETED,
        (RunStatus.IN_PROGRESS, RunEventKind.FINISH): RunStatus.COMPLETED,
        (RunStatus.IN_PROGRESS, RunEventKind.CANCEL): RunStatus.COMPLETED,
    }
)


def transition(
    status: RunStatus, conclusion: RunConclusion | None, event: RunEvent
) -> Transition | Ignored:
    """Where `event` takes a run in `status`, or why the event changes nothing."""
    target = TRANSITIONS.get((status, event.kind))
    if target is None:
        return Ignored(_ignored_reason(status, conclusion, event))
    match event:
        case Start():
            return Transition(target, None)
        case Finish(conclusion=finished):
            return Transition(target, finished)
        case Cancel():
            return Transition(target, RunConclusion.CANCELLED)


def _ignored_reason(status: RunStatus, conclusion: RunConclusion | None, event: RunEvent) -> str:
    if status is RunStatus.COMPLETED:
        return IGNORED_COMPLETED.format(conclusion=conclusion, event=event.kind)
    if status is RunStatus.IN_PROGRESS:
        return IGNORED_ALREADY_STARTED
    assert isinstance(event, Finish)  # the only event a queued run does not accept
    return IGNORED_NOT_STARTED.format(conclusion=event.conclusion)


ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.IN_PROGRESS})


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """What decisions need to know about one recorded recipe run."""

    id: int
    feedstock_id: int
    recipe_id: str
    head_sha: str
    # The bakery's name (meta.yaml's `bakery.id`): a re-attempt runs where the first one did.
    bakery: str
    status: RunStatus
    conclusion: RunConclusion | None = None
    is_test: bool = True
    pr_number: int | None = None
    # Who asked for it with /run (or a re-run button); None while it awaits a maintainer.
    requested_by: str | None = None
    check_run_id: int | None = None
    deployment_id: int | None = None
    dataset_type: DatasetType | None = None
    dataset_public_url: str | None = None
    # Human text: on failure, the error as reported (already redacted by its reader).
    message: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def awaits_approval(self) -> bool:
        """A test run recorded on push that nobody has asked to start yet."""
        return self.status is RunStatus.QUEUED and self.requested_by is None


def latest_attempts(runs: Iterable[RunRecord]) -> dict[str, RunRecord]:
    """The newest run (highest id) of each recipe: earlier attempts are history."""
    latest: dict[str, RunRecord] = {}
    for run in runs:
        if run.recipe_id not in latest or run.id > latest[run.recipe_id].id:
            latest[run.recipe_id] = run
    return latest
