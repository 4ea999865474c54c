"""`pfo migrate` on the original service's database: same rows, same ids, typed at last."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import make_engine
from pangeo_forge_orchestrator.db.legacy import RestoreError, restorable_entries, restore_dump
from tests.conftest import create_database, drop_database, shared_path
from tests.db.legacy_backup import (
    LEGACY_DUMP,
    LEGACY_REVISION,
    Original,
    read_original,
    read_rows,
    restore_legacy_backup,
)
from tests.db.schema import schema_differences

# Keys the original wrote into `message`, and the typed column each one moves to.
MESSAGE_KEYS = {
    "deployment_id": "github_deployment_id",
    "job_id": "bakery_job_id",
    "flow_id": "bakery_job_id",
    "job_name": "bakery_job_name",
    "environment_url": "environment_url",
    "trace": "failure_detail",
}
TYPED_COLUMNS = sorted(set(MESSAGE_KEYS.values()))


@dataclass(frozen=True)
class Upgraded:
    url: str
    name: str
    original: Original


@pytest.fixture(scope="module")
def upgraded(pg_server: EmbeddedPostgres, admin_engine: sa.Engine) -> Iterator[Upgraded]:
    """The backup restored once, read, then upgraded by the migrations (`pfo migrate`)."""
    name = restore_legacy_backup(pg_server, admin_engine)
    url = pg_server.url(name)
    original = read_original(url)
    migrate.upgrade(url)
    yield Upgraded(url=url, name=name, original=original)
    drop_database(admin_engine, name)


@pytest.fixture
def upgraded_conn(upgraded: Upgraded) -> Iterator[sa.Connection]:
    engine = make_engine(upgraded.url)
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()
    engine.dispose()


def expected_typed_columns(message: str | None) -> dict[str, Any] | None:
    """The typed columns a JSON message fills, parsed here independently of the migration."""
    try:
        doc = json.loads(message or "")
    except ValueError:
        return None
    assert isinstance(doc, dict)
    assert set(doc) <= set(MESSAGE_KEYS), f"a message shape this test does not know: {doc}"
    typed: dict[str, Any] = dict.fromkeys(TYPED_COLUMNS)
    for key, value in doc.items():
        typed[MESSAGE_KEYS[key]] = value
    return typed


def production_datasets(runs: list[dict[str, Any]]) -> dict[int, set[tuple[Any, ...]]]:
    """What /feedstocks/{id}/datasets?type=production lists, per feedstock."""
    datasets: dict[int, set[tuple[Any, ...]]] = defaultdict(set)
    for run in runs:
        if (
            run["status"] == "completed"
            and run["conclusion"] == "success"
            and not run["is_test"]
            and run["dataset_public_url"] is not None
        ):
            datasets[run["feedstock_id"]].add(
                (run["id"], run["recipe_id"], run["dataset_type"], run["dataset_public_url"])
            )
    return dict(datasets)


def test_the_backup_is_at_the_original_revision_and_ends_at_head(
    upgraded: Upgraded, upgraded_conn: sa.Connection
) -> None:
    assert upgraded.original.revision == LEGACY_REVISION
    assert migrate.current_revision(upgraded_conn) == migrate.head_revision()


def test_rows_keep_their_ids(upgraded: Upgraded, upgraded_conn: sa.Connection) -> None:
    original = upgraded.original
    bakeries = read_rows(upgraded_conn, "SELECT * FROM bakery")
    feedstocks = read_rows(upgraded_conn, "SELECT * FROM feedstock")
    run_ids = set(upgraded_conn.execute(sa.text("SELECT id FROM recipe_run")).scalars())
    tables = set(sa.inspect(upgraded_conn).get_table_names())

    assert (len(bakeries), len(feedstocks), len(run_ids)) == (1, 29, 1416)
    assert feedstocks[1]["spec"] == "pangeo-forge/staged-recipes"
    assert {i: f["spec"] for i, f in feedstocks.items()} == {
        i: f["spec"] for i, f in original.feedstocks.items()
    }
    assert {i: (b["name"], b["region"], b["description"]) for i, b in bakeries.items()} == {
        i: (b["name"], b["region"], b["description"]) for i, b in original.bakeries.items()
    }
    assert bakeries[1]["kind"] == "dataflow"
    assert run_ids == set(original.runs)
    assert "reciperun" not in tables


def test_runs_keep_their_fields(upgraded: Upgraded, upgraded_conn: sa.Connection) -> None:
    runs = read_rows(upgraded_conn, "SELECT * FROM recipe_run")
    kept = (
        "recipe_id",
        "bakery_id",
        "feedstock_id",
        "head_sha",
        "version",
        "status",
        "conclusion",
        "is_test",
        "dataset_type",
        "dataset_public_url",
    )

    changed = [
        (run_id, field)
        for run_id, before in upgraded.original.runs.items()
        for field in kept
        if runs[run_id][field] != before[field]
    ]

    assert changed == []


def test_production_datasets_of_each_feedstock_are_unchanged(
    upgraded: Upgraded, upgraded_conn: sa.Connection
) -> None:
    before = production_datasets(list(upgraded.original.runs.values()))
    after_rows = upgraded_conn.execute(
        sa.text(
            "SELECT id, recipe_id, feedstock_id, dataset_type::text, dataset_public_url, "
            "status::text, conclusion::text, is_test FROM recipe_run"
        )
    ).mappings()

    after = production_datasets([dict(row) for row in after_rows])

    assert sum(map(len, before.values())) == 42
    assert len(before) > 5
    assert after == before


def test_timestamps_are_the_same_instants_in_utc(
    upgraded: Upgraded, upgraded_conn: sa.Connection
) -> None:
    runs = read_rows(upgraded_conn, "SELECT id, started_at, completed_at FROM recipe_run")

    for run_id, before in upgraded.original.runs.items():
        for field in ("started_at", "completed_at"):
            naive, aware = before[field], runs[run_id][field]
            if naive is None:
                assert aware is None
                continue
            assert naive.tzinfo is None
            assert aware.utcoffset().total_seconds() == 0
            assert aware == naive.replace(tzinfo=UTC), (run_id, field)
    assert runs[1]["started_at"] == datetime(2022, 3, 3, 2, 29, 54, tzinfo=UTC)


def test_message_json_moves_into_typed_columns(
    upgraded: Upgraded, upgraded_conn: sa.Connection
) -> None:
    columns = ", ".join(["id", "message", *TYPED_COLUMNS])
    runs = read_rows(upgraded_conn, f"SELECT {columns} FROM recipe_run")
    expected = {
        run_id: typed
        for run_id, run in upgraded.original.runs.items()
        if (typed := expected_typed_columns(run["message"])) is not None
    }

    assert len(expected) == 388
    for run_id, typed in expected.items():
        assert {c: runs[run_id][c] for c in TYPED_COLUMNS} == typed, run_id
        assert runs[run_id]["message"] is None, run_id
    filled_before = {
        column: sum(typed[column] is not None for typed in expected.values())
        for column in TYPED_COLUMNS
    }
    filled_after = {
        column: sum(run[column] is not None for run in runs.values()) for column in TYPED_COLUMNS
    }
    assert (
        filled_after
        == filled_before
        == {
            "bakery_job_id": 340,
            "bakery_job_name": 36,
            "environment_url": 43,
            "failure_detail": 3,
            "github_deployment_id": 233,
        }
    )
    assert runs[1481]["failure_detail"].startswith("Traceback (most recent call last):")
    human = {run_id: run["message"] for run_id, run in runs.items() if run["message"]}
    assert human == {
        run_id: run["message"]
        for run_id, run in upgraded.original.runs.items()
        if run["message"] and run_id not in expected
    }
    assert len(human) == 1


def test_stat_counters_equal_the_real_counts(
    upgraded: Upgraded, upgraded_conn: sa.Connection
) -> None:
    counters: dict[str, int] = dict(
        upgraded_conn.execute(sa.text("SELECT name, value FROM stat_counter")).all()
    )
    all_datasets = production_datasets(
        [{**run, "is_test": False} for run in upgraded.original.runs.values()]
    )

    assert counters == {
        "bakeries": 1,
        "feedstocks": 29,
        "recipe_runs": 1416,
        "datasets": sum(map(len, all_datasets.values())),
        "production_datasets": 42,
        # The adopted rows were copied before the answer cache's counter existed.
        "api_changes": 0,
    }
    assert counters["datasets"] == 141


def test_new_rows_get_ids_after_the_old_maximum(
    upgraded: Upgraded, upgraded_conn: sa.Connection
) -> None:
    def insert(sql: str, **params: Any) -> int:
        return int(upgraded_conn.execute(sa.text(sql + " RETURNING id"), params).scalar_one())

    bakery_id = insert(
        "INSERT INTO bakery (name, region, description, kind) VALUES ('new', 'r', 'd', 'local')"
    )
    feedstock_id = insert(
        "INSERT INTO feedstock (spec, provider) VALUES ('pangeo-forge/new-feedstock', 'github')"
    )
    run_id = insert(
        "INSERT INTO recipe_run (recipe_id, bakery_id, feedstock_id, head_sha, status, is_test) "
        "VALUES ('r', :b, :f, 'abc', 'queued', true)",
        b=bakery_id,
        f=feedstock_id,
    )

    assert max(upgraded.original.runs) == 1568
    assert bakery_id > max(upgraded.original.bakeries)
    assert feedstock_id > max(upgraded.original.feedstocks) == 95
    assert run_id > 1568


def test_upgraded_backup_has_no_schema_difference_from_the_tables(upgraded: Upgraded) -> None:
    assert schema_differences(upgraded.url) == []


def test_downgrade_refuses_to_drop_the_adopted_data(
    upgraded: Upgraded, pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> None:
    name = create_database(admin_engine, template=upgraded.name)
    url = pg_server.url(name)
    try:
        with pytest.raises(RuntimeError, match=r"refusing to downgrade .*recipe_run: 1416"):
            migrate.downgrade(url, LEGACY_REVISION)
        engine = make_engine(url)
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
            assert conn.execute(sa.text("SELECT count(*) FROM recipe_run")).scalar_one() == 1416
        engine.dispose()
    finally:
        drop_database(admin_engine, name)


# A database at the original's revision, filled by hand with what a backup might hold.


@pytest.fixture
def original_schema(empty_database_url: str) -> Iterator[sa.Engine]:
    migrate.upgrade(empty_database_url, LEGACY_REVISION)
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO bakery (id, region, name, description) VALUES (1, 'r', 'b', 'd');"
                "INSERT INTO feedstock (id, spec, provider) VALUES (1, 'o/a-feedstock', 'github')"
            )
        )
    yield engine
    engine.dispose()


def insert_runs(engine: sa.Engine, runs: list[dict[str, Any]]) -> None:
    defaults = {
        "recipe_id": "r",
        "bakery_id": 1,
        "feedstock_id": 1,
        "head_sha": "abc",
        "version": "",
        "started_at": datetime(2022, 9, 19, 16, 31, 43),
        "status": "queued",
        "conclusion": None,
        "is_test": True,
        "dataset_type": "zarr",
        "message": None,
    }
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO reciperun (id, recipe_id, bakery_id, feedstock_id, head_sha, version, "
                "started_at, status, conclusion, is_test, dataset_type, message) VALUES (:id, "
                ":recipe_id, :bakery_id, :feedstock_id, :head_sha, :version, :started_at, "
                ":status, :conclusion, :is_test, :dataset_type, :message)"
            ),
            [defaults | run for run in runs],
        )


# message -> (github_deployment_id, bakery_job_id, bakery_job_name, environment_url,
#             failure_detail, message after the upgrade)
MESSAGES: list[tuple[str | None, tuple[Any, ...]]] = [
    (None, (None, None, None, None, None, None)),
    ("plain words", (None, None, None, None, None, "plain words")),
    ("{not json", (None, None, None, None, None, "{not json")),
    ('{"a": ', (None, None, None, None, None, '{"a": ')),
    ('{"job_id": "\\u0000"}', (None, None, None, None, None, '{"job_id": "\\u0000"}')),
    ("{}", (None, None, None, None, None, None)),
    ('{"deployment_id": 7, "job_id": null}', (7, None, None, None, None, None)),
    ('  {"deployment_id": "42"}', (42, None, None, None, None, None)),
    ('{"flow_id": "f-1"}', (None, "f-1", None, None, None, None)),
    (
        '{"job_name": "n", "job_id": "j", "trace": "Traceback ...", "environment_url": "u"}',
        (None, "j", "n", "u", "Traceback ...", None),
    ),
    # Whatever finds no column keeps the whole message, so nothing is lost.
    ('{"deployment_id": "abc"}', (None, None, None, None, None, '{"deployment_id": "abc"}')),
    ('{"deployment_id": 12.5}', (None, None, None, None, None, '{"deployment_id": 12.5}')),
    (
        '{"deployment_id": 99999999999999999999}',
        (None, None, None, None, None, '{"deployment_id": 99999999999999999999}'),
    ),
    ('{"environment_url": 5}', (None, None, None, None, None, '{"environment_url": 5}')),
    # Keys that do find a column still fill it.
    (
        '{"deployment_id": 12, "note": "x"}',
        (12, None, None, None, None, '{"deployment_id": 12, "note": "x"}'),
    ),
    (
        '{"flow_id": "f", "job_id": "j"}',
        (None, "j", None, None, None, '{"flow_id": "f", "job_id": "j"}'),
    ),
]


def test_messages_are_parsed_safely(original_schema: sa.Engine) -> None:
    insert_runs(
        original_schema,
        [{"id": i, "message": message} for i, (message, _) in enumerate(MESSAGES, start=1)],
    )

    migrate.upgrade(original_schema.url.render_as_string(hide_password=False))

    with original_schema.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, github_deployment_id, bakery_job_id, bakery_job_name, "
                "environment_url, failure_detail, message FROM recipe_run ORDER BY id"
            )
        ).all()
    assert [(MESSAGES[row[0] - 1][0], tuple(row[1:])) for row in rows] == MESSAGES


def test_values_outside_our_vocabularies_stop_the_upgrade_with_a_report(
    original_schema: sa.Engine,
) -> None:
    url = original_schema.url.render_as_string(hide_password=False)
    with original_schema.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO feedstock (id, spec, provider) VALUES "
                "(2, 'o/b-feedstock', 'gitlab'), (3, 'o/a-feedstock', 'github')"
            )
        )
    insert_runs(
        original_schema,
        [{"id": i, "status": "Completed"} for i in range(1, 13)]
        + [{"id": 13, "status": "completed", "conclusion": "errored"}]
        + [{"id": 14, "dataset_type": "netcdf"}],
    )

    with pytest.raises(RuntimeError) as refused:
        migrate.upgrade(url)

    report = str(refused.value)
    problems = [line.strip() for line in report.splitlines()[1:-1]]
    assert problems == [
        "reciperun.status = 'Completed' is not one of queued, in_progress, completed: "
        "12 row(s), id 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more",
        "reciperun.conclusion = 'errored' is not one of action_required, cancelled, failure, "
        "neutral, success, skipped, stale, timed_out: 1 row(s), id 13",
        "reciperun.dataset_type = 'netcdf' is not one of zarr, kerchunk, parquet: 1 row(s), id 14",
        "feedstock.provider = 'gitlab' is not one of github: 1 row(s), id 2",
        "feedstock.spec = 'o/a-feedstock' must be unique but is shared by 2 rows: id 1, 3",
    ]
    assert "Nothing was changed" in report
    with original_schema.connect() as conn:
        assert migrate.current_revision(conn) == LEGACY_REVISION
        assert conn.execute(sa.text("SELECT count(*) FROM reciperun")).scalar_one() == 14
        assert conn.execute(sa.text("SELECT to_regtype('run_status')")).scalar_one() is None

    # The documented way out: map the values, then migrate again.
    with original_schema.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE reciperun SET status = lower(status);"
                "UPDATE reciperun SET conclusion = 'failure' WHERE conclusion = 'errored';"
                "UPDATE reciperun SET dataset_type = NULL WHERE dataset_type = 'netcdf';"
                "UPDATE feedstock SET provider = 'github' WHERE provider = 'gitlab';"
                "UPDATE reciperun SET feedstock_id = 1 WHERE feedstock_id = 3;"
                "DELETE FROM feedstock WHERE id = 3"
            )
        )
    migrate.upgrade(url)
    with original_schema.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()


def test_the_restore_leaves_out_only_the_extensions_it_is_told_to() -> None:
    toc = "\n".join(
        [
            ";     dbname: d412snkmvpaue3",
            "2; 3079 16401 EXTENSION - pg_stat_statements ",
            '4022; 0 0 COMMENT - EXTENSION "pg_stat_statements" ',
            "207; 1259 16433 TABLE public bakery u19ab7gbpujeps",
            "3; 3079 16402 EXTENSION - postgis ",
        ]
    )

    kept = restorable_entries(toc, skip_extensions=frozenset({"pg_stat_statements"}))

    assert [line for line in kept.splitlines() if not line.startswith(";")] == [
        "207; 1259 16433 TABLE public bakery u19ab7gbpujeps",
        "3; 3079 16402 EXTENSION - postgis ",
    ]


def test_any_other_restore_error_stops_the_restore(
    pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> None:
    dump = shared_path(LEGACY_DUMP)
    name = create_database(admin_engine)
    url = pg_server.url(name)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE bakery (id integer)"))

        with pytest.raises(RestoreError, match='relation "bakery" already exists'):
            restore_dump(dump, url)

        with engine.connect() as conn:
            # All or nothing: the tables restored before the error are gone again.
            assert set(sa.inspect(conn).get_table_names()) == {"bakery"}
    finally:
        engine.dispose()
        drop_database(admin_engine, name)
