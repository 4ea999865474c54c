"""Named queries of the REST API: SQLAlchemy Core, explicit columns, rows as plain dicts.

Reads return dicts ready for JSON: timestamps are rendered by Postgres as naive UTC text
(`2022-09-19T16:31:43`, the form the original API wrote and the website parses) and enums as
their string values, so the request path builds no ORM objects and converts nothing per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus
from pangeo_forge_orchestrator.db.tables import Bakery, Feedstock, RecipeRun, StatCounter

# A run's nested history (feedstock or bakery page): enough for a page, bounded for any feedstock.
NESTED_RUNS_LIMIT = 100

# to_char truncates to whole seconds, which is how the original wrote timestamps.
_ISO_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS'

# Kept out of the public API: it may hold tracebacks with paths and internals.
_PRIVATE_COLUMNS = frozenset({"failure_detail"})


def _rendered(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    if isinstance(column.type, sa.DateTime):
        utc = sa.func.timezone("UTC", column)
        return sa.func.to_char(utc, sa.literal_column(f"'{_ISO_SECONDS}'"))
    if isinstance(column.type, sa.Enum):
        # The value as Postgres sends it: no round trip through the Python enum.
        return sa.type_coerce(column, sa.String)
    return column


@dataclass(frozen=True)
class Resource:
    """A table as the API shows it: its public columns, rendered for JSON."""

    table: sa.Table
    rendered: Mapping[str, sa.ColumnElement[Any]]

    @classmethod
    def of(cls, table: Any) -> Resource:
        columns = [c for c in table.__table__.columns if c.name not in _PRIVATE_COLUMNS]
        return cls(table=table.__table__, rendered={c.name: _rendered(c) for c in columns})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.rendered)

    @property
    def id(self) -> sa.Column[int]:
        column: sa.Column[int] = self.table.c.id
        return column

    def selected(self, names: Sequence[str] | None = None, *, prefix: str = "") -> list[Any]:
        """The select list of `names` (default: every public column), labelled prefix + name."""
        return [self.rendered[name].label(prefix + name) for name in names or self.rendered]


BAKERIES = Resource.of(Bakery)
FEEDSTOCKS = Resource.of(Feedstock)
RECIPE_RUNS = Resource.of(RecipeRun)


@dataclass(frozen=True, kw_only=True)
class PageRequest:
    """Which rows of a list: validated by the API before it gets here.

    `after_id` is keyset paging and only meaningful with `order_by="id"`: the rows that follow
    that id in the chosen direction. Other orders page with `offset`, ties broken by id.
    """

    order_by: str = "id"
    descending: bool = False
    offset: int = 0
    limit: int = 100
    after_id: int | None = None


def _dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _equal_filters(table: sa.Table, filters: Mapping[str, object]) -> list[sa.ColumnElement[bool]]:
    return [table.c[name] == value for name, value in filters.items() if value is not None]


def list_rows(
    conn: sa.Connection,
    resource: Resource,
    *,
    filters: Mapping[str, object],
    page: PageRequest,
    extra: int = 0,
) -> list[dict[str, Any]]:
    """One page of `resource` matching `filters` (column = value; None means no filter).

    `extra` rows past the page are fetched too, so the caller can tell whether a next page exists.
    """
    table, key = resource.table, resource.id
    stmt = sa.select(*resource.selected()).where(*_equal_filters(table, filters))
    column = table.c[page.order_by]
    if page.after_id is not None:
        stmt = stmt.where(key < page.after_id if page.descending else key > page.after_id)
    if page.order_by == "id":
        stmt = stmt.order_by(key.desc() if page.descending else key)
    else:
        # id breaks ties, so that offset pages neither repeat nor skip rows.
        order = (column.desc(), key.desc()) if page.descending else (column, key)
        stmt = stmt.order_by(*order)
    stmt = stmt.limit(page.limit + extra)
    if page.offset:
        stmt = stmt.offset(page.offset)
    return _dicts(conn.execute(stmt))


def get_row(conn: sa.Connection, resource: Resource, row_id: int) -> dict[str, Any] | None:
    stmt = sa.select(*resource.selected()).where(resource.id == row_id)
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def recipe_run_with_relations(conn: sa.Connection, run_id: int) -> dict[str, Any] | None:
    """A recipe run with its bakery and feedstock nested, in one query."""
    runs, bakeries, feedstocks = RECIPE_RUNS.table, BAKERIES.table, FEEDSTOCKS.table
    stmt = (
        sa.select(
            *RECIPE_RUNS.selected(),
            *BAKERIES.selected(prefix="b."),
            *FEEDSTOCKS.selected(prefix="f."),
        )
        .select_from(
            runs.join(bakeries, bakeries.c.id == runs.c.bakery_id).join(
                feedstocks, feedstocks.c.id == runs.c.feedstock_id
            )
        )
        .where(runs.c.id == run_id)
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    run = {name: row[name] for name in RECIPE_RUNS.names}
    run["bakery"] = {name: row["b." + name] for name in BAKERIES.names}
    run["feedstock"] = {name: row["f." + name] for name in FEEDSTOCKS.names}
    return run


def recent_runs(
    conn: sa.Connection, *, owner: str, owner_id: int, limit: int = NESTED_RUNS_LIMIT
) -> list[dict[str, Any]]:
    """The most recent runs of one feedstock or bakery (`owner` = "feedstock_id"/"bakery_id")."""
    table = RECIPE_RUNS.table
    stmt = (
        sa.select(*RECIPE_RUNS.selected())
        .where(table.c[owner] == owner_id)
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    return _dicts(conn.execute(stmt))


def with_recent_runs(
    conn: sa.Connection, resource: Resource, *, owner: str, row_id: int
) -> dict[str, Any] | None:
    row = get_row(conn, resource, row_id)
    if row is not None:
        row["recipe_runs"] = recent_runs(conn, owner=owner, owner_id=row_id)
    return row


class DatasetScope(StrEnum):
    ALL = "all"
    PRODUCTION = "production"
    TEST = "test"


DATASET_COLUMNS = (
    "id",
    "recipe_id",
    "feedstock_id",
    "dataset_type",
    "dataset_public_url",
    "is_test",
)


def datasets_of_feedstock(
    conn: sa.Connection, *, feedstock_id: int, scope: DatasetScope
) -> list[dict[str, Any]]:
    """Completed, successful runs of a feedstock that left a dataset URL, newest first."""
    table = RECIPE_RUNS.table
    stmt = (
        sa.select(*RECIPE_RUNS.selected(DATASET_COLUMNS))
        .where(
            table.c.feedstock_id == feedstock_id,
            # The same rule as the `datasets` counter's trigger (recipe_run_is_dataset).
            table.c.status == RunStatus.COMPLETED,
            table.c.conclusion == RunConclusion.SUCCESS,
            table.c.dataset_public_url.is_not(None),
        )
        .order_by(table.c.id.desc())
    )
    if scope is not DatasetScope.ALL:
        stmt = stmt.where(table.c.is_test.is_(scope is DatasetScope.TEST))
    return _dicts(conn.execute(stmt))


def stat_count(conn: sa.Connection, name: str) -> int | None:
    """A counter kept exact by triggers (see the migration), or None if it does not exist."""
    counter = StatCounter.__table__
    value = conn.execute(sa.select(counter.c.value).where(counter.c.name == name)).scalar()
    return None if value is None else int(value)


def insert_row(
    conn: sa.Connection, resource: Resource, values: Mapping[str, object]
) -> dict[str, Any]:
    stmt = sa.insert(resource.table).values(dict(values)).returning(*resource.selected())
    return dict(conn.execute(stmt).mappings().one())


def update_row(
    conn: sa.Connection, resource: Resource, row_id: int, values: Mapping[str, object]
) -> dict[str, Any] | None:
    """Set `values` on one row and return it as it now is; None if there is no such row."""
    if not values:
        return get_row(conn, resource, row_id)
    stmt = (
        sa.update(resource.table)
        .where(resource.id == row_id)
        .values(dict(values))
        .returning(*resource.selected())
    )
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def delete_row(conn: sa.Connection, resource: Resource, row_id: int) -> bool:
    deleted = conn.execute(
        sa.delete(resource.table).where(resource.id == row_id).returning(resource.id)
    ).first()
    return deleted is not None
