"""What the GitHub simulator remembers besides git: installations, pulls, comments, checks, ...

Kept as one pydantic document saved to `state.json` after every change, so a sandbox survives
restarts (`pfo demo` then `make run` show the same pull requests). File contents live in the
git repositories (gitrepos.py), never here.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Installation(BaseModel):
    id: int
    account: str
    created_at: datetime


class Token(BaseModel):
    token: str
    installation_id: int
    expires_at: datetime


class Pull(BaseModel):
    id: int
    number: int
    title: str
    body: str | None = None
    user: str
    state: str = "open"
    draft: bool = False
    head_ref: str
    head_sha: str
    base_ref: str
    # The base branch's head when the pull request was opened: its changes are head minus this.
    base_sha: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    merged_by: str | None = None


class Comment(BaseModel):
    id: int
    issue_number: int
    body: str
    user: str
    created_at: datetime
    updated_at: datetime


class Reaction(BaseModel):
    id: int
    content: str
    user: str
    created_at: datetime


class CheckRun(BaseModel):
    id: int
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    details_url: str | None = None
    external_id: str | None = None
    output: dict[str, Any] = Field(default_factory=dict)
    actions: list[dict[str, Any]] = Field(default_factory=list)


class CommitStatus(BaseModel):
    id: int
    sha: str
    state: str
    context: str
    description: str | None = None
    target_url: str | None = None
    creator: str
    created_at: datetime


class DeploymentStatus(BaseModel):
    id: int
    state: str
    description: str = ""
    environment: str
    environment_url: str = ""
    log_url: str = ""
    target_url: str = ""
    creator: str
    created_at: datetime


class Deployment(BaseModel):
    id: int
    sha: str
    ref: str
    task: str
    environment: str
    description: str | None = None
    payload: Any = None
    creator: str
    created_at: datetime
    updated_at: datetime
    transient_environment: bool = False
    production_environment: bool = False
    statuses: list[DeploymentStatus] = Field(default_factory=list)


class Environment(BaseModel):
    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    settings: dict[str, Any] = Field(default_factory=dict)


class Repo(BaseModel):
    id: int
    owner: str
    name: str
    installation_id: int | None
    private: bool = False
    default_branch: str = "main"
    created_at: datetime
    updated_at: datetime
    pushed_at: datetime | None = None
    # Settings a create or a PATCH set (description, homepage, has_wiki, ...), shown by GET.
    settings: dict[str, Any] = Field(default_factory=dict)
    # login -> admin | write | read; anyone else may read a public repository.
    permissions: dict[str, str] = Field(default_factory=dict)
    pulls: dict[int, Pull] = Field(default_factory=dict)
    comments: dict[int, Comment] = Field(default_factory=dict)
    reactions: dict[int, list[Reaction]] = Field(default_factory=dict)
    check_runs: dict[int, CheckRun] = Field(default_factory=dict)
    statuses: list[CommitStatus] = Field(default_factory=list)
    deployments: dict[int, Deployment] = Field(default_factory=dict)
    environments: dict[str, Environment] = Field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def open_pull_from(self, branch: str) -> Pull | None:
        return next(
            (p for p in self.pulls.values() if p.state == "open" and p.head_ref == branch), None
        )


class Delivery(BaseModel):
    """One attempt to deliver a webhook to the App, as GET /app/hook/deliveries lists them."""

    id: int
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    delivered_at: datetime
    status_code: int
    redelivery: bool = False
    duration: float = 0.0
    # The exact body and headers sent, so a redelivery sends the same bytes again.
    body: str = ""
    headers: dict[str, str] = Field(default_factory=dict)


class SimState(BaseModel):
    next_id: int = 1000
    installations: dict[int, Installation] = Field(default_factory=dict)
    tokens: dict[str, Token] = Field(default_factory=dict)
    repos: dict[str, Repo] = Field(default_factory=dict)
    deliveries: list[Delivery] = Field(default_factory=list)
    hook_url: str = ""
    # organisation (lower case) -> logins that administer all of its repositories
    org_owners: dict[str, list[str]] = Field(default_factory=dict)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def repo(self, owner: str, name: str) -> Repo | None:
        """The repository OWNER/NAME, found case-insensitively as GitHub does."""
        wanted = f"{owner}/{name}".lower()
        return next((r for key, r in self.repos.items() if key.lower() == wanted), None)


def load_state(path: Path) -> SimState:
    if not path.exists():
        return SimState()
    return SimState.model_validate_json(path.read_text(encoding="utf-8"))


def save_state(state: SimState, path: Path) -> None:
    """Write atomically: a crash mid-save leaves the previous state, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(state.model_dump_json(indent=1), encoding="utf-8")
    os.replace(temporary, path)
