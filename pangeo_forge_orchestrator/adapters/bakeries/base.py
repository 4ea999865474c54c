"""The Bakery interface every execution backend implements, and what they share."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from pangeo_forge_orchestrator.core.bakeries import BakeryConfig
from pangeo_forge_orchestrator.core.bakes import BakeHandle, BakeRequest, BakeStatus
from pangeo_forge_orchestrator.core.runner_args import interpreter_from_shebang

LAUNCHER = Path(__file__).with_name("cached_env_launcher.py")
NO_PYTHON_RUNNER = (
    "environment_cache needs PFO_RUNNER_COMMAND to name one pangeo-forge-runner script whose "
    "#! line runs Python; got {command!r}"
)

# Called once when a bake reaches a final state (local and flink bakes; remote ones report by
# callback). The seam for the worker: record the outcome, enqueue the GitHub reporting.
CompletionHook = Callable[[BakeHandle, BakeStatus], Awaitable[None]]


class Bakery(Protocol):
    """Where recipe runs execute: submit a run, ask after it, stop it."""

    config: BakeryConfig

    async def submit(self, request: BakeRequest) -> BakeHandle: ...

    async def status(self, handle: BakeHandle) -> BakeStatus: ...

    async def cancel(self, handle: BakeHandle) -> None: ...


class BakeSubmitError(RuntimeError):
    """The bakery did not accept the run; `detail` is the traceback or the output's tail."""

    def __init__(self, message: str, *, detail: str | None, output: str) -> None:
        super().__init__(message)
        self.detail = detail
        self.output = output


def runner_command(command: str, *, env_cache_dir: Path | None) -> list[str]:
    """Return the argv prefix that starts the runner, through the env-cache launcher if asked.

    The launcher must run in the runner's own interpreter (it hands over to the runner's code),
    found from the `#!` line of the runner's script.
    """
    argv = shlex.split(command)
    if env_cache_dir is None:
        return argv
    path = shutil.which(argv[0]) if len(argv) == 1 else None
    interpreter = _script_interpreter(Path(path)) if path else None
    if interpreter is None:
        raise ValueError(NO_PYTHON_RUNNER.format(command=command))
    return [*interpreter, str(LAUNCHER), f"--pfo-env-cache={env_cache_dir}"]


def _script_interpreter(path: Path) -> list[str] | None:
    try:
        with path.open("rb") as handle:
            first_line = handle.readline(512).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    return interpreter_from_shebang(first_line)
