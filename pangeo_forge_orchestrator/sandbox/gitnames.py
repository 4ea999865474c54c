"""Names git and the simulator accept: owners and repositories, file paths, branches, authors.

Checked before anything reaches git, so that no input can leave the repository's folder or carry
revision syntax (`main~1`, `@{-1}`, `:/text`) into git's parser; a refusal is a ValueError, which
the simulator answers with GitHub's 422.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
# The characters `git check-ref-format` refuses; checked here so that no branch name ever reaches
# git's revision parser carrying syntax such as `main~1`, `@{-1}` or `:/text`.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_name(value: str, *, what: str = "name") -> str:
    """Refuse an owner or repository name that is not `[A-Za-z0-9._-]+`, `.` or `..`."""
    if not _NAME.fullmatch(value) or value in {".", ".."}:
        raise ValueError(f"invalid {what} {value!r}: use 1-100 of A-Z a-z 0-9 . _ - (not . or ..)")
    return value


def check_path(path: str) -> str:
    """Refuse a file path that could leave the tree or that git would not store as given."""
    segments = path.split("/")
    if (
        not path
        or _CONTROL.search(path)
        or any(seg in {"", ".", ".."} or seg.lower() == ".git" for seg in segments)
    ):
        raise ValueError(
            f"invalid file path {path!r}: relative, '/'-separated, no empty, '.', '..' or '.git'"
            " segment, no control characters"
        )
    return path


def is_branch_name(branch: str) -> bool:
    """Tell whether `refs/heads/<branch>` passes git's ref-name rules (check-ref-format)."""
    return not (
        not branch
        or branch in {"@", "HEAD"}
        or _REF_FORBIDDEN.search(branch)
        or branch.startswith(("/", "-"))
        or branch.endswith(("/", "."))
        or any(seg.startswith(".") or seg.endswith(".lock") for seg in branch.split("/"))
    )


def check_branch(branch: str) -> str:
    """Refuse a branch name git would refuse."""
    if not is_branch_name(branch):
        raise ValueError(f"invalid branch name {branch!r}")
    return branch


def check_files(files: Mapping[str, bytes]) -> None:
    for path in files:
        check_path(path)
    # A path that is both a file and a directory makes a tree git cannot check out.
    directories = {path.rsplit("/", 1)[0] for path in files if "/" in path}
    directories |= {d.rsplit("/", i)[0] for d in directories for i in range(d.count("/") + 1)}
    clashes = sorted(directories & files.keys())
    if clashes:
        raise ValueError(f"paths used both as a file and as a directory: {clashes}")


def check_ident(name: str, email: str) -> None:
    # git silently rewrites identities holding these, which would break determinism of meaning.
    if not name.strip() or any(c in name + email for c in "<>\n\0"):
        raise ValueError(f"invalid author {(name, email)!r}: non-empty name, no <, >, newline")
