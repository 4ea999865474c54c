"""`pfo serve` and `pfo worker` load the bakeries file first, and sync the `bakery` table."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pangeo_forge_orchestrator.cli import app, sync_bakery_rows
from pangeo_forge_orchestrator.core.bakeries import default_registry
from pangeo_forge_orchestrator.db.engine import Database

BAD_BAKERIES = """\
bakeries:
  local:
    region: local
    description: A bakery of an unknown kind
    kind: nonsense
    target_root: "/tmp/{subpath}"
    public_url: "https://data.example/{subpath}"
"""


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_invalid_bakeries_file_stops_the_service_naming_the_key(
    tmp_path: Path, command: str
) -> None:
    bakeries = tmp_path / "bakeries.yaml"
    bakeries.write_text(BAD_BAKERIES)
    env = {
        "PFO_BAKERIES_FILE": str(bakeries),
        # Never reached: the file is checked before the database is opened.
        "PFO_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "PFO_DATA_DIR": str(tmp_path / "data"),
    }

    result = CliRunner().invoke(app, [command], env=env)

    assert result.exit_code == 2
    assert "bakeries.local.kind" in result.output
    assert str(bakeries) in result.output


def test_the_bakery_table_is_synced_by_name(database_url: str, tmp_path: Path) -> None:
    database = Database.from_url(database_url)
    try:
        sync_bakery_rows(database, default_registry(data_dir=tmp_path))
        sync_bakery_rows(database, default_registry(data_dir=tmp_path))
        with database.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT name, kind FROM bakery")).all()
    finally:
        database.dispose()

    assert [tuple(row) for row in rows] == [("local", "local")]


def test_a_database_not_migrated_yet_is_left_alone(
    empty_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database.from_url(empty_database_url)
    try:
        sync_bakery_rows(database, default_registry(data_dir=tmp_path))
    finally:
        database.dispose()

    assert "not migrated" in caplog.text
