"""Timestamps leave the database in the original API's form: naive UTC, isoformat()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.db.queries import iso_utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2022, 9, 19, 16, 31, 43, tzinfo=UTC), "2022-09-19T16:31:43"),
        (datetime(2022, 9, 19, 16, 31, 43, 55180, tzinfo=UTC), "2022-09-19T16:31:43.055180"),
        # Another zone is converted, not relabelled.
        (
            datetime(2022, 9, 19, 18, 31, 43, tzinfo=timezone(timedelta(hours=2))),
            "2022-09-19T16:31:43",
        ),
    ],
)
def test_iso_utc_matches_python_isoformat_of_naive_utc(
    connection: sa.Connection, value: datetime, expected: str
) -> None:
    rendered = connection.execute(
        sa.select(iso_utc(sa.literal(value, sa.DateTime(timezone=True))))
    ).scalar_one()

    assert rendered == expected
    assert rendered == value.astimezone(UTC).replace(tzinfo=None).isoformat()
