"""Shared fixtures: one embedded Postgres per test session, a migrated template database.

Each test that needs the database gets either a rolled-back transaction (`session`, cheap)
or a database of its own cloned from the template (`database_url`, for tests that commit,
open several connections, or run the worker).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import make_engine

if TYPE_CHECKING:
    from pangeo_forge_orchestrator.settings import Settings
    from tests.fake_github import FakeGitHub, MutableClock

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TEMPLATE_DB = "pfo_template"


def shared_path(relative: str) -> Path:
    """A file of ../shared/, or skip the test with the reason when it is absent."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (tests read ../shared/ beside the repo)")
    return path


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "pgdata")
    yield server
    server.release()


@pytest.fixture(scope="session")
def admin_engine(pg_server: EmbeddedPostgres) -> Iterator[sa.Engine]:
    engine = make_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def template_database(pg_server: EmbeddedPostgres, admin_engine: sa.Engine) -> str:
    """A database migrated to head once; tests clone it instead of migrating again."""
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}"))
        conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE_DB}"))
    url = pg_server.url(TEMPLATE_DB)
    migrate.upgrade(url)
    return url


def create_database(admin_engine: sa.Engine, *, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    clause = f" TEMPLATE {template}" if template else ""
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}{clause}"))
    return name


def drop_database(admin_engine: sa.Engine, name: str) -> None:
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def database_url(
    pg_server: EmbeddedPostgres, admin_engine: sa.Engine, template_database: str
) -> Iterator[str]:
    """A fresh database at head, of this test's own."""
    name = create_database(admin_engine, template=TEMPLATE_DB)
    yield pg_server.url(name)
    drop_database(admin_engine, name)


@pytest.fixture
def empty_database_url(pg_server: EmbeddedPostgres, admin_engine: sa.Engine) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = create_database(admin_engine)
    yield pg_server.url(name)
    drop_database(admin_engine, name)


@pytest.fixture(scope="session")
def shared_engine(
    template_database: str, pg_server: EmbeddedPostgres, admin_engine: sa.Engine
) -> Iterator[sa.Engine]:
    """An engine on one migrated database shared by rolled-back tests."""
    name = create_database(admin_engine, template=TEMPLATE_DB)
    engine = make_engine(pg_server.url(name))
    yield engine
    engine.dispose()
    drop_database(admin_engine, name)


@pytest.fixture
def connection(shared_engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with shared_engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def session(connection: sa.Connection) -> Iterator[Session]:
    """An ORM session whose commits become savepoints of the rolled-back transaction."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as db_session:
        yield db_session


# ---- GitHub: a stateful fake behind httpx.MockTransport (tests/fake_github/) ----------------
# Imported inside the fixtures: tests.fake_github imports this module (shared_path).

GITHUB_APP_ID = 4242


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub that validates every request against GitHub's OpenAPI description.

    Fails the test at teardown if any request was one GitHub would refuse, even when the code
    under test swallowed the AssertionError raised inside the request.
    """
    from tests.fake_github import AppKey, FakeGitHub

    gh = FakeGitHub(app_id=GITHUB_APP_ID, public_key=AppKey.generate().public_key)
    yield gh
    gh.assert_no_violations()


@pytest.fixture
def github_clock(fake_github: FakeGitHub) -> MutableClock:
    """A hand-moved clock shared by the fake (pass it to GitHubApp(clock=...) too)."""
    from tests.fake_github import MutableClock

    clock = MutableClock()
    fake_github.clock = clock
    return clock


def github_app_settings(fake: FakeGitHub, **overrides: Any) -> Settings:
    """Settings of an App whose id, key and API root are those of FAKE."""
    from pydantic import SecretStr

    from pangeo_forge_orchestrator.settings import Settings
    from tests.fake_github import AppKey

    values: dict[str, Any] = {
        "github_api_url": fake.base_url,
        "github_app_id": fake.app_id,
        "github_app_private_key": SecretStr(AppKey.generate().pem),
        "github_webhook_secret": SecretStr("test-webhook-secret"),
        "log_format": "console",
        **overrides,
    }
    return Settings(_env_file=None, **values)
