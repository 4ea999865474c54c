import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.layout import (
    LayoutViolation,
    MetaLocation,
    RecipeFolder,
    locate_meta,
    staged_recipe_folder,
    touches_dir,
)


def test_one_recipe_folder_is_found():
    folder = staged_recipe_folder(["recipes/noaa-oisst/meta.yaml", "recipes/noaa-oisst/recipe.py"])
    assert folder == RecipeFolder("noaa-oisst")
    assert folder.meta_path == "recipes/noaa-oisst/meta.yaml"
    assert folder.feedstock_repo_name == "noaa-oisst-feedstock"


def test_nested_files_belong_to_their_recipe_folder():
    assert staged_recipe_folder(["recipes/x/meta.yaml", "recipes/x/lib/util.py"]) == RecipeFolder(
        "x"
    )


def test_two_recipe_folders_are_named():
    result = staged_recipe_folder(
        ["recipes/b/meta.yaml", "recipes/a/meta.yaml", "recipes/a/recipe.py"]
    )
    assert result == LayoutViolation((msg.LAYOUT_SEVERAL_FOLDERS.format(count=2, names="a, b"),))
    assert "touches 2 recipe folders: a, b" in result.problems[0]


def test_files_outside_recipes_are_named():
    result = staged_recipe_folder(["recipes/a/meta.yaml", "README.md", ".github/workflows/ci.yaml"])
    assert result == LayoutViolation(
        (msg.LAYOUT_OUTSIDE_RECIPES.format(paths=".github/workflows/ci.yaml, README.md"),)
    )
    assert (
        "changes files outside recipes/: .github/workflows/ci.yaml, README.md" in result.problems[0]
    )


def test_loose_files_directly_in_recipes_are_refused():
    result = staged_recipe_folder(["recipes/meta.yaml"])
    assert result == LayoutViolation((msg.LAYOUT_LOOSE_FILES.format(paths="recipes/meta.yaml"),))


def test_every_violation_is_listed_together():
    result = staged_recipe_folder(
        ["setup.py", "recipes/a/m.yaml", "recipes/b/m.yaml", "recipes/x.py"]
    )
    assert isinstance(result, LayoutViolation)
    assert len(result.problems) == 3


def test_no_changed_files():
    assert staged_recipe_folder([]) == LayoutViolation((msg.LAYOUT_NO_FILES,))


def test_a_folder_name_that_cannot_name_a_repository():
    result = staged_recipe_folder(["recipes/my recipe/meta.yaml"])
    assert result == LayoutViolation((msg.LAYOUT_BAD_NAME.format(name="my recipe"),))


def test_long_path_lists_are_bounded():
    paths = [f"doc{i:02}.md" for i in range(12)] + ["recipes/a/meta.yaml"]
    [problem] = staged_recipe_folder(paths).problems
    assert problem.endswith("doc09.md and 2 more.")


def test_duplicate_paths_count_once():
    assert staged_recipe_folder(["recipes/a/m.yaml", "recipes/a/m.yaml"]) == RecipeFolder("a")


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["feedstock/recipe.py"], True),
        (["README.md", "feedstock/meta.yaml"], True),
        (["README.md"], False),
        (["feedstockish/x"], False),
        ([], False),
    ],
)
def test_touches_dir(paths, expected):
    assert touches_dir(paths, "feedstock") is expected


def test_feedstock_meta_lives_in_feedstock_dir():
    assert locate_meta(
        staged_recipes=False, changed_paths=None, feedstock_dir="feedstock"
    ) == MetaLocation("feedstock")
    assert MetaLocation("feedstock").meta_path == "feedstock/meta.yaml"


def test_staged_recipes_meta_lives_in_the_recipe_folder():
    location = locate_meta(
        staged_recipes=True, changed_paths=["recipes/a/meta.yaml"], feedstock_dir="feedstock"
    )
    assert location == MetaLocation("recipes/a", RecipeFolder("a"))
    assert location.meta_path == "recipes/a/meta.yaml"


def test_staged_recipes_layout_violation_is_passed_on():
    location = locate_meta(
        staged_recipes=True, changed_paths=["README.md"], feedstock_dir="feedstock"
    )
    assert isinstance(location, LayoutViolation)


def test_staged_recipes_needs_the_changed_paths():
    with pytest.raises(ValueError, match="changed paths"):
        locate_meta(staged_recipes=True, changed_paths=None, feedstock_dir="feedstock")
