"""SQLModel tables. Alembic (migrations/) is the only author of the schema they describe."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from pangeo_forge_orchestrator.core.vocabulary import (
    BakeryKind,
    DatasetType,
    DeliveryStatus,
    JobStatus,
    Provider,
    RunConclusion,
    RunStatus,
)

# Constraint names follow one convention so that migrations can name what they drop.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def pg_enum(enum_cls: type[enum.StrEnum], name: str) -> sa.Enum:
    """A Postgres enum stored by value ('in_progress'), not by member name."""
    return sa.Enum(
        enum_cls,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def utc_timestamp(*, nullable: bool = True, server_now: bool = False) -> Any:
    return sa.Column(
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if server_now else None,
    )


class Bakery(SQLModel, table=True):
    __tablename__ = "bakery"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String, nullable=False, unique=True))
    region: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    description: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    kind: BakeryKind = Field(
        sa_column=sa.Column(pg_enum(BakeryKind, "bakery_kind"), nullable=False)
    )


class Feedstock(SQLModel, table=True):
    __tablename__ = "feedstock"

    id: int | None = Field(default=None, primary_key=True)
    spec: str = Field(sa_column=sa.Column(sa.String, nullable=False, unique=True))
    provider: Provider = Field(sa_column=sa.Column(pg_enum(Provider, "provider"), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=utc_timestamp(server_now=True))


class RecipeRun(SQLModel, table=True):
    __tablename__ = "recipe_run"
    __table_args__ = (
        sa.Index("ix_recipe_run_feedstock_id_id", "feedstock_id", "id"),
        sa.Index("ix_recipe_run_bakery_id_id", "bakery_id", "id"),
        sa.Index("ix_recipe_run_head_sha_recipe_id", "head_sha", "recipe_id"),
        sa.Index("ix_recipe_run_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipe_id: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    bakery_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("bakery.id"), nullable=False)
    )
    feedstock_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("feedstock.id"), nullable=False)
    )
    head_sha: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    version: str = Field(sa_column=sa.Column(sa.String, nullable=False, server_default=""))
    # When the run was created, as the original stamped it (the website sorts on it).
    started_at: datetime | None = Field(
        default=None, sa_column=utc_timestamp(nullable=False, server_now=True)
    )
    completed_at: datetime | None = Field(default=None, sa_column=utc_timestamp())
    conclusion: RunConclusion | None = Field(
        default=None, sa_column=sa.Column(pg_enum(RunConclusion, "run_conclusion"))
    )
    status: RunStatus = Field(sa_column=sa.Column(pg_enum(RunStatus, "run_status"), nullable=False))
    is_test: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    dataset_type: DatasetType | None = Field(
        default=None, sa_column=sa.Column(pg_enum(DatasetType, "dataset_type"))
    )
    dataset_public_url: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    # Human text only: the original smuggled JSON through this column (see the typed ones below).
    message: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    pr_number: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    github_check_run_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    github_deployment_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    bakery_job_id: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    bakery_job_name: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    requested_by: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    environment_url: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    # Why a run failed, as a traceback or error text; shown behind the logs link, not in `message`.
    failure_detail: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    created_at: datetime | None = Field(default=None, sa_column=utc_timestamp(server_now=True))
    updated_at: datetime | None = Field(default=None, sa_column=utc_timestamp(server_now=True))


class Delivery(SQLModel, table=True):
    """The webhook inbox: one row per GitHub delivery (or bakery callback), stored before 202."""

    __tablename__ = "delivery"
    __table_args__ = (
        sa.Index("ix_delivery_repository_id", "repository", "id"),
        sa.Index("ix_delivery_event_id", "event", "id"),
        sa.Index("ix_delivery_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True))
    guid: str = Field(sa_column=sa.Column(sa.String, nullable=False, unique=True))
    event: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    action: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    installation_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    repository: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    payload: dict[str, Any] = Field(sa_column=sa.Column(postgresql.JSONB, nullable=False))
    received_at: datetime | None = Field(
        default=None, sa_column=utc_timestamp(nullable=False, server_now=True)
    )
    status: DeliveryStatus = Field(
        sa_column=sa.Column(
            pg_enum(DeliveryStatus, "delivery_status"),
            nullable=False,
            server_default=DeliveryStatus.QUEUED.value,
        )
    )
    handled_at: datetime | None = Field(default=None, sa_column=utc_timestamp())
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))


class Job(SQLModel, table=True):
    """Durable work: claimed with FOR UPDATE SKIP LOCKED, leased until `locked_until`."""

    __tablename__ = "job"
    __table_args__ = (
        # A dedupe key is unique among live jobs only: once a job ends, the same work may recur.
        sa.Index(
            "uq_job_dedupe_key_live",
            "dedupe_key",
            unique=True,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        ),
        sa.Index(
            "ix_job_claimable",
            "run_after",
            "id",
            postgresql_where=sa.text("status = 'queued'"),
        ),
        sa.Index(
            "ix_job_lease",
            "locked_until",
            postgresql_where=sa.text("status = 'running'"),
        ),
        sa.Index("ix_job_delivery_id", "delivery_id"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True))
    kind: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    payload: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(
            postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
    )
    status: JobStatus = Field(
        sa_column=sa.Column(
            pg_enum(JobStatus, "job_status"),
            nullable=False,
            server_default=JobStatus.QUEUED.value,
        )
    )
    attempts: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    max_attempts: int = Field(
        default=5, sa_column=sa.Column(sa.Integer, nullable=False, server_default="5")
    )
    run_after: datetime | None = Field(
        default=None, sa_column=utc_timestamp(nullable=False, server_now=True)
    )
    locked_until: datetime | None = Field(default=None, sa_column=utc_timestamp())
    locked_by: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    dedupe_key: str | None = Field(default=None, sa_column=sa.Column(sa.String))
    delivery_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("delivery.id", ondelete="SET NULL")),
    )
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    created_at: datetime | None = Field(
        default=None, sa_column=utc_timestamp(nullable=False, server_now=True)
    )
    updated_at: datetime | None = Field(
        default=None, sa_column=utc_timestamp(nullable=False, server_now=True)
    )
    finished_at: datetime | None = Field(default=None, sa_column=utc_timestamp())


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    key_sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    created_at: datetime | None = Field(
        default=None, sa_column=utc_timestamp(nullable=False, server_now=True)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=utc_timestamp())


class Installation(SQLModel, table=True):
    """A GitHub App installation, kept current from installation events."""

    __tablename__ = "installation"

    id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    account: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    repositories: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(
            postgresql.ARRAY(sa.String), nullable=False, server_default=sa.text("'{}'::varchar[]")
        ),
    )
    suspended: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    updated_at: datetime | None = Field(
        default=None, sa_column=utc_timestamp(nullable=False, server_now=True)
    )


class StatCounter(SQLModel, table=True):
    """Exact counts kept by triggers, so that /stats never runs count(*) over a large table."""

    __tablename__ = "stat_counter"

    name: str = Field(sa_column=sa.Column(sa.String, primary_key=True))
    value: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
