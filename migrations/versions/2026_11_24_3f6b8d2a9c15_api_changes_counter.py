"""Count committed writes to the tables the public API reads, for its answer cache.

`stat_counter` row `api_changes` goes up by one in every transaction that writes `bakery`,
`feedstock` or `recipe_run`. The web process keeps recent answers under the value it read before
computing them and serves one again only while the value is unchanged (api/answer_cache.py).

The bump is a deferred constraint trigger, so it runs at commit, once per transaction (a
transaction-local setting skips the rest of its rows):
- it is atomic with the data it announces: a reader sees both or neither;
- the counter row is locked only from the commit's start to its end, after every other lock the
  transaction takes, so it cannot close a deadlock cycle (taken at the first write instead, it
  could: T1 locks a job then waits for the counter, T2 holds the counter and waits for the job).

Postgres refuses ALTER TABLE or TRUNCATE on a table with pending deferred trigger events: a
later migration that writes one of these tables and then alters it in the same transaction
must run `SET CONSTRAINTS ALL IMMEDIATE` between the two (`pfo migrate` is one transaction).

Revision ID: 3f6b8d2a9c15
Revises: 7c1a2e9d4b01
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3f6b8d2a9c15"
down_revision: str | None = "7c1a2e9d4b01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("bakery", "feedstock", "recipe_run")

FUNCTION_SQL = """
CREATE FUNCTION stat_counter_api_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('pfo.api_changed', true) IS DISTINCT FROM 'y' THEN
        PERFORM set_config('pfo.api_changed', 'y', true);
        UPDATE stat_counter SET value = value + 1 WHERE name = 'api_changes';
    END IF;
    RETURN NULL;
END $$;
"""


def _triggers(table: str) -> str:
    return f"""
    CREATE CONSTRAINT TRIGGER {table}_api_changed AFTER INSERT OR UPDATE OR DELETE ON {table}
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION stat_counter_api_changed();
    CREATE TRIGGER {table}_api_changed_truncate AFTER TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION stat_counter_api_changed();
    """


def upgrade() -> None:
    op.execute("INSERT INTO stat_counter (name, value) VALUES ('api_changes', 0)")
    op.execute(FUNCTION_SQL + "".join(_triggers(table) for table in TABLES))


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_api_changed ON {table}")
        op.execute(f"DROP TRIGGER {table}_api_changed_truncate ON {table}")
    op.execute("DROP FUNCTION stat_counter_api_changed()")
    op.execute("DELETE FROM stat_counter WHERE name = 'api_changes'")
