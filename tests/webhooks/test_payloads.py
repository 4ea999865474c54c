"""GitHub's payloads become typed values; every example delivery parses."""

from __future__ import annotations

import json

import pytest

from pangeo_forge_orchestrator.core.events import (
    Actor,
    ActorKind,
    DataflowCallback,
    InstallationChanged,
    InstallationRef,
    InstallationRepositoriesChanged,
    Ping,
    RepositoryRef,
)
from pangeo_forge_orchestrator.webhooks.payloads import (
    PayloadError,
    parse_dataflow,
    parse_envelope,
    parse_installation,
    parse_installation_repositories,
    parse_ping,
)
from tests.conftest import shared_path
from tests.webhooks.helpers import example, example_files


def load(relative: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(example(relative))
    return loaded


def test_every_example_has_an_envelope_matching_its_raw_fields() -> None:
    shared_path("github/webhooks/examples")
    for path in example_files():
        payload = json.loads(path.read_bytes())
        envelope = parse_envelope(path.parent.name, payload)
        repository = payload.get("repository")
        sender = payload.get("sender")

        assert envelope.event == path.parent.name
        assert envelope.action == payload.get("action"), path
        assert envelope.installation_id == (payload.get("installation") or {}).get("id"), path
        assert (envelope.repository.full_name if envelope.repository else None) == (
            repository["full_name"] if repository else None
        ), path
        assert (envelope.sender.login if envelope.sender else None) == (
            sender["login"] if sender else None
        ), path


def test_the_envelope_names_repository_installation_and_sender() -> None:
    envelope = parse_envelope(
        "issue_comment", load("examples-more/issue_comment/issue_comment.created.bot.json")
    )

    assert envelope.action == "created"
    assert envelope.repository == RepositoryRef(owner="SnekCode", name="podinfo")
    assert envelope.installation_id is not None
    assert envelope.sender is not None
    assert envelope.sender.is_bot
    assert envelope.event_action == "issue_comment.created"


def test_an_envelope_tolerates_odd_shapes() -> None:
    envelope = parse_envelope(
        "x",
        {
            "action": 3,
            "installation": {"id": True},
            "repository": {"full_name": "no-slash"},
            "sender": {"login": "u", "type": ["Bot"]},
        },
    )

    assert (envelope.action, envelope.installation_id, envelope.repository) == (None, None, None)
    assert envelope.sender == Actor(login="u", kind=None)


def test_a_repository_without_full_name_is_read_from_owner_and_name() -> None:
    envelope = parse_envelope("x", {"repository": {"name": "a-feedstock", "owner": {"login": "o"}}})

    assert envelope.repository == RepositoryRef(owner="o", name="a-feedstock")


def test_installation_created() -> None:
    assert parse_installation(load("examples/installation/created.payload.json")) == (
        InstallationChanged(
            action="created",
            installation=InstallationRef(id=957387, account="Codertocat", suspended=False),
            repositories=("Codertocat/Hello-World",),
        )
    )


def test_installation_suspend_carries_no_repository_list() -> None:
    event = parse_installation(load("examples/installation/suspend.payload.json"))

    assert event.installation == InstallationRef(id=16598467, account="Codertocat", suspended=True)
    assert event.repositories is None


def test_installation_repositories_added_and_removed() -> None:
    added = parse_installation_repositories(
        load("examples/installation_repositories/added.payload.json")
    )
    removed = parse_installation_repositories(
        load("examples/installation_repositories/removed.payload.json")
    )

    assert added == InstallationRepositoriesChanged(
        action="added",
        installation=InstallationRef(id=957387, account="Codertocat", suspended=False),
        added=("Codertocat/Space",),
        removed=(),
    )
    assert (removed.installation.id, removed.added, removed.removed) == (
        2,
        (),
        ("octocat/Hello-World",),
    )


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"action": "created"}, "no installation object"),
        ({"action": "created", "installation": {"id": "7"}}, "no integer id"),
        ({"action": "created", "installation": {"id": 7}}, "no account login"),
        (
            {
                "action": "created",
                "installation": {"id": 7, "account": {"login": "a"}},
                "repositories": [{"name": "x"}],
            },
            "no full_name",
        ),
        ({"installation": {"id": 7, "account": {"login": "a"}}}, "no action"),
    ],
)
def test_a_malformed_installation_payload_says_what_is_missing(
    payload: dict[str, object], problem: str
) -> None:
    with pytest.raises(PayloadError, match=problem):
        parse_installation(payload)


def test_ping_from_a_github_app_hook() -> None:
    assert parse_ping(load("examples/ping/with-app_id.payload.json")) == Ping(
        zen="Anything added dilutes everything else.", hook_id=109948940, app_id=29310
    )


def test_dataflow_callback() -> None:
    assert parse_dataflow({"recipe_run_id": 3, "conclusion": "failure"}) == DataflowCallback(
        recipe_run_id=3, conclusion="failure"
    )
    with pytest.raises(PayloadError):
        parse_dataflow({"recipe_run_id": "3", "conclusion": "failure"})


def test_a_user_sender_is_not_a_bot() -> None:
    envelope = parse_envelope("pull_request", load("examples/pull_request/opened.payload.json"))

    assert envelope.sender is not None
    assert envelope.sender.kind is ActorKind.USER
    assert not envelope.sender.is_bot
