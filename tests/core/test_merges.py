import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    CreateFeedstock,
    ExpandMeta,
    PostComment,
    QueueProductionRun,
    RecordFeedstock,
    Skip,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.merges import (
    SKIP_NO_FEEDSTOCK_CHANGE,
    SKIP_PRODUCTION_OFF,
    SKIP_TITLE,
    MergeFacts,
    decide_merge,
    needs_meta,
)
from pangeo_forge_orchestrator.core.meta import (
    DictObjectSpec,
    FeedstockMeta,
    InvalidMeta,
    RecipeSpec,
)
from pangeo_forge_orchestrator.core.policy import Policy, RepoKind
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.core.vocabulary import RunStatus

FEEDSTOCK = RepositoryRef(owner="pangeo-forge", name="noaa-oisst-feedstock")
STAGED = RepositoryRef(owner="pangeo-forge", name="staged-recipes")
MERGE = "f" * 40
META = FeedstockMeta(
    recipes=(RecipeSpec("a", "recipe:a"), RecipeSpec("b", "recipe:b")), bakery_id="local"
)


def feedstock_merge(**kw):
    base = dict(
        repo=FEEDSTOCK,
        kind=RepoKind.FEEDSTOCK,
        pr_number=4,
        title="Update recipe",
        merge_sha=MERGE,
        merged_by="maintainer",
        changed_paths=("feedstock/recipe.py",),
        meta=META,
    )
    return MergeFacts(**(base | kw))


def staged_merge(**kw):
    base = dict(
        repo=STAGED,
        kind=RepoKind.STAGED_RECIPES,
        pr_number=12,
        title="Add noaa-oisst",
        merge_sha=MERGE,
        merged_by="maintainer",
        changed_paths=("recipes/noaa-oisst/meta.yaml", "recipes/noaa-oisst/recipe.py"),
    )
    return MergeFacts(**(base | kw))


def production(recipe_id):
    return QueueProductionRun(
        feedstock_spec=FEEDSTOCK.full_name,
        head_sha=MERGE,
        recipe_id=recipe_id,
        bakery="local",
        pr_number=4,
        requested_by="maintainer",
    )


def test_feedstock_merge_queues_a_production_run_per_recipe_at_the_merge_sha():
    assert decide_merge(feedstock_merge()) == (
        RecordFeedstock(spec=FEEDSTOCK.full_name),
        production("a"),
        production("b"),
    )


def test_redelivered_merge_queues_no_second_production_run():
    recorded = RunRecord(
        id=1,
        feedstock_id=1,
        recipe_id="a",
        head_sha=MERGE,
        bakery="local",
        status=RunStatus.IN_PROGRESS,
        is_test=False,
    )
    assert decide_merge(feedstock_merge(production_runs=(recorded,))) == (
        RecordFeedstock(spec=FEEDSTOCK.full_name),
        production("b"),
    )


def test_merge_without_feedstock_changes_deploys_nothing():
    facts = feedstock_merge(changed_paths=("README.md",), meta=None)
    assert not needs_meta(facts)
    assert decide_merge(facts) == Skip(SKIP_NO_FEEDSTOCK_CHANGE.format(directory="feedstock"))


def test_mixed_merge_still_deploys_its_feedstock_change():
    facts = feedstock_merge(changed_paths=("README.md", "feedstock/meta.yaml"))
    assert needs_meta(facts)
    assert production("a") in decide_merge(facts)


def test_invalid_meta_after_merge_is_explained_on_the_pr():
    facts = feedstock_merge(meta=InvalidMeta(("Bakery `x` is not known here.",)))
    assert decide_merge(facts) == (
        PostComment(
            issue_number=4,
            key=f"merge-{MERGE}:meta-invalid",
            body=msg.MERGED_META_INVALID.format(
                sha=MERGE, problems="- Bakery `x` is not known here."
            ),
        ),
    )


def test_missing_meta_after_merge_is_explained():
    [comment] = decide_merge(feedstock_merge(meta=None))
    assert msg.META_MISSING.format(path="feedstock/meta.yaml") in comment.body


def test_dict_object_meta_is_expanded_for_production():
    meta = FeedstockMeta(recipes=(DictObjectSpec("recipe:r"),), bakery_id="local")
    assert decide_merge(feedstock_merge(meta=meta))[1] == ExpandMeta(
        feedstock_spec=FEEDSTOCK.full_name,
        head_sha=MERGE,
        feedstock_subdir="feedstock",
        pr_number=4,
        for_production=True,
    )


def test_policy_can_turn_production_runs_off():
    facts = feedstock_merge()
    assert decide_merge(facts, policy=Policy(production_runs_on_merge=False)) == Skip(
        SKIP_PRODUCTION_OFF
    )
    assert not needs_meta(facts, policy=Policy(production_runs_on_merge=False))


def test_staged_recipe_merge_starts_feedstock_creation():
    assert decide_merge(staged_merge()) == (
        CreateFeedstock(
            staged_recipes_spec=STAGED.full_name,
            recipe_name="noaa-oisst",
            pr_number=12,
            merge_sha=MERGE,
        ),
    )
    assert not needs_meta(staged_merge())


@pytest.mark.parametrize("make", [staged_merge, feedstock_merge])
def test_our_cleanup_merges_are_skipped(make):
    assert decide_merge(make(title="Cleanup noaa-oisst")) == Skip(
        SKIP_TITLE.format(title="Cleanup noaa-oisst")
    )


def test_mixed_staged_recipes_merge_is_explained_not_acted_on():
    facts = staged_merge(changed_paths=("recipes/a/meta.yaml", "recipes/b/meta.yaml", "README.md"))
    [comment] = decide_merge(facts)
    assert comment.key == f"merge-{MERGE}:layout-invalid"
    assert comment.body.startswith(
        "This pull request was merged, but I could not turn it into a feedstock."
    )
    assert "touches 2 recipe folders: a, b" in comment.body
    assert "changes files outside recipes/: README.md" in comment.body
