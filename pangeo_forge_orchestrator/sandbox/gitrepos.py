"""Real bare git repositories on disk for the GitHub simulator, written with git plumbing.

Commits are built from a temporary index (never a work tree), so a pull request's head sha is a
real commit that pangeo-forge-runner can `git clone file://…` and `git reset --hard`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pangeo_forge_orchestrator.sandbox.gitnames import (
    check_branch,
    check_files,
    check_ident,
    check_name,
    check_path,
    is_branch_name,
)

_SHA = re.compile(r"[0-9a-fA-F]{40}")
_IDENT = re.compile(rb"(.*) <(.*)> (\d+) ([+-]\d{4})")
_BLOB_MODE = "100644"


class GitError(Exception):
    """A git command failed; the message carries git's stderr."""


@dataclass(frozen=True)
class CommitInfo:
    """What the simulator reports about a commit."""

    sha: str
    message: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    date: datetime  # the author date, aware UTC, whole seconds as git stores it


class GitRepos:
    """Bare repositories under ROOT/<owner>/<name>.git, driven with git plumbing (no work trees).

    Every method but `create`, `exists`, `path` and `clone_url` raises FileNotFoundError for a
    repository that does not exist; bad names, paths or shas raise ValueError.
    """

    def __init__(self, root: Path, *, git: str = "git") -> None:
        self.root = root.absolute()
        executable = shutil.which(git)
        if executable is None:
            raise GitError(f"git executable not found: {git!r}")
        self._git = executable
        # A fresh environment rather than a copy of ours: an inherited GIT_DIR, GIT_INDEX_FILE or
        # GIT_OBJECT_DIRECTORY (a git hook running the tests sets them) would send writes
        # elsewhere, and user or system config would change what gets written.
        self._env = {
            "PATH": os.pathsep.join([str(Path(executable).parent), os.defpath]),
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
        }
        self._locks: dict[tuple[str, str], threading.RLock] = {}
        self._locks_guard = threading.Lock()

    # -- repositories -------------------------------------------------------------------------

    def path(self, owner: str, name: str) -> Path:
        """Return ROOT/owner/name.git (absolute), whether or not it exists."""
        return self.root / check_name(owner, what="owner") / f"{check_name(name)}.git"

    def clone_url(self, owner: str, name: str) -> str:
        """Return the file:// URI that `git clone` accepts for the repository."""
        return self.path(owner, name).as_uri()

    def exists(self, owner: str, name: str) -> bool:
        """Tell whether the repository exists."""
        return self.path(owner, name).is_dir()

    @contextmanager
    def locked(self, owner: str, name: str) -> Iterator[None]:
        """Hold the repository's ref lock, e.g. to read a branch and commit on it atomically.

        The lock is re-entrant: `commit`, `set_branch` and `delete_branch` may be called inside.
        """
        self.path(owner, name)  # validates both names
        with self._locks_guard:
            lock = self._locks.setdefault((owner, name), threading.RLock())
        with lock:
            yield

    def create(self, owner: str, name: str, *, default_branch: str = "main") -> None:
        """Initialise an empty bare repository whose HEAD names `default_branch`."""
        repo = self.path(owner, name)
        check_branch(default_branch)
        repo.parent.mkdir(parents=True, exist_ok=True)
        repo.mkdir()  # atomic: a concurrent create of the same name gets FileExistsError
        try:
            # An empty template: no sample hooks, nothing copied from the system.
            self._run(None, "init", "--bare", "--quiet", "--template=", str(repo))
            self._run(repo, "symbolic-ref", "HEAD", f"refs/heads/{default_branch}")
            # Handed-out shas must stay readable even once no branch reaches them.
            self._run(repo, "config", "gc.auto", "0")
        except BaseException:
            shutil.rmtree(repo, ignore_errors=True)
            raise

    def delete(self, owner: str, name: str) -> None:
        """Remove the repository from disk."""
        repo = self._existing(owner, name)
        with self.locked(owner, name):
            shutil.rmtree(repo)

    def rename(self, owner: str, name: str, new_name: str) -> None:
        """Rename the repository within its owner; FileExistsError if `new_name` is taken."""
        repo = self._existing(owner, name)
        target = self.path(owner, new_name)
        first, second = sorted([name, new_name])  # one order, so crossed renames cannot deadlock
        with self.locked(owner, first), self.locked(owner, second):
            # os.rename would silently replace an empty directory, so refuse any target first.
            if target.exists():
                raise FileExistsError(f"repository {owner}/{new_name} already exists")
            repo.rename(target)

    def default_branch(self, owner: str, name: str) -> str:
        """Return the branch HEAD names (it may not exist yet in an empty repository)."""
        repo = self._existing(owner, name)
        head = self._run(repo, "symbolic-ref", "HEAD").stdout.decode().strip()
        return head.removeprefix("refs/heads/")

    def set_default_branch(self, owner: str, name: str, branch: str) -> None:
        """Point HEAD at `branch`, which clones then check out by default."""
        repo = self._existing(owner, name)
        check_branch(branch)
        with self.locked(owner, name):
            self._run(repo, "symbolic-ref", "HEAD", f"refs/heads/{branch}")

    # -- commits ------------------------------------------------------------------------------

    def commit(
        self,
        owner: str,
        name: str,
        *,
        files: Mapping[str, bytes],
        message: str,
        parents: Sequence[str],
        author: tuple[str, str],
        when: datetime,
        branch: str | None = None,
    ) -> str:
        """Write a commit whose tree is exactly `files`, and move `branch` to it when given.

        Author and committer are both `author` at `when` (UTC, whole seconds), so the same
        inputs give the same sha in any repository.
        """
        repo = self._existing(owner, name)
        check_files(files)
        check_ident(*author)
        if branch is not None:
            check_branch(branch)
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("commit time must be timezone-aware")
        if "\0" in message:
            raise ValueError("a commit message cannot contain a NUL character")
        if len(set(parents)) != len(parents):
            raise ValueError(f"duplicate parents {list(parents)}")
        parent_shas = [self._commit_sha(repo, parent) for parent in parents]
        date = f"@{int(when.timestamp())} +0000"
        ident = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_COMMITTER_DATE": date,
        }
        tree = self._write_tree(repo, files)
        args = ["commit-tree", tree]
        for parent in parent_shas:
            args += ["-p", parent]
        sha = self._run(repo, *args, stdin=message.encode(), env=ident).stdout.decode().strip()
        if branch is not None:
            with self.locked(owner, name):
                self._run(repo, "update-ref", f"refs/heads/{branch}", sha)
        return sha

    def _write_tree(self, repo: Path, files: Mapping[str, bytes]) -> str:
        # The scratch directory lives inside the repository so that nothing is written outside
        # ROOT; git ignores unknown entries of a git directory.
        with tempfile.TemporaryDirectory(prefix="pfo-commit-", dir=repo) as scratch:
            index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            if files:
                blob_paths = []
                for number, content in enumerate(files.values()):
                    blob_path = Path(scratch) / f"blob-{number}"
                    blob_path.write_bytes(content)
                    blob_paths.append(str(blob_path))
                hashed = self._run(
                    repo,
                    *("hash-object", "-w", "--no-filters", "--stdin-paths"),
                    stdin="\n".join(blob_paths).encode() + b"\n",
                ).stdout.split()
                entries = b"".join(
                    f"{_BLOB_MODE} {sha.decode()}\t{path}\0".encode()
                    for path, sha in zip(files, hashed, strict=True)
                )
                self._run(repo, "update-index", "-z", "--index-info", stdin=entries, env=index)
            return self._run(repo, "write-tree", env=index).stdout.decode().strip()

    def info(self, owner: str, name: str, sha: str) -> CommitInfo | None:
        """Describe the commit `sha` (full 40 hex), or None when there is no such commit."""
        repo = self._existing(owner, name)
        found = self._first_commit(repo, [sha]) if _SHA.fullmatch(sha) else None
        if found is None:
            return None
        raw = self._run(repo, "cat-file", "commit", found).stdout
        header, _, message = raw.partition(b"\n\n")
        parents: list[str] = []
        author = b""
        for line in header.split(b"\n"):
            key, _, value = line.partition(b" ")
            if key == b"parent":
                parents.append(value.decode())
            elif key == b"author":
                author = value
        match = _IDENT.fullmatch(author)
        if match is None:
            raise GitError(f"unreadable author line in commit {sha}: {author!r}")
        name_, email, seconds, _zone = match.groups()
        return CommitInfo(
            sha=found,
            message=message.decode(errors="replace"),
            parents=tuple(parents),
            author_name=name_.decode(errors="replace"),
            author_email=email.decode(errors="replace"),
            date=datetime.fromtimestamp(int(seconds), UTC),
        )

    # -- reading ------------------------------------------------------------------------------

    def resolve(self, owner: str, name: str, ref: str) -> str | None:
        """Return the commit sha of a branch, `refs/heads/<branch>` or full sha; else None."""
        return self._resolve(self._existing(owner, name), ref)

    def tree(self, owner: str, name: str, ref: str) -> dict[str, bytes] | None:
        """Return every file at `ref` with its content, or None when `ref` resolves to nothing."""
        repo = self._existing(owner, name)
        sha = self._resolve(repo, ref)
        if sha is None:
            return None
        listing = self._run(repo, "ls-tree", "-r", "-z", "--full-tree", sha).stdout
        entries: list[tuple[str, str]] = []
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            _mode, kind, blob = meta.split(b" ")
            if kind == b"blob":  # submodule entries (`commit`) have no content here
                entries.append((path.decode(), blob.decode()))
        contents = self._cat_blobs(repo, {blob for _, blob in entries})
        return {path: contents[blob] for path, blob in entries}

    def read(self, owner: str, name: str, ref: str, path: str) -> bytes | None:
        """Return the content of file `path` at `ref`, or None when either is absent."""
        repo = self._existing(owner, name)
        check_path(path)
        sha = self._resolve(repo, ref)
        if sha is None:
            return None
        out = self._run(repo, "cat-file", "--batch", stdin=f"{sha}:{path}\n".encode()).stdout
        header, _, rest = out.partition(b"\n")
        fields = header.split(b" ")
        if len(fields) != 3 or fields[1] != b"blob":
            return None  # missing, or a directory
        return rest[: int(fields[2])]

    def merge_base(self, owner: str, name: str, one: str, other: str) -> str | None:
        """Return the best common ancestor of two refs (GitHub's three-dot base), or None."""
        repo = self._existing(owner, name)
        first, second = self._resolve(repo, one), self._resolve(repo, other)
        if first is None or second is None:
            return None
        done = self._run(repo, "merge-base", first, second, ok=(0, 1))
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def is_ancestor(self, owner: str, name: str, ancestor: str, sha: str) -> bool:
        """Tell whether `ancestor` is reachable from `sha` (True also when they are equal)."""
        repo = self._existing(owner, name)
        older, newer = self._resolve(repo, ancestor), self._resolve(repo, sha)
        if older is None or newer is None:
            return False
        done = self._run(repo, "merge-base", "--is-ancestor", older, newer, ok=(0, 1))
        return done.returncode == 0

    # -- branches -----------------------------------------------------------------------------

    def branches(self, owner: str, name: str) -> dict[str, str]:
        """Return every branch with the sha it points at."""
        repo = self._existing(owner, name)
        out = self._run(
            repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/"
        ).stdout.decode()
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return {ref.removeprefix("refs/heads/"): sha for sha, ref in pairs}

    def set_branch(self, owner: str, name: str, branch: str, sha: str) -> None:
        """Create `branch` at commit `sha`, or move it there (forced)."""
        repo = self._existing(owner, name)
        check_branch(branch)
        target = self._commit_sha(repo, sha)
        with self.locked(owner, name):
            self._run(repo, "update-ref", f"refs/heads/{branch}", target)

    def delete_branch(self, owner: str, name: str, branch: str) -> None:
        """Delete `branch`; deleting a branch that does not exist does nothing."""
        repo = self._existing(owner, name)
        check_branch(branch)
        with self.locked(owner, name):
            self._run(repo, "update-ref", "-d", f"refs/heads/{branch}")

    # -- plumbing -----------------------------------------------------------------------------

    def _existing(self, owner: str, name: str) -> Path:
        repo = self.path(owner, name)
        if not repo.is_dir():
            raise FileNotFoundError(f"no repository {owner}/{name}")
        return repo

    def _resolve(self, repo: Path, ref: str) -> str | None:
        # Only a 40-hex sha or a checked branch name ever reaches git, never free revision syntax
        # (`main~1`, `:/text`); a sha wins over a branch that happens to be named like one.
        candidates = [ref] if _SHA.fullmatch(ref) else []
        branch = ref.removeprefix("refs/heads/")
        if is_branch_name(branch):
            candidates.append(f"refs/heads/{branch}")
        return self._first_commit(repo, candidates)

    def _first_commit(self, repo: Path, candidates: Sequence[str]) -> str | None:
        # One `cat-file --batch-check` answers for every candidate at once.
        if not candidates:
            return None
        stdin = "".join(f"{candidate}\n" for candidate in candidates).encode()
        out = self._run(repo, "cat-file", "--batch-check", stdin=stdin).stdout
        for line in out.splitlines():
            fields = line.split(b" ")
            if len(fields) == 3 and fields[1] == b"commit":
                return fields[0].decode()
        return None

    def _commit_sha(self, repo: Path, sha: str) -> str:
        resolved = self._first_commit(repo, [sha]) if _SHA.fullmatch(sha) else None
        if resolved is None:
            raise ValueError(f"{sha!r} is not the full sha of a commit in {repo.name}")
        return resolved

    def _cat_blobs(self, repo: Path, blobs: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(blobs)
        if not wanted:
            return {}
        stdin = "".join(f"{blob}\n" for blob in wanted).encode()
        out = self._run(repo, "cat-file", "--batch", stdin=stdin).stdout
        contents: dict[str, bytes] = {}
        position = 0
        for blob in wanted:
            end = out.index(b"\n", position)
            fields = out[position:end].split(b" ")
            if len(fields) != 3:
                raise GitError(f"blob {blob} is missing from {repo}")
            size = int(fields[2])
            contents[blob] = out[end + 1 : end + 1 + size]
            position = end + 1 + size + 1  # the content is followed by a newline
        return contents

    def _run(
        self,
        repo: Path | None,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (0,),
    ) -> subprocess.CompletedProcess[bytes]:
        command = [self._git, *([f"--git-dir={repo}"] if repo is not None else []), *args]
        done = subprocess.run(  # noqa: S603 - argv list, no shell, executable resolved at init
            command,
            input=stdin,
            capture_output=True,
            check=False,
            cwd=repo,
            env={**self._env, **(env or {})},
        )
        if done.returncode not in ok:
            stderr = done.stderr.decode(errors="replace").strip()
            raise GitError(f"git {' '.join(args)} failed ({done.returncode}): {stderr}")
        return done
