"""pangeo-forge-runner as a supervised child process: argv in, typed events and a log out.

- `asyncio.create_subprocess_exec`, never a blocking call on the event loop;
- its own session and process group, so that a timeout or a cancel kills Beam's workers too;
- stdout and stderr merged (one ordered log), read in chunks (a huge line cannot stall it),
  parsed line by line into core.runner_events, redacted before anything keeps it;
- the output kept bounded, its tail kept; the config file (0600) deleted when the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pangeo_forge_orchestrator.adapters.checkout import runner_source
from pangeo_forge_orchestrator.core.runner_args import child_env, expand_meta_argv
from pangeo_forge_orchestrator.core.runner_events import (
    Completed,
    Failed,
    LogLine,
    RunnerEvent,
    Setup,
    parse_line,
)

DEFAULT_OUTPUT_LIMIT = 512 * 1024  # characters of output kept per run (the tail)
MAX_LINE = 1024 * 1024  # longer lines are cut, so one line cannot exhaust memory
MAX_EVENTS = 10_000  # status events kept per run (log lines go to the output only)
TERM_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL of the process group
DRAIN_GRACE_SECONDS = 2.0  # for output still in the pipe after the runner exited
EXPAND_META_TIMEOUT_SECONDS = 300.0
DROPPED_OUTPUT = "[... {count} earlier characters of output dropped ...]\n"
EXPAND_META_FAILED = "expand-meta failed (exit code {code})"

E = TypeVar("E", bound=RunnerEvent)


def _no_redaction(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Observed:
    """An event and when it came, in seconds since the process started."""

    at: float
    event: RunnerEvent


@dataclass(frozen=True, kw_only=True)
class RunnerResult:
    returncode: int | None
    events: tuple[Observed, ...]  # status events; log lines are in `output`
    output: str  # redacted, bounded: the tail is kept
    timed_out: bool
    cancelled: bool
    elapsed: float

    @property
    def status_events(self) -> list[RunnerEvent]:
        return [observed.event for observed in self.events]

    def last(self, kind: type[E]) -> E | None:
        found = [o.event for o in self.events if isinstance(o.event, kind)]
        return found[-1] if found else None

    @property
    def setup_seconds(self) -> float | None:
        """Time to the first `setup` line: fetching, environment creation, storage set-up."""
        return next((o.at for o in self.events if isinstance(o.event, Setup)), None)


class RunnerError(RuntimeError):
    """A runner command did not produce what was asked of it."""

    def __init__(self, message: str, *, detail: str | None, result: RunnerResult) -> None:
        super().__init__(message)
        self.detail = detail
        self.result = result


class OutputTail:
    """The last `limit` characters of a run's output, in whole lines."""

    def __init__(self, limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        self._limit = limit
        self._lines: deque[str] = deque()
        self._size = 0
        self.dropped = 0

    def append(self, line: str) -> None:
        if len(line) > self._limit:
            self.dropped += len(line) - self._limit
            line = line[-self._limit :]
        self._lines.append(line)
        self._size += len(line)
        while self._size > self._limit and len(self._lines) > 1:
            dropped = self._lines.popleft()
            self._size -= len(dropped)
            self.dropped += len(dropped)

    def text(self) -> str:
        head = DROPPED_OUTPUT.format(count=self.dropped) if self.dropped else ""
        return head + "".join(self._lines)


def write_config_file(config: Mapping[str, Any]) -> Path:
    """Write the runner's config to a new file only this user can read; the caller deletes it."""
    fd, name = tempfile.mkstemp(prefix="pfo-runner-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


class RunnerProcess:
    """One running pangeo-forge-runner command; `wait()` supervises it to the end."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        *,
        timeout: float | None,
        redact: Callable[[str], str],
        on_event: Callable[[Observed], None] | None,
        config_file: Path | None,
        output_limit: int,
    ) -> None:
        self._process = process
        self._timeout = timeout
        self._redact = redact
        self._on_event = on_event
        self._config_file = config_file
        self._output = OutputTail(output_limit)
        self._events: deque[Observed] = deque(maxlen=MAX_EVENTS)
        self._started = time.monotonic()
        self._timed_out = False
        self._cancelled = False
        self._supervisor = asyncio.create_task(self._supervise())

    @property
    def pid(self) -> int:
        return self._process.pid

    async def wait(self) -> RunnerResult:
        return await asyncio.shield(self._supervisor)

    async def cancel(self) -> RunnerResult:
        """Kill the whole process group and return the result."""
        if not self._supervisor.done():
            self._cancelled = True
            await self._kill_group()
        return await self.wait()

    async def _supervise(self) -> RunnerResult:
        reader = asyncio.create_task(self._read_output())
        try:
            try:
                await asyncio.wait_for(self._process.wait(), self._timeout)
            except TimeoutError:
                self._timed_out = True
                await self._kill_group()
            # A grandchild that outlived the runner may still hold the pipe open.
            done, _ = await asyncio.wait({reader}, timeout=DRAIN_GRACE_SECONDS)
            if not done:
                self._signal_group(signal.SIGKILL)
                await asyncio.wait({reader}, timeout=DRAIN_GRACE_SECONDS)
        finally:
            if self._process.returncode is None:  # cancelled from outside: leave nothing behind
                self._signal_group(signal.SIGKILL)
            reader.cancel()
            if self._config_file is not None:
                self._config_file.unlink(missing_ok=True)
        return RunnerResult(
            returncode=self._process.returncode,
            events=tuple(self._events),
            output=self._output.text(),
            timed_out=self._timed_out,
            cancelled=self._cancelled,
            elapsed=time.monotonic() - self._started,
        )

    async def _read_output(self) -> None:
        stream = self._process.stdout
        assert stream is not None  # created with stdout=PIPE
        pending = b""
        while chunk := await stream.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._take(line + b"\n")
            if len(pending) > MAX_LINE:
                self._take(pending[:MAX_LINE] + b"\n")
                pending = b""
        if pending:
            self._take(pending + b"\n")

    def _take(self, raw: bytes) -> None:
        line = self._redact(raw.decode("utf-8", errors="replace"))
        self._output.append(line)
        observed = Observed(at=time.monotonic() - self._started, event=parse_line(line))
        if not isinstance(observed.event, LogLine):
            self._events.append(observed)
        if self._on_event is not None:
            self._on_event(observed)

    async def _kill_group(self) -> None:
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process.wait(), TERM_GRACE_SECONDS)
        # Whatever is left of the group (Beam's workers, pip) goes too.
        self._signal_group(signal.SIGKILL)
        await self._process.wait()

    def _signal_group(self, signum: signal.Signals) -> None:
        # The runner leads its own group (start_new_session), so its pid is the group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)


async def start_runner(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float | None,
    redact: Callable[[str], str] = _no_redaction,
    on_event: Callable[[Observed], None] | None = None,
    config_file: Path | None = None,
    cwd: Path | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> RunnerProcess:
    """Start a runner command in its own process group; it owns (and deletes) config_file."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException:
        if config_file is not None:
            config_file.unlink(missing_ok=True)
        raise
    return RunnerProcess(
        process,
        timeout=timeout,
        redact=redact,
        on_event=on_event,
        config_file=config_file,
        output_limit=output_limit,
    )


async def expand_meta(
    command: Sequence[str],
    *,
    repo_url: str,
    ref: str,
    environ: Mapping[str, str],
    feedstock_subdir: str | None = None,
    timeout: float = EXPAND_META_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Return the repository's expanded meta.yaml; the child gets a scrubbed environment.

    expand-meta imports the recipe module, i.e. runs the repository's code: its environment is
    the allow-list of core.runner_args only (environ is the caller's, e.g. os.environ).
    """
    async with runner_source(repo_url, ref) as source:  # CheckoutError is an OSError
        argv = expand_meta_argv(
            command, repo_url=source, ref=ref, feedstock_subdir=feedstock_subdir
        )
        process = await start_runner(argv, env=child_env(environ), timeout=timeout)
        result = await process.wait()
    completed = result.last(Completed)
    if result.returncode == 0 and completed is not None and not result.timed_out:
        return completed.meta
    failed = result.last(Failed)
    raise RunnerError(
        EXPAND_META_FAILED.format(code=result.returncode),
        detail=(failed.exc_info or failed.message) if failed else result.output,
        result=result,
    )
