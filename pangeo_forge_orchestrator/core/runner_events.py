"""The lines pangeo-forge-runner prints, as a closed vocabulary of typed events.

With `--json` every line the runner itself writes is a JSON object with a `message` and, for
the lines that matter, a `status`. Anything else (pip's output, Beam's workers, a crash before
logging was set up) is kept as plain log text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class Fetching:
    """The runner is fetching the repository (remote repositories only)."""

    message: str


@dataclass(frozen=True, slots=True)
class Setup:
    """The feedstock's environment is ready and storage is configured."""

    message: str


@dataclass(frozen=True, slots=True)
class Running:
    message: str


@dataclass(frozen=True, slots=True)
class Submitted:
    """A remote bakery accepted the job; the runner exits soon after."""

    message: str
    job_id: str
    job_name: str


@dataclass(frozen=True, slots=True)
class Failed:
    message: str
    exc_info: str | None = None


@dataclass(frozen=True, slots=True)
class Completed:
    """`expand-meta` finished; `meta` is the expanded meta.yaml."""

    message: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    """Any other line: not JSON, JSON without a known status, or a malformed status line."""

    text: str


RunnerEvent: TypeAlias = Fetching | Setup | Running | Submitted | Failed | Completed | LogLine


def parse_line(line: str) -> RunnerEvent:
    """Turn one output line into an event; a line that is not a known status stays a LogLine."""
    text = line.rstrip("\r\n")
    try:
        record = json.loads(text)
    except ValueError:
        return LogLine(text)
    if not isinstance(record, dict):
        return LogLine(text)
    message = record.get("message")
    message = message if isinstance(message, str) else ""
    match record.get("status"):
        case "fetching":
            return Fetching(message)
        case "setup":
            return Setup(message)
        case "running":
            return Running(message)
        case "submitted":
            job_id, job_name = record.get("job_id"), record.get("job_name")
            if isinstance(job_id, str) and job_id and isinstance(job_name, str):
                return Submitted(message, job_id=job_id, job_name=job_name)
            return LogLine(text)
        case "failed":
            exc_info = record.get("exc_info")
            return Failed(message, exc_info=exc_info if isinstance(exc_info, str) else None)
        case "completed":
            meta = record.get("meta")
            return Completed(message, meta=meta if isinstance(meta, dict) else {})
        case _:
            return LogLine(message or text)
