"""The answer cache: kept answers are served only while no write has committed since.

Unit tests of the bounded store, then the counter's triggers on a real database, then the
routes: every kind of write (the API's, the worker's plain SQL, a truncate) shows in the next
read, and uncommitted or rolled-back writes do not move the counter.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import Response
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.api.answer_cache import AnswerCache
from pangeo_forge_orchestrator.db import counters, queries
from pangeo_forge_orchestrator.db.engine import Database
from tests.api.conftest import Seed


def json(body: bytes, status: int = 200, **headers: str) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def cache_of(client: TestClient) -> AnswerCache:
    cache: AnswerCache = client.app.state.answer_cache  # type: ignore[attr-defined]
    return cache


def changes(database: Database) -> int:
    with database.engine.connect() as conn:
        return counters.api_changes(conn)


# The store.


def test_an_answer_is_served_again_at_the_same_version_only() -> None:
    cache = AnswerCache()
    assert cache.get("/a?", 1) is None
    cache.put("/a?", 1, json(b"[1]", Link='</a?after_id=1>; rel="next"'))

    answer = cache.get("/a?", 1)
    assert answer is not None
    response = answer.response()
    assert response.body == b"[1]"
    assert response.headers["link"] == '</a?after_id=1>; rel="next"'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == "3"

    assert cache.get("/a?", 2) is None
    assert cache.size == (0, 0)


def test_an_answer_computed_before_a_seen_change_is_not_kept() -> None:
    cache = AnswerCache()
    assert cache.get("/a?", 1) is None
    assert cache.get("/b?", 2) is None  # another request saw a newer counter meanwhile
    cache.put("/a?", 1, json(b"old"))
    assert cache.get("/a?", 1) is None
    assert cache.get("/a?", 2) is None
    assert cache.size == (0, 0)


def test_errors_and_oversized_answers_are_not_kept() -> None:
    cache = AnswerCache(max_entry_bytes=10)
    cache.get("/x?", 1)
    cache.put("/missing?", 1, json(b'{"detail":"no"}', status=404))
    cache.put("/big?", 1, json(b"x" * 11))
    cache.put("/small?", 1, json(b"x" * 10))
    assert cache.get("/missing?", 1) is None
    assert cache.get("/big?", 1) is None
    assert cache.get("/small?", 1) is not None


def test_the_oldest_answers_go_first_past_the_byte_bound() -> None:
    cache = AnswerCache(max_bytes=30, max_entry_bytes=30)
    cache.get("/", 1)
    for name in "abc":
        cache.put(f"/{name}?", 1, json(b"x" * 10))
    assert cache.get("/a?", 1) is not None  # now the most recently used
    cache.put("/d?", 1, json(b"x" * 10))

    assert cache.size == (3, 30)
    assert cache.get("/b?", 1) is None
    assert all(cache.get(f"/{name}?", 1) is not None for name in "acd")


# The counter.


def test_the_counter_moves_once_per_committed_transaction(database: Database, seed: Seed) -> None:
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    before = changes(database)

    with database.engine.connect() as conn:
        with conn.begin():
            run_id = seed_run_in(conn, bakery_id, feedstock_id)
            conn.execute(
                sa.text("UPDATE recipe_run SET message = 'x' WHERE id = :id"), {"id": run_id}
            )
            conn.execute(
                sa.text("UPDATE feedstock SET spec = spec WHERE id = :id"), {"id": feedstock_id}
            )
            # Not yet: the counter moves with the commit, so no reader sees it before the rows.
            assert changes(database) == before
        assert changes(database) == before + 1

        trans = conn.begin()
        seed_run_in(conn, bakery_id, feedstock_id)
        trans.rollback()
        assert changes(database) == before + 1

        with conn.begin():
            conn.execute(sa.text("DELETE FROM recipe_run WHERE id = :id"), {"id": run_id})
        assert changes(database) == before + 2

        with conn.begin():
            conn.execute(sa.text("UPDATE bakery SET region = 'us-east1'"))
        assert changes(database) == before + 3

        with conn.begin():
            conn.execute(sa.text("TRUNCATE recipe_run"))
        assert changes(database) == before + 4


def test_writes_elsewhere_leave_the_counter_alone(database: Database, seed: Seed) -> None:
    before = changes(database)
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE stat_counter SET value = value WHERE name = 'bakeries'"))
        conn.execute(sa.text("SELECT count(*) FROM recipe_run"))
    assert changes(database) == before


def seed_run_in(conn: sa.Connection, bakery_id: int, feedstock_id: int) -> int:
    table = queries.RECIPE_RUNS.table
    values = {
        "recipe_id": "gpcp",
        "bakery_id": bakery_id,
        "feedstock_id": feedstock_id,
        "head_sha": "0" * 40,
        "version": "",
        "status": "queued",
        "is_test": True,
    }
    return int(conn.execute(sa.insert(table).values(values).returning(table.c.id)).scalar_one())


# The routes.


def test_a_repeated_read_is_served_from_the_cache(client: TestClient, seed: Seed) -> None:
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    seed.runs(3, bakery_id=bakery_id, feedstock_id=feedstock_id)
    cache = cache_of(client)

    first = client.get("/recipe_runs/?limit=2")
    hits = cache.hits
    second = client.get("/recipe_runs/?limit=2")

    assert cache.hits == hits + 1
    assert second.status_code == 200
    assert second.content == first.content
    assert second.headers["link"] == first.headers["link"]
    assert second.headers["content-type"] == "application/json"


def test_every_write_shows_in_the_next_read(
    client: TestClient, database: Database, seed: Seed, admin: dict[str, str]
) -> None:
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    reads = (
        "/recipe_runs/",
        f"/feedstocks/{feedstock_id}",
        f"/bakeries/{bakery_id}",
        f"/feedstocks/{feedstock_id}/datasets",
    )
    for path in reads:
        client.get(path)

    # Through the API.
    created = client.post(
        "/recipe_runs/",
        headers=admin,
        json={
            "recipe_id": "gpcp",
            "bakery_id": bakery_id,
            "feedstock_id": feedstock_id,
            "head_sha": "0" * 40,
            "version": "",
            "status": "completed",
            "conclusion": "success",
            "is_test": False,
            "dataset_public_url": "gs://bucket/gpcp.zarr",
            "dataset_type": "zarr",
        },
    ).json()
    assert [run["id"] for run in client.get("/recipe_runs/").json()] == [created["id"]]
    assert [
        run["id"] for run in client.get(f"/feedstocks/{feedstock_id}").json()["recipe_runs"]
    ] == [created["id"]]
    assert [run["id"] for run in client.get(f"/bakeries/{bakery_id}").json()["recipe_runs"]] == [
        created["id"]
    ]
    assert len(client.get(f"/feedstocks/{feedstock_id}/datasets").json()) == 1

    # As the worker writes: plain SQL in its own transaction, another process for all we know.
    with database.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE recipe_run SET dataset_public_url = NULL WHERE id = :id"),
            {"id": created["id"]},
        )
    assert client.get(f"/feedstocks/{feedstock_id}/datasets").json() == []
    assert client.get(f"/recipe_runs/{created['id']}").json()["dataset_public_url"] is None

    # A related row: the run's nested feedstock.
    with database.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE feedstock SET spec = 'pangeo-forge/renamed-feedstock' WHERE id = :id"),
            {"id": feedstock_id},
        )
    nested = client.get(f"/recipe_runs/{created['id']}").json()["feedstock"]
    assert nested["spec"] == "pangeo-forge/renamed-feedstock"


def test_an_uncommitted_write_is_not_shown_nor_kept(
    client: TestClient, database: Database, seed: Seed
) -> None:
    bakery_id, feedstock_id = seed.bakery(), seed.feedstock()
    assert client.get("/recipe_runs/").json() == []
    with database.engine.connect() as conn:
        trans = conn.begin()
        seed_run_in(conn, bakery_id, feedstock_id)
        assert client.get("/recipe_runs/").json() == []
        trans.commit()
    assert len(client.get("/recipe_runs/").json()) == 1


def test_not_found_is_computed_every_time(client: TestClient, seed: Seed) -> None:
    cache = cache_of(client)
    assert client.get("/recipe_runs/999").status_code == 404
    assert client.get("/recipe_runs/999").status_code == 404
    assert cache.size == (0, 0)


def test_without_the_counter_reads_still_answer(
    client: TestClient, database: Database, seed: Seed
) -> None:
    seed.bakery()
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM stat_counter WHERE name = 'api_changes'"))
    assert len(client.get("/bakeries/").json()) == 1
    assert len(client.get("/bakeries/").json()) == 1
    assert cache_of(client).size == (0, 0)
