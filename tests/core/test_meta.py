import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.meta import (
    MAX_META_BYTES,
    MAX_RECIPE_ID_LENGTH,
    DictObjectSpec,
    FeedstockMeta,
    InvalidMeta,
    Maintainer,
    RecipeSpec,
    missing_meta,
    parse_expanded_meta,
    parse_meta,
)

BAKERIES = ("local", "pangeo-ldeo-nsf-earthcube")

GOOD = """\
title: "NOAA Optimum Interpolated SST"
description: "Analysis-ready Zarr datasets derived from NOAA OISST NetCDF"
recipes:
  - id: avhrr-only
    object: "recipe:avhrr_only"
  - id: amsr-avhrr
    object: "recipe:amsr_avhrr"
provenance:
  providers:
    - name: "NOAA NCEI"
      roles: [producer, licensor]
  license: "CC-BY-4.0"
maintainers:
  - name: "Ryan Abernathey"
    orcid: "0000-0001-5999-4917"
    github: rabernat
bakery:
  id: "pangeo-ldeo-nsf-earthcube"
"""


def parse(text, **kw):
    return parse_meta(text, known_bakeries=BAKERIES, **kw)


def problems(text, **kw):
    result = parse(text, **kw)
    assert isinstance(result, InvalidMeta), result
    return list(result.problems)


def test_a_complete_meta_yaml_becomes_typed_values():
    meta = parse(GOOD)
    assert meta == FeedstockMeta(
        recipes=(
            RecipeSpec("avhrr-only", "recipe:avhrr_only"),
            RecipeSpec("amsr-avhrr", "recipe:amsr_avhrr"),
        ),
        bakery_id="pangeo-ldeo-nsf-earthcube",
        title="NOAA Optimum Interpolated SST",
        description="Analysis-ready Zarr datasets derived from NOAA OISST NetCDF",
        maintainers=(
            Maintainer(name="Ryan Abernathey", github="rabernat", orcid="0000-0001-5999-4917"),
        ),
        license="CC-BY-4.0",
        providers=("NOAA NCEI",),
    )
    assert meta.recipe_ids == ("avhrr-only", "amsr-avhrr")
    assert not meta.needs_expansion


def test_minimal_meta_needs_only_recipes_and_bakery():
    meta = parse("recipes: [{id: a, object: 'recipe:r'}]\nbakery: {id: local}\n")
    assert isinstance(meta, FeedstockMeta)
    assert meta.title is None
    assert meta.maintainers == ()


def test_yaml_syntax_error_names_line_and_column():
    text = "recipes:\n  - id: a\n    object: recipe:r\n  bad: [\n"
    [problem] = problems(text)
    assert problem.startswith("`meta.yaml` is not valid YAML (line ")
    assert "column" in problem


def test_yaml_error_position_counts_from_one():
    # The tab at line 2, column 1 is not allowed as indentation.
    [problem] = problems("recipes:\n\t- id: a\n")
    assert problem == (
        msg.META_YAML_ERROR.format(
            line=2, column=1, problem="found character '\\t' that cannot start any token"
        )
        + msg.META_YAML_INDENT_HINT
    )


def test_safe_load_refuses_python_objects():
    [problem] = problems("recipes: !!python/object/apply:os.system ['true']\n")
    assert "not valid YAML" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", msg.META_EMPTY),
        ("# only a comment\n", msg.META_EMPTY),
        ("- a\n- b\n", msg.META_NOT_MAPPING.format(kind="a list")),
        ("just text\n", msg.META_NOT_MAPPING.format(kind="the text `just text`")),
    ],
)
def test_a_document_that_is_not_a_mapping(text, expected):
    assert problems(text) == [expected]


def test_missing_recipes():
    assert problems("bakery: {id: local}\n") == [msg.RECIPES_MISSING]


def test_empty_recipes():
    assert problems("recipes: []\nbakery: {id: local}\n") == [msg.RECIPES_EMPTY]


def test_recipes_not_a_list():
    assert problems("recipes: 3\nbakery: {id: local}\n") == [
        msg.RECIPES_NOT_LIST.format(kind="the number `3`")
    ]


def test_recipe_without_id_or_object():
    text = "recipes:\n  - object: 'recipe:r'\n  - id: b\n  - 7\nbakery: {id: local}\n"
    assert problems(text) == [
        msg.RECIPE_WITHOUT_ID.format(number=1),
        msg.RECIPE_WITHOUT_OBJECT.format(label="b"),
        msg.RECIPE_NOT_MAPPING.format(number=3, kind="the number `7`"),
    ]


def test_recipe_id_that_yaml_reads_as_a_number_asks_for_quotes():
    assert problems("recipes: [{id: 2020, object: 'recipe:r'}]\nbakery: {id: local}\n") == [
        msg.RECIPE_ID_NOT_TEXT.format(number=1, value=2020)
    ]


@pytest.mark.parametrize(
    "bad_id", ["has space", "slash/id", "-leading", "x" * (MAX_RECIPE_ID_LENGTH + 1)]
)
def test_recipe_ids_must_be_typeable_in_run_commands(bad_id):
    text = f"recipes: [{{id: '{bad_id}', object: 'recipe:r'}}]\nbakery: {{id: local}}\n"
    assert problems(text) == [msg.RECIPE_ID_INVALID.format(id=bad_id, limit=MAX_RECIPE_ID_LENGTH)]


@pytest.mark.parametrize("reserved", ["all", "ALL"])
def test_all_is_reserved_for_run_all(reserved):
    text = f"recipes: [{{id: {reserved}, object: 'recipe:r'}}]\nbakery: {{id: local}}\n"
    assert problems(text) == [msg.RECIPE_ID_RESERVED.format(id=reserved)]


@pytest.mark.parametrize("obj", ["recipe", "a:b:c", "recipe: r"])
def test_object_must_look_like_module_colon_name(obj):
    text = f"recipes: [{{id: a, object: '{obj}'}}]\nbakery: {{id: local}}\n"
    assert problems(text) == [msg.RECIPE_OBJECT_FORMAT.format(label="a", key="object", value=obj)]


def test_duplicate_ids_are_named():
    text = (
        "recipes:\n"
        "  - {id: a, object: 'recipe:a'}\n  - {id: b, object: 'recipe:b'}\n"
        "  - {id: a, object: 'recipe:c'}\n  - {id: b, object: 'recipe:d'}\n"
        "bakery: {id: local}\n"
    )
    assert problems(text) == [msg.DUPLICATE_IDS.format(ids="`a`, `b`")]


def test_unknown_bakery_lists_the_known_ones():
    assert problems("recipes: [{id: a, object: 'recipe:r'}]\nbakery: {id: elsewhere}\n") == [
        msg.BAKERY_UNKNOWN.format(id="elsewhere", known="`local`, `pangeo-ldeo-nsf-earthcube`")
    ]


def test_unknown_bakery_when_none_are_configured():
    result = parse_meta(
        "recipes: [{id: a, object: 'recipe:r'}]\nbakery: {id: x}\n", known_bakeries=()
    )
    assert result == InvalidMeta((msg.BAKERY_UNKNOWN.format(id="x", known=msg.NO_BAKERIES),))


def test_missing_bakery_is_a_problem_unless_a_default_applies():
    text = "recipes: [{id: a, object: 'recipe:r'}]\n"
    assert problems(text) == [
        msg.BAKERY_MISSING.format(known="`local`, `pangeo-ldeo-nsf-earthcube`")
    ]
    assert parse(text, default_bakery="local").bakery_id == "local"


def test_bakery_must_be_a_mapping():
    assert problems("recipes: [{id: a, object: 'recipe:r'}]\nbakery: local\n") == [
        msg.BAKERY_NOT_MAPPING
    ]


def test_every_problem_is_reported_at_once():
    text = (
        "title: [not, text]\n"
        "recipes:\n  - {id: a}\n  - {id: a, object: 'recipe:r'}\n"
        "bakery: {id: nope}\n"
    )
    found = problems(text)
    assert found == [
        msg.RECIPE_WITHOUT_OBJECT.format(label="a"),
        msg.DUPLICATE_IDS.format(ids="`a`"),
        msg.BAKERY_UNKNOWN.format(id="nope", known="`local`, `pangeo-ldeo-nsf-earthcube`"),
        msg.FIELD_NOT_TEXT.format(field="title", kind="a list"),
    ]


def test_dict_object_is_flagged_for_expansion_not_rejected():
    meta = parse("recipes:\n  - dict_object: 'recipe:recipes'\nbakery: {id: local}\n")
    assert isinstance(meta, FeedstockMeta)
    assert meta.recipes == (DictObjectSpec("recipe:recipes"),)
    assert meta.needs_expansion
    assert meta.recipe_ids == ()


def test_dict_object_as_a_mapping_like_pangeo_forge_runner_reads_it():
    meta = parse("recipes:\n  dict_object: 'recipe:recipes'\nbakery: {id: local}\n")
    assert isinstance(meta, FeedstockMeta)
    assert meta.needs_expansion


def test_mixed_object_and_dict_object_recipes_keep_the_known_ids():
    text = (
        "recipes:\n  - {id: a, object: 'recipe:a'}\n  - dict_object: 'recipe:more'\n"
        "bakery: {id: local}\n"
    )
    meta = parse(text)
    assert meta.recipe_ids == ("a",)
    assert meta.needs_expansion


def test_object_and_dict_object_together_is_ambiguous():
    text = "recipes: [{id: a, object: 'recipe:a', dict_object: 'recipe:b'}]\nbakery: {id: local}\n"
    assert problems(text) == [msg.RECIPE_BOTH_OBJECTS.format(label="a")]


def test_expanded_meta_lists_ids_without_objects():
    data = {"recipes": [{"id": "x"}, {"id": "y"}], "bakery": {"id": "local"}}
    meta = parse_expanded_meta(data, known_bakeries=BAKERIES)
    assert isinstance(meta, FeedstockMeta)
    assert meta.recipe_ids == ("x", "y")
    assert not meta.needs_expansion


def test_expanded_meta_must_not_still_hold_a_dict_object():
    data = {"recipes": [{"dict_object": "recipe:r"}], "bakery": {"id": "local"}}
    assert parse_expanded_meta(data, known_bakeries=BAKERIES) == InvalidMeta(
        (msg.EXPANDED_DICT_OBJECT.format(label="#1"),)
    )


def test_oversized_meta_is_refused_before_parsing():
    text = "#" * (MAX_META_BYTES + 1)
    assert problems(text) == [
        msg.META_TOO_LARGE.format(size=MAX_META_BYTES + 1, limit=MAX_META_BYTES)
    ]


def test_optional_fields_with_wrong_shapes_are_explained():
    text = (
        "recipes: [{id: a, object: 'recipe:r'}]\nbakery: {id: local}\n"
        "maintainers: rabernat\nprovenance: {license: 4, providers: nope}\n"
    )
    assert problems(text) == [
        msg.FIELD_NOT_LIST.format(field="maintainers", kind="the text `rabernat`"),
        msg.FIELD_NOT_TEXT.format(field="license", kind="the number `4`"),
        msg.FIELD_NOT_LIST.format(field="provenance.providers", kind="the text `nope`"),
    ]


def test_missing_meta_names_the_path():
    assert missing_meta("feedstock/meta.yaml") == InvalidMeta(
        (msg.META_MISSING.format(path="feedstock/meta.yaml"),)
    )


def test_indentation_mistakes_get_a_plain_words_hint():
    [problem] = problems("recipes:\n  - id: a\n   object: x\n")
    assert problem == (
        msg.META_YAML_ERROR.format(
            line=3, column=4, problem="expected <block end>, but found '<block mapping start>'"
        )
        + msg.META_YAML_INDENT_HINT
    )
