from __future__ import annotations

import pytest

from pangeo_forge_orchestrator.core.backoff import DEFAULT_BACKOFF, Backoff


def test_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base_seconds=10, factor=2, cap_seconds=100)

    assert [backoff.ceiling(n) for n in range(1, 7)] == [10, 20, 40, 80, 100, 100]


def test_delay_lies_within_the_jitter_bounds() -> None:
    backoff = Backoff(base_seconds=10, factor=2, cap_seconds=3600, jitter=0.5)

    for attempt in range(1, 20):
        ceiling = backoff.ceiling(attempt)
        for rand in (0.0, 0.25, 0.5, 0.999999):
            delay = backoff.delay(attempt, rand=rand)
            assert ceiling * 0.5 < delay <= ceiling


def test_delay_is_the_ceiling_at_rand_zero_and_shrinks_with_rand() -> None:
    backoff = Backoff(base_seconds=8, jitter=0.5)

    assert backoff.delay(3, rand=0.0) == 32
    assert backoff.delay(3, rand=0.5) == 24


def test_no_jitter_gives_the_exact_schedule() -> None:
    backoff = Backoff(base_seconds=1, factor=3, cap_seconds=1000, jitter=0)

    assert [backoff.delay(n, rand=0.7) for n in range(1, 5)] == [1, 3, 9, 27]


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    assert DEFAULT_BACKOFF.ceiling(10_000) == DEFAULT_BACKOFF.cap_seconds


def test_default_schedule_spreads_five_attempts_over_minutes() -> None:
    # Four waits before the fifth and last attempt: long enough to ride out a short outage.
    total = sum(DEFAULT_BACKOFF.ceiling(n) for n in range(1, 5))

    assert total == 150


@pytest.mark.parametrize(
    "kwargs",
    [{"base_seconds": -1}, {"factor": 0.5}, {"jitter": 1.5}, {"cap_seconds": -3}],
)
def test_invalid_schedules_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


@pytest.mark.parametrize(("attempt", "rand"), [(0, 0.5), (1, 1.0), (1, -0.1)])
def test_out_of_range_inputs_are_refused(attempt: int, rand: float) -> None:
    with pytest.raises(ValueError):
        DEFAULT_BACKOFF.delay(attempt, rand=rand)
