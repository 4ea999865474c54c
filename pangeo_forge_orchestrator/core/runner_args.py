"""The pangeo-forge-runner command lines, child environments and per-run config (pure).

The argv shapes are the original service's (LEGACY-API "pangeo-forge-runner CLI"):
  expand-meta --repo=<url> --ref=<sha> --json
  bake --repo=<url> --ref=<sha> --json [--prune] --Bake.recipe_id=<id> -f <config.json>
       [--feedstock-subdir=<dir>]
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from pangeo_forge_orchestrator.core.bakeries import BakeryConfig
from pangeo_forge_orchestrator.core.bakes import BakeRequest
from pangeo_forge_orchestrator.core.secrets import reveal

# Both commands import the repository's recipe code, so the child sees only what a build
# needs: never PFO_* (the App key, the webhook secret), never the service's cloud credentials
# (GOOGLE_APPLICATION_CREDENTIALS, AWS_*), never PYTHONPATH (it would leak into the venvs).
CHILD_ENV_ALLOWLIST = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
# `bake` installs the feedstock's requirements, which may need the operator's package index.
# expand-meta installs nothing, and runs unreviewed PR code, so it never gets these.
BAKE_ENV_PREFIXES = ("PIP_",)


def child_env(
    environ: Mapping[str, str],
    *,
    prefixes: Sequence[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return an environment built from an allow-list of environ, plus explicit extras."""
    env = {name: environ[name] for name in CHILD_ENV_ALLOWLIST if name in environ}
    env.update({k: v for k, v in environ.items() if prefixes and k.startswith(tuple(prefixes))})
    env.update(extra or {})
    return env


def expand_meta_argv(
    command: Sequence[str], *, repo_url: str, ref: str, feedstock_subdir: str | None = None
) -> list[str]:
    argv = [*command, "expand-meta", f"--repo={repo_url}", f"--ref={ref}", "--json"]
    if feedstock_subdir:
        argv.append(f"--feedstock-subdir={feedstock_subdir}")
    return argv


def bake_argv(command: Sequence[str], *, request: BakeRequest, config_path: str) -> list[str]:
    """Return the bake command line; test runs are pruned to two time steps."""
    argv = [*command, "bake", f"--repo={request.repo_url}", f"--ref={request.ref}", "--json"]
    if request.is_test:
        argv.append("--prune")
    argv += [f"--Bake.recipe_id={request.recipe_id}", "-f", config_path]
    if request.feedstock_subdir:
        argv.append(f"--feedstock-subdir={request.feedstock_subdir}")
    return argv


def bake_config(bakery: BakeryConfig, request: BakeRequest) -> dict[str, Any]:
    """Return the runner's config for one run: the profile's, plus what each run decides.

    Secrets are revealed here: the result goes only into the 0600 config file.
    """
    config = copy.deepcopy(reveal(bakery.profile(is_test=request.is_test).runner_config))
    config.setdefault("Bake", {}).update(
        bakery_class=bakery.bakery_class, job_name=request.job_name
    )
    config.setdefault("TargetStorage", {})["root_path"] = request.target_root
    return config


def bake_env(
    bakery: BakeryConfig, request: BakeRequest, environ: Mapping[str, str]
) -> dict[str, str]:
    """Return the bake child's environment: the allow-list, pip's settings, the profile's env."""
    profile = bakery.profile(is_test=request.is_test)
    extra = {name: value.get_secret_value() for name, value in profile.env.items()}
    return child_env(environ, prefixes=BAKE_ENV_PREFIXES, extra=extra)


def interpreter_from_shebang(first_line: str) -> list[str] | None:
    """Return the interpreter argv of a script's `#!` line if it runs Python, else None."""
    if not first_line.startswith("#!"):
        return None
    parts = first_line[2:].split()
    if not parts or not any(p.rsplit("/", 1)[-1].startswith("python") for p in parts):
        return None
    return parts
