import json

import pytest

from pangeo_forge_orchestrator.core.events import ActorKind
from pangeo_forge_orchestrator.core.permissions import (
    NO_ACCESS,
    Allowed,
    BotSender,
    CollaboratorPermission,
    Refused,
    is_bot,
    may_run_code,
)
from tests.conftest import shared_path

USER = ActorKind.USER


def verdict(permission, role_name=None, *, login="octocat", kind=USER):
    perm = None if permission is None else CollaboratorPermission(permission, role_name)
    return may_run_code(login=login, kind=kind, permission=perm)


@pytest.mark.parametrize(
    ("permission", "role_name"),
    [
        ("admin", "admin"),
        ("write", "maintain"),
        ("write", "write"),
        ("write", "custom-deployer"),
        ("write", None),
        ("maintain", None),
    ],
)
def test_write_access_may_run_code(permission, role_name):
    assert verdict(permission, role_name) == Allowed()


@pytest.mark.parametrize(
    ("permission", "role_name", "level"),
    [
        ("read", "triage", "triage"),
        ("read", "read", "read"),
        ("none", None, "none"),
        ("read", "custom-reader", "custom-reader"),
    ],
)
def test_less_than_write_is_refused_naming_the_role(permission, role_name, level):
    assert verdict(permission, role_name) == Refused(level)


def test_not_a_collaborator_is_refused():
    assert verdict(None) == Refused(NO_ACCESS)


def test_bots_are_never_acted_on_even_with_admin():
    assert verdict("admin", "admin", login="pangeo-forge[bot]", kind=ActorKind.BOT) == BotSender()


def test_a_bot_login_without_a_type_is_still_a_bot():
    assert is_bot(login="dependabot[bot]", kind=None)
    assert not is_bot(login="robot", kind=USER)


def test_the_allowed_levels_come_from_the_policy_value():
    perm = CollaboratorPermission("read", "triage")
    allowed = frozenset({"triage"})
    assert may_run_code(login="x", kind=USER, permission=perm, allowed=allowed) == Allowed()


def test_github_example_response_is_read():
    doc = json.loads(shared_path("github/rest/api.github.com.subset.json").read_text())
    example = doc["components"]["examples"][
        "repository-collaborator-permission-response-if-user-has-admin-permissions"
    ]["value"]
    perm = CollaboratorPermission.from_response(example)
    assert perm == CollaboratorPermission("admin", "admin")
    assert may_run_code(login=example["user"]["login"], kind=USER, permission=perm) == Allowed()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"permission": "write", "role_name": "maintain"},
            CollaboratorPermission("write", "maintain"),
        ),
        ({"permission": "read", "role_name": ""}, CollaboratorPermission("read", None)),
        ({}, CollaboratorPermission(NO_ACCESS, None)),
        ({"permission": 5, "role_name": None}, CollaboratorPermission(NO_ACCESS, None)),
    ],
)
def test_unexpected_responses_count_as_no_access(data, expected):
    assert CollaboratorPermission.from_response(data) == expected
