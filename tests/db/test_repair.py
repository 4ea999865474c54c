"""`pfo repair` on the original service's data: report what is wrong, settle only stuck runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pangeo_forge_orchestrator.cli import app
from pangeo_forge_orchestrator.core.repair import RepairReport, stuck_after_hours
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion
from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import make_engine
from pangeo_forge_orchestrator.db.repair import find_problems, settle_stuck_runs
from tests.conftest import create_database, drop_database
from tests.db.legacy_backup import restore_legacy_backup

DAY = stuck_after_hours(24)
# The runs the original left in_progress although they had concluded and ended.
CONCLUDED_BUT_IN_PROGRESS = {51, 367, 399}
DUPLICATES = [(9, 10), (30, 31, 32, 33, 34), (36, 38, 39, 40, 41, 43), (1170, 1172), (1417, 1421)]


@pytest.fixture(scope="module")
def legacy_template(pg_server: EmbeddedPostgres, admin_engine: sa.Engine) -> Iterator[str]:
    """The backup restored and upgraded once; tests work on copies of it."""
    name = restore_legacy_backup(pg_server, admin_engine)
    migrate.upgrade(pg_server.url(name))
    yield name
    drop_database(admin_engine, name)


@pytest.fixture
def legacy_url(
    legacy_template: str, pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> Iterator[str]:
    name = create_database(admin_engine, template=legacy_template)
    yield pg_server.url(name)
    drop_database(admin_engine, name)


@pytest.fixture
def legacy_engine(legacy_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(legacy_url)
    yield engine
    engine.dispose()


def report(engine: sa.Engine, *, now: datetime | None = None) -> RepairReport:
    with Session(engine) as session:
        return find_problems(session, stuck_after=DAY, now=now or datetime.now(UTC))


def run_cli(url: str, *args: str) -> str:
    result = CliRunner().invoke(
        app, list(args), env={"DATABASE_URL": url, "PFO_LOG_FORMAT": "json"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_report_on_the_backup_names_the_real_counts(legacy_engine: sa.Engine) -> None:
    found = report(legacy_engine)

    assert [group.run_ids for group in found.duplicate_groups] == DUPLICATES
    assert found.duplicate_runs == 17
    assert found.duplicate_groups[2].feedstock_spec == (
        "pangeo-forge/noaa-coastwatch-geopolar-sst-feedstock"
    )
    assert len(found.stuck_run_ids) == 53
    assert set(found.stuck_run_ids) >= CONCLUDED_BUT_IN_PROGRESS
    assert len(found.completed_without_completed_at_ids) == 35
    assert found.json_message_ids == ()


def test_only_runs_older_than_the_age_are_stuck(legacy_engine: sa.Engine) -> None:
    # The last run the original left in_progress started at 2023-01-20 21:21:08 UTC.
    the_next_morning = datetime(2023, 1, 21, 9, 0, tzinfo=UTC)

    assert len(report(legacy_engine, now=the_next_morning).stuck_run_ids) == 52
    with Session(legacy_engine) as session:
        an_hour = find_problems(session, stuck_after=timedelta(hours=1), now=the_next_morning)
    assert len(an_hour.stuck_run_ids) == 53


def test_apply_settles_stuck_runs_and_keeps_everything_else(legacy_engine: sa.Engine) -> None:
    before = report(legacy_engine)
    counters_before = counters(legacy_engine)
    now = datetime.now(UTC)

    with Session(legacy_engine) as session, session.begin():
        settlements = settle_stuck_runs(session, stuck_after=DAY, now=now)

    after = report(legacy_engine)
    assert sorted(s.id for s in settlements) == list(before.stuck_run_ids)
    assert after.stuck_run_ids == ()
    assert after.duplicate_groups == before.duplicate_groups
    assert after.completed_without_completed_at_ids == before.completed_without_completed_at_ids
    counters_after = counters(legacy_engine)
    # The row counts hold; the answer cache's change counter saw one transaction.
    assert counters_after.pop("api_changes") == counters_before.pop("api_changes") + 1
    assert counters_after == counters_before
    with legacy_engine.connect() as conn:
        runs = {
            row.id: row
            for row in conn.execute(
                sa.text(
                    "SELECT id, status, conclusion, completed_at, message FROM recipe_run "
                    "WHERE id = ANY(:ids)"
                ),
                {"ids": list(before.stuck_run_ids)},
            )
        }
        readable = conn.execute(
            sa.text("SELECT count(*) FROM recipe_run WHERE id = ANY(:ids)"),
            {"ids": [run_id for group in DUPLICATES for run_id in group]},
        ).scalar_one()
    assert {run.status for run in runs.values()} == {"completed"}
    timed_out = {i for i, run in runs.items() if run.conclusion == RunConclusion.TIMED_OUT}
    assert timed_out == set(before.stuck_run_ids) - CONCLUDED_BUT_IN_PROGRESS
    assert all(runs[i].completed_at == now for i in timed_out)
    assert all(runs[i].message.startswith("Marked timed out by pfo repair") for i in timed_out)
    assert runs[51].conclusion == "failure"
    assert runs[51].completed_at == datetime(2022, 4, 22, 18, 8, 36, tzinfo=UTC)
    assert runs[51].message.startswith("Marked completed by pfo repair")
    assert readable == 17

    with Session(legacy_engine) as session, session.begin():
        assert settle_stuck_runs(session, stuck_after=DAY, now=now) == []


def test_repair_prints_counts_before_and_after(legacy_url: str) -> None:
    dry_run = run_cli(legacy_url, "repair")
    applied = run_cli(legacy_url, "repair", "--apply")

    assert "runs in_progress for more than 24h: 53" in dry_run
    assert "Nothing changed. Run `pfo repair --apply` to settle the 53 stuck run(s)." in dry_run
    assert "after:" not in dry_run
    before, after = applied.split("after:")
    assert "duplicate (feedstock, head_sha, recipe_id) groups: 5 (17 runs)" in before
    assert "runs in_progress for more than 24h: 53" in before
    assert "Settled 50 run(s) as timed_out and 3 whose conclusion was recorded." in before
    assert "runs in_progress for more than 24h: 0" in after
    assert "duplicate (feedstock, head_sha, recipe_id) groups: 5 (17 runs)" in after
    assert "completed runs without completed_at: 35" in after


def test_repair_refuses_an_age_that_is_not_positive(legacy_url: str) -> None:
    result = CliRunner().invoke(
        app, ["repair", "--stuck-after", "0"], env={"DATABASE_URL": legacy_url}
    )

    assert result.exit_code == 2
    assert "positive number of hours" in result.output


def test_migrate_points_at_repair_when_the_data_needs_it(
    pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> None:
    name = restore_legacy_backup(pg_server, admin_engine)
    try:
        output = run_cli(pg_server.url(name), "migrate")
    finally:
        drop_database(admin_engine, name)

    assert f"database at migration {migrate.head_revision()}" in output
    assert "pfo repair" in output
    assert "runs in_progress for more than 24h: 53" in output


def test_migrate_is_quiet_on_clean_data(empty_database_url: str) -> None:
    output = run_cli(empty_database_url, "migrate")

    assert output.strip() == f"database at migration {migrate.head_revision()}"
    assert "pfo repair" not in output


def test_a_recent_run_is_not_stuck(session: Session) -> None:
    bakery_id = session.execute(
        sa.text(
            "INSERT INTO bakery (name, region, description, kind) "
            "VALUES ('repair-b', 'r', 'd', 'local') RETURNING id"
        )
    ).scalar_one()
    feedstock_id = session.execute(
        sa.text(
            "INSERT INTO feedstock (spec, provider) "
            "VALUES ('o/repair-feedstock', 'github') RETURNING id"
        )
    ).scalar_one()
    now = datetime.now(UTC)
    ids = [
        session.execute(
            sa.text(
                "INSERT INTO recipe_run (recipe_id, bakery_id, feedstock_id, head_sha, status, "
                "is_test, started_at) VALUES (:r, :b, :f, 'abc', 'in_progress', true, :at) "
                "RETURNING id"
            ),
            {
                "r": f"r{hours}",
                "b": bakery_id,
                "f": feedstock_id,
                "at": now - timedelta(hours=hours),
            },
        ).scalar_one()
        for hours in (2, 30)
    ]

    found = find_problems(session, stuck_after=DAY, now=now)

    assert ids[1] in found.stuck_run_ids
    assert ids[0] not in found.stuck_run_ids


def counters(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT name, value FROM stat_counter")).all())
