"""List paging: limit bounds, order_by validation, offset and keyset pages, the Link header."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api import paging
from pangeo_forge_orchestrator.db import queries
from pangeo_forge_orchestrator.db.engine import Database
from tests.api.conftest import Seed

LINK = re.compile(r'^<(?P<target>[^>]+)>; rel="next"$')


@pytest.fixture
def run_ids(seed: Seed) -> list[int]:
    """25 runs on one feedstock and 5 on another, recipe ids cycling through three names."""
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    other = seed.feedstock("pangeo-forge/other-feedstock")
    ids = []
    for i in range(25):
        ids.append(seed.run(bakery_id=bakery_id, feedstock_id=feedstock_id, recipe_id=f"r{i % 3}"))
    for _ in range(5):
        seed.run(bakery_id=bakery_id, feedstock_id=other)
    return ids


def next_link(response: object) -> str | None:
    header = response.headers.get("link")  # type: ignore[attr-defined]
    if header is None:
        return None
    match = LINK.match(header)
    assert match, header
    return match["target"]


def walk(client: TestClient, url: str) -> tuple[list[int], int]:
    """Follow Link headers to the end: every id seen, and how many pages it took."""
    seen: list[int] = []
    pages = 0
    target: str | None = url
    while target is not None:
        response = client.get(target)
        assert response.status_code == 200, response.text
        seen += [row["id"] for row in response.json()]
        pages += 1
        target = next_link(response)
    return seen, pages


@pytest.mark.parametrize("limit", ["0", "101", "-1", "many"])
def test_limit_outside_1_to_100_is_422(client: TestClient, limit: str) -> None:
    response = client.get(f"/recipe_runs/?limit={limit}")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(client: TestClient, run_ids: list[int], limit: int) -> None:
    rows = client.get(f"/recipe_runs/?limit={limit}").json()

    assert len(rows) == min(limit, 30)
    assert rows[0]["id"] == run_ids[0]


def test_negative_offset_is_422(client: TestClient) -> None:
    assert client.get("/recipe_runs/?offset=-1").status_code == 422


@pytest.mark.parametrize("path", ["/recipe_runs/", "/feedstocks/", "/bakeries/"])
@pytest.mark.parametrize("column", ["nonsense", "failure_detail", "id;drop table bakery"])
def test_order_by_an_unknown_column_is_422_listing_the_columns(
    client: TestClient, path: str, column: str
) -> None:
    response = client.get(path, params={"order_by": column})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "order_by"]
    assert "id, " in error["msg"]
    assert "failure_detail" not in error["msg"]


def test_sort_must_be_asc_or_desc(client: TestClient) -> None:
    assert client.get("/recipe_runs/?sort=sideways").status_code == 422


def test_order_by_a_column_breaks_ties_by_id(client: TestClient, run_ids: list[int]) -> None:
    rows = client.get("/recipe_runs/?order_by=recipe_id&sort=desc").json()

    keys = [(row["recipe_id"], row["id"]) for row in rows]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_keyset_pages_walk_every_row_once(
    client: TestClient, run_ids: list[int], sort: str
) -> None:
    seen, pages = walk(client, f"/recipe_runs/?limit=7&sort={sort}")

    everything = sorted(client.get("/recipe_runs/").json(), key=lambda row: row["id"])
    expected = [row["id"] for row in everything]
    assert seen == (expected if sort == "asc" else expected[::-1])
    assert pages == 5  # 30 rows, 7 a page: the last page is short and has no Link


def test_keyset_link_keeps_filters_and_uses_after_id(
    client: TestClient, run_ids: list[int]
) -> None:
    feedstock_id = client.get(f"/recipe_runs/{run_ids[0]}").json()["feedstock_id"]

    response = client.get(f"/recipe_runs/?feedstock_id={feedstock_id}&limit=10")

    target = next_link(response)
    assert target == f"/recipe_runs/?feedstock_id={feedstock_id}&limit=10&after_id={run_ids[9]}"
    assert walk(client, target)[0] == run_ids[10:]


def test_after_id_desc_returns_smaller_ids(client: TestClient, run_ids: list[int]) -> None:
    rows = client.get(f"/recipe_runs/?sort=desc&after_id={run_ids[3]}").json()

    assert [row["id"] for row in rows] == run_ids[:3][::-1]


def test_a_full_last_page_has_no_link(client: TestClient, run_ids: list[int]) -> None:
    response = client.get("/recipe_runs/?limit=30")

    assert len(response.json()) == 30
    assert next_link(response) is None


def test_offset_pages_by_other_columns_link_to_the_next_offset(
    client: TestClient, run_ids: list[int]
) -> None:
    seen, pages = walk(client, "/recipe_runs/?order_by=recipe_id&limit=8")

    assert sorted(seen) == sorted(set(seen))
    assert len(seen) == 30
    assert pages == 4


def test_offset_paging_by_id_continues_with_keyset_links(
    client: TestClient, run_ids: list[int]
) -> None:
    response = client.get("/recipe_runs/?offset=5&limit=5")

    assert [row["id"] for row in response.json()] == run_ids[5:10]
    assert next_link(response) == f"/recipe_runs/?limit=5&after_id={run_ids[9]}"


def test_after_id_with_another_order_is_422(client: TestClient) -> None:
    response = client.get("/recipe_runs/?order_by=started_at&after_id=3")

    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == paging.AFTER_ID_NEEDS_ID_ORDER


def test_after_id_with_offset_is_422(client: TestClient) -> None:
    response = client.get("/recipe_runs/?offset=2&after_id=3")

    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == paging.AFTER_ID_WITH_OFFSET


def test_bakeries_and_feedstocks_page_the_same_way(client: TestClient, seed: Seed) -> None:
    specs = [f"pangeo-forge/f{i}-feedstock" for i in range(5)]
    for spec in specs:
        seed.feedstock(spec)

    seen, pages = walk(client, "/feedstocks?limit=2&order_by=spec&sort=desc")

    assert pages == 3
    assert [client.get(f"/feedstocks/{i}").json()["spec"] for i in seen] == specs[::-1]


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ((), "pk_recipe_run"),
        (("feedstock_id",), "ix_recipe_run_feedstock_id_id"),
        (("bakery_id",), "ix_recipe_run_bakery_id_id"),
        (("status",), "ix_recipe_run_status_id"),
    ],
)
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_pages_can_be_read_from_an_index_without_sorting(
    database: Database, filters: tuple[str, ...], index: str, descending: bool
) -> None:
    """The statement the route runs has a plan that reads an index in order and stops early."""
    stmt = queries._list_statement(
        queries.RECIPE_RUNS,
        filters=filters,
        order_by="id",
        descending=descending,
        keyset=True,
        offset=False,
    )
    values = {"f_feedstock_id": 1, "f_bakery_id": 1, "f_status": "queued"}
    params = {f"f_{name}": values[f"f_{name}"] for name in filters} | {
        "after_id": 10,
        "limit": 101,
    }
    sql = str(stmt.compile(dialect=database.engine.dialect))
    with database.engine.connect() as conn:
        # An empty table's cheapest plan is anything; forbid the alternatives to an ordered index
        # scan, so the plan shows whether one exists. Sorting stays possible, only costly.
        for method in ("seqscan", "bitmapscan", "sort"):
            conn.execute(sa.text(f"SET enable_{method} = off"))
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params).all())

    assert index in plan, plan
    assert "Sort" not in plan, plan
