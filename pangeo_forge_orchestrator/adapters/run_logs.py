"""Each recipe run's output, as a file `PFO_DATA_DIR/run-logs/<run_id>.log` (tail kept, redacted).

Written once when a run completes (jobs/complete_run.py), read by `GET /recipe_runs/{id}/logs`.
Files rather than a table: logs are large, append-only and never queried, and need no migration.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pangeo_forge_orchestrator.adapters.bakeries.local import LocalBakery
from pangeo_forge_orchestrator.core.bakes import BakeHandle

RUN_LOGS_DIRNAME = "run-logs"
MAX_LOG_BYTES = 512 * 1024
TRUNCATED = "[... earlier output dropped: only the last {size} bytes are kept ...]\n"


def run_log_path(data_dir: Path, run_id: int) -> Path:
    return data_dir / RUN_LOGS_DIRNAME / f"{int(run_id)}.log"


def bounded_tail(text: str, *, max_bytes: int = MAX_LOG_BYTES) -> str:
    """TEXT itself, or its last MAX_BYTES bytes (whole characters) after a note saying so."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    tail = data[-max_bytes:].decode("utf-8", errors="ignore")
    return TRUNCATED.format(size=max_bytes) + tail


def save_run_log(data_dir: Path, run_id: int, text: str, *, redact: Callable[[str], str]) -> Path:
    """Write the run's log (redacted before it is cut, so no secret survives half-cut)."""
    path = run_log_path(data_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = bounded_tail(redact(text))
    # Write then rename: a reader never sees half a log.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{run_id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_run_log(data_dir: Path, run_id: int) -> str | None:
    """The stored log of the run, or None when none was stored (yet)."""
    try:
        return run_log_path(data_dir, run_id).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def bake_output(adapter: object, run_id: int) -> str | None:
    """The finished bake's output tail, when the adapter ran it in this process (local)."""
    if not isinstance(adapter, LocalBakery):
        return None
    handle = BakeHandle(bakery=adapter.config.name, recipe_run_id=run_id, is_test=True, job_name="")
    result = adapter.result(handle)
    return result.output if result is not None and result.output else None
