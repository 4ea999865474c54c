from __future__ import annotations

import pytest

from pangeo_forge_orchestrator.core.events import (
    NO_HANDLER_REASON,
    NO_REPOSITORY_REASON,
    ChangeInstallationRepositories,
    Envelope,
    ForgetInstallation,
    Ignored,
    InstallationChanged,
    InstallationRef,
    InstallationRepositoriesChanged,
    RepositoryRef,
    SaveInstallation,
    installation_effect,
    installation_repositories_effect,
    is_feedstock_repository,
    not_a_feedstock_reason,
    repositories_after,
    screen_delivery,
)

PATTERNS = ["*-feedstock", "staged-recipes"]
INSTALLATION = InstallationRef(id=7, account="pangeo-forge", suspended=False)


def repo(full_name: str) -> RepositoryRef:
    return RepositoryRef.from_full_name(full_name)


def envelope(*, repository: str | None) -> Envelope:
    return Envelope(
        event="pull_request",
        action="opened",
        installation_id=7,
        repository=repo(repository) if repository else None,
        sender=None,
    )


@pytest.mark.parametrize(
    ("full_name", "matches"),
    [
        ("pangeo-forge/gpcp-feedstock", True),
        ("pangeo-forge/GPCP-Feedstock", True),
        ("pangeo-forge/staged-recipes", True),
        ("someone/staged-recipes", True),
        ("pangeo-forge/staged-recipes-old", False),
        ("pangeo-forge/feedstock", False),
        ("pangeo-forge/gpcp-feedstock-archive", False),
        ("feedstock-org/website", False),  # the owner does not count
        ("pangeo-forge/pangeo-forge-orchestrator", False),
    ],
)
def test_feedstock_repositories_are_matched_by_name(full_name: str, matches: bool) -> None:
    assert is_feedstock_repository(repo(full_name), PATTERNS) is matches


def test_feedstock_patterns_are_configurable() -> None:
    assert is_feedstock_repository(repo("org/recipes-era5"), ["recipes-*"])
    assert not is_feedstock_repository(repo("org/era5-feedstock"), ["recipes-*"])
    assert not is_feedstock_repository(repo("org/era5-feedstock"), [])


@pytest.mark.parametrize("bad", ["", "owner", "/name", "owner/", "a/b/c"])
def test_a_repository_full_name_is_owner_slash_name(bad: str) -> None:
    with pytest.raises(ValueError, match="not an owner/name"):
        RepositoryRef.from_full_name(bad)


def test_screen_delivery_ignores_what_no_handler_takes() -> None:
    assert screen_delivery(
        Envelope(
            event="issue_comment",
            action="deleted",
            installation_id=None,
            repository=repo("o/x-feedstock"),
            sender=None,
        ),
        has_handler=False,
        feedstock_only=True,
        patterns=PATTERNS,
    ) == Ignored(NO_HANDLER_REASON.format(event_action="issue_comment.deleted"))
    assert screen_delivery(
        Envelope(event="push", action=None, installation_id=None, repository=None, sender=None),
        has_handler=False,
        feedstock_only=False,
        patterns=PATTERNS,
    ) == Ignored("no handler for push")


def test_screen_delivery_ignores_other_repositories_for_feedstock_handlers_only() -> None:
    website = envelope(repository="pangeo-forge/website")

    assert screen_delivery(
        website, has_handler=True, feedstock_only=True, patterns=PATTERNS
    ) == Ignored(not_a_feedstock_reason(repo("pangeo-forge/website"), PATTERNS))
    assert (
        screen_delivery(website, has_handler=True, feedstock_only=False, patterns=PATTERNS) is None
    )
    assert (
        screen_delivery(
            envelope(repository="pangeo-forge/gpcp-feedstock"),
            has_handler=True,
            feedstock_only=True,
            patterns=PATTERNS,
        )
        is None
    )


def test_screen_delivery_ignores_a_feedstock_event_without_repository() -> None:
    assert screen_delivery(
        envelope(repository=None), has_handler=True, feedstock_only=True, patterns=PATTERNS
    ) == Ignored(NO_REPOSITORY_REASON.format(event_action="pull_request.opened"))


def test_the_not_a_feedstock_reason_names_repository_and_patterns() -> None:
    assert not_a_feedstock_reason(repo("o/website"), PATTERNS) == (
        "repository o/website matches none of the feedstock patterns *-feedstock, staged-recipes"
    )


@pytest.mark.parametrize(
    "action", ["created", "suspend", "unsuspend", "new_permissions_accepted", "future_action"]
)
def test_installation_events_save_the_installation_as_described(action: str) -> None:
    event = InstallationChanged(
        action=action, installation=INSTALLATION, repositories=("o/b", "o/a", "o/b")
    )

    assert installation_effect(event) == SaveInstallation(
        installation=INSTALLATION, repositories=("o/a", "o/b")
    )


def test_an_installation_event_without_a_list_keeps_the_stored_repositories() -> None:
    event = InstallationChanged(action="suspend", installation=INSTALLATION, repositories=None)

    assert installation_effect(event) == SaveInstallation(
        installation=INSTALLATION, repositories=None
    )


def test_a_deleted_installation_is_forgotten() -> None:
    event = InstallationChanged(action="deleted", installation=INSTALLATION, repositories=("o/a",))

    assert installation_effect(event) == ForgetInstallation(installation_id=7)


def test_installation_repositories_events_change_the_list() -> None:
    event = InstallationRepositoriesChanged(
        action="added", installation=INSTALLATION, added=("o/c",), removed=()
    )

    assert installation_repositories_effect(event) == ChangeInstallationRepositories(
        installation=INSTALLATION, added=("o/c",), removed=()
    )


def test_repositories_after_adds_removes_sorts_and_dedupes() -> None:
    assert repositories_after(["o/b", "o/a"], added=["o/c", "o/a"], removed=["o/b"]) == (
        "o/a",
        "o/c",
    )
    # A repository both added and removed in one change ends up removed.
    assert repositories_after([], added=["o/x"], removed=["o/x"]) == ()
    assert repositories_after(["o/a"], added=[], removed=["o/unknown"]) == ("o/a",)
