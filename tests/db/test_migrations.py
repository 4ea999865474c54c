"""The migration history is the schema's only author; it must agree with the tables exactly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.engine import make_engine
from tests.db.schema import schema_differences


def test_upgrade_on_empty_database_matches_the_tables(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)

    assert schema_differences(empty_database_url) == []


def test_downgrade_to_base_then_upgrade_again(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert tables == set()

    migrate.upgrade(empty_database_url)

    assert schema_differences(empty_database_url) == []


def test_downgrade_refuses_when_data_would_be_lost(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO feedstock (spec, provider) VALUES ('o/a-feedstock', 'github')")
        )
    engine.dispose()

    with pytest.raises(RuntimeError, match="refusing to downgrade"):
        migrate.downgrade(empty_database_url, "0499cef6b57a")


def test_counters_follow_inserts_updates_and_deletes(connection: sa.Connection) -> None:
    def counters() -> dict[str, int]:
        rows = connection.execute(sa.text("SELECT name, value FROM stat_counter")).all()
        return {name: value for name, value in rows}

    before = counters()
    bakery_id = connection.execute(
        sa.text(
            "INSERT INTO bakery (name, region, description, kind) "
            "VALUES ('b', 'r', 'd', 'local') RETURNING id"
        )
    ).scalar_one()
    feedstock_id = connection.execute(
        sa.text(
            "INSERT INTO feedstock (spec, provider) VALUES ('o/x-feedstock', 'github') RETURNING id"
        )
    ).scalar_one()
    connection.execute(
        sa.text(
            "INSERT INTO recipe_run "
            "(recipe_id, bakery_id, feedstock_id, head_sha, status, is_test) "
            "SELECT 'r' || g, :b, :f, 'abc', 'queued', g % 2 = 0 FROM generate_series(1, 4) g"
        ),
        {"b": bakery_id, "f": feedstock_id},
    )
    connection.execute(
        sa.text(
            "UPDATE recipe_run SET status = 'completed', conclusion = 'success', "
            "dataset_public_url = 'file:///x' WHERE recipe_id IN ('r1', 'r2', 'r3')"
        )
    )
    after_update = counters()
    connection.execute(sa.text("DELETE FROM recipe_run WHERE recipe_id = 'r1'"))
    after_delete = counters()

    assert after_update["bakeries"] == before["bakeries"] + 1
    assert after_update["feedstocks"] == before["feedstocks"] + 1
    assert after_update["recipe_runs"] == before["recipe_runs"] + 4
    assert after_update["datasets"] == before["datasets"] + 3
    assert after_update["production_datasets"] == before["production_datasets"] + 2  # r1, r3
    assert after_delete["recipe_runs"] == before["recipe_runs"] + 3
    assert after_delete["production_datasets"] == before["production_datasets"] + 1


def test_the_comparison_sees_a_drifted_schema(empty_database_url: str) -> None:
    """Guards the guard: a column the migrations never made must show up as a difference."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE recipe_run ADD COLUMN stray integer"))
        conn.execute(sa.text("ALTER TABLE bakery ALTER COLUMN region DROP NOT NULL"))
    engine.dispose()

    differences = [str(d) for d in schema_differences(empty_database_url)]

    assert any("stray" in d for d in differences)
    assert any("region" in d for d in differences)
