"""Load the bakeries file (PFO_BAKERIES_FILE) and build the bakery adapters it describes.

`environ` is always passed in: the settings/CLI layer hands over `os.environ` (Settings is the
only reader of the process environment), tests hand over a dict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import yaml

from pangeo_forge_orchestrator.adapters.bakeries.base import (
    Bakery,
    CompletionHook,
    runner_command,
)
from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DataflowBakery,
    DataflowJobs,
    UnconfiguredDataflowJobs,
)
from pangeo_forge_orchestrator.adapters.bakeries.dataflow_api import google_dataflow_jobs
from pangeo_forge_orchestrator.adapters.bakeries.flink import FlinkBakery
from pangeo_forge_orchestrator.adapters.bakeries.local import LocalBakery
from pangeo_forge_orchestrator.core.bakeries import (
    BakeriesConfigError,
    BakeryConfig,
    BakeryRegistry,
    default_registry,
    parse_bakeries,
)
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind

ENV_CACHE_DIRNAME = "runner-envs"

log = logging.getLogger(__name__)


def load_bakeries(
    *, bakeries_file: Path | None, data_dir: Path, environ: Mapping[str, str]
) -> BakeryRegistry:
    """Return the configured bakeries, or the default local one when no file is given.

    Raises BakeriesConfigError naming the file and each bad key: the service must not start.
    """
    if bakeries_file is None:
        return default_registry(data_dir=data_dir.absolute())
    source = str(bakeries_file)
    try:
        text = bakeries_file.read_text(encoding="utf-8")
    except OSError as error:
        raise BakeriesConfigError([f"cannot be read: {error.strerror}"], source=source) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BakeriesConfigError([f"is not valid YAML: {error}"], source=source) from None
    try:
        return parse_bakeries(document, environ=environ)
    except BakeriesConfigError as error:
        raise BakeriesConfigError(error.problems, source=source) from None


def _command(name: str, command_line: str, env_cache_dir: Path, cached: bool) -> list[str]:
    if cached:
        try:
            return runner_command(command_line, env_cache_dir=env_cache_dir)
        except ValueError as error:
            # The runner may not be installed yet: bakes then fail with their own clear message,
            # and a slower uncached bake is better than a service that will not start.
            log.warning("%s; bakery %s runs without the environment cache", error, name)
    return runner_command(command_line, env_cache_dir=None)


def build_bakeries(
    registry: BakeryRegistry,
    *,
    runner_command_line: str,
    environ: Mapping[str, str],
    data_dir: Path,
    dataflow_jobs: DataflowJobs | None = None,
    on_complete: CompletionHook | None = None,
) -> dict[str, Bakery]:
    """Return one adapter per configured bakery, by name.

    A dataflow bakery follows its jobs with `dataflow_jobs` when given (tests), else with a
    GoogleDataflowJobs per profile whose `env` names a GOOGLE_APPLICATION_CREDENTIALS key.
    """
    env_cache_dir = data_dir.absolute() / ENV_CACHE_DIRNAME
    bakeries: dict[str, Bakery] = {}
    for config in registry:
        command = _command(
            config.name, runner_command_line, env_cache_dir, config.environment_cache
        )
        match config.kind:
            case BakeryKind.LOCAL | BakeryKind.FLINK:
                # Both supervise the runner here; only the runner's bakery class differs.
                supervised = LocalBakery if config.kind is BakeryKind.LOCAL else FlinkBakery
                bakeries[config.name] = supervised(
                    config,
                    runner_command=command,
                    environ=environ,
                    redact=registry.redact,
                    on_complete=on_complete,
                )
            case BakeryKind.DATAFLOW:
                bakeries[config.name] = DataflowBakery(
                    config,
                    runner_command=command,
                    environ=environ,
                    redact=registry.redact,
                    jobs=dataflow_jobs or google_dataflow_jobs(config.production),
                    test_jobs=dataflow_jobs or _test_jobs(config),
                )
    return bakeries


def _test_jobs(config: BakeryConfig) -> DataflowJobs | None:
    """The test profile's own client: a test profile never borrows production's key."""
    if config.test is None:
        return None  # test runs use the production profile, and its client
    return google_dataflow_jobs(config.test) or UnconfiguredDataflowJobs()
