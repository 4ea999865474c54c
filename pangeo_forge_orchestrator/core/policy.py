"""What triggers what: the knobs of the recipe-run workflows, as one value passed to decisions.

Handlers never test event names or title prefixes themselves; they hand facts and a `Policy`
to `core`, so a per-feedstock policy later (DESIGN §7) is a different value, not new code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pangeo_forge_orchestrator.core.vocabulary import RunConclusion


class RepoKind(StrEnum):
    FEEDSTOCK = "feedstock"
    STAGED_RECIPES = "staged-recipes"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The rules a repository's events are judged by; the defaults are the service's."""

    # pull_request actions that (re)validate meta.yaml and record test runs for the head sha.
    sync_actions: frozenset[str] = frozenset(
        {"opened", "synchronize", "reopened", "ready_for_review"}
    )
    # Our own automated PRs ("Cleanup <name>") must not trigger runs or feedstock creation.
    skip_title_prefixes: tuple[str, ...] = ("cleanup",)
    # Drafts get the check (early feedback on meta.yaml) but no runs until ready for review.
    queue_runs_for_drafts: bool = False
    # A new push makes the older sha's test runs pointless: stop them to free the bakery.
    cancel_superseded_runs: bool = True
    # Collaborator permissions (GitHub's `permission` or `role_name`) allowed to run PR code.
    run_permissions: frozenset[str] = frozenset({"admin", "maintain", "write"})
    # Conclusions that a check-run "Re-run" button starts again; a cancel was deliberate.
    rerun_conclusions: frozenset[RunConclusion] = frozenset(
        {RunConclusion.FAILURE, RunConclusion.TIMED_OUT}
    )
    # A merged feedstock PR deploys when it changed a file under this folder.
    feedstock_dir: str = "feedstock"
    production_runs_on_merge: bool = True
    staged_recipes_repo: str = "staged-recipes"
    # What a staged-recipes merge creates, like the original service did.
    feedstock_homepage: str = "https://pangeo-forge.org"
    feedstock_license_template: str = "apache-2.0"
    feedstock_gitignore_template: str = "Python"
    default_branch: str = "main"

    def repo_kind(self, repo_name: str) -> RepoKind:
        """Classify a repository already accepted as a feedstock repository by name.

        GitHub repository names are case-insensitive, so the comparison is too.
        """
        if repo_name.lower() == self.staged_recipes_repo.lower():
            return RepoKind.STAGED_RECIPES
        return RepoKind.FEEDSTOCK

    def skips_title(self, title: str) -> bool:
        """Whether a PR title marks one of our own automated PRs (case-insensitive prefix)."""
        lowered = title.strip().lower()
        return any(lowered.startswith(prefix.lower()) for prefix in self.skip_title_prefixes)


DEFAULT_POLICY = Policy()
