"""Job kind `expand_meta`: list a `dict_object` recipe's ids by running its code, isolated.

Payload: `{feedstock_spec, head_sha, feedstock_subdir, pr_number, for_production,
installation_id}` (core.service_effects.ExpandMeta). `pangeo-forge-runner expand-meta` imports
the recipe module, i.e. runs the pull request's code: it runs here, in a worker subprocess
whose environment is the allow-list of core.runner_args (no PFO_* secrets, no cloud
credentials, no App key), and only its JSON output, validated by core.meta, comes back.
Then the sync (test runs) or the merge (production runs) is decided again with the ids.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pangeo_forge_orchestrator.adapters.bakeries.base import runner_command
from pangeo_forge_orchestrator.adapters.runner import RunnerError, expand_meta
from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import Skip
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import MetaLocation, locate_meta
from pangeo_forge_orchestrator.core.merges import MergeFacts, decide_merge
from pangeo_forge_orchestrator.core.meta import FeedstockMeta, InvalidMeta, parse_expanded_meta
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, RepoKind
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.github_reads import (
    changed_paths,
    get_pull,
    read_meta,
    repo_clone_url,
)
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, job_handler
from pangeo_forge_orchestrator.jobs.services import (
    ENVIRON_SERVICE,
    EXPAND_META,
    bakery_services,
    installation_client,
    rate_limits_as_retry,
)
from pangeo_forge_orchestrator.jobs.sync_pull_request import PullRequestState, sync_pull_request

log = logging.getLogger(__name__)

BAD_PAYLOAD = "expand_meta needs feedstock_spec, head_sha and feedstock_subdir"
EXPANSION_FAILED = "`pangeo-forge-runner expand-meta` could not list the recipes: {error}"
NOT_EXPANDABLE = "meta.yaml at {sha} no longer lists recipes through dict_object"
SUPERSEDED = "pull request #{number} moved on to {head}; {sha} needs no expansion"
REPO = "/repos/{owner}/{repo}"
ERROR_CHARS = 1500


@job_handler(EXPAND_META)
async def expand_recipes(ctx: JobContext, job: ClaimedJob) -> None:
    """Run expand-meta for the sha, then record its test runs or its production runs."""
    payload = job.payload
    spec, sha, subdir = (payload.get(k) for k in ("feedstock_spec", "head_sha", "feedstock_subdir"))
    if not (isinstance(spec, str) and isinstance(sha, str) and isinstance(subdir, str)):
        raise PermanentFailure(BAD_PAYLOAD)
    pr_number = payload.get("pr_number")
    repo = RepositoryRef.from_full_name(spec)
    known = bakery_services(ctx).names
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(ctx, repo, payload.get("installation_id"))
        meta = await read_meta(gh, repo, path=f"{subdir}/meta.yaml", ref=sha, known_bakeries=known)
        pull = await get_pull(gh, repo, pr_number) if isinstance(pr_number, int) else None
        # A merge commit lives in the repository itself; a PR's head maybe in a fork.
        head_repo = None if payload.get("for_production") else _source_url(pull)
        repo_url = head_repo or repo_clone_url(
            await gh.getitem(REPO, {"owner": repo.owner, "repo": repo.name})
        )
    if not isinstance(meta, FeedstockMeta) or not meta.needs_expansion:
        log.info("expand-meta not needed", extra={"reason": NOT_EXPANDABLE.format(sha=sha)})
        return
    if repo_url is None:
        raise PermanentFailure(f"GitHub gave no web URL for {repo.full_name}")
    expanded = await _expand(
        ctx, meta, repo_url=repo_url, sha=sha, subdir=subdir, known_bakeries=known
    )
    applier = Applier(ctx=ctx, github=gh, installation_id=installation_id, repo=repo)
    if payload.get("for_production"):
        await _production(applier, repo, pull, sha=sha, meta=expanded)
        return
    if pull is None or not isinstance(pr_number, int):
        raise PermanentFailure("expand_meta for a test sync needs its pull request number")
    head = str(pull["head"]["sha"])
    if head != sha:
        reason = SUPERSEDED.format(number=pr_number, head=head, sha=sha)
        log.info("expand-meta superseded", extra={"reason": reason})
        return
    state = PullRequestState(
        repo=repo,
        action="synchronize",
        number=pr_number,
        head_sha=sha,
        title=str(pull.get("title") or ""),
        draft=pull.get("draft") is True,
    )
    staged = DEFAULT_POLICY.repo_kind(repo.name) is RepoKind.STAGED_RECIPES
    with rate_limits_as_retry():
        paths = await changed_paths(gh, repo, pr_number) if staged else None
    location = locate_meta(
        staged_recipes=staged, changed_paths=paths, feedstock_dir=DEFAULT_POLICY.feedstock_dir
    )
    if not isinstance(location, MetaLocation):
        location = MetaLocation(subdir)
    await sync_pull_request(applier, state, location=location, meta=expanded)


async def _expand(
    ctx: JobContext,
    meta: FeedstockMeta,
    *,
    repo_url: str,
    sha: str,
    subdir: str,
    known_bakeries: frozenset[str],
) -> FeedstockMeta | InvalidMeta:
    environ = ctx.services.get(ENVIRON_SERVICE)
    command = runner_command(ctx.settings.runner_command, env_cache_dir=None)
    try:
        data = await expand_meta(
            command,
            repo_url=repo_url,
            ref=sha,
            environ=environ if isinstance(environ, Mapping) else {},
            feedstock_subdir=subdir,
        )
    except (RunnerError, OSError) as error:
        detail = getattr(error, "detail", None) or str(error)
        return InvalidMeta((EXPANSION_FAILED.format(error=msg.fenced(detail[-ERROR_CHARS:])),))
    return parse_expanded_meta(data, known_bakeries=known_bakeries, default_bakery=meta.bakery_id)


async def _production(
    applier: Applier,
    repo: RepositoryRef,
    pull: Any,
    *,
    sha: str,
    meta: FeedstockMeta | InvalidMeta,
) -> None:
    if pull is None:
        raise PermanentFailure("expand_meta for a merge needs its pull request number")
    number = int(pull["number"])
    with rate_limits_as_retry():
        paths = await changed_paths(applier.github, repo, number)
    runs = await applier.ctx.in_session(
        lambda s: db_runs.runs_at(s, feedstock_spec=repo.full_name, head_sha=sha, is_test=False)
    )
    merged_by = (pull.get("merged_by") or {}).get("login")
    facts = MergeFacts(
        repo=repo,
        kind=RepoKind.FEEDSTOCK,
        pr_number=number,
        title=str(pull.get("title") or ""),
        merge_sha=sha,
        merged_by=merged_by if isinstance(merged_by, str) else None,
        changed_paths=paths,
        meta=meta,
        production_runs=runs,
    )
    decided = decide_merge(facts)
    if isinstance(decided, Skip):
        log.info("merge needs nothing", extra={"reason": decided.reason})
        return
    await applier.apply_all(decided)


def _source_url(pull: Any) -> str | None:
    """The repository that holds the PR's head commit (a fork, maybe)."""
    if not isinstance(pull, dict):
        return None
    return repo_clone_url(pull.get("head", {}).get("repo"))
