"""What a pull request changes: its head's files against its base commit's, path by path."""

from __future__ import annotations

from dataclasses import dataclass

from pangeo_forge_orchestrator.sandbox.gitrepos import GitRepos
from pangeo_forge_orchestrator.sandbox.objects import git_blob_sha
from pangeo_forge_orchestrator.sandbox.state import Pull, Repo


@dataclass(frozen=True)
class Change:
    filename: str
    status: str  # added | modified | removed
    blob_sha: str
    additions: int
    deletions: int


def changes(git: GitRepos, repo: Repo, pull: Pull) -> list[Change]:
    """The files PULL changes, by path: its head's tree against its base commit's."""
    before = git.tree(repo.owner, repo.name, pull.base_sha) or {}
    after = git.tree(repo.owner, repo.name, pull.head_sha) or {}
    found = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        found.append(
            Change(
                filename=path,
                status=status,
                blob_sha=git_blob_sha(new if new is not None else old or b""),
                additions=0 if new is None else len(new.splitlines()),
                deletions=0 if old is None else len(old.splitlines()),
            )
        )
    return found
