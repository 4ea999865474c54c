"""The datasets of a feedstock: completed, successful runs that left a dataset URL."""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus
from pangeo_forge_orchestrator.db.queries import RECIPE_RUNS, dicts


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


@functools.lru_cache(maxsize=16)
def _datasets_statement(scope: DatasetScope, *, keyset: bool, limited: bool) -> sa.Select[Any]:
    table = RECIPE_RUNS.table
    stmt = (
        sa.select(*RECIPE_RUNS.selected(DATASET_COLUMNS))
        .where(
            table.c.feedstock_id == sa.bindparam("feedstock_id"),
            # The same rule as the `datasets` counter's trigger (recipe_run_is_dataset).
            table.c.status == RunStatus.COMPLETED,
            table.c.conclusion == RunConclusion.SUCCESS,
            table.c.dataset_public_url.is_not(None),
        )
        .order_by(table.c.id.desc())
    )
    if scope is not DatasetScope.ALL:
        stmt = stmt.where(table.c.is_test.is_(scope is DatasetScope.TEST))
    if keyset:
        stmt = stmt.where(table.c.id < sa.bindparam("after_id", type_=sa.BigInteger))
    if limited:
        stmt = stmt.limit(sa.bindparam("limit", type_=sa.Integer))
    return stmt


def datasets_of_feedstock(
    conn: sa.Connection,
    *,
    feedstock_id: int,
    scope: DatasetScope,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Completed, successful runs of a feedstock that left a dataset URL, newest first.

    `after_id` keeps the datasets older than that id (keyset paging, newest first);
    `limit=None` returns all of them.
    """
    stmt = _datasets_statement(scope, keyset=after_id is not None, limited=limit is not None)
    params = {"feedstock_id": feedstock_id, "after_id": after_id, "limit": limit}
    return dicts(conn.execute(stmt, params))
