"""Counters kept exact by triggers in `stat_counter`: row counts for /stats, and `api_changes`."""

from __future__ import annotations

import sqlalchemy as sa

# Plain SQL through the driver: these run on the event loop before every cached read and for
# /stats, and a Core select costs more CPU in SQLAlchemy's statement cache than in Postgres.
_STAT_COUNT_SQL = "SELECT value FROM stat_counter WHERE name = %(name)s"
API_CHANGES = "api_changes"


def stat_count(conn: sa.Connection, name: str) -> int | None:
    """A counter kept exact by triggers (see the migrations), or None if it does not exist."""
    value = conn.exec_driver_sql(_STAT_COUNT_SQL, {"name": name}).scalar()
    return None if value is None else int(value)


def api_changes(conn: sa.Connection) -> int:
    """How many transactions have written the API's tables (see api/answer_cache.py)."""
    value = stat_count(conn, API_CHANGES)
    if value is None:
        raise LookupError(f"counter {API_CHANGES!r} is missing: run `pfo migrate`")
    return value
