"""The simulator's webhook bodies validate against GitHub's webhook schemas and carry what the
service reads: it parses them with its own parsers here, as it would a real delivery."""

from __future__ import annotations

from typing import Any

import pytest

from pangeo_forge_orchestrator.core.events import ActorKind
from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.webhook_payloads import (
    installation_event,
    issue_comment_event,
    pull_request_event,
    webhook_repository,
)
from pangeo_forge_orchestrator.webhooks.payloads_pulls import (
    parse_issue_comment,
    parse_pull_request,
)
from tests.sandbox.schemas import (
    HEAD_SHA,
    MERGE_SHA,
    T0,
    T1,
    T2,
    URLS,
    assert_webhook,
    merged_pull,
    sample_pull,
    sample_repo,
)

INSTALLATION_ID = 55
OTHER_SHA = "0" * 39 + "1"


def event(action: str, pull: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return pull_request_event(
        URLS,
        action=action,
        pull=pull,
        repo=sample_repo(),
        sender=extra.pop("sender", "contributor"),
        installation_id=INSTALLATION_ID,
        **extra,
    )


def test_opened_validates_and_parses() -> None:
    payload = event("opened", sample_pull())
    assert_webhook("pull_request", payload)
    parsed = parse_pull_request(payload)
    assert (parsed.action, parsed.number, parsed.head_sha) == ("opened", 7, HEAD_SHA)
    assert parsed.installation_id == INSTALLATION_ID
    assert parsed.repo.full_name == "pangeo-forge/staged-recipes"
    assert (parsed.merged, parsed.merge_sha, parsed.title) == (False, None, "Add gpcp recipe")
    assert payload["sender"]["login"] == "contributor"
    assert payload["organization"]["login"] == "pangeo-forge"
    assert payload["installation"]["id"] == INSTALLATION_ID


def test_synchronize_carries_old_and_new_heads() -> None:
    payload = event("synchronize", sample_pull(), before=OTHER_SHA, after=HEAD_SHA)
    assert_webhook("pull_request", payload)
    assert (payload["before"], payload["after"]) == (OTHER_SHA, HEAD_SHA)
    assert parse_pull_request(payload).head_sha == HEAD_SHA
    with pytest.raises(ValueError, match="head sha"):
        event("synchronize", sample_pull(), before=HEAD_SHA, after=OTHER_SHA)
    with pytest.raises(ValueError, match="synchronize"):
        event("synchronize", sample_pull())


def test_closed_by_merge_names_the_merge() -> None:
    payload = event("closed", merged_pull(), sender="maintainer")
    assert_webhook("pull_request", payload)
    parsed = parse_pull_request(payload)
    assert (parsed.merged, parsed.merge_sha, parsed.merged_by) == (True, MERGE_SHA, "maintainer")


def test_closed_without_merge() -> None:
    closed = sample_pull(state="closed", closed_at=T2, updated_at=T2)
    payload = event("closed", closed)
    assert_webhook("pull_request", payload)
    assert parse_pull_request(payload).merged is False
    assert payload["pull_request"]["merged_at"] is None


def test_reopened() -> None:
    payload = event("reopened", sample_pull(updated_at=T2))
    assert_webhook("pull_request", payload)
    assert payload["pull_request"]["state"] == "open"


def test_pull_request_from_a_fork() -> None:
    fork = sample_repo(owner="contributor", owner_type="User", repo_id=999)
    payload = event("opened", sample_pull(head_repo=fork))
    assert_webhook("pull_request", payload)
    assert payload["pull_request"]["head"]["repo"]["full_name"] == "contributor/staged-recipes"


def test_a_user_owned_repository_has_no_organization() -> None:
    repo = sample_repo(owner="contributor", owner_type="User")
    payload = pull_request_event(
        URLS,
        action="opened",
        pull=sample_pull(repo),
        repo=repo,
        sender="contributor",
        installation_id=INSTALLATION_ID,
    )
    assert_webhook("pull_request", payload)
    assert "organization" not in payload


@pytest.mark.parametrize(
    ("action", "pull"),
    [("opened", merged_pull()), ("closed", sample_pull()), ("edited", sample_pull())],
)
def test_deliveries_github_never_sends_are_refused(action: str, pull: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        event(action, pull)


def test_schema_check_sees_date_time_formats() -> None:
    payload = event("opened", sample_pull())
    payload["pull_request"]["created_at"] = "2024-05-06 07:08:09"
    with pytest.raises(AssertionError, match=r"\$\.pull_request\.created_at"):
        assert_webhook("pull_request", payload)


def test_rest_repository_is_not_a_webhook_repository() -> None:
    """The schemas list webhook fields exhaustively: the REST-only ones must go."""
    payload = event("opened", sample_pull())
    payload["repository"] = sample_repo()
    with pytest.raises(AssertionError, match="network_count"):
        assert_webhook("pull_request", payload)
    assert "network_count" not in webhook_repository(sample_repo())


def comment_event(
    comment: dict[str, Any], pull: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return issue_comment_event(
        URLS,
        action=extra.pop("action", "created"),
        comment=comment,
        pull=pull or sample_pull(),
        repo=sample_repo(),
        sender=comment["user"]["login"],
        installation_id=INSTALLATION_ID,
        **extra,
    )


def run_comment(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "full_name": "pangeo-forge/staged-recipes",
        "comment_id": 5501,
        "issue_number": 7,
        "body": "/run gpcp",
        "user_login": "maintainer",
        "created_at": T1,
        "updated_at": T1,
        "author_association": "MEMBER",
        **overrides,
    }
    return objects.issue_comment(URLS, **values)


def test_comment_on_a_pull_request_validates_and_parses() -> None:
    payload = comment_event(run_comment())
    assert_webhook("issue_comment", payload)
    parsed = parse_issue_comment(payload)
    assert (parsed.issue_number, parsed.on_pull_request) == (7, True)
    assert (parsed.comment_id, parsed.body, parsed.login) == (5501, "/run gpcp", "maintainer")
    assert parsed.kind is ActorKind.USER
    assert parsed.created_at == T1
    assert parsed.installation_id == INSTALLATION_ID
    assert payload["comment"]["author_association"] == "MEMBER"
    assert payload["comment"]["user"]["type"] == "User"
    assert payload["sender"]["login"] == "maintainer"
    issue = payload["issue"]
    assert issue["pull_request"]["url"] == f"{URLS.api}/repos/pangeo-forge/staged-recipes/pulls/7"
    assert issue["pull_request"]["merged_at"] is None
    assert issue["html_url"] == f"{URLS.web}/pangeo-forge/staged-recipes/pull/7"


def test_comment_on_a_merged_pull_request_shows_the_merge() -> None:
    payload = comment_event(run_comment(), merged_pull())
    assert_webhook("issue_comment", payload)
    assert payload["issue"]["state"] == "closed"
    assert payload["issue"]["pull_request"]["merged_at"] == objects.iso(T2)


def test_comment_by_the_app_is_a_bot_comment() -> None:
    app = objects.app(URLS, app_id=4242, slug="pangeo-forge", owner="pangeo-forge", created_at=T0)
    comment = run_comment(
        user_login="pangeo-forge[bot]",
        body="Recipe run succeeded",
        author_association="NONE",
        performed_via_github_app=app,
    )
    payload = comment_event(comment)
    assert_webhook("issue_comment", payload)
    assert payload["comment"]["user"]["type"] == "Bot"
    assert payload["sender"]["type"] == "Bot"
    assert payload["comment"]["performed_via_github_app"]["id"] == 4242
    assert parse_issue_comment(payload).kind is ActorKind.BOT


def test_edited_and_deleted_comments() -> None:
    edited = comment_event(
        run_comment(body="/run gpcp-v2", updated_at=T2),
        action="edited",
        changes={"body": {"from": "/run gpcp"}},
    )
    assert_webhook("issue_comment", edited)
    deleted = comment_event(run_comment(), action="deleted")
    assert_webhook("issue_comment", deleted)
    with pytest.raises(ValueError, match="changes"):
        comment_event(run_comment(), action="edited")


def test_comment_on_another_pull_request_is_refused() -> None:
    with pytest.raises(ValueError, match="not on this pull request"):
        comment_event(run_comment(issue_number=8))


def test_installation_created_lists_repositories_by_id() -> None:
    installation = objects.installation(
        URLS,
        installation_id=INSTALLATION_ID,
        app_id=4242,
        app_slug="pangeo-forge",
        account="pangeo-forge",
        created_at=T0,
    )
    repos = [sample_repo(), sample_repo("gpcp-feedstock", repo_id=301_235, private=True)]
    payload = installation_event(
        URLS,
        action="created",
        installation=installation,
        repositories=repos,
        sender="admin",
        requester="contributor",
    )
    assert_webhook("installation", payload)
    assert payload["requester"]["login"] == "contributor"
    assert payload["installation"]["id"] == INSTALLATION_ID
    assert payload["repositories"][1] == {
        "id": 301_235,
        "node_id": repos[1]["node_id"],
        "name": "gpcp-feedstock",
        "full_name": "pangeo-forge/gpcp-feedstock",
        "private": True,
    }
    deleted = installation_event(
        URLS, action="deleted", installation=installation, repositories=repos, sender="admin"
    )
    assert_webhook("installation", deleted)
    with pytest.raises(ValueError, match="requester"):
        installation_event(
            URLS,
            action="deleted",
            installation=installation,
            repositories=repos,
            sender="admin",
            requester="admin",
        )
