"""The router: (event, action) to handler, repository filter, typed values, ignored reasons."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from pangeo_forge_orchestrator.core.events import (
    Failed,
    Handled,
    Ignored,
    Outcome,
    RepositoryRef,
)
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.webhooks.payloads import Payload, PayloadError, parse_repository
from pangeo_forge_orchestrator.webhooks.router import router
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext, Router


@dataclass
class Context:
    """A handler context with no database: these handlers never touch one."""

    settings: Settings = field(default_factory=lambda: Settings(database_url=None))

    @property
    def database(self) -> Database:
        raise AssertionError("this handler should not use the database")


def parse_repo(payload: Payload) -> RepositoryRef:
    repository = parse_repository(payload.get("repository"))
    if repository is None:
        raise PayloadError("no repository")
    return repository


def make_router(seen: list[Any]) -> Router:
    pulls = EventRoutes("pull_request")

    @pulls.on("opened", "synchronize", parse=parse_repo, feedstock_only=True)
    async def note(ctx: HandlerContext, repository: RepositoryRef) -> Outcome:
        seen.append(repository)
        return Handled()

    return Router(pulls)


def dispatch(target: Router, event: str, payload: Payload, ctx: Context | None = None) -> Outcome:
    return asyncio.run(target.dispatch(ctx or Context(), event=event, payload=payload))


def pr(action: str, full_name: str) -> dict[str, Any]:
    return {"action": action, "repository": {"full_name": full_name}}


def test_a_feedstock_delivery_reaches_its_handler_as_a_typed_value() -> None:
    seen: list[Any] = []
    target = make_router(seen)

    assert dispatch(target, "pull_request", pr("opened", "pangeo-forge/gpcp-feedstock")) == (
        Handled()
    )
    assert dispatch(target, "pull_request", pr("synchronize", "pangeo-forge/staged-recipes")) == (
        Handled()
    )
    assert seen == [
        RepositoryRef(owner="pangeo-forge", name="gpcp-feedstock"),
        RepositoryRef(owner="pangeo-forge", name="staged-recipes"),
    ]


def test_other_repositories_are_ignored_without_running_the_handler() -> None:
    seen: list[Any] = []

    outcome = dispatch(make_router(seen), "pull_request", pr("opened", "pangeo-forge/website"))

    assert outcome == Ignored(
        "repository pangeo-forge/website matches none of the feedstock patterns "
        "*-feedstock, staged-recipes"
    )
    assert seen == []


def test_the_feedstock_patterns_come_from_the_settings() -> None:
    seen: list[Any] = []
    ctx = Context(settings=Settings(feedstock_repo_patterns=["recipes-*"]))

    assert dispatch(make_router(seen), "pull_request", pr("opened", "o/recipes-era5"), ctx) == (
        Handled()
    )
    assert isinstance(
        dispatch(make_router(seen), "pull_request", pr("opened", "o/era5-feedstock"), ctx),
        Ignored,
    )


def test_unrouted_actions_and_events_are_ignored_with_the_reason() -> None:
    target = make_router([])

    assert dispatch(target, "pull_request", pr("closed", "o/x-feedstock")) == Ignored(
        "no handler for pull_request.closed"
    )
    assert dispatch(target, "issue_comment", {"action": "deleted"}) == Ignored(
        "no handler for issue_comment.deleted"
    )
    assert dispatch(target, "push", {"ref": "refs/heads/main"}) == Ignored("no handler for push")


def test_a_payload_its_parser_refuses_is_a_failure_naming_the_problem() -> None:
    parses_nothing = EventRoutes("check_run")

    @parses_nothing.on("created", parse=lambda p: parse_repo({}), feedstock_only=False)
    async def never(ctx: HandlerContext, value: RepositoryRef) -> Outcome:
        raise AssertionError("not reached")

    assert dispatch(Router(parses_nothing), "check_run", {"action": "created"}) == Failed(
        "malformed check_run.created payload: no repository"
    )


def test_a_catch_all_route_takes_any_action_and_an_exact_one_wins() -> None:
    events = EventRoutes("check_suite")

    @events.on(parse=lambda p: "any", feedstock_only=False)
    async def any_action(ctx: HandlerContext, value: str) -> Outcome:
        return Ignored(value)

    @events.on("completed", parse=lambda p: "exact", feedstock_only=False)
    async def completed(ctx: HandlerContext, value: str) -> Outcome:
        return Ignored(value)

    target = Router(events)

    assert dispatch(target, "check_suite", {"action": "requested"}) == Ignored("any")
    assert dispatch(target, "check_suite", {"action": "completed"}) == Ignored("exact")


def test_two_handlers_for_one_action_is_an_error() -> None:
    first, second = EventRoutes("ping"), EventRoutes("ping")

    async def pong(ctx: HandlerContext, value: Payload) -> Outcome:
        return Handled()

    for routes in (first, second):
        routes.on(parse=lambda p: p, feedstock_only=False)(pong)

    with pytest.raises(ValueError, match="two handlers"):
        Router(first, second)


@pytest.mark.parametrize(
    ("event", "action", "expected"),
    [
        ("ping", None, "acknowledge_ping"),
        ("installation", "created", "keep_installation_current"),
        ("installation", "deleted", "keep_installation_current"),
        ("installation", "suspend", "keep_installation_current"),
        ("installation", "unsuspend", "keep_installation_current"),
        ("installation", "new_permissions_accepted", "keep_installation_current"),
        ("installation_repositories", "added", "update_installation_repositories"),
        ("installation_repositories", "removed", "update_installation_repositories"),
        ("dataflow", "completed", "handle_dataflow_callback"),
        ("bakery_callback", "succeeded", "handle_callback"),
        ("installation", "renamed", None),
        ("push", None, None),
        ("repository", "created", None),
    ],
)
def test_the_service_router_table(event: str, action: str | None, expected: str | None) -> None:
    route = router.route_for(event, action)

    assert (route.handle.__name__ if route else None) == expected


def test_a_dataflow_conclusion_we_do_not_act_on_is_ignored_with_the_reason() -> None:
    payload = {"action": "completed", "recipe_run_id": 4, "conclusion": "exploded"}

    assert dispatch(router, "dataflow", payload) == Ignored(
        "dataflow conclusion 'exploded' is not one we act on"
    )
