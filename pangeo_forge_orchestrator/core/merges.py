"""A pull request was merged: deploy a feedstock's recipes, or turn a staged recipe into one.

- feedstock, with a change under `feedstock/`: one production run per recipe at the merge
  commit (each then deployed and launched by `run_reports.launch_production_run`);
- staged-recipes, adding exactly one `recipes/<name>/`: the feedstock-creation job.
Either way a problem found only now is explained on the merged PR, since no check can stop
a merge that already happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    CreateFeedstock,
    Effect,
    ExpandMeta,
    PostComment,
    QueueProductionRun,
    RecordFeedstock,
    Skip,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import (
    LayoutViolation,
    staged_recipe_folder,
    touches_dir,
)
from pangeo_forge_orchestrator.core.meta import FeedstockMeta, InvalidMeta
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, Policy, RepoKind
from pangeo_forge_orchestrator.core.runs import RunRecord

SKIP_TITLE = "automated pull request ({title!r}) is skipped"
SKIP_NO_FEEDSTOCK_CHANGE = "the merge changed nothing under {directory}/"
SKIP_PRODUCTION_OFF = "production runs on merge are turned off by policy"


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeFacts:
    repo: RepositoryRef
    kind: RepoKind
    pr_number: int
    title: str
    merge_sha: str
    merged_by: str | None
    changed_paths: tuple[str, ...]
    # Feedstock only: meta.yaml at the merge commit, read when `feedstock/` changed.
    meta: FeedstockMeta | InvalidMeta | None = None
    # Production runs already recorded at the merge commit (a redelivered merge adds none).
    production_runs: tuple[RunRecord, ...] = ()


def needs_meta(facts: MergeFacts, *, policy: Policy = DEFAULT_POLICY) -> bool:
    """Whether the handler should read meta.yaml at the merge commit before deciding."""
    return (
        facts.kind is RepoKind.FEEDSTOCK
        and policy.production_runs_on_merge
        and not policy.skips_title(facts.title)
        and touches_dir(facts.changed_paths, policy.feedstock_dir)
    )


def decide_merge(
    facts: MergeFacts, *, policy: Policy = DEFAULT_POLICY
) -> tuple[Effect, ...] | Skip:
    """Start what a merge calls for (see the module docstring)."""
    if policy.skips_title(facts.title):
        return Skip(SKIP_TITLE.format(title=facts.title))
    if facts.kind is RepoKind.STAGED_RECIPES:
        return _create_feedstock(facts)
    if not policy.production_runs_on_merge:
        return Skip(SKIP_PRODUCTION_OFF)
    if not touches_dir(facts.changed_paths, policy.feedstock_dir):
        return Skip(SKIP_NO_FEEDSTOCK_CHANGE.format(directory=policy.feedstock_dir))
    meta = facts.meta
    if not isinstance(meta, FeedstockMeta):
        meta_path = f"{policy.feedstock_dir}/meta.yaml"
        problems = meta.problems if meta is not None else (msg.META_MISSING.format(path=meta_path),)
        body = msg.MERGED_META_INVALID.format(
            sha=facts.merge_sha, problems=msg.problem_list(problems)
        )
        key = f"merge-{facts.merge_sha}:meta-invalid"
        return (PostComment(issue_number=facts.pr_number, key=key, body=body),)
    effects: list[Effect] = [RecordFeedstock(spec=facts.repo.full_name)]
    if meta.needs_expansion:
        effects.append(
            ExpandMeta(
                feedstock_spec=facts.repo.full_name,
                head_sha=facts.merge_sha,
                feedstock_subdir=policy.feedstock_dir,
                pr_number=facts.pr_number,
                for_production=True,
            )
        )
        return tuple(effects)
    recorded = {run.recipe_id for run in facts.production_runs if run.head_sha == facts.merge_sha}
    effects.extend(
        QueueProductionRun(
            feedstock_spec=facts.repo.full_name,
            head_sha=facts.merge_sha,
            recipe_id=recipe_id,
            bakery=meta.bakery_id,
            pr_number=facts.pr_number,
            requested_by=facts.merged_by,
        )
        for recipe_id in meta.recipe_ids
        if recipe_id not in recorded
    )
    return tuple(effects)


def _create_feedstock(facts: MergeFacts) -> tuple[Effect, ...]:
    folder = staged_recipe_folder(facts.changed_paths)
    if isinstance(folder, LayoutViolation):
        body = msg.MERGED_LAYOUT_INVALID.format(
            rule=msg.LAYOUT_RULE, problems=msg.problem_list(folder.problems)
        )
        key = f"merge-{facts.merge_sha}:layout-invalid"
        return (PostComment(issue_number=facts.pr_number, key=key, body=body),)
    return (
        CreateFeedstock(
            staged_recipes_spec=facts.repo.full_name,
            recipe_name=folder.name,
            pr_number=facts.pr_number,
            merge_sha=facts.merge_sha,
        ),
    )
