"""Fixtures of the adapter tests: a GitHubApp wired to the fake GitHub, its clock and sleeps."""

from __future__ import annotations

import pytest

from pangeo_forge_orchestrator.adapters.github import GitHubApp
from tests.conftest import github_app_settings
from tests.fake_github import FakeGitHub, MutableClock


class RecordedSleep:
    """Stands in for asyncio.sleep: records the waits, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def github_app(
    fake_github: FakeGitHub, github_clock: MutableClock, sleeps: RecordedSleep
) -> GitHubApp:
    return GitHubApp(
        github_app_settings(fake_github),
        transport=fake_github.transport,
        sleep=sleeps,
        clock=github_clock,
    )
