from dataclasses import FrozenInstanceError

import pytest

from pangeo_forge_orchestrator.core.effects import (
    GITHUB_EFFECTS,
    SERVICE_EFFECTS,
    AddReaction,
    CancelRun,
    CreateFeedstock,
    DispatchRun,
    ExpandMeta,
    PostComment,
    QueueProductionRun,
    QueueTestRun,
    RecordFeedstock,
    run_check_external_id,
    sync_check_external_id,
)

SHA = "a" * 40


def test_vocabulary_is_closed_and_every_effect_has_a_dedupe_key():
    assert len(GITHUB_EFFECTS) == 13
    assert len(SERVICE_EFFECTS) == 7
    for effect_type in (*GITHUB_EFFECTS, *SERVICE_EFFECTS):
        assert isinstance(effect_type.__dict__.get("dedupe_key"), property), effect_type


def test_effects_are_frozen():
    effect = AddReaction(comment_id=1, content="eyes")
    with pytest.raises(FrozenInstanceError):
        effect.content = "rocket"  # type: ignore[misc]


def queue(**kw):
    base = dict(
        feedstock_spec="o/x-feedstock", head_sha=SHA, recipe_id="r", bakery="local", pr_number=3
    )
    return QueueTestRun(**(base | kw))


def test_first_test_run_key_ignores_who_asked():
    assert queue().dedupe_key == queue(requested_by="maintainer", comment_id=5).dedupe_key
    assert queue().dedupe_key == f"test-run:o/x-feedstock:{SHA}:r:first"


def test_a_new_attempt_is_keyed_by_the_run_it_follows():
    """Two `/run r` comments after the same finished run make one new attempt, not two."""
    first = queue(after_run_id=7, comment_id=1, requested_by="a")
    second = queue(after_run_id=7, comment_id=2, requested_by="b")
    assert first.dedupe_key == second.dedupe_key != queue().dedupe_key
    assert queue(after_run_id=8).dedupe_key != first.dedupe_key


def test_comment_key_is_per_issue_and_marker():
    assert (
        PostComment(issue_number=1, key="k", body="a").dedupe_key
        == PostComment(issue_number=1, key="k", body="b").dedupe_key
    )
    assert PostComment(issue_number=2, key="k", body="a").dedupe_key == "comment:2:k"


@pytest.mark.parametrize(
    ("effect", "key"),
    [
        (RecordFeedstock(spec="o/x"), "feedstock:o/x"),
        (DispatchRun(run_id=4, requested_by="m"), "dispatch:4"),
        (CancelRun(run_id=4, reason="r"), "cancel:4"),
        (
            QueueProductionRun(
                feedstock_spec="o/x", head_sha=SHA, recipe_id="r", bakery="b", pr_number=1
            ),
            f"production-run:o/x:{SHA}:r",
        ),
        (
            ExpandMeta(
                feedstock_spec="o/x", head_sha=SHA, feedstock_subdir="feedstock", pr_number=1
            ),
            f"expand-meta:o/x:{SHA}:test",
        ),
        (
            CreateFeedstock(
                staged_recipes_spec="o/staged-recipes", recipe_name="n", pr_number=1, merge_sha=SHA
            ),
            "create-feedstock:o/staged-recipes:n",
        ),
    ],
)
def test_service_effect_keys(effect, key):
    assert effect.dedupe_key == key


def test_expand_meta_for_production_is_separate_work():
    test = ExpandMeta(feedstock_spec="o/x", head_sha=SHA, feedstock_subdir="feedstock", pr_number=1)
    prod = ExpandMeta(
        feedstock_spec="o/x",
        head_sha=SHA,
        feedstock_subdir="feedstock",
        pr_number=1,
        for_production=True,
    )
    assert test.dedupe_key != prod.dedupe_key


def test_check_run_external_ids():
    assert sync_check_external_id(SHA) == f"pfo-sync:{SHA}"
    assert run_check_external_id(12) == "pfo-recipe-run:12"
