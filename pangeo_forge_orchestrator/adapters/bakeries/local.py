"""Bakes as supervised child processes on this machine (LocalDirectBakery, Beam's DirectRunner).

`submit` returns at once; the bake starts when one of the bakery's `max_concurrent_runs` slots
is free, in submission order. Completion is the runner's exit plus its last status line.
State lives in this process: after a restart, `status` of an earlier bake is UNKNOWN, for the
reconciliation job to settle.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pangeo_forge_orchestrator.adapters.bakeries.base import CompletionHook
from pangeo_forge_orchestrator.adapters.checkout import CheckoutError, runner_source
from pangeo_forge_orchestrator.adapters.runner import (
    Observed,
    RunnerProcess,
    RunnerResult,
    start_runner,
    write_config_file,
)
from pangeo_forge_orchestrator.core.bakeries import BakeryConfig
from pangeo_forge_orchestrator.core.bakes import (
    BAKE_CANCELLED,
    PROCESS_LOST,
    BakeHandle,
    BakeRequest,
    BakeState,
    BakeStatus,
    process_outcome,
)
from pangeo_forge_orchestrator.core.runner_args import bake_argv, bake_config, bake_env

log = logging.getLogger(__name__)

COULD_NOT_START = "The runner could not be started: {error}"
COULD_NOT_FETCH = "The recipe's repository could not be checked out: {error}"
MAX_FINISHED = 1000  # finished bakes remembered for status(); older ones become UNKNOWN


@dataclass(eq=False)
class _Bake:
    request: BakeRequest
    handle: BakeHandle
    status: BakeStatus = field(default_factory=lambda: BakeStatus(state=BakeState.QUEUED))
    done: asyncio.Event = field(default_factory=asyncio.Event)
    process: RunnerProcess | None = None
    result: RunnerResult | None = None
    cancel_requested: bool = False


class LocalBakery:
    """Run `bake` as a child process per run, at most `max_concurrent_runs` at once, FIFO."""

    def __init__(
        self,
        config: BakeryConfig,
        *,
        runner_command: Sequence[str],
        environ: Mapping[str, str],
        redact: Callable[[str], str],
        on_complete: CompletionHook | None = None,
        on_event: Callable[[BakeHandle, Observed], None] | None = None,
    ) -> None:
        self.config = config
        self._command = list(runner_command)
        self._environ = dict(environ)
        self._redact = redact
        self._on_complete = on_complete
        self._on_event = on_event
        self._bakes: OrderedDict[int, _Bake] = OrderedDict()
        self._waiting: deque[_Bake] = deque()
        self._active = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def command(self) -> list[str]:
        """The argv prefix that starts the runner."""
        return list(self._command)

    async def submit(self, request: BakeRequest) -> BakeHandle:
        """Queue the run; a run already queued or running here is not queued twice."""
        existing = self._bakes.get(request.recipe_run_id)
        if existing is not None and not existing.status.state.is_final:
            return existing.handle
        handle = BakeHandle(
            bakery=self.config.name,
            recipe_run_id=request.recipe_run_id,
            is_test=request.is_test,
            job_name=request.job_name,
        )
        bake = _Bake(request=request, handle=handle)
        self._bakes[request.recipe_run_id] = bake
        self._bakes.move_to_end(request.recipe_run_id)
        self._waiting.append(bake)
        self._start_waiting()
        return handle

    async def status(self, handle: BakeHandle) -> BakeStatus:
        bake = self._bakes.get(handle.recipe_run_id)
        if bake is None:
            return BakeStatus(state=BakeState.UNKNOWN, message=PROCESS_LOST)
        return bake.status

    async def wait(self, handle: BakeHandle) -> BakeStatus:
        """Wait for the bake to reach a final state."""
        bake = self._bakes.get(handle.recipe_run_id)
        if bake is None:
            return BakeStatus(state=BakeState.UNKNOWN, message=PROCESS_LOST)
        await bake.done.wait()
        return bake.status

    def result(self, handle: BakeHandle) -> RunnerResult | None:
        """The finished runner's output and events (for the run's logs), if known here."""
        bake = self._bakes.get(handle.recipe_run_id)
        return bake.result if bake else None

    async def cancel(self, handle: BakeHandle) -> None:
        """Stop the bake: a waiting one never starts, a running one has its group killed."""
        bake = self._bakes.get(handle.recipe_run_id)
        if bake is None or bake.status.state.is_final:
            return
        bake.cancel_requested = True
        if bake in self._waiting:
            self._waiting.remove(bake)
            await self._finish(bake, BakeStatus(state=BakeState.CANCELLED, message=BAKE_CANCELLED))
        elif bake.process is not None:
            await bake.process.cancel()
        # Between its slot and its process, a bake sees cancel_requested and stops itself.
        await bake.done.wait()

    async def aclose(self) -> None:
        """Stop everything: waiting bakes are cancelled, running ones killed."""
        for bake in list(self._bakes.values()):
            await self.cancel(bake.handle)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start_waiting(self) -> None:
        while self._waiting and self._active < self.config.max_concurrent_runs:
            bake = self._waiting.popleft()
            self._active += 1
            bake.status = BakeStatus(state=BakeState.RUNNING)
            task = asyncio.create_task(self._run(bake))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, bake: _Bake) -> None:
        try:
            status = await self._bake(bake)
        finally:
            self._active -= 1
            self._start_waiting()
        await self._finish(bake, status)

    async def _bake(self, bake: _Bake) -> BakeStatus:
        request = bake.request
        try:
            async with runner_source(request.repo_url, request.ref) as source:
                return await self._bake_from(bake, replace(request, repo_url=source))
        except CheckoutError as error:
            return BakeStatus(state=BakeState.FAILED, message=COULD_NOT_FETCH.format(error=error))

    async def _bake_from(self, bake: _Bake, request: BakeRequest) -> BakeStatus:
        try:
            config_path = write_config_file(bake_config(self.config, request))
            argv = bake_argv(self._command, request=request, config_path=str(config_path))
            bake.process = await start_runner(
                argv,
                env=bake_env(self.config, request, self._environ),
                timeout=self.config.max_run_seconds,
                redact=self._redact,
                on_event=self._observer(bake.handle),
                config_file=config_path,
            )
        except OSError as error:  # the runner is missing or not executable
            return BakeStatus(state=BakeState.FAILED, message=COULD_NOT_START.format(error=error))
        if bake.cancel_requested:
            await bake.process.cancel()
        result = bake.result = await bake.process.wait()
        status = process_outcome(
            returncode=result.returncode,
            events=result.status_events,
            timed_out=result.timed_out,
            cancelled=result.cancelled,
            max_run_seconds=self.config.max_run_seconds,
            output_tail=result.output,
        )
        if status.state is BakeState.SUCCEEDED:
            store = find_store(Path(request.target_root))
            if store is not None:
                status = replace(status, dataset_url=f"{request.public_url.rstrip('/')}/{store}")
        return status

    def _observer(self, handle: BakeHandle) -> Callable[[Observed], None] | None:
        hook = self._on_event
        if hook is None:
            return None
        return lambda observed: hook(handle, observed)

    async def _finish(self, bake: _Bake, status: BakeStatus) -> None:
        bake.status = status
        bake.done.set()
        while len(self._bakes) > MAX_FINISHED:
            oldest = next(iter(self._bakes.values()))
            if not oldest.status.state.is_final:
                break
            self._bakes.popitem(last=False)
        if self._on_complete is not None:
            try:
                await self._on_complete(bake.handle, status)
            except Exception:
                log.exception("completion hook failed", extra={"run": bake.handle.recipe_run_id})


def find_store(target_root: Path) -> str | None:
    """The name of the one dataset store the recipe wrote under TARGET_ROOT, if there is one.

    pangeo-forge-recipes 0.10 writes `target_root/<store_name>`, a name only the recipe knows:
    a Zarr store is the folder holding `.zgroup`, `.zmetadata` or `zarr.json`.
    """
    try:
        children = [c for c in target_root.iterdir() if c.is_dir()]
    except OSError:
        return None
    markers = (".zgroup", ".zmetadata", "zarr.json")
    stores = [c.name for c in children if any((c / m).exists() for m in markers)]
    return stores[0] if len(stores) == 1 else None
