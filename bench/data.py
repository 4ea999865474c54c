"""Fill a migrated database with a realistic Pangeo Forge history, fast, in SQL.

Everything is generated server-side with `INSERT ... SELECT ... generate_series`: no row crosses
the wire, and the stat_counter triggers are statement-level, so one statement per table keeps
the counters exact at the cost of one trigger call.

Shape of the data (seeded, so two loads are identical):
- a few bakeries, most runs on the Dataflow one;
- feedstocks created over two years;
- recipe runs whose ids follow `started_at` (two years, like a serial id would), 80% spread
  evenly over the feedstocks (~80 each) and 20% on a heavy head (feedstock 1 gets ~20,000);
- status mostly completed; runs still queued/in progress are mostly the most recent ones, plus
  ~1% stuck in progress across the history (lost callbacks, as the original service had);
- conclusions of completed runs: ~62% success, 28% failure, the rest cancelled/timed out/...;
- ~10% test runs; a 40-hex head_sha shared by the ~3 recipes built at one commit;
- a dataset URL and type on every successful completed run.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa

SEED = 0.42
HISTORY_START = "2023-01-01 00:00:00+00"
HISTORY_DAYS = 730
# The share of the newest runs that are still queued or in progress (the live edge).
LIVE_EDGE = 0.005

BAKERIES_SQL = """
INSERT INTO bakery (id, name, region, description, kind) VALUES
    (1, 'pangeo-ldeo-nsf-earthcube', 'us-central1', 'Dataflow bakery of Pangeo Forge', 'dataflow'),
    (2, 'pangeo-forge-local', 'local', 'Apache Beam DirectRunner on one machine', 'local'),
    (3, 'pangeo-forge-aws-flink', 'us-west-2', 'Flink on AWS EKS', 'flink'),
    (4, 'pangeo-forge-dataflow-staging', 'us-central1', 'Staging Dataflow bakery', 'dataflow')
"""

FEEDSTOCKS_SQL = """
INSERT INTO feedstock (id, spec, provider, created_at)
SELECT g,
       'pangeo-forge/'
         || (ARRAY['cmip6', 'era5', 'noaa-oisst', 'gpcp', 'hrrr', 'mursst', 'chirps', 'soda',
                   'eobs', 'terraclimate'])[1 + g % 10]
         || '-' || g || '-feedstock',
       'github',
       CAST(:start AS timestamptz) + (g::float8 / :n) * make_interval(days => :days)
FROM generate_series(1, :n) AS g
"""

# OFFSET 0 keeps the planner from inlining the subquery, which would call random() once per
# reference instead of once per row.
RECIPE_RUNS_SQL = """
INSERT INTO recipe_run (
    id, recipe_id, bakery_id, feedstock_id, head_sha, version, started_at, completed_at,
    conclusion, status, is_test, dataset_type, dataset_public_url, message, pr_number,
    github_check_run_id, github_deployment_id, bakery_job_id, bakery_job_name, requested_by,
    environment_url, failure_detail, created_at, updated_at
)
SELECT
    g,
    recipe_id,
    CASE WHEN u_bakery < 0.85 THEN 1 WHEN u_bakery < 0.95 THEN 2
         WHEN u_bakery < 0.98 THEN 3 ELSE 4 END,
    feedstock_id,
    head_sha,
    '',
    started_at,
    CASE WHEN status = 'completed' THEN started_at + duration END,
    conclusion::run_conclusion,
    status::run_status,
    is_test,
    CASE WHEN has_dataset THEN (CASE WHEN u_type < 0.8 THEN 'zarr' WHEN u_type < 0.95
                                     THEN 'kerchunk' ELSE 'parquet' END)::dataset_type END,
    CASE WHEN has_dataset THEN
        'https://ncsa.osn.xsede.org/Pangeo/pangeo-forge'
        || CASE WHEN is_test THEN '-test/prod/recipe-run-' || g ELSE '' END
        || '/feedstock-' || feedstock_id || '/' || recipe_id || '.zarr'
    END,
    CASE conclusion
        WHEN 'failure' THEN 'Recipe run failed: see the logs'
        WHEN 'timed_out' THEN 'Recipe run timed out'
        WHEN 'cancelled' THEN 'Cancelled by a maintainer'
    END,
    1 + (feedstock_id * 7 + g / 50) % 400,
    CASE WHEN is_test THEN 9000000000 + g END,
    CASE WHEN NOT is_test THEN 700000000 + g END,
    to_char(started_at, 'YYYY-MM-DD_HH24_MI_SS') || '-' || (g % 1000003),
    'a' || substr(md5('job' || g), 1, 31),
    CASE WHEN is_test THEN 'maintainer-' || (g % 523) END,
    CASE WHEN has_dataset AND NOT is_test THEN
        'https://pangeo-forge.org/dashboard/recipe-run/' || g END,
    CASE WHEN conclusion = 'failure' THEN
        E'Traceback (most recent call last):\\n  File "/opt/conda/lib/python3.9/site-packages/'
        || E'apache_beam/runners/common.py", line 1417, in process\\n'
        || E'OSError: [Errno 5] Input/output error: ''https://data.example.org/'
        || md5('file' || g) || E'.nc''\\n'
    END,
    started_at,
    CASE WHEN status = 'completed' THEN started_at + duration ELSE started_at END
FROM (
    SELECT
        g,
        started_at,
        duration,
        status,
        is_test,
        feedstock_id,
        recipe_id,
        head_sha,
        u_bakery,
        u_type,
        CASE WHEN status <> 'completed' THEN NULL
             WHEN u_conclusion < 0.62 THEN 'success'
             WHEN u_conclusion < 0.90 THEN 'failure'
             WHEN u_conclusion < 0.95 THEN 'cancelled'
             WHEN u_conclusion < 0.98 THEN 'timed_out'
             WHEN u_conclusion < 0.99 THEN 'skipped'
             ELSE 'neutral' END AS conclusion,
        status = 'completed' AND u_conclusion < 0.62 AS has_dataset
    FROM (
        SELECT
            g,
            CAST(:start AS timestamptz)
                + (g::float8 / :n) * make_interval(days => :days)
                + random() * interval '1 hour' AS started_at,
            interval '5 minutes' + random() * interval '3 hours' AS duration,
            CASE WHEN g > :n * (1 - :live_edge) THEN
                     CASE WHEN u_status < 0.5 THEN 'completed'
                          WHEN u_status < 0.8 THEN 'in_progress' ELSE 'queued' END
                 WHEN u_status < 0.988 THEN 'completed'
                 WHEN u_status < 0.998 THEN 'in_progress'
                 ELSE 'queued' END AS status,
            random() < 0.10 AS is_test,
            CASE WHEN u_feed < 0.8 THEN 1 + floor(u_spread * :feedstocks)::int
                 ELSE 1 + floor(power(u_spread, 4) * :feedstocks)::int END AS feedstock_id,
            (ARRAY['daily', 'monthly', 'annual', 'reference', 'surface'])[1 + g % 5]
                AS recipe_id,
            md5('commit' || g / 3) || substr(md5('tree' || g / 3), 1, 8) AS head_sha,
            random() AS u_conclusion,
            random() AS u_bakery,
            random() AS u_type
        FROM (
            SELECT g, random() AS u_status, random() AS u_feed, random() AS u_spread
            FROM generate_series(:first, :last) AS g
            OFFSET 0
        ) AS draws
        OFFSET 0
    ) AS runs
    OFFSET 0
) AS shaped
"""


@dataclass
class LoadReport:
    """What was loaded and how long each step took, in seconds."""

    feedstocks: int
    recipe_runs: int
    seconds: dict[str, float] = field(default_factory=dict)
    sizes_mb: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def _reset_sequence(conn: sa.Connection, table: str) -> None:
    conn.execute(
        sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    )


def _secondary_indexes(conn: sa.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'recipe_run' AND indexname <> 'pk_recipe_run'"
        )
    ).tuples()
    return list(rows)


def _insert_runs(engine: sa.Engine, *, first: int, last: int, total: int, feedstocks: int) -> None:
    with engine.begin() as conn:
        # One seed per chunk: the same chunking gives the same rows.
        conn.execute(sa.text("SELECT setseed(:seed)"), {"seed": SEED * first / (total + 1)})
        conn.execute(
            sa.text(RECIPE_RUNS_SQL),
            {
                "start": HISTORY_START,
                "first": first,
                "last": last,
                "n": total,
                "days": HISTORY_DAYS,
                "feedstocks": feedstocks,
                "live_edge": LIVE_EDGE,
            },
        )


def load(engine: sa.Engine, *, feedstocks: int, recipe_runs: int, parallel: int = 2) -> LoadReport:
    """Insert the bakeries, `feedstocks` feedstocks and `recipe_runs` runs, then VACUUM ANALYZE."""
    report = LoadReport(feedstocks=feedstocks, recipe_runs=recipe_runs)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT setseed(:seed)"), {"seed": SEED})
        conn.execute(sa.text(BAKERIES_SQL))
        conn.execute(
            sa.text(FEEDSTOCKS_SQL),
            {"start": HISTORY_START, "n": feedstocks, "days": HISTORY_DAYS},
        )
        # Building the secondary indexes once after the insert is several times faster than
        # maintaining them row by row; their definitions come from the catalog, so the schema
        # ends exactly as the migrations wrote it.
        secondary_indexes = _secondary_indexes(conn)
        for name, _ in secondary_indexes:
            conn.execute(sa.text(f'DROP INDEX "{name}"'))
    report.seconds["bakeries_and_feedstocks"] = time.perf_counter() - started

    started = time.perf_counter()
    # Generating and writing rows is CPU-bound in one backend: one chunk per core. Each chunk's
    # statement-level triggers add its own row count, so the counters stay exact.
    bounds = [recipe_runs * i // parallel for i in range(parallel + 1)]
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        chunks = [
            pool.submit(
                _insert_runs,
                engine,
                first=bounds[i] + 1,
                last=bounds[i + 1],
                total=recipe_runs,
                feedstocks=feedstocks,
            )
            for i in range(parallel)
        ]
        for chunk in chunks:
            chunk.result()
    report.seconds["recipe_runs_insert"] = time.perf_counter() - started

    started = time.perf_counter()
    with engine.begin() as conn:
        for table in ("bakery", "feedstock", "recipe_run"):
            _reset_sequence(conn, table)
        conn.execute(sa.text("SET LOCAL maintenance_work_mem = '512MB'"))
        for _, definition in secondary_indexes:
            conn.execute(sa.text(definition))
    report.seconds["recipe_run_indexes"] = time.perf_counter() - started

    started = time.perf_counter()
    # VACUUM sets the visibility map (index-only scans), ANALYZE gives the planner statistics.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM (ANALYZE) bakery, feedstock, recipe_run"))
        report.sizes_mb = {
            table: float(
                conn.execute(
                    sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass)) / 1048576.0"),
                    {"t": table},
                ).scalar_one()
            )
            for table in ("feedstock", "recipe_run")
        }
    report.seconds["vacuum_analyze"] = time.perf_counter() - started
    return report


def check_counters(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    """Each trigger-kept counter beside its count(*): they must be equal after a bulk load."""
    exact = {
        "bakeries": "SELECT count(*) FROM bakery",
        "feedstocks": "SELECT count(*) FROM feedstock",
        "recipe_runs": "SELECT count(*) FROM recipe_run",
        "datasets": (
            "SELECT count(*) FROM recipe_run "
            "WHERE recipe_run_is_dataset(status, conclusion, dataset_public_url)"
        ),
        "production_datasets": (
            "SELECT count(*) FROM recipe_run "
            "WHERE recipe_run_is_dataset(status, conclusion, dataset_public_url) AND NOT is_test"
        ),
    }
    with engine.connect() as conn:
        counters: dict[str, int] = dict(
            conn.execute(sa.text("SELECT name, value FROM stat_counter")).tuples().all()
        )
        return {
            name: (int(counters.get(name, -1)), int(conn.execute(sa.text(sql)).scalar_one()))
            for name, sql in exact.items()
        }
