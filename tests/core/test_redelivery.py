"""Which failed webhook deliveries to ask GitHub for again: a pure decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pangeo_forge_orchestrator.core.redelivery import (
    REDELIVERY_WINDOW,
    WebhookDelivery,
    deliveries_to_redeliver,
    failed_guids,
)

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
SINCE = NOW - REDELIVERY_WINDOW


def attempt(
    id: int, guid: str, *, minutes_ago: float, status_code: int = 502, status: str | None = None
) -> WebhookDelivery:
    return WebhookDelivery(
        id=id,
        guid=guid,
        delivered_at=NOW - timedelta(minutes=minutes_ago),
        status=status or ("OK" if status_code < 400 else "Invalid HTTP Response: 502"),
        status_code=status_code,
    )


def chosen_ids(
    deliveries: list[WebhookDelivery], stored: frozenset[str] = frozenset()
) -> list[int]:
    return [d.id for d in deliveries_to_redeliver(deliveries, stored_guids=stored, since=SINCE)]


def test_failed_delivery_we_never_stored_is_redelivered() -> None:
    assert chosen_ids([attempt(1, "a", minutes_ago=5)]) == [1]


def test_successful_delivery_is_left_alone() -> None:
    assert chosen_ids([attempt(1, "a", minutes_ago=5, status_code=202)]) == []


def test_failure_whose_guid_we_stored_is_left_alone() -> None:
    # GitHub timed out waiting for us, but the delivery was committed: it is ours already.
    assert (
        chosen_ids([attempt(1, "a", minutes_ago=5, status_code=504)], stored=frozenset({"a"})) == []
    )


def test_connection_failure_without_a_status_code_counts_as_failed() -> None:
    failed = attempt(1, "a", minutes_ago=5, status_code=0, status="failed to connect")
    assert failed.failed
    assert chosen_ids([failed]) == [1]


def test_one_guid_with_several_attempts_is_redelivered_once_from_its_latest() -> None:
    deliveries = [
        attempt(3, "a", minutes_ago=10),
        attempt(1, "a", minutes_ago=60),
        attempt(2, "a", minutes_ago=30),
    ]
    assert chosen_ids(deliveries) == [3]


def test_guid_with_any_successful_attempt_is_left_alone() -> None:
    deliveries = [attempt(2, "a", minutes_ago=10), attempt(1, "a", minutes_ago=60, status_code=200)]
    assert chosen_ids(deliveries) == []


def test_older_than_the_window_is_left_alone() -> None:
    too_old = attempt(1, "a", minutes_ago=REDELIVERY_WINDOW.total_seconds() / 60 + 1)
    assert chosen_ids([too_old]) == []


def test_most_recent_first() -> None:
    deliveries = [
        attempt(1, "old", minutes_ago=300),
        attempt(2, "new", minutes_ago=1),
        attempt(3, "mid", minutes_ago=60),
    ]
    assert chosen_ids(deliveries) == [2, 3, 1]


def test_a_delivery_we_keep_refusing_is_not_requested_forever() -> None:
    refused = [attempt(i, "too-big", minutes_ago=i, status_code=413) for i in range(1, 7)]
    assert chosen_ids(refused) == []
    assert chosen_ids(refused[:5]) == [1]


def test_failed_guids_are_the_lookup_candidates() -> None:
    deliveries = [
        attempt(1, "a", minutes_ago=5),
        attempt(2, "b", minutes_ago=5, status_code=200),
        attempt(3, "c", minutes_ago=REDELIVERY_WINDOW.total_seconds() / 60 + 5),
    ]
    assert failed_guids(deliveries, since=SINCE) == {"a"}
