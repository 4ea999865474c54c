"""Missed-delivery recovery against the fake: page the delivery log, redeliver what we lack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from pangeo_forge_orchestrator.adapters.github import GitHubApp, RateLimited
from pangeo_forge_orchestrator.adapters.github.deliveries import (
    KnownGuids,
    find_missed_deliveries,
    redeliver,
)
from pangeo_forge_orchestrator.core.redelivery import REDELIVERY_WINDOW
from tests.fake_github import FakeGitHub, MutableClock

pytestmark = pytest.mark.anyio
DELIVERIES = "/app/hook/deliveries"
ATTEMPTS = "/app/hook/deliveries/{delivery_id}/attempts"


def stored(guids: set[str]) -> tuple[KnownGuids, list[list[str]]]:
    asked: list[list[str]] = []

    async def known(candidates: Sequence[str]) -> set[str]:
        asked.append(list(candidates))
        return guids & set(candidates)

    return known, asked


async def test_missed_deliveries_are_found_across_pages_and_redelivered(
    github_app: GitHubApp, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    now = github_clock.now
    for i in range(150):  # two pages of 100 and 50, all succeeded
        fake_github.add_delivery(f"ok-{i}", status_code=202, delivered_at=now - timedelta(hours=1))
    lost = fake_github.add_delivery("lost", status_code=502, delivered_at=now - timedelta(hours=2))
    fake_github.add_delivery("stored", status_code=504, delivered_at=now - timedelta(hours=2))
    fake_github.add_delivery("ancient", status_code=502, delivered_at=now - timedelta(days=4))
    known, asked = stored({"stored"})

    missed = await find_missed_deliveries(
        github_app.app_client(), since=now - REDELIVERY_WINDOW, known_guids=known
    )

    assert [d.guid for d in missed] == ["lost"]
    assert asked == [["lost", "stored"]]
    pages = fake_github.calls_to("GET", DELIVERIES)
    assert len(pages) == 2
    assert pages[1].query["cursor"]

    report = await redeliver(github_app.app_client(), missed)

    assert report.requested == [lost["id"]]
    assert fake_github.redelivery_requests == [lost["id"]]
    assert {c.identity for c in fake_github.calls_to("POST", ATTEMPTS)} == {"app"}


async def test_paging_stops_at_the_window(
    github_app: GitHubApp, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    now = github_clock.now
    fake_github.add_delivery("recent", delivered_at=now - timedelta(hours=1))
    for i in range(250):
        fake_github.add_delivery(f"old-{i}", delivered_at=now - timedelta(days=5, minutes=i))
    known, _ = stored(set())

    missed = await find_missed_deliveries(
        github_app.app_client(), since=now - REDELIVERY_WINDOW, known_guids=known
    )

    assert [d.guid for d in missed] == ["recent"]
    assert len(fake_github.calls_to("GET", DELIVERIES)) == 1


async def test_nothing_failed_means_no_lookup(
    github_app: GitHubApp, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    fake_github.add_delivery("fine", status_code=200)
    known, asked = stored(set())
    missed = await find_missed_deliveries(
        github_app.app_client(), since=github_clock.now - REDELIVERY_WINDOW, known_guids=known
    )
    assert missed == []
    assert asked == []


async def test_a_refused_redelivery_does_not_stop_the_others(
    github_app: GitHubApp, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    first = fake_github.add_delivery("a")
    second = fake_github.add_delivery("b")
    fake_github.inject(
        lambda: fake_github.error(422, "Delivery is too old to redeliver"),
        template=ATTEMPTS,
    )
    known, _ = stored(set())
    missed = await find_missed_deliveries(
        github_app.app_client(), since=github_clock.now - REDELIVERY_WINDOW, known_guids=known
    )

    report = await redeliver(github_app.app_client(), missed)

    assert len(report.refused) == 1
    assert list(report.refused.values()) == ["Delivery is too old to redeliver"]
    assert len(report.requested) == 1
    assert set(report.requested) | set(report.refused) == {first["id"], second["id"]}


async def test_rate_limit_stops_redelivery_for_a_reschedule(
    github_app: GitHubApp, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    fake_github.add_delivery("a")
    fake_github.secondary_rate_limit(retry_after=90, template=ATTEMPTS)
    known, _ = stored(set())
    missed = await find_missed_deliveries(
        github_app.app_client(), since=github_clock.now - REDELIVERY_WINDOW, known_guids=known
    )

    with pytest.raises(RateLimited) as caught:
        await redeliver(github_app.app_client(), missed)
    assert caught.value.reset_at == github_clock.now + timedelta(seconds=90)
