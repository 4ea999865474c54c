"""GitHub's JSON objects, part 3: what git holds: commits, file contents, refs, branches."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pangeo_forge_orchestrator.sandbox.objects_base import (
    JSON,
    Urls,
    fake_sha,
    iso,
    node_id,
    user,
)

CONTENT_WRAP = 60  # GitHub wraps base64 file content at 60 columns


@dataclass(frozen=True)
class CommitFacts:
    """What a git commit says about itself, as the simulator reads it from its repositories."""

    sha: str
    message: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    date: datetime
    tree_sha: str = ""  # unknown: a plausible stand-in is made up
    author_login: str | None = None  # the account the author's email belongs to, if any


def git_blob_sha(data: bytes) -> str:
    """The id git gives a file's content (what GitHub calls a file's `sha`)."""
    header = f"blob {len(data)}\0".encode()
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


def _wrapped_base64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "".join(
        encoded[i : i + CONTENT_WRAP] + "\n" for i in range(0, len(encoded), CONTENT_WRAP)
    )


def content_entry(
    urls: Urls,
    *,
    full_name: str,
    path: str,
    data: bytes | None,
    ref: str,
    sha: str | None = None,
) -> JSON:
    """One item of a directory listing; `data` None is a directory (pass its tree `sha`)."""
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    qpath, qref = quote(path), quote(ref)
    is_dir = data is None
    if sha is None:
        sha = fake_sha(f"tree {full_name}@{ref}:{path}") if data is None else git_blob_sha(data)
    self_url = f"{api}/contents/{qpath}?ref={quote(ref, safe='')}"
    if is_dir:
        git_url = f"{api}/git/trees/{sha}"
        html_url = f"{web}/tree/{qref}/{qpath}"
        download_url = None
    else:
        git_url = f"{api}/git/blobs/{sha}"
        html_url = f"{web}/blob/{qref}/{qpath}"
        download_url = f"{web}/raw/{qref}/{qpath}"
    return {
        "type": "dir" if is_dir else "file",
        "size": 0 if data is None else len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": download_url,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }


def content_file(urls: Urls, *, full_name: str, path: str, data: bytes, ref: str) -> JSON:
    """GET contents of a file: the entry plus its base64 content, wrapped as GitHub does."""
    entry = content_entry(urls, full_name=full_name, path=path, data=data, ref=ref)
    return {**entry, "content": _wrapped_base64(data), "encoding": "base64"}


def _verification() -> JSON:
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


def _tree_sha(commit: CommitFacts) -> str:
    return commit.tree_sha or fake_sha(f"tree of {commit.sha}")


def _git_person(commit: CommitFacts) -> JSON:
    return {"name": commit.author_name, "email": commit.author_email, "date": iso(commit.date)}


def file_commit(
    urls: Urls, *, full_name: str, commit: CommitFacts, content: Mapping[str, Any] | None
) -> JSON:
    """The answer of PUT/DELETE contents: the file now (None after a delete) and the commit."""
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    kept = ("name", "path", "sha", "size", "url", "html_url", "git_url", "download_url", "type")
    # GitHub answers with the entry without its base64 body.
    entry = None if content is None else {k: content[k] for k in (*kept, "_links") if k in content}
    tree = _tree_sha(commit)
    return {
        "content": entry,
        "commit": {
            "sha": commit.sha,
            "node_id": node_id("Commit", commit.sha),
            "url": f"{api}/git/commits/{commit.sha}",
            "html_url": f"{web}/commit/{commit.sha}",
            "author": _git_person(commit),
            "committer": _git_person(commit),
            "tree": {"url": f"{api}/git/trees/{tree}", "sha": tree},
            "message": commit.message,
            "parents": [
                {"url": f"{api}/git/commits/{p}", "html_url": f"{web}/commit/{p}", "sha": p}
                for p in commit.parents
            ],
            "verification": _verification(),
        },
    }


def git_ref(urls: Urls, *, full_name: str, branch: str, sha: str) -> JSON:
    """A branch ref (POST/PATCH git/refs)."""
    api = urls.repo_api(full_name)
    ref = f"refs/heads/{branch}"
    return {
        "ref": ref,
        "node_id": node_id("Ref", ref),
        "url": f"{api}/git/{quote(ref)}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }


def branch(
    urls: Urls, *, full_name: str, branch: str, commit: CommitFacts, protected: bool = False
) -> JSON:
    """GET branches/{branch} (branch-with-protection)."""
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    qbranch = quote(branch)
    tree = _tree_sha(commit)
    return {
        "name": branch,
        "commit": {
            "sha": commit.sha,
            "node_id": node_id("Commit", commit.sha),
            "url": f"{api}/commits/{commit.sha}",
            "html_url": f"{web}/commit/{commit.sha}",
            "comments_url": f"{api}/commits/{commit.sha}/comments",
            "commit": {
                "url": f"{api}/git/commits/{commit.sha}",
                "author": _git_person(commit),
                "committer": _git_person(commit),
                "message": commit.message,
                "comment_count": 0,
                "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
                "verification": _verification(),
            },
            # An email that maps to no account: GitHub's schema for that is `{}` (a null
            # fails it, as nullable does not reach into its oneOf under OpenAPI 3.0.3).
            "author": {} if commit.author_login is None else user(urls, commit.author_login),
            "committer": {} if commit.author_login is None else user(urls, commit.author_login),
            "parents": [
                {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{web}/commit/{p}"}
                for p in commit.parents
            ],
        },
        "_links": {"self": f"{api}/branches/{qbranch}", "html": f"{web}/tree/{qbranch}"},
        "protected": protected,
        "protection": {
            "enabled": protected,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{api}/branches/{qbranch}/protection",
    }
