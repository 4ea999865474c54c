"""Named queries of the REST API: SQLAlchemy Core, explicit columns, rows as plain dicts.

Reads return dicts ready for JSON: timestamps are rendered by Postgres as naive UTC text
(`2022-09-19T16:31:43`, the form the original API wrote and the website parses) and enums as
their string values, so the request path builds no ORM objects and converts nothing per row.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg2 as psycopg2_dialect

from pangeo_forge_orchestrator.db.tables import Bakery, Feedstock, RecipeRun

# A run's nested history (feedstock or bakery page): enough for a page, bounded for any feedstock.
NESTED_RUNS_LIMIT = 100

# Python's isoformat() of a naive UTC datetime, which is what the original API wrote: whole
# seconds when there is no fraction, else six digits of microseconds (85 adopted rows have them).
_ISO_SECONDS = 'YYYY-MM-DD"T"HH24:MI:SS'
_ISO_MICROSECONDS = 'YYYY-MM-DD"T"HH24:MI:SS.US'


def iso_utc(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str | None]:
    """Render a timestamptz in SQL as naive UTC ISO text, the form the website parses."""
    utc = sa.func.timezone(sa.literal_column("'UTC'"), column)
    # EXTRACT gives numeric (date_part gives double, which has no %).
    # Literal SQL, not bound parameters: these statements are compiled once and cached.
    has_fraction = sa.extract("microseconds", utc) % sa.literal_column(
        "1000000"
    ) != sa.literal_column("0")
    return sa.case(
        (has_fraction, sa.func.to_char(utc, sa.literal_column(f"'{_ISO_MICROSECONDS}'"))),
        else_=sa.func.to_char(utc, sa.literal_column(f"'{_ISO_SECONDS}'")),
    )


# Kept out of the public API: it may hold tracebacks with paths and internals.
_PRIVATE_COLUMNS = frozenset({"failure_detail"})


def _rendered(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    if isinstance(column.type, sa.DateTime):
        return iso_utc(column)
    if isinstance(column.type, sa.Enum):
        # The value as Postgres sends it: no round trip through the Python enum.
        return sa.type_coerce(column, sa.String)
    return column


# eq=False: resources are compared and hashed by identity, so statements can be cached per one.
@dataclass(frozen=True, eq=False)
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


def dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    """A result's rows as plain dicts, ready for JSON."""
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _first(result: sa.CursorResult[Any]) -> dict[str, Any] | None:
    row = result.mappings().first()
    return dict(row) if row is not None else None


# Statements are built once per shape and reused with bound values: building a select of
# two dozen columns and hashing it for SQLAlchemy's compiled cache cost more CPU than the query
# itself (about 0.2 ms against 0.1 ms per request, measured).


@functools.lru_cache(maxsize=256)
def _list_statement(
    resource: Resource,
    *,
    filters: tuple[str, ...],
    order_by: str,
    descending: bool,
    keyset: bool,
    offset: bool,
) -> sa.Select[Any]:
    table, key = resource.table, resource.id
    where = [table.c[name] == sa.bindparam(f"f_{name}") for name in filters]
    if keyset:
        after = sa.bindparam("after_id", type_=sa.BigInteger)
        where.append(key < after if descending else key > after)
    if order_by == "id":
        ordering = [key.desc() if descending else key]
    else:
        # id breaks ties, so that offset pages neither repeat nor skip rows.
        column = table.c[order_by]
        ordering = [column.desc(), key.desc()] if descending else [column, key]
    limit = sa.bindparam("limit", type_=sa.Integer)
    if not offset:
        return sa.select(*resource.selected()).where(*where).order_by(*ordering).limit(limit)
    # Late row lookup: skip over ids only, then render the page's rows. Skipping whole rendered
    # rows computed the timestamp text of every skipped row (2.5 s at offset 900,000).
    page_ids = (
        sa.select(key)
        .where(*where)
        .order_by(*ordering)
        .limit(limit)
        .offset(sa.bindparam("offset", type_=sa.BigInteger))
    )
    return sa.select(*resource.selected()).where(key.in_(page_ids)).order_by(*ordering)


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
    used = {name: value for name, value in filters.items() if value is not None}
    stmt = _list_statement(
        resource,
        filters=tuple(sorted(used)),
        order_by=page.order_by,
        descending=page.descending,
        keyset=page.after_id is not None,
        offset=page.offset > 0,
    )
    params: dict[str, object] = {f"f_{name}": value for name, value in used.items()}
    params.update(limit=page.limit + extra, after_id=page.after_id, offset=page.offset)
    return dicts(conn.execute(stmt, params))


@functools.lru_cache(maxsize=8)
def _by_id_statement(resource: Resource) -> sa.Select[Any]:
    return sa.select(*resource.selected()).where(resource.id == sa.bindparam("id"))


def get_row(conn: sa.Connection, resource: Resource, row_id: int) -> dict[str, Any] | None:
    return _first(conn.execute(_by_id_statement(resource), {"id": row_id}))


def _run_with_relations_statement() -> sa.Select[Any]:
    runs, bakeries, feedstocks = RECIPE_RUNS.table, BAKERIES.table, FEEDSTOCKS.table
    return (
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
        .where(runs.c.id == sa.bindparam("id"))
    )


# Compiled to the driver's SQL once: the route runs it on the event loop, where SQLAlchemy's
# per-execution statement-cache lookup (~0.1 ms of CPU) would hold the loop as long as the query.
_RUN_WITH_RELATIONS_SQL = str(
    _run_with_relations_statement().compile(dialect=psycopg2_dialect.dialect())  # type: ignore[no-untyped-call]
)


def recipe_run_with_relations(conn: sa.Connection, run_id: int) -> dict[str, Any] | None:
    """A recipe run with its bakery and feedstock nested, in one query."""
    row = _first(conn.exec_driver_sql(_RUN_WITH_RELATIONS_SQL, {"id": run_id}))
    if row is None:
        return None
    run = {name: row[name] for name in RECIPE_RUNS.names}
    run["bakery"] = {name: row["b." + name] for name in BAKERIES.names}
    run["feedstock"] = {name: row["f." + name] for name in FEEDSTOCKS.names}
    return run


@functools.lru_cache(maxsize=4)
def _recent_runs_statement(owner: str) -> sa.Select[Any]:
    table = RECIPE_RUNS.table
    return (
        sa.select(*RECIPE_RUNS.selected())
        .where(table.c[owner] == sa.bindparam("owner_id"))
        .order_by(table.c.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


def recent_runs(
    conn: sa.Connection, *, owner: str, owner_id: int, limit: int = NESTED_RUNS_LIMIT
) -> list[dict[str, Any]]:
    """The most recent runs of one feedstock or bakery (`owner` = "feedstock_id"/"bakery_id")."""
    params = {"owner_id": owner_id, "limit": limit}
    return dicts(conn.execute(_recent_runs_statement(owner), params))


def with_recent_runs(
    conn: sa.Connection, resource: Resource, *, owner: str, row_id: int
) -> dict[str, Any] | None:
    """A row with its most recent runs nested.

    Two statements, each with its own snapshot when `conn` is in autocommit (the API's reads):
    a run committed between them may be listed, and a row deleted between them shows no runs.
    Either answer was true a moment earlier, which is all a page of history promises.
    """
    row = get_row(conn, resource, row_id)
    if row is not None:
        row["recipe_runs"] = recent_runs(conn, owner=owner, owner_id=row_id)
    return row


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
