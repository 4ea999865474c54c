"""API shapes, separate from the tables: what clients send and what they get back.

Read shapes document the responses (routes send pre-serialised JSON built from the same
columns); write shapes validate bodies strictly, so a bad value is a 422 and never reaches SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from pangeo_forge_orchestrator.core.vocabulary import (
    BakeryKind,
    DatasetType,
    Provider,
    RunConclusion,
    RunStatus,
)

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

NUL_IN_TEXT = "must not contain NUL (0x00) characters"
NOT_NULLABLE = "{field} cannot be null"


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL; refuse it here rather than fail in the driver.
    if "\x00" in value:
        raise ValueError(NUL_IN_TEXT)
    return value


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are UTC, as the original API wrote them."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[Text, StringConstraints(max_length=65_536)]
Url = Annotated[Text, StringConstraints(min_length=1, max_length=2048)]
GitSha = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")]
FeedstockSpec = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", max_length=200)
]
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]
GitHubId = Annotated[int, Field(ge=1, le=INT64_MAX)]
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Timestamp = Annotated[
    str,
    Field(
        description="UTC, without a zone suffix (the form the original API wrote)",
        examples=["2022-09-19T16:31:43"],
    ),
]


class _Write(BaseModel):
    """A request body: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class _Patch(_Write):
    """A partial update: absent fields stay as they are; null only where the column allows it."""

    not_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_null_for_required_columns(self) -> _Patch:
        for field in sorted(self.model_fields_set & self.not_nullable):
            if getattr(self, field) is None:
                raise ValueError(NOT_NULLABLE.format(field=field))
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class _Read(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Bakeries


class BakeryCreate(_Write):
    name: Name
    region: Name
    description: LongText
    kind: BakeryKind


class BakeryUpdate(_Patch):
    not_nullable = frozenset({"name", "region", "description", "kind"})

    name: Name | None = None
    region: Name | None = None
    description: LongText | None = None
    kind: BakeryKind | None = None


class BakeryRead(_Read):
    id: int
    name: str
    region: str
    description: str
    kind: BakeryKind


# Feedstocks


class FeedstockCreate(_Write):
    spec: FeedstockSpec = Field(examples=["pangeo-forge/noaa-oisst-feedstock"])
    provider: Provider = Provider.GITHUB


class FeedstockUpdate(_Patch):
    not_nullable = frozenset({"spec", "provider"})

    spec: FeedstockSpec | None = None
    provider: Provider | None = None


class FeedstockRead(_Read):
    id: int
    spec: str
    provider: Provider
    created_at: Timestamp | None


# Recipe runs


class _RecipeRunOptional(_Write):
    """Fields a run may leave empty, shared by create and update."""

    completed_at: UtcDatetime | None = None
    conclusion: RunConclusion | None = None
    message: LongText | None = None
    dataset_type: DatasetType | None = None
    dataset_public_url: Url | None = None
    pr_number: RowId | None = None
    github_check_run_id: GitHubId | None = None
    github_deployment_id: GitHubId | None = None
    bakery_job_id: Name | None = None
    bakery_job_name: Name | None = None
    requested_by: Name | None = None
    environment_url: Url | None = None


class RecipeRunCreate(_RecipeRunOptional):
    recipe_id: Name
    bakery_id: RowId
    feedstock_id: RowId
    head_sha: GitSha
    version: Annotated[Text, StringConstraints(max_length=200)] = ""
    started_at: UtcDatetime | None = Field(default=None, description="default: now")
    status: RunStatus
    is_test: bool


class RecipeRunUpdate(_RecipeRunOptional, _Patch):
    not_nullable = frozenset(
        {"recipe_id", "bakery_id", "feedstock_id", "head_sha", "version", "started_at"}
        | {"status", "is_test"}
    )

    recipe_id: Name | None = None
    bakery_id: RowId | None = None
    feedstock_id: RowId | None = None
    head_sha: GitSha | None = None
    version: Annotated[Text, StringConstraints(max_length=200)] | None = None
    started_at: UtcDatetime | None = None
    status: RunStatus | None = None
    is_test: bool | None = None


class RecipeRunRead(_Read):
    id: int
    recipe_id: str
    bakery_id: int
    feedstock_id: int
    head_sha: str
    version: str
    started_at: Timestamp
    completed_at: Timestamp | None
    conclusion: RunConclusion | None
    status: RunStatus
    is_test: bool
    dataset_type: DatasetType | None
    dataset_public_url: str | None
    message: str | None
    pr_number: int | None
    github_check_run_id: int | None
    github_deployment_id: int | None
    bakery_job_id: str | None
    bakery_job_name: str | None
    requested_by: str | None
    environment_url: str | None
    created_at: Timestamp | None
    updated_at: Timestamp | None


class RecipeRunWithRelations(RecipeRunRead):
    bakery: BakeryRead
    feedstock: FeedstockRead


class BakeryWithRuns(BakeryRead):
    recipe_runs: list[RecipeRunRead] = Field(description="the most recent runs, newest first")


class FeedstockWithRuns(FeedstockRead):
    recipe_runs: list[RecipeRunRead] = Field(description="the most recent runs, newest first")


class DatasetRead(_Read):
    id: int
    recipe_id: str
    feedstock_id: int
    dataset_type: DatasetType | None
    dataset_public_url: str
    is_test: bool


class Count(_Read):
    count: int


class Deleted(_Read):
    ok: bool


class Problem(BaseModel):
    """Every error answer: a reason, or FastAPI's list of validation errors for a 422."""

    detail: str | list[dict[str, Any]]
