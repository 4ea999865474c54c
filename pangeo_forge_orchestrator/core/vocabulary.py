"""The closed vocabularies of the domain, as the original API spelled them."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class RunConclusion(StrEnum):
    """GitHub check-run conclusions, which the original API reused for recipe runs."""

    ACTION_REQUIRED = "action_required"
    CANCELLED = "cancelled"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    SUCCESS = "success"
    SKIPPED = "skipped"
    STALE = "stale"
    TIMED_OUT = "timed_out"


class DatasetType(StrEnum):
    ZARR = "zarr"
    KERCHUNK = "kerchunk"
    PARQUET = "parquet"


class Provider(StrEnum):
    GITHUB = "github"


class BakeryKind(StrEnum):
    LOCAL = "local"
    DATAFLOW = "dataflow"
    FLINK = "flink"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    HANDLED = "handled"
    IGNORED = "ignored"
    FAILED = "failed"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


LIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
