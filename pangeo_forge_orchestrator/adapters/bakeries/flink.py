"""Bakes on a Flink cluster through the Apache Flink Kubernetes operator (FlinkOperatorBakery).

pangeo-forge-runner's Flink bakery creates a FlinkDeployment with kubectl and blocks until the
pipeline ends, so a Flink bake is supervised exactly like a local one: a child process per run,
capped and queued by `max_concurrent_runs`; only the runner's bakery class differs (it comes
from the bakery's kind). The bakery file must give `Bake.container_image` (checked at load)
and whatever `FlinkOperatorBakery.*` options the cluster needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pangeo_forge_orchestrator.adapters.bakeries.base import CompletionHook
from pangeo_forge_orchestrator.adapters.bakeries.local import LocalBakery
from pangeo_forge_orchestrator.adapters.runner import Observed
from pangeo_forge_orchestrator.core.bakeries import BakeryConfig
from pangeo_forge_orchestrator.core.bakes import BakeHandle
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind


class FlinkBakery(LocalBakery):
    """Run `bake` with FlinkOperatorBakery as a supervised child process per run."""

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
        if config.kind is not BakeryKind.FLINK:
            raise ValueError(f"bakery {config.name} is {config.kind}, not flink")
        super().__init__(
            config,
            runner_command=runner_command,
            environ=environ,
            redact=redact,
            on_complete=on_complete,
            on_event=on_event,
        )
