"""Which folders a pull request's changed files touch: the staged-recipes and feedstock rules.

The original only looked at a staged-recipes PR's files after merge, when a mixed PR was too
late to refuse; these rules run on every push, so the check run can say so first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pangeo_forge_orchestrator.core import messages as msg

RECIPES_DIR = "recipes"
# GitHub repository names: letters, digits, '.', '-', '_'.
_REPO_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class RecipeFolder:
    """The one `recipes/<name>/` folder a staged-recipes PR adds."""

    name: str

    @property
    def path(self) -> str:
        return f"{RECIPES_DIR}/{self.name}"

    @property
    def meta_path(self) -> str:
        return f"{self.path}/meta.yaml"

    @property
    def feedstock_repo_name(self) -> str:
        return f"{self.name}-feedstock"


@dataclass(frozen=True, slots=True)
class LayoutViolation:
    problems: tuple[str, ...]


def staged_recipe_folder(changed_paths: Iterable[str]) -> RecipeFolder | LayoutViolation:
    """Find the single recipe folder of a staged-recipes PR, or say what breaks the rule.

    The rule: every changed path is under `recipes/<name>/`, for one `<name>` only, and that
    name can become the repository `<name>-feedstock`. Pass renamed files' old paths too.
    """
    paths = sorted(set(changed_paths))
    if not paths:
        return LayoutViolation((msg.LAYOUT_NO_FILES,))
    outside: list[str] = []
    loose: list[str] = []
    folders: set[str] = set()
    for path in paths:
        top, _, rest = path.partition("/")
        if top != RECIPES_DIR or not rest:
            outside.append(path)
        elif "/" not in rest:
            loose.append(path)
        else:
            folders.add(rest.split("/", 1)[0])
    problems: list[str] = []
    if outside:
        problems.append(msg.LAYOUT_OUTSIDE_RECIPES.format(paths=_paths(outside)))
    if loose:
        problems.append(msg.LAYOUT_LOOSE_FILES.format(paths=_paths(loose)))
    if len(folders) > 1:
        names = ", ".join(sorted(folders))
        problems.append(msg.LAYOUT_SEVERAL_FOLDERS.format(count=len(folders), names=names))
    problems.extend(
        msg.LAYOUT_BAD_NAME.format(name=name)
        for name in sorted(folders)
        if not _REPO_NAME.fullmatch(name) or name in {".", ".."}
    )
    if problems or not folders:
        return LayoutViolation(tuple(problems))
    return RecipeFolder(folders.pop())


def touches_dir(changed_paths: Iterable[str], directory: str) -> bool:
    """Whether any changed path lies under `directory/` (a merged feedstock PR deploys then)."""
    prefix = directory.strip("/") + "/"
    return any(path.startswith(prefix) for path in changed_paths)


def _paths(paths: list[str]) -> str:
    shown = ", ".join(paths[:10])
    return shown + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")


@dataclass(frozen=True, slots=True)
class MetaLocation:
    """Where a PR's recipe lives: the runner's `--feedstock-subdir` and its meta.yaml."""

    subdir: str
    recipe_folder: RecipeFolder | None = None

    @property
    def meta_path(self) -> str:
        return f"{self.subdir}/meta.yaml"


def locate_meta(
    *, staged_recipes: bool, changed_paths: Iterable[str] | None, feedstock_dir: str
) -> MetaLocation | LayoutViolation:
    """A feedstock keeps it in `feedstock/`; a staged-recipes PR in its one recipe folder."""
    if not staged_recipes:
        return MetaLocation(feedstock_dir.strip("/"))
    if changed_paths is None:
        raise ValueError("a staged-recipes PR's changed paths are needed to find its meta.yaml")
    folder = staged_recipe_folder(changed_paths)
    if isinstance(folder, LayoutViolation):
        return folder
    return MetaLocation(folder.path, folder)
