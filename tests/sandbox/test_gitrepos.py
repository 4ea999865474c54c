from __future__ import annotations

import os
import subprocess
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pangeo_forge_orchestrator.sandbox.gitrepos import CommitInfo, GitError, GitRepos

AUTHOR = ("Ada Lovelace", "ada@example.org")
WHEN = datetime(2022, 9, 19, 16, 31, 43, tzinfo=UTC)
RECIPE = {
    "feedstock/meta.yaml": b"title: demo\nrecipes:\n  - id: demo\n",
    "feedstock/recipe.py": b"recipe = 'v1'\n",
    "README.md": b"# demo\n",
}


@pytest.fixture
def repos(tmp_path: Path) -> GitRepos:
    repos = GitRepos(tmp_path / "git")
    repos.create("org", "demo-feedstock")
    return repos


def commit(repos: GitRepos, files, *, parents=(), branch="main", message="msg", when=WHEN) -> str:
    return repos.commit(
        "org",
        "demo-feedstock",
        files=files,
        message=message,
        parents=parents,
        author=AUTHOR,
        when=when,
        branch=branch,
    )


def git(*args: str, cwd: Path | None = None) -> str:
    """Run the git a user would run, with no user or system config."""
    env = {
        "PATH": os.environ["PATH"],
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, check=True, text=True
    )
    return done.stdout


def checkout(url: str, sha: str, into: Path) -> dict[str, bytes]:
    """Check SHA out as repo2docker does, and return the files of the work tree."""
    git("clone", "--no-checkout", url, str(into))
    git("-C", str(into), "reset", "--hard", sha)
    return {
        str(path.relative_to(into)): path.read_bytes()
        for path in sorted(into.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(into).parts
    }


def test_create_exists_delete_rename(tmp_path: Path) -> None:
    repos = GitRepos(tmp_path / "git")
    assert not repos.exists("org", "a")
    repos.create("org", "a", default_branch="trunk")
    assert repos.exists("org", "a")
    assert repos.path("org", "a") == tmp_path / "git" / "org" / "a.git"
    assert repos.path("org", "a").is_absolute()
    assert repos.default_branch("org", "a") == "trunk"
    assert repos.branches("org", "a") == {}
    with pytest.raises(FileExistsError):
        repos.create("org", "a")

    repos.create("org", "b")
    with pytest.raises(FileExistsError):
        repos.rename("org", "a", "b")
    repos.rename("org", "a", "c")
    assert not repos.exists("org", "a")
    assert repos.exists("org", "c")
    assert repos.default_branch("org", "c") == "trunk"

    repos.delete("org", "c")
    assert not repos.exists("org", "c")
    assert not repos.path("org", "c").exists()
    with pytest.raises(FileNotFoundError):
        repos.delete("org", "c")
    with pytest.raises(FileNotFoundError):
        repos.tree("org", "c", "main")


def test_set_default_branch_changes_what_clones_check_out(repos: GitRepos, tmp_path) -> None:
    commit(repos, {"a.txt": b"main"}, branch="main")
    commit(repos, {"a.txt": b"other"}, branch="other")
    repos.set_default_branch("org", "demo-feedstock", "other")
    assert repos.default_branch("org", "demo-feedstock") == "other"
    git("clone", repos.clone_url("org", "demo-feedstock"), str(tmp_path / "clone"))
    assert (tmp_path / "clone" / "a.txt").read_bytes() == b"other"


def test_commit_nested_paths_reads_back_at_branch_and_sha(repos: GitRepos) -> None:
    sha = commit(repos, RECIPE, message="Add demo recipe")
    assert len(sha) == 40
    assert repos.branches("org", "demo-feedstock") == {"main": sha}
    assert repos.tree("org", "demo-feedstock", "main") == RECIPE
    assert repos.tree("org", "demo-feedstock", sha) == RECIPE
    assert repos.read("org", "demo-feedstock", "main", "feedstock/recipe.py") == b"recipe = 'v1'\n"
    assert repos.read("org", "demo-feedstock", sha, "README.md") == b"# demo\n"
    assert repos.read("org", "demo-feedstock", sha, "feedstock") is None  # a directory
    assert repos.read("org", "demo-feedstock", sha, "nope.txt") is None
    assert repos.read("org", "demo-feedstock", "no-branch", "README.md") is None
    assert repos.tree("org", "demo-feedstock", "no-branch") is None

    info = repos.info("org", "demo-feedstock", sha)
    assert info == CommitInfo(
        sha=sha,
        message="Add demo recipe",
        parents=(),
        author_name="Ada Lovelace",
        author_email="ada@example.org",
        date=WHEN,
    )
    assert info.date.tzinfo is not None
    assert repos.info("org", "demo-feedstock", "0" * 40) is None
    assert repos.info("org", "demo-feedstock", "main") is None  # info takes shas only


def test_second_commit_changes_tree_and_old_sha_keeps_old_files(repos: GitRepos) -> None:
    first = commit(repos, RECIPE)
    changed = {**RECIPE, "feedstock/recipe.py": b"recipe = 'v2'\n"}
    del changed["README.md"]
    second = commit(repos, changed, parents=[first], when=WHEN + timedelta(hours=1))
    assert second != first
    assert repos.resolve("org", "demo-feedstock", "main") == second
    assert repos.tree("org", "demo-feedstock", "main") == changed  # README.md is gone
    assert repos.tree("org", "demo-feedstock", first) == RECIPE
    assert repos.read("org", "demo-feedstock", first, "feedstock/recipe.py") == b"recipe = 'v1'\n"
    info = repos.info("org", "demo-feedstock", second)
    assert info is not None
    assert info.parents == (first,)
    assert info.date == WHEN + timedelta(hours=1)


def test_commit_without_branch_moves_nothing(repos: GitRepos) -> None:
    first = commit(repos, RECIPE)
    loose = commit(repos, {"x": b"x"}, parents=[first], branch=None)
    assert repos.branches("org", "demo-feedstock") == {"main": first}
    assert repos.tree("org", "demo-feedstock", loose) == {"x": b"x"}


def test_empty_tree_commit(repos: GitRepos) -> None:
    sha = commit(repos, {})
    assert repos.tree("org", "demo-feedstock", sha) == {}


def test_merge_commit_and_is_ancestor(repos: GitRepos) -> None:
    base = commit(repos, RECIPE)
    feature = commit(repos, {**RECIPE, "new.txt": b"new"}, parents=[base], branch="feature")
    main2 = commit(repos, {**RECIPE, "main.txt": b"m"}, parents=[base], branch="main")
    merged_files = {**RECIPE, "new.txt": b"new", "main.txt": b"m"}
    merge = commit(repos, merged_files, parents=[main2, feature], message="Merge feature")

    info = repos.info("org", "demo-feedstock", merge)
    assert info is not None
    assert info.parents == (main2, feature)
    assert repos.merge_base("org", "demo-feedstock", "main", "feature") == feature
    assert repos.merge_base("org", "demo-feedstock", main2, feature) == base

    def is_ancestor(a: str, b: str) -> bool:
        return repos.is_ancestor("org", "demo-feedstock", a, b)

    assert is_ancestor(feature, merge)
    assert is_ancestor(main2, merge)
    assert is_ancestor(base, merge)
    assert is_ancestor(merge, merge)
    assert not is_ancestor(merge, feature)
    assert not is_ancestor(feature, main2)
    assert not is_ancestor(main2, feature)
    assert not is_ancestor("0" * 40, merge)
    assert is_ancestor("feature", "main")  # branch names resolve too


def test_same_inputs_give_same_sha_in_two_roots(tmp_path: Path) -> None:
    shas = []
    for root in ("one", "two"):
        repos = GitRepos(tmp_path / root)
        repos.create("org", "demo-feedstock")
        first = commit(repos, RECIPE)
        second = commit(repos, {**RECIPE, "b": b"b"}, parents=[first])
        shas.append((first, second))
    assert shas[0] == shas[1]
    # ...and any different input gives a different sha.
    repos = GitRepos(tmp_path / "one")
    assert commit(repos, RECIPE, message="other") != shas[0][0]
    assert commit(repos, RECIPE, when=WHEN + timedelta(seconds=1)) != shas[0][0]
    # The same instant in another zone is the same commit: dates are written in UTC.
    other_zone = WHEN.astimezone(timezone(timedelta(hours=-7)))
    assert commit(repos, RECIPE, when=other_zone) == shas[0][0]


def test_resolve(repos: GitRepos) -> None:
    sha = commit(repos, RECIPE)
    repos.set_branch("org", "demo-feedstock", "feature/x", sha)

    def resolve(ref: str) -> str | None:
        return repos.resolve("org", "demo-feedstock", ref)

    assert resolve("main") == sha
    assert resolve("refs/heads/main") == sha
    assert resolve("feature/x") == sha
    assert resolve("refs/heads/feature/x") == sha
    assert resolve(sha) == sha
    assert resolve(sha.upper()) == sha
    for unknown in (
        "0" * 40,
        "nope",
        "refs/heads/nope",
        sha[:7],
        sha[:39],
        "main~1",
        "main^",
        "HEAD",
        ":/msg",
        "@{-1}",
        "",
        "../main",
        "main..main",
        "-x",
    ):
        assert resolve(unknown) is None, unknown
    tree_sha = git(
        "--git-dir", str(repos.path("org", "demo-feedstock")), "rev-parse", f"{sha}^{{tree}}"
    )
    assert resolve(tree_sha.strip()) is None  # an object, but not a commit


def test_set_branch_and_delete_branch(repos: GitRepos) -> None:
    first = commit(repos, RECIPE)
    second = commit(repos, {"a": b"a"}, parents=[first])
    repos.set_branch("org", "demo-feedstock", "feature", first)
    assert repos.branches("org", "demo-feedstock") == {"main": second, "feature": first}
    repos.set_branch("org", "demo-feedstock", "feature", second)  # moved
    repos.set_branch("org", "demo-feedstock", "main", first)  # moved backwards: forced
    assert repos.branches("org", "demo-feedstock") == {"main": first, "feature": second}
    repos.delete_branch("org", "demo-feedstock", "feature")
    assert repos.branches("org", "demo-feedstock") == {"main": first}
    assert repos.resolve("org", "demo-feedstock", "feature") is None
    repos.delete_branch("org", "demo-feedstock", "feature")  # already gone: nothing happens
    with pytest.raises(ValueError, match="not the full sha"):
        repos.set_branch("org", "demo-feedstock", "x", "0" * 40)
    with pytest.raises(ValueError, match="not the full sha"):
        repos.set_branch("org", "demo-feedstock", "x", "main")
    with pytest.raises(ValueError, match="invalid branch"):
        repos.set_branch("org", "demo-feedstock", "bad..name", first)


def test_binary_content_round_trips(repos: GitRepos) -> None:
    every_byte = bytes(range(256))
    files = {"data/all.bin": every_byte, "data/crlf.txt": b"a\r\nb\r\n", "empty": b""}
    sha = commit(repos, files)
    assert repos.tree("org", "demo-feedstock", sha) == files
    assert repos.read("org", "demo-feedstock", sha, "data/all.bin") == every_byte
    assert repos.read("org", "demo-feedstock", sha, "empty") == b""


def test_unicode_paths_and_message(repos: GitRepos) -> None:
    files = {"données/été.txt": "ñ".encode()}
    sha = commit(repos, files, message="Ajout des données ✓\n\nCorps du message.\n")
    assert repos.tree("org", "demo-feedstock", sha) == files
    info = repos.info("org", "demo-feedstock", sha)
    assert info is not None
    assert info.message == "Ajout des données ✓\n\nCorps du message.\n"


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "../x", "a b", "x\n", "é", "a" * 101, "a:b"]
)
def test_bad_repository_names_are_refused(tmp_path: Path, name: str) -> None:
    repos = GitRepos(tmp_path / "git")
    with pytest.raises(ValueError, match="invalid"):
        repos.create("org", name)
    with pytest.raises(ValueError, match="invalid"):
        repos.create(name, "repo")
    with pytest.raises(ValueError, match="invalid"):
        repos.path(name, "repo")
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a//b",
        "a/",
        "./a",
        "a/./b",
        ".git/config",
        "sub/.GIT/hooks/x",
        "a\nb",
        "a\0b",
    ],
)
def test_bad_file_paths_are_refused(repos: GitRepos, path: str) -> None:
    with pytest.raises(ValueError, match="invalid file path"):
        commit(repos, {path: b"x"})
    with pytest.raises(ValueError, match="invalid file path"):
        repos.read("org", "demo-feedstock", "main", path)
    assert repos.branches("org", "demo-feedstock") == {}


def test_file_and_directory_clash_is_refused(repos: GitRepos) -> None:
    with pytest.raises(ValueError, match="both as a file and as a directory"):
        commit(repos, {"a/b": b"x", "a/b/c/d": b"y"})


def test_bad_commit_arguments_are_refused(repos: GitRepos) -> None:
    first = commit(repos, RECIPE)
    with pytest.raises(ValueError, match="not the full sha"):
        commit(repos, RECIPE, parents=["0" * 40])
    with pytest.raises(ValueError, match="not the full sha"):
        commit(repos, RECIPE, parents=[first[:10]])
    with pytest.raises(ValueError, match="duplicate"):
        commit(repos, RECIPE, parents=[first, first])
    with pytest.raises(ValueError, match="timezone-aware"):
        commit(repos, RECIPE, when=datetime(2022, 1, 1))
    with pytest.raises(ValueError, match="invalid branch"):
        commit(repos, RECIPE, branch="a b")
    with pytest.raises(ValueError, match="invalid author"):
        repos.commit(
            "org",
            "demo-feedstock",
            files={},
            message="m",
            parents=[],
            author=("Eve <evil>", "e@x"),
            when=WHEN,
        )
    assert repos.branches("org", "demo-feedstock") == {"main": first}


def test_git_failure_raises_git_error_with_stderr(tmp_path: Path) -> None:
    repos = GitRepos(tmp_path / "git")
    repos.create("org", "broken")
    (repos.path("org", "broken") / "HEAD").write_text("garbage\n")
    with pytest.raises(GitError, match="not a git repository"):
        repos.branches("org", "broken")
    with pytest.raises(GitError, match="not found"):
        GitRepos(tmp_path, git="no-such-git-executable")


def test_nothing_is_left_outside_the_repositories(repos: GitRepos, tmp_path: Path) -> None:
    commit(repos, RECIPE)
    repo = repos.path("org", "demo-feedstock")
    assert not [p for p in repo.iterdir() if p.name.startswith("pfo-commit-")]  # scratch removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["git"]


def test_concurrent_commits_on_one_branch_keep_a_linear_history(repos: GitRepos) -> None:
    """Each writer reads the head and commits on it under `locked`, so no update is lost."""
    commit(repos, {"n": b"0"})

    def bump(worker: int) -> None:
        for step in range(5):
            with repos.locked("org", "demo-feedstock"):
                head = repos.resolve("org", "demo-feedstock", "main")
                assert head is not None
                files = repos.tree("org", "demo-feedstock", head)
                assert files is not None
                count = int(files["n"]) + 1
                commit(
                    repos,
                    {"n": str(count).encode()},
                    parents=[head],
                    message=f"worker {worker} step {step}",
                )

    threads = [threading.Thread(target=bump, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert repos.read("org", "demo-feedstock", "main", "n") == b"20"


def test_clone_and_reset_gives_exactly_the_tree(repos: GitRepos, tmp_path: Path) -> None:
    """What repo2docker does with a PR head, and with a merge once the head branch is gone."""
    base = commit(repos, RECIPE)
    head_files = {
        **RECIPE,
        "feedstock/recipe.py": b"recipe = 'v2'\n",
        "data/x.bin": bytes(range(256)),
    }
    head = commit(repos, head_files, parents=[base], branch="feature")
    url = repos.clone_url("org", "demo-feedstock")
    assert url.startswith("file:///")

    assert checkout(url, head, tmp_path / "head") == repos.tree("org", "demo-feedstock", head)
    assert checkout(url, head, tmp_path / "head2") == head_files

    merged = {**head_files, "main-only.txt": b"main"}
    main2 = commit(repos, {**RECIPE, "main-only.txt": b"main"}, parents=[base])
    merge = commit(repos, merged, parents=[main2, head], message="Merge pull request #1")
    repos.delete_branch("org", "demo-feedstock", "feature")
    assert repos.branches("org", "demo-feedstock") == {"main": merge}

    assert checkout(url, merge, tmp_path / "merge") == merged
    # The deleted branch's head is still reachable, through the merge's second parent.
    assert checkout(url, head, tmp_path / "head3") == head_files
