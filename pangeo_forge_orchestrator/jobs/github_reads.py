"""The GitHub reads that workflow decisions need: meta.yaml at a sha, changed files, a PR,
a person's permission. Never a clone: meta.yaml comes through the contents API.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from typing import Any

from pangeo_forge_orchestrator.adapters.github import GitHubClient, NotFound
from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import LayoutViolation, MetaLocation, locate_meta
from pangeo_forge_orchestrator.core.meta import (
    MAX_META_BYTES,
    FeedstockMeta,
    InvalidMeta,
    missing_meta,
    parse_meta,
)
from pangeo_forge_orchestrator.core.permissions import CollaboratorPermission
from pangeo_forge_orchestrator.core.policy import Policy, RepoKind

REPO = "/repos/{owner}/{repo}"
CONTENTS = REPO + "/contents/{+path}{?ref}"
PULL = REPO + "/pulls/{pull_number}"
PULL_FILES = REPO + "/pulls/{pull_number}/files{?per_page}"
PERMISSION = REPO + "/collaborators/{username}/permission"
BRANCH = REPO + "/branches/{branch}"
NOT_UTF8 = "`meta.yaml` is not UTF-8 text."

Meta = FeedstockMeta | InvalidMeta


def _where(repo: RepositoryRef) -> dict[str, Any]:
    return {"owner": repo.owner, "repo": repo.name}


async def file_at(gh: GitHubClient, repo: RepositoryRef, *, path: str, ref: str) -> Any | None:
    """The contents API's answer for a file at REF, or None when there is no such file."""
    try:
        return await gh.getitem(CONTENTS, {**_where(repo), "path": path, "ref": ref})
    except NotFound:
        return None


def decoded(data: Any) -> bytes:
    return base64.b64decode(data.get("content") or "")


async def read_meta(
    gh: GitHubClient,
    repo: RepositoryRef,
    *,
    path: str,
    ref: str,
    known_bakeries: Collection[str],
) -> Meta:
    """meta.yaml at REF, parsed and validated; a missing file is a problem to report."""
    data = await file_at(gh, repo, path=path, ref=ref)
    if data is None or not isinstance(data, dict) or data.get("type", "file") != "file":
        return missing_meta(path)
    size = data.get("size")
    if isinstance(size, int) and size > MAX_META_BYTES:
        return InvalidMeta((msg.META_TOO_LARGE.format(size=size, limit=MAX_META_BYTES),))
    try:
        text = decoded(data).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return InvalidMeta((NOT_UTF8,))
    return parse_meta(text, known_bakeries=known_bakeries)


async def changed_paths(gh: GitHubClient, repo: RepositoryRef, number: int) -> tuple[str, ...]:
    """The paths a PR changes, with the old path of every renamed file."""
    paths: list[str] = []
    url_vars = {**_where(repo), "pull_number": number, "per_page": 100}
    async for entry in gh.getiter(PULL_FILES, url_vars):
        paths.append(entry["filename"])
        if entry.get("previous_filename"):
            paths.append(entry["previous_filename"])
    return tuple(paths)


async def locate_and_read_meta(
    gh: GitHubClient,
    repo: RepositoryRef,
    *,
    number: int,
    sha: str,
    policy: Policy,
    known_bakeries: Collection[str],
) -> tuple[MetaLocation | LayoutViolation, Meta | None]:
    """Where the PR's meta.yaml lives (staged-recipes: its one recipe folder) and its content."""
    staged = policy.repo_kind(repo.name) is RepoKind.STAGED_RECIPES
    paths = await changed_paths(gh, repo, number) if staged else None
    location = locate_meta(
        staged_recipes=staged, changed_paths=paths, feedstock_dir=policy.feedstock_dir
    )
    if isinstance(location, LayoutViolation):
        return location, None
    meta = await read_meta(
        gh, repo, path=location.meta_path, ref=sha, known_bakeries=known_bakeries
    )
    return location, meta


async def get_pull(gh: GitHubClient, repo: RepositoryRef, number: int) -> Any:
    return await gh.getitem(PULL, {**_where(repo), "pull_number": number})


async def branch_sha(gh: GitHubClient, repo: RepositoryRef, branch: str) -> str:
    data = await gh.getitem(BRANCH, {**_where(repo), "branch": branch})
    return str(data["commit"]["sha"])


async def permission_of(
    gh: GitHubClient, repo: RepositoryRef, login: str
) -> CollaboratorPermission | None:
    """LOGIN's permission on REPO; None when GitHub knows no such collaborator."""
    try:
        data = await gh.getitem(PERMISSION, {**_where(repo), "username": login})
    except NotFound:
        return None
    return CollaboratorPermission.from_response(data)


def repo_clone_url(data: Any) -> str | None:
    """Where pangeo-forge-runner fetches a repository object from: its clone URL, else its web
    URL (the original service used html_url, which git clones as well)."""
    if not isinstance(data, dict):
        return None
    for key in ("clone_url", "html_url"):
        url = data.get(key)
        if isinstance(url, str) and url:
            return url
    return None
