"""Typed values of inbound events and the pure decisions taken on them.

Handlers receive these values, never raw payload dicts: a second git provider would add a
second parser (webhooks/payloads.py is GitHub's), not a second set of handlers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Literal

# Reasons written to `delivery.error` when a delivery is ignored; tests assert against these.
NO_HANDLER_REASON = "no handler for {event_action}"
NOT_A_FEEDSTOCK_REASON = "repository {repository} matches none of the feedstock patterns {patterns}"
NO_REPOSITORY_REASON = "delivery {event_action} names no repository"
MALFORMED_PAYLOAD_REASON = "malformed {event_action} payload: {problem}"


class ActorKind(StrEnum):
    USER = "User"
    BOT = "Bot"
    ORGANIZATION = "Organization"


@dataclass(frozen=True, slots=True)
class RepositoryRef:
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @classmethod
    def from_full_name(cls, full_name: str) -> RepositoryRef:
        """Split `owner/name`; anything else is a malformed value."""
        owner, sep, name = full_name.partition("/")
        if not (owner and sep and name) or "/" in name:
            raise ValueError(f"not an owner/name repository: {full_name!r}")
        return cls(owner=owner, name=name)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused an event (GitHub's `sender`)."""

    login: str
    kind: ActorKind | None

    @property
    def is_bot(self) -> bool:
        return self.kind is ActorKind.BOT


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """What every delivery says about itself, whatever its event."""

    event: str
    action: str | None
    installation_id: int | None
    repository: RepositoryRef | None
    sender: Actor | None

    @property
    def event_action(self) -> str:
        return event_action(self.event, self.action)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallationRef:
    id: int
    account: str
    suspended: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    zen: str | None
    hook_id: int | None
    app_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallationChanged:
    """An `installation` event; `repositories` is None when the payload does not list them."""

    action: str
    installation: InstallationRef
    repositories: tuple[str, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallationRepositoriesChanged:
    action: str
    installation: InstallationRef
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DataflowCallback:
    """The original status monitor's form-encoded report of a finished Dataflow job."""

    recipe_run_id: int
    conclusion: str


# What handling a delivery came to. Transient failures are exceptions instead, so the job retries.
@dataclass(frozen=True, slots=True)
class Handled:
    status: Literal["handled"] = "handled"


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str
    status: Literal["ignored"] = "ignored"


@dataclass(frozen=True, slots=True)
class Failed:
    """A failure that retrying cannot mend, such as a payload missing what its event needs."""

    reason: str
    status: Literal["failed"] = "failed"


Outcome = Handled | Ignored | Failed


# The installation table's upkeep, as a closed set of effects applied in one `match`.
@dataclass(frozen=True, slots=True, kw_only=True)
class SaveInstallation:
    """Insert or update; `repositories` None keeps the stored list."""

    installation: InstallationRef
    repositories: tuple[str, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgetInstallation:
    installation_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeInstallationRepositories:
    installation: InstallationRef
    added: tuple[str, ...]
    removed: tuple[str, ...]


InstallationEffect = SaveInstallation | ForgetInstallation | ChangeInstallationRepositories


def event_action(event: str, action: str | None) -> str:
    return f"{event}.{action}" if action else event


def is_feedstock_repository(repository: RepositoryRef, patterns: Sequence[str]) -> bool:
    """Match the repository's name (not its owner) against shell-style patterns.

    GitHub repository names are case-insensitive, so the match is too.
    """
    name = repository.name.lower()
    return any(fnmatchcase(name, pattern.lower()) for pattern in patterns)


def not_a_feedstock_reason(repository: RepositoryRef, patterns: Sequence[str]) -> str:
    return NOT_A_FEEDSTOCK_REASON.format(
        repository=repository.full_name, patterns=", ".join(patterns) or "(none)"
    )


def screen_delivery(
    envelope: Envelope, *, has_handler: bool, feedstock_only: bool, patterns: Sequence[str]
) -> Ignored | None:
    """Why a delivery is not for us, or None when its handler should run.

    A delivery is ignored when:
    - no handler is registered for its event and action;
    - its handler acts on feedstocks only and the delivery names no repository, or names one
      matching none of the feedstock patterns.
    """
    if not has_handler:
        return Ignored(NO_HANDLER_REASON.format(event_action=envelope.event_action))
    if not feedstock_only:
        return None
    if envelope.repository is None:
        return Ignored(NO_REPOSITORY_REASON.format(event_action=envelope.event_action))
    if not is_feedstock_repository(envelope.repository, patterns):
        return Ignored(not_a_feedstock_reason(envelope.repository, patterns))
    return None


def installation_effect(event: InstallationChanged) -> InstallationEffect:
    """Keep the stored installation equal to GitHub's view of it.

    - `deleted` forgets the installation;
    - every other action (created, suspend, unsuspend, new_permissions_accepted, ...) saves the
      account and suspension the payload carries, and its repositories when it lists them.
    """
    if event.action == "deleted":
        return ForgetInstallation(installation_id=event.installation.id)
    listed = event.repositories
    return SaveInstallation(
        installation=event.installation,
        repositories=None if listed is None else repositories_after((), added=listed, removed=()),
    )


def installation_repositories_effect(
    event: InstallationRepositoriesChanged,
) -> ChangeInstallationRepositories:
    return ChangeInstallationRepositories(
        installation=event.installation, added=event.added, removed=event.removed
    )


def repositories_after(
    current: Iterable[str], *, added: Iterable[str], removed: Iterable[str]
) -> tuple[str, ...]:
    """The repository list after a change: sorted, without duplicates; removal wins."""
    gone = set(removed)
    return tuple(sorted({*current, *added} - gone))
