"""Bakeries: the typed, validated configuration of where recipe runs execute (DESIGN §4).

The document comes from `PFO_BAKERIES_FILE` (adapters/bakeries/registry.py reads it). `${VAR}`
references are resolved from an environment mapping passed in by the caller: Settings' layer
passes `os.environ`, tests pass a dict, and nothing here reads the process environment.
Every resolved value is a secret: a `SecretStr` leaf, hidden from repr, redacted from run logs.

A bakery may carry a `test:` profile (its own runner_config, env, target_root, public_url).
Test runs then use that profile *instead of* the production one, never merged with it, so that
no production credential can reach code a pull request brought in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from pangeo_forge_orchestrator.core.secrets import (
    ENV_REFERENCE,
    ConfigValue,
    EnvResolver,
    redact,
)
from pangeo_forge_orchestrator.core.storage import (
    PUBLIC_URL_FIELDS,
    TARGET_ROOT_FIELDS,
    RunStorage,
    render_storage,
    template_fields,
)
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind

BAKERY_CLASSES = {
    BakeryKind.LOCAL: "pangeo_forge_runner.bakery.local.LocalDirectBakery",
    BakeryKind.DATAFLOW: "pangeo_forge_runner.bakery.dataflow.DataflowBakery",
    BakeryKind.FLINK: "pangeo_forge_runner.bakery.flink.FlinkOperatorBakery",
}
LOCAL_FILESYSTEM = "fsspec.implementations.local.LocalFileSystem"
DEFAULT_BAKERY_NAME = "local"
DEFAULT_BAKERY_DESCRIPTION = "Runs recipes on this machine with Apache Beam's DirectRunner."
DEFAULT_MAX_RUN_SECONDS = 6 * 3600
# Keys a bakery file may not set, because each run sets them (and a stale value would win).
PER_RUN_KEYS = (("TargetStorage", "root_path"), ("Bake", "job_name"), ("Bake", "recipe_id"))
# What each kind needs before the runner can do anything; checked at load, not at the first run.
REQUIRED_KEYS = {
    BakeryKind.DATAFLOW: (
        ("DataflowBakery", "project_id"),
        ("DataflowBakery", "temp_gcs_location"),
    ),
    BakeryKind.FLINK: (("Bake", "container_image"),),
}

_BAKERY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class BakeriesConfigError(ValueError):
    """The bakeries document is invalid; each problem names its key path."""

    def __init__(self, problems: Iterable[str], *, source: str = "bakeries file") -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__(f"invalid {source}:\n" + "\n".join(f"  {p}" for p in self.problems))


class _ProfileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    runner_config: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    target_root: str
    public_url: str


class _BakeryEntry(_ProfileEntry):
    region: str
    description: str
    kind: BakeryKind
    max_concurrent_runs: int = Field(default=4, ge=1)
    max_run_seconds: int = Field(default=DEFAULT_MAX_RUN_SECONDS, ge=1)
    environment_cache: bool = False
    test: _ProfileEntry | None = None


class _BakeriesDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bakeries: dict[str, _BakeryEntry] = Field(min_length=1)


@dataclass(frozen=True, kw_only=True)
class StorageProfile:
    """What one class of runs (production, or test) runs with and writes to."""

    runner_config: Mapping[str, ConfigValue]
    env: Mapping[str, SecretStr] = field(default_factory=dict)
    target_root: str
    public_url: str

    def locate(self, *, app_name: str, subpath: str) -> RunStorage:
        return render_storage(
            target_root_template=self.target_root,
            public_url_template=self.public_url,
            app_name=app_name,
            subpath=subpath,
        )


@dataclass(frozen=True, kw_only=True)
class BakeryConfig:
    name: str
    region: str
    description: str
    kind: BakeryKind
    production: StorageProfile
    test: StorageProfile | None = None
    max_concurrent_runs: int = 4
    max_run_seconds: int = DEFAULT_MAX_RUN_SECONDS
    # Reuse the feedstock's Python environment across runs (keyed by its requirements.txt).
    environment_cache: bool = False

    def profile(self, *, is_test: bool) -> StorageProfile:
        """The profile of a run: a test run uses the test profile whenever there is one."""
        if is_test and self.test is not None:
            return self.test
        return self.production

    @property
    def bakery_class(self) -> str:
        return BAKERY_CLASSES[self.kind]


@dataclass(frozen=True)
class BakeryRegistry:
    """The configured bakeries by name, and the secrets their configuration holds."""

    bakeries: Mapping[str, BakeryConfig]
    secrets: tuple[SecretStr, ...] = field(default=(), repr=False)

    def __getitem__(self, name: str) -> BakeryConfig:
        return self.bakeries[name]

    def __contains__(self, name: object) -> bool:
        return name in self.bakeries

    def __iter__(self) -> Iterator[BakeryConfig]:
        return iter(self.bakeries.values())

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def parse_bakeries(document: Any, *, environ: Mapping[str, str]) -> BakeryRegistry:
    """Validate a bakeries document and resolve its `${VAR}` references from environ."""
    try:
        parsed = _BakeriesDocument.model_validate(document)
    except ValidationError as error:
        raise BakeriesConfigError(_describe(error)) from None
    problems: list[str] = []
    secrets: list[SecretStr] = []
    bakeries: dict[str, BakeryConfig] = {}
    for name, entry in parsed.bakeries.items():
        path = f"bakeries.{name}"
        if not _BAKERY_NAME.fullmatch(name):
            problems.append(f"{path}: a bakery name is letters, digits, '.', '_' and '-'")
        resolver = EnvResolver(environ, problems, secrets)
        production = _profile(entry, kind=entry.kind, path=path, resolver=resolver)
        test = None
        if entry.test is not None:
            test = _profile(entry.test, kind=entry.kind, path=f"{path}.test", resolver=resolver)
        bakeries[name] = BakeryConfig(
            name=name,
            region=entry.region,
            description=entry.description,
            kind=entry.kind,
            production=production,
            test=test,
            max_concurrent_runs=entry.max_concurrent_runs,
            max_run_seconds=entry.max_run_seconds,
            environment_cache=entry.environment_cache,
        )
    if problems:
        raise BakeriesConfigError(problems)
    return BakeryRegistry(bakeries=bakeries, secrets=tuple(secrets))


def default_registry(*, data_dir: Path) -> BakeryRegistry:
    """One `local` bakery writing under `{data_dir}/outputs`: the embedded default."""
    if not data_dir.is_absolute():
        raise ValueError(f"data_dir must be absolute, got {data_dir}")
    outputs = data_dir / "outputs"
    profile = StorageProfile(
        runner_config={"TargetStorage": {"fsspec_class": LOCAL_FILESYSTEM}},
        target_root=f"{outputs}/{{subpath}}",
        public_url=f"{outputs.as_uri()}/{{subpath}}",
    )
    bakery = BakeryConfig(
        name=DEFAULT_BAKERY_NAME,
        region="local",
        description=DEFAULT_BAKERY_DESCRIPTION,
        kind=BakeryKind.LOCAL,
        production=profile,
        # One machine: two bakes at once already use every core DirectRunner finds.
        max_concurrent_runs=2,
        environment_cache=True,
    )
    return BakeryRegistry(bakeries={bakery.name: bakery})


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(document)"
        kind = item["type"]
        if kind == "enum":
            text = "must be one of " + ", ".join(k.value for k in BakeryKind)
        elif kind == "missing":
            text = "is required"
        elif kind == "extra_forbidden":
            text = "is not a known key"
        else:
            message = item["msg"]
            text = message[:1].lower() + message[1:]
        problems.append(f"{path}: {text}")
    return problems


def _profile(
    entry: _ProfileEntry, *, kind: BakeryKind, path: str, resolver: EnvResolver
) -> StorageProfile:
    problems = resolver.problems
    config = entry.runner_config
    for section, key in PER_RUN_KEYS:
        if key in (config.get(section) or {}):
            problems.append(f"{path}.runner_config.{section}.{key}: is set per run; remove it")
    for section, key in REQUIRED_KEYS.get(kind, ()):
        if not (config.get(section) or {}).get(key):
            problems.append(f"{path}.runner_config.{section}.{key}: is required for kind {kind}")
    declared_class = (config.get("Bake") or {}).get("bakery_class")
    if declared_class not in (None, BAKERY_CLASSES[kind]):
        problems.append(
            f"{path}.runner_config.Bake.bakery_class: must be {BAKERY_CLASSES[kind]} "
            f"for kind {kind} (or be left out)"
        )
    _check_template(entry.target_root, TARGET_ROOT_FIELDS, f"{path}.target_root", problems)
    _check_template(entry.public_url, PUBLIC_URL_FIELDS, f"{path}.public_url", problems)
    if "{subpath}" not in entry.target_root:
        problems.append(f"{path}.target_root: must contain {{subpath}}")
    runner_config = resolver.tree(config, f"{path}.runner_config")
    env = {}
    for name, value in entry.env.items():
        resolved = resolver.string(value, f"{path}.env.{name}")
        env[name] = resolved if isinstance(resolved, SecretStr) else SecretStr(resolved)
    return StorageProfile(
        runner_config=runner_config if isinstance(runner_config, dict) else {},
        env=env,
        target_root=entry.target_root,
        public_url=entry.public_url,
    )


def _check_template(template: str, allowed: frozenset[str], path: str, problems: list[str]) -> None:
    if ENV_REFERENCE.search(template):
        problems.append(f"{path}: ${{VAR}} references are only resolved in runner_config and env")
        return
    try:
        names = template_fields(template)
    except ValueError as error:
        problems.append(f"{path}: {error}")
        return
    for name in sorted(names - allowed):
        choices = ", ".join(f"{{{a}}}" for a in sorted(allowed))
        problems.append(f"{path}: unknown placeholder {{{name}}}; use {choices}")
