"""Real deliveries from ../shared/github/webhooks/examples*/, and dict_object expansion."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from pangeo_forge_orchestrator.core import messages as msg
from tests.conftest import shared_path
from tests.fake_runner import SERVICE_ENVIRON
from tests.workflows.harness import FEEDSTOCK, HEAD_SHA, Harness

pytestmark = pytest.mark.anyio

FORK_PR = "github/webhooks/examples-more/pull_request/github-pull_request.opened.json"
USER_COMMENT = "github/webhooks/examples-more/issue_comment/pull_request_comment.json"
BOT_COMMENT = "github/webhooks/examples-more/issue_comment/issue_comment.created.bot.json"
DICT_META = """\
title: Many oceans
recipes:
  - dict_object: "recipe:recipes"
bakery:
  id: local
"""


def load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_path(relative).read_text())
    return data


def as_feedstock(harness: Harness, payload: dict[str, Any]) -> dict[str, Any]:
    """The delivery, its repository renamed into a feedstock the fake App is installed on."""
    owner = payload["repository"]["owner"]["login"]
    name = payload["repository"]["name"] + "-feedstock"
    installation_id = payload["installation"]["id"]
    harness.fake.add_installation(installation_id, account=owner)
    repo = harness.fake.add_repo(f"{owner}/{name}", installation_id=installation_id)
    payload["repository"].update(name=name, full_name=repo.full_name)
    return payload


async def test_a_fork_pull_request_from_the_examples_is_checked(harness: Harness) -> None:
    payload = as_feedstock(harness, load(FORK_PR))
    pull = payload["pull_request"]
    repo = harness.repo(payload["repository"]["full_name"])
    meta = "recipes:\n  - id: podinfo\n    object: 'recipe:recipe'\nbakery:\n  id: local\n"
    harness.fake.add_pull(
        repo, pull["number"], head_sha=pull["head"]["sha"], files={"feedstock/meta.yaml": meta}
    )

    harness.deliver("pull_request", payload)
    await harness.work()

    (check,) = repo.check_runs.values()
    assert (check["head_sha"], check["conclusion"]) == (pull["head"]["sha"], "success")
    (run,) = harness.runs()
    assert (run.recipe_id, run.pr_number, run.status) == ("podinfo", 25, "queued")


async def test_a_users_plain_comment_from_the_examples_is_ignored(harness: Harness) -> None:
    harness.deliver("issue_comment", as_feedstock(harness, load(USER_COMMENT)))
    await harness.work()

    assert harness.calls() == Counter()
    assert harness.deliveries()[-1].error == "comment is not a slash command"


async def test_a_users_help_command_from_the_examples_is_answered(harness: Harness) -> None:
    payload = as_feedstock(harness, load(USER_COMMENT))
    repo = harness.repo(payload["repository"]["full_name"])
    number = payload["issue"]["number"]
    harness.fake.add_pull(repo, number, head_sha=HEAD_SHA)
    written = harness.add_comment(repo, number, body="/help", login="zhouzhuojie")
    payload["comment"].update(id=written["id"], body="/help")

    harness.deliver("issue_comment", payload)
    await harness.work()

    (reply,) = [c["body"] for c in repo.comments_on(number) if c["id"] != written["id"]]
    assert reply.startswith(msg.HELP.format(sha=HEAD_SHA, ids=msg.HELP_META_INVALID))
    assert [r["content"] for r in repo.reactions[written["id"]]] == ["eyes"]


async def test_a_bots_comment_from_the_examples_is_ignored(harness: Harness) -> None:
    payload = as_feedstock(harness, load(BOT_COMMENT))
    payload["comment"]["body"] = "/run all"  # even a command: bots are never acted on

    harness.deliver("issue_comment", payload)
    await harness.work()

    assert harness.calls() == Counter()
    assert harness.deliveries()[-1].error.startswith("comment by a bot (repo-one-bot[bot])")


async def test_dict_object_recipes_are_listed_by_expand_meta_without_secrets(
    harness: Harness,
) -> None:
    repo = harness.add_feedstock()
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": DICT_META})

    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded"), ("expand_meta", "succeeded")]
    (call,) = harness.runner.calls()
    assert call["argv"][:2] == ["expand-meta", f"--repo=https://github.com/{FEEDSTOCK}.git"]
    assert f"--ref={HEAD_SHA}" in call["argv"]
    leaked = set(SERVICE_ENVIRON) - {"LANG"}
    assert not leaked & set(call["env"]), "expand-meta ran next to the service's secrets"
    (run,) = harness.runs()
    assert (run.recipe_id, run.status, run.head_sha) == ("ok", "queued", HEAD_SHA)
    (check,) = repo.check_runs.values()
    assert (check["conclusion"], check["output"]["title"]) == (
        "success",
        msg.SYNC_SUCCESS_TITLE.format(count=1),
    )
