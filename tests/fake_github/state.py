"""The fake GitHub's state: repositories and what the tests seeded or the code created."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


class MutableClock:
    """A clock tests move by hand; the fake and the client under test share it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    template: str
    path_params: dict[str, str]
    query: dict[str, str]
    body: Any
    headers: httpx.Headers
    identity: str = "anonymous"
    status: int = 0


@dataclass
class Injected:
    """A canned failure for the next `times` requests matching method/template."""

    method: str | None
    template: str | None
    times: int
    respond: Callable[[], httpx.Response]


@dataclass
class IssuedToken:
    installation_id: int
    token: str
    expires_at: datetime


@dataclass
class FakeRepo:
    """A repository's state: branches, files per ref, PRs, comments, checks, deployments."""

    owner: str
    name: str
    id: int
    installation_id: int | None
    default_branch: str = "main"
    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    pull_files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Settings a PATCH or a create set (description, homepage, has_wiki, ...), shown by GET.
    metadata: dict[str, Any] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Commits the fake made (contents writes, merges): sha -> {message, parents, branch}.
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def put_file(self, path: str, content: str | bytes, *, ref: str | None = None) -> None:
        """Store a file at REF (a branch name or a commit sha; the default branch if None)."""
        data = content.encode() if isinstance(content, str) else content
        self.files.setdefault(ref or self.default_branch, {})[path] = data

    def file_at(self, path: str, ref: str | None) -> bytes | None:
        return self.files.get(ref or self.default_branch, {}).get(path)

    @property
    def merged(self) -> list[int]:
        """Numbers of the merged pull requests, in number order."""
        return sorted(n for n, pull in self.pulls.items() if pull.get("merged"))

    def tree(self, ref: str | None) -> dict[str, bytes] | None:
        """The files at REF: a branch's current files, a commit's snapshot, or None."""
        ref = ref or self.default_branch
        if ref in self.branches:
            return self.files.setdefault(ref, {})
        if ref in self.files:
            return self.files[ref]
        for branch, head in self.branches.items():
            if head == ref:
                return self.files.setdefault(branch, {})
        return None

    def freeze(self, sha: str) -> None:
        """Snapshot the files of SHA (a branch head) so they outlive the branch moving on."""
        if sha not in self.files:
            self.files[sha] = dict(self.tree(sha) or {})

    def commit(self, branch: str, files: dict[str, bytes], *, message: str) -> str:
        """Make FILES the new head commit of BRANCH (created if absent); return its sha."""
        parent = self.branches.get(branch)
        if parent is not None:
            self.freeze(parent)
        seed = f"{self.full_name}\0{branch}\0{len(self.commits)}\0{message}"
        sha = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        self.files[sha] = dict(files)
        self.files[branch] = dict(files)
        self.branches[branch] = sha
        parents = [] if parent is None else [parent]
        self.commits[sha] = {"message": message, "parents": parents, "branch": branch}
        return sha

    def descends_from(self, sha: str, ancestor: str) -> bool:
        """Whether ANCESTOR is SHA or reachable from it through the parents of known commits."""
        todo, seen = [sha], set()
        while todo:
            current = todo.pop()
            if current == ancestor:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(self.commits.get(current, {}).get("parents", []))
        return False

    def open_pull_from(self, head_ref: str) -> dict[str, Any] | None:
        """The open pull request whose head is branch HEAD_REF of this repository."""
        for pull in self.pulls.values():
            if pull["state"] == "open" and pull["head"]["ref"] == head_ref:
                return pull
        return None

    def comments_on(self, issue_number: int) -> list[dict[str, Any]]:
        suffix = f"/issues/{issue_number}"
        return [c for c in self.comments.values() if c["issue_url"].endswith(suffix)]


def blob_sha(data: bytes) -> str:
    """The git blob sha GitHub reports for a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def b64(data: bytes) -> str:
    """Base64 wrapped at 60 columns, as the contents API returns it."""
    text = base64.b64encode(data).decode()
    return "\n".join(text[i : i + 60] for i in range(0, len(text), 60)) + "\n"


def newest_first(items: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (item[key], item["id"]), reverse=True)
