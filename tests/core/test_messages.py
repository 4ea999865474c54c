import string

import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, Policy, RepoKind

TEMPLATES = {
    name: value for name, value in vars(msg).items() if name.isupper() and isinstance(value, str)
}
TEMPLATES |= {
    f"{name}[{key}]": value
    for name, mapping in vars(msg).items()
    if name.isupper() and isinstance(mapping, dict)
    for key, value in mapping.items()
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_text_is_a_well_formed_template(name):
    """Named fields only, balanced braces: `.format(**values)` cannot raise at run time."""
    template = TEMPLATES[name]
    fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    assert all(field.isidentifier() for field in fields), fields
    template.format(**dict.fromkeys(fields, "X"))


def test_literal_braces_survive_formatting():
    assert msg.BAKERY_MISSING.format(known="`local`") == (
        "`meta.yaml` has no `bakery: {id: ...}`; known bakeries: `local`."
    )
    assert "chunks={})" in msg.OPEN_ZARR.format(dataset_url_literal='"u"')


def test_code_list_is_bounded():
    assert msg.code_list([]) == "(none)"
    assert msg.code_list(["a", "b"]) == "`a`, `b`"
    assert msg.code_list([str(i) for i in range(12)]).endswith("`9` and 2 more")


def test_error_tail_keeps_the_last_lines_within_bounds():
    text = "\n".join(f"line {i}" for i in range(100))
    tail = msg.error_tail(text)
    assert tail.startswith("```\nline 80\n")
    assert tail.endswith("line 99\n```")
    assert len(msg.error_tail("x" * 10_000)) < 2100
    assert msg.error_tail(None) == msg.error_tail("  \n") == msg.RESULT_FAILURE_NO_ERROR


def test_truncate():
    assert msg.truncate("short", 10) == "short"
    assert msg.truncate("x" * 50, 20) == "x" * 7 + "\n\n(truncated)"


def test_already_active_single_and_many():
    assert msg.already_active("m", ["`a` is already queued."]) == "@m, `a` is already queued."
    assert (
        msg.already_active("m", ["a", "b"])
        == f"{msg.ALREADY_ACTIVE_MANY.format(login='m')}\n\n- a\n- b"
    )


def test_run_check_titles():
    assert msg.run_check_title("a", "success") == "`a` succeeded"
    assert msg.run_check_title("a", "neutral") == "`a` finished: neutral"


def test_links_follow_the_original_shapes():
    links = Links(
        dashboard_url="https://pangeo-forge.org/dashboard/", public_url="http://127.0.0.1:8000/"
    )
    assert (
        links.run_page(run_id=5, feedstock_id=2)
        == "https://pangeo-forge.org/dashboard/recipe-run/5?feedstock_id=2"
    )
    assert links.run_logs(5) == "http://127.0.0.1:8000/recipe_runs/5/logs"


def test_policy_classifies_repositories_case_insensitively():
    assert DEFAULT_POLICY.repo_kind("Staged-Recipes") is RepoKind.STAGED_RECIPES
    assert DEFAULT_POLICY.repo_kind("x-feedstock") is RepoKind.FEEDSTOCK
    assert (
        Policy(staged_recipes_repo="recipes-inbox").repo_kind("recipes-inbox")
        is RepoKind.STAGED_RECIPES
    )


def test_policy_title_prefixes():
    assert DEFAULT_POLICY.skips_title("Cleanup x")
    assert not DEFAULT_POLICY.skips_title("Add x")
    assert Policy(skip_title_prefixes=("[bot]",)).skips_title("[BOT] bump")
