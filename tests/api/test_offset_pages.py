"""Offset pages skip over ids and render only their own rows, with the same rows as before."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.db import queries
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.db.queries import RECIPE_RUNS, PageRequest
from tests.api.conftest import Seed


@pytest.fixture
def feedstock_id(seed: Seed) -> int:
    """40 runs on one feedstock and 10 on another, with repeated recipe ids and shas (ties)."""
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    other = seed.feedstock("pangeo-forge/other-feedstock")
    for i in range(50):
        seed.run(
            bakery_id=bakery_id,
            feedstock_id=feedstock_id if i < 40 else other,
            recipe_id=f"r{i % 4}",
            head_sha=f"{i % 3:040x}",
            status=("queued", "completed")[i % 2],
        )
    return feedstock_id


def skipping_whole_rows(
    conn: sa.Connection, *, page: PageRequest, feedstock_id: int | None
) -> list[dict[str, Any]]:
    """The page as the list statement read it before: OFFSET over rendered rows."""
    table = RECIPE_RUNS.table
    column, key = table.c[page.order_by], table.c.id
    ordering = [column.desc(), key.desc()] if page.descending else [column, key]
    stmt = sa.select(*RECIPE_RUNS.selected()).order_by(*ordering)
    if feedstock_id is not None:
        stmt = stmt.where(table.c.feedstock_id == feedstock_id)
    stmt = stmt.offset(page.offset).limit(page.limit)
    return [dict(row) for row in conn.execute(stmt).mappings()]


@pytest.mark.parametrize("order_by", ["id", "recipe_id", "head_sha", "started_at"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(("offset", "limit"), [(1, 7), (13, 10), (45, 10), (60, 5)])
@pytest.mark.parametrize("filtered", [False, True])
def test_offset_page_equals_the_page_read_over_whole_rows(
    database: Database,
    feedstock_id: int,
    order_by: str,
    descending: bool,
    offset: int,
    limit: int,
    filtered: bool,
) -> None:
    page = PageRequest(order_by=order_by, descending=descending, offset=offset, limit=limit)
    only = feedstock_id if filtered else None

    with database.reader.connect() as conn:
        rows = queries.list_rows(
            conn, RECIPE_RUNS, filters={"feedstock_id": only, "status": None}, page=page
        )
        before = skipping_whole_rows(conn, page=page, feedstock_id=only)

    assert rows == before
    total = 40 if filtered else 50
    assert len(rows) == max(0, min(limit, total - offset))


def test_offset_skips_over_ids_and_renders_only_the_page(database: Database) -> None:
    """The skipped rows are read in a subquery of ids: no timestamp text is made for them."""
    stmt = queries._list_statement(
        RECIPE_RUNS, filters=(), order_by="id", descending=False, keyset=False, offset=True
    )
    sql = str(stmt.compile(dialect=database.engine.dialect))

    inner = sql[sql.index("IN (") :]
    assert "OFFSET" in inner
    assert "to_char" not in inner
    assert "to_char" in sql[: sql.index("IN (")]
