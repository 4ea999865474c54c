"""Adopt the original schema: typed enums, UTC timestamps, typed columns, the inbox and the queue.

Runs on both paths: right after the baseline on an empty database, and on a database written
by the original service (its tables, ids and sequences are kept; `reciperun` becomes
`recipe_run`). Values that do not fit our enums or unique constraints stop the upgrade with a
report; nothing is dropped silently. The JSON the original kept in `message` moves into typed
columns; `message` keeps only human text.

Revision ID: 7c1a2e9d4b01
Revises: 0499cef6b57a
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7c1a2e9d4b01"
down_revision: str | None = "0499cef6b57a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS: dict[str, tuple[str, ...]] = {
    "run_status": ("queued", "in_progress", "completed"),
    "run_conclusion": (
        "action_required",
        "cancelled",
        "failure",
        "neutral",
        "success",
        "skipped",
        "stale",
        "timed_out",
    ),
    "dataset_type": ("zarr", "kerchunk", "parquet"),
    "provider": ("github",),
    "bakery_kind": ("local", "dataflow", "flink"),
    "delivery_status": ("queued", "handled", "ignored", "failed"),
    "job_status": ("queued", "running", "succeeded", "failed", "cancelled"),
}

# (table, column, enum) of the original's enum-like strings.
LEGACY_ENUM_COLUMNS = (
    ("reciperun", "status", "run_status"),
    ("reciperun", "conclusion", "run_conclusion"),
    ("reciperun", "dataset_type", "dataset_type"),
    ("feedstock", "provider", "provider"),
)

COUNTERS_SQL = """
CREATE FUNCTION stat_counter_add(counter varchar, delta bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE stat_counter SET value = value + delta WHERE name = counter AND delta <> 0
$$;

-- Statement-level triggers with transition tables: a bulk insert of a million rows
-- touches each counter once, not a million times.
CREATE FUNCTION stat_counter_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stat_counter_add(TG_ARGV[0], (SELECT count(*) FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stat_counter_add(TG_ARGV[0], -(SELECT count(*) FROM old_rows));
    ELSIF TG_OP = 'TRUNCATE' THEN
        UPDATE stat_counter SET value = 0 WHERE name = TG_ARGV[0];
    END IF;
    RETURN NULL;
END
$$;

-- A dataset is what /feedstocks/{id}/datasets lists: a completed, successful run with a URL.
CREATE FUNCTION recipe_run_is_dataset(status run_status, conclusion run_conclusion, url varchar)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT status = 'completed' AND conclusion = 'success' AND url IS NOT NULL
$$;

CREATE FUNCTION stat_counter_datasets() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gained_all bigint := 0; gained_production bigint := 0;
    lost_all bigint := 0; lost_production bigint := 0;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE stat_counter SET value = 0 WHERE name IN ('datasets', 'production_datasets');
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*), count(*) FILTER (WHERE NOT is_test) INTO gained_all, gained_production
        FROM new_rows WHERE recipe_run_is_dataset(status, conclusion, dataset_public_url);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT count(*), count(*) FILTER (WHERE NOT is_test) INTO lost_all, lost_production
        FROM old_rows WHERE recipe_run_is_dataset(status, conclusion, dataset_public_url);
    END IF;
    PERFORM stat_counter_add('datasets', gained_all - lost_all);
    PERFORM stat_counter_add('production_datasets', gained_production - lost_production);
    RETURN NULL;
END
$$;

INSERT INTO stat_counter (name, value) VALUES
    ('bakeries', (SELECT count(*) FROM bakery)),
    ('feedstocks', (SELECT count(*) FROM feedstock)),
    ('recipe_runs', (SELECT count(*) FROM recipe_run)),
    ('datasets', (SELECT count(*) FROM recipe_run
                  WHERE recipe_run_is_dataset(status, conclusion, dataset_public_url))),
    ('production_datasets', (SELECT count(*) FROM recipe_run
                  WHERE recipe_run_is_dataset(status, conclusion, dataset_public_url)
                  AND NOT is_test));
"""


# The original kept machine facts in `message` as a JSON object (a dict it re-dumped as the run
# went on). Each key that fits a typed column moves there. `message` is cleared only when every
# key found its column, so nothing unrecognised is lost: `pfo repair` lists what is left.
LEGACY_MESSAGE_SQL = r"""
CREATE FUNCTION pg_temp.legacy_message_object(message varchar) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    -- Not every message that starts with '{' is JSON: what does not parse stays human text.
    RETURN jsonb_strip_nulls(message::jsonb);
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END
$$;

WITH parsed AS (
    SELECT id, doc FROM (
        SELECT id, pg_temp.legacy_message_object(message) AS doc
        FROM recipe_run WHERE message ~ '^\s*\{'
    ) candidate
    WHERE jsonb_typeof(doc) = 'object'
), typed AS (
    SELECT
        id,
        doc,
        CASE WHEN jsonb_typeof(doc -> 'deployment_id') IN ('number', 'string')
                  AND doc ->> 'deployment_id' ~ '^[0-9]{1,18}$'
             THEN (doc ->> 'deployment_id')::bigint END AS deployment_id,
        CASE WHEN jsonb_typeof(doc -> 'job_id') = 'string' THEN doc ->> 'job_id' END AS job_id,
        -- The original's first bakeries ran Prefect flows: the flow id was the bakery's job id.
        CASE WHEN jsonb_typeof(doc -> 'flow_id') = 'string' THEN doc ->> 'flow_id' END AS flow_id,
        CASE WHEN jsonb_typeof(doc -> 'job_name') = 'string'
             THEN doc ->> 'job_name' END AS job_name,
        CASE WHEN jsonb_typeof(doc -> 'environment_url') = 'string'
             THEN doc ->> 'environment_url' END AS environment_url,
        CASE WHEN jsonb_typeof(doc -> 'trace') = 'string' THEN doc ->> 'trace' END AS trace
    FROM parsed
), placed AS (
    SELECT
        typed.*,
        doc - array_remove(ARRAY[
            CASE WHEN deployment_id IS NOT NULL THEN 'deployment_id' END,
            CASE WHEN job_id IS NOT NULL THEN 'job_id' END,
            CASE WHEN flow_id IS NOT NULL AND (job_id IS NULL OR job_id = flow_id)
                 THEN 'flow_id' END,
            CASE WHEN job_name IS NOT NULL THEN 'job_name' END,
            CASE WHEN environment_url IS NOT NULL THEN 'environment_url' END,
            CASE WHEN trace IS NOT NULL THEN 'trace' END
        ], NULL) AS unplaced
    FROM typed
)
UPDATE recipe_run AS run SET
    github_deployment_id = placed.deployment_id,
    bakery_job_id = coalesce(placed.job_id, placed.flow_id),
    bakery_job_name = placed.job_name,
    environment_url = placed.environment_url,
    failure_detail = placed.trace,
    message = CASE WHEN placed.unplaced = '{}'::jsonb THEN NULL ELSE run.message END
FROM placed
WHERE run.id = placed.id;

DROP FUNCTION pg_temp.legacy_message_object(varchar);
"""


def _row_count_triggers(table: str, counter: str) -> str:
    return f"""
    CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table}
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_rows('{counter}');
    CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table}
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_rows('{counter}');
    CREATE TRIGGER {table}_count_truncate AFTER TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_rows('{counter}');
    """


DATASET_TRIGGERS_SQL = """
CREATE TRIGGER recipe_run_datasets_insert AFTER INSERT ON recipe_run
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_datasets();
CREATE TRIGGER recipe_run_datasets_update AFTER UPDATE ON recipe_run
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_datasets();
CREATE TRIGGER recipe_run_datasets_delete AFTER DELETE ON recipe_run
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_datasets();
CREATE TRIGGER recipe_run_datasets_truncate AFTER TRUNCATE ON recipe_run
    FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_datasets();
"""


# Columns that become unique; the original never enforced it.
LEGACY_UNIQUE_COLUMNS = (("bakery", "name"), ("feedstock", "spec"))

# How many offending ids a report names per value: enough to find the rows, short enough to read.
REPORTED_IDS = 10


def _ids(ids: list[int], count: int) -> str:
    more = f" and {count - len(ids)} more" if count > len(ids) else ""
    return ", ".join(map(str, ids)) + more


def _adoption_problems(conn: sa.Connection) -> list[str]:
    """What in the original data our schema cannot hold as it is: one line per value."""
    problems = []
    for table, column, enum_name in LEGACY_ENUM_COLUMNS:
        rows = conn.execute(
            sa.text(
                f"SELECT {column}, count(*), (array_agg(id ORDER BY id))[1:{REPORTED_IDS}] "
                f"FROM {table} WHERE {column} IS NOT NULL AND NOT ({column} = ANY(:allowed)) "
                "GROUP BY 1 ORDER BY 1"
            ),
            {"allowed": list(ENUMS[enum_name])},
        ).all()
        problems += [
            f"{table}.{column} = {value!r} is not one of {', '.join(ENUMS[enum_name])}: "
            f"{n} row(s), id {_ids(ids, n)}"
            for value, n, ids in rows
        ]
    for table, column in LEGACY_UNIQUE_COLUMNS:
        rows = conn.execute(
            sa.text(
                f"SELECT {column}, count(*), (array_agg(id ORDER BY id))[1:{REPORTED_IDS}] "
                f"FROM {table} GROUP BY 1 HAVING count(*) > 1 ORDER BY 1"
            )
        ).all()
        problems += [
            f"{table}.{column} = {value!r} must be unique but is shared by {n} rows: "
            f"id {_ids(ids, n)}"
            for value, n, ids in rows
        ]
    return problems


def _refuse_unadoptable_rows(conn: sa.Connection) -> None:
    """Stop, before changing anything, when the original data holds what we cannot adopt."""
    problems = _adoption_problems(conn)
    if problems:
        raise RuntimeError(
            "cannot adopt the original database: these rows do not fit the new schema:\n  "
            + "\n  ".join(problems)
            + "\nFix or map them (docs/operations.md, 'Migrating from pangeo-forge-orchestrator'), "
            "then run `pfo migrate` again. Nothing was changed."
        )


def _timestamptz(table: str, column: str) -> None:
    # The original stored naive UTC; make that explicit rather than letting the session zone decide.
    op.execute(
        f"ALTER TABLE {table} ALTER COLUMN {column} TYPE timestamp with time zone "
        f"USING {column} AT TIME ZONE 'UTC'"
    )


def _to_enum(table: str, column: str, enum_name: str) -> None:
    op.execute(
        f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {enum_name} USING {column}::{enum_name}"
    )


def upgrade() -> None:
    conn = op.get_bind()
    _refuse_unadoptable_rows(conn)
    for name, values in ENUMS.items():
        postgresql.ENUM(*values, name=name).create(conn)

    # bakery
    op.execute("ALTER TABLE bakery RENAME CONSTRAINT bakery_pkey TO pk_bakery")
    # Every bakery the original knew ran on Dataflow.
    op.add_column(
        "bakery",
        sa.Column(
            "kind",
            postgresql.ENUM(name="bakery_kind", create_type=False),
            nullable=False,
            server_default="dataflow",
        ),
    )
    op.alter_column("bakery", "kind", server_default=None)
    op.create_unique_constraint("uq_bakery_name", "bakery", ["name"])

    # feedstock
    op.execute("ALTER TABLE feedstock RENAME CONSTRAINT feedstock_pkey TO pk_feedstock")
    _to_enum("feedstock", "provider", "provider")
    # Left NULL for adopted rows: the original never recorded when a feedstock appeared.
    op.add_column("feedstock", sa.Column("created_at", sa.DateTime(timezone=True)))
    op.alter_column("feedstock", "created_at", server_default=sa.func.now())
    op.create_unique_constraint("uq_feedstock_spec", "feedstock", ["spec"])

    # reciperun -> recipe_run
    op.rename_table("reciperun", "recipe_run")
    op.execute("ALTER SEQUENCE reciperun_id_seq RENAME TO recipe_run_id_seq")
    op.execute("ALTER TABLE recipe_run RENAME CONSTRAINT reciperun_pkey TO pk_recipe_run")
    op.execute(
        "ALTER TABLE recipe_run RENAME CONSTRAINT reciperun_bakery_id_fkey "
        "TO fk_recipe_run_bakery_id_bakery"
    )
    op.execute(
        "ALTER TABLE recipe_run RENAME CONSTRAINT reciperun_feedstock_id_fkey "
        "TO fk_recipe_run_feedstock_id_feedstock"
    )
    for column, enum_name in (
        ("status", "run_status"),
        ("conclusion", "run_conclusion"),
        ("dataset_type", "dataset_type"),
    ):
        _to_enum("recipe_run", column, enum_name)
    _timestamptz("recipe_run", "started_at")
    _timestamptz("recipe_run", "completed_at")
    # The original stamped started_at when it created a run, and the website sorts on it, so it
    # stays NOT NULL with that meaning.
    op.alter_column("recipe_run", "started_at", server_default=sa.func.now())
    op.alter_column("recipe_run", "version", server_default="")
    for new_column in (
        sa.Column("pr_number", sa.Integer),
        sa.Column("github_check_run_id", sa.BigInteger),
        sa.Column("github_deployment_id", sa.BigInteger),
        sa.Column("bakery_job_id", sa.String),
        sa.Column("bakery_job_name", sa.String),
        sa.Column("requested_by", sa.String),
        sa.Column("environment_url", sa.String),
        sa.Column("failure_detail", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    ):
        op.add_column("recipe_run", new_column)
    op.execute(
        "UPDATE recipe_run SET created_at = started_at, "
        "updated_at = coalesce(completed_at, started_at)"
    )
    op.execute(sa.text(LEGACY_MESSAGE_SQL))
    op.alter_column("recipe_run", "created_at", server_default=sa.func.now())
    op.alter_column("recipe_run", "updated_at", server_default=sa.func.now())
    op.create_index("ix_recipe_run_feedstock_id_id", "recipe_run", ["feedstock_id", "id"])
    op.create_index("ix_recipe_run_bakery_id_id", "recipe_run", ["bakery_id", "id"])
    op.create_index("ix_recipe_run_head_sha_recipe_id", "recipe_run", ["head_sha", "recipe_id"])
    op.create_index("ix_recipe_run_status_id", "recipe_run", ["status", "id"])

    _create_new_tables()
    op.execute(
        sa.text(
            COUNTERS_SQL
            + _row_count_triggers("bakery", "bakeries")
            + _row_count_triggers("feedstock", "feedstocks")
            + _row_count_triggers("recipe_run", "recipe_runs")
            + DATASET_TRIGGERS_SQL
        )
    )


def _create_new_tables() -> None:
    now = sa.func.now()
    op.create_table(
        "delivery",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("guid", sa.String, nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("action", sa.String),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("repository", sa.String),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column(
            "status",
            postgresql.ENUM(name="delivery_status", create_type=False),
            nullable=False,
            server_default="queued",
        ),
        sa.Column("handled_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_delivery"),
        sa.UniqueConstraint("guid", name="uq_delivery_guid"),
    )
    op.create_index("ix_delivery_repository_id", "delivery", ["repository", "id"])
    op.create_index("ix_delivery_event_id", "delivery", ["event", "id"])
    op.create_index("ix_delivery_status_id", "delivery", ["status", "id"])

    op.create_table(
        "job",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column(
            "payload", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column(
            "status",
            postgresql.ENUM(name="job_status", create_type=False),
            nullable=False,
            server_default="queued",
        ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False, server_default="5"),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("locked_by", sa.String),
        sa.Column("dedupe_key", sa.String),
        sa.Column("delivery_id", sa.BigInteger),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
            name="fk_job_delivery_id_delivery",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "uq_job_dedupe_key_live",
        "job",
        ["dedupe_key"],
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index(
        "ix_job_claimable",
        "job",
        ["run_after", "id"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_job_lease", "job", ["locked_until"], postgresql_where=sa.text("status = 'running'")
    )
    op.create_index("ix_job_delivery_id", "job", ["delivery_id"])

    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_key"),
        sa.UniqueConstraint("key_sha256", name="uq_api_key_key_sha256"),
    )
    op.create_table(
        "installation",
        sa.Column("id", sa.BigInteger, autoincrement=False),
        sa.Column("account", sa.String, nullable=False),
        sa.Column(
            "repositories",
            postgresql.ARRAY(sa.String),
            nullable=False,
            server_default=sa.text("'{}'::varchar[]"),
        ),
        sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("id", name="pk_installation"),
    )
    op.create_table(
        "stat_counter",
        sa.Column("name", sa.String),
        sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name="pk_stat_counter"),
    )


def downgrade() -> None:
    """Go back to the original schema only when nothing would be lost.

    Typed columns, deliveries and jobs have no place in the original schema, so a database
    that holds data refuses: roll back by restoring the backup taken before the upgrade
    (docs/operations.md, "Rollback").
    """
    conn = op.get_bind()
    counts = {
        table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in ("bakery", "feedstock", "recipe_run", "delivery", "job")
    }
    if any(counts.values()):
        held = ", ".join(f"{table}: {n}" for table, n in counts.items() if n)
        raise RuntimeError(
            f"refusing to downgrade below {revision}: the database holds data ({held}) that the "
            "original schema cannot keep. Restore the backup taken before `pfo migrate` instead "
            "(docs/operations.md, 'Rollback')."
        )
    for table in (
        "job",
        "delivery",
        "api_key",
        "installation",
        "stat_counter",
        "recipe_run",
        "feedstock",
        "bakery",
    ):
        op.drop_table(table)
    for name in (
        "stat_counter_datasets()",
        "recipe_run_is_dataset(run_status, run_conclusion, varchar)",
        "stat_counter_rows()",
        "stat_counter_add(varchar, bigint)",
    ):
        op.execute(f"DROP FUNCTION {name}")
    for name in ENUMS:
        op.execute(f"DROP TYPE {name}")
    # The tables are empty: rebuilding the baseline is the exact inverse.
    baseline = op.get_context().script.get_revision(down_revision).module  # type: ignore[arg-type,union-attr]
    baseline.upgrade()
