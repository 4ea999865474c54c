"""Read a feedstock's `meta.yaml` into a typed value, or into every problem a person must fix.

No code runs here: `yaml.safe_load` builds plain data only. A `dict_object` recipe can only be
listed by executing the recipe module, so it is flagged (`needs_expansion`) for the sandboxed
`pangeo-forge-runner expand-meta` job instead of being rejected.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import yaml

from pangeo_forge_orchestrator.core import messages as msg

MAX_META_BYTES = 256 * 1024
MAX_RECIPE_ID_LENGTH = 100
RESERVED_RECIPE_IDS = frozenset({"all"})
_RECIPE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_OBJECT_REF = re.compile(r"[^:\s]+:[^:\s]+")


@dataclass(frozen=True, slots=True)
class RecipeSpec:
    """A recipe named in meta.yaml; `object` is None once expand-meta has listed the ids."""

    id: str
    object: str | None = None


@dataclass(frozen=True, slots=True)
class DictObjectSpec:
    """`dict_object: "module:name"`: a dict of recipes whose ids only running the code reveals."""

    dict_object: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Maintainer:
    name: str | None = None
    github: str | None = None
    orcid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedstockMeta:
    recipes: tuple[RecipeSpec | DictObjectSpec, ...]
    bakery_id: str
    title: str | None = None
    description: str | None = None
    maintainers: tuple[Maintainer, ...] = ()
    license: str | None = None
    providers: tuple[str, ...] = ()

    @property
    def needs_expansion(self) -> bool:
        return any(isinstance(recipe, DictObjectSpec) for recipe in self.recipes)

    @property
    def recipe_ids(self) -> tuple[str, ...]:
        """Ids known without running code, in meta.yaml's order."""
        return tuple(r.id for r in self.recipes if isinstance(r, RecipeSpec))


@dataclass(frozen=True, slots=True)
class InvalidMeta:
    problems: tuple[str, ...]


MetaResult = FeedstockMeta | InvalidMeta


def missing_meta(path: str) -> InvalidMeta:
    return InvalidMeta((msg.META_MISSING.format(path=path),))


def parse_meta(
    text: str, *, known_bakeries: Collection[str], default_bakery: str | None = None
) -> MetaResult:
    """Parse meta.yaml text and validate it (see `validate_meta`)."""
    size = len(text.encode())
    if size > MAX_META_BYTES:
        return InvalidMeta((msg.META_TOO_LARGE.format(size=size, limit=MAX_META_BYTES),))
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        return InvalidMeta((_yaml_problem(exc),))
    except yaml.YAMLError as exc:
        return InvalidMeta((msg.META_YAML_ERROR_NO_MARK.format(problem=str(exc).strip()),))
    return validate_meta(data, known_bakeries=known_bakeries, default_bakery=default_bakery)


def parse_expanded_meta(
    data: object, *, known_bakeries: Collection[str], default_bakery: str | None = None
) -> MetaResult:
    """Validate expand-meta's JSON output: recipes are listed by id, `object` is optional."""
    return validate_meta(
        data, known_bakeries=known_bakeries, default_bakery=default_bakery, expanded=True
    )


def validate_meta(
    data: object,
    *,
    known_bakeries: Collection[str],
    default_bakery: str | None = None,
    expanded: bool = False,
) -> MetaResult:
    """Check parsed meta.yaml; report every problem at once, so one push can fix them all.

    - `recipes` is a non-empty list; each recipe has a text `id` and an `object`
      (`module:name`), or is a `dict_object` (flagged for expansion);
    - ids are unique, usable in `/run <id>`, and not reserved;
    - `bakery.id` names a known bakery (or `default_bakery` applies when it is absent).
    """
    if data is None:
        return InvalidMeta((msg.META_EMPTY,))
    if not isinstance(data, Mapping):
        return InvalidMeta((msg.META_NOT_MAPPING.format(kind=_kind(data)),))
    problems: list[str] = []
    recipes = _recipes(data.get("recipes"), problems, expanded=expanded)
    bakery_id = _bakery(data, problems, known_bakeries=known_bakeries, default=default_bakery)
    title = _text(data, "title", problems)
    description = _text(data, "description", problems)
    maintainers = _maintainers(data.get("maintainers"), problems)
    license_, providers = _provenance(data.get("provenance"), problems)
    if problems or bakery_id is None:
        return InvalidMeta(tuple(problems))
    return FeedstockMeta(
        recipes=recipes,
        bakery_id=bakery_id,
        title=title,
        description=description,
        maintainers=maintainers,
        license=license_,
        providers=providers,
    )


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "cannot be parsed").strip()
    if mark is None:
        return msg.META_YAML_ERROR_NO_MARK.format(problem=problem)
    # PyYAML counts from 0; editors count from 1.
    text = msg.META_YAML_ERROR.format(line=mark.line + 1, column=mark.column + 1, problem=problem)
    if "<block" in problem or "\\t" in problem:
        text += msg.META_YAML_INDENT_HINT
    return text


def _recipes(
    value: object, problems: list[str], *, expanded: bool
) -> tuple[RecipeSpec | DictObjectSpec, ...]:
    if value is None:
        problems.append(msg.RECIPES_MISSING)
        return ()
    # pangeo-forge-runner also accepts `recipes: {dict_object: ...}` (a mapping, not a list).
    if isinstance(value, Mapping) and "dict_object" in value:
        value = [value]
    if not isinstance(value, list):
        problems.append(msg.RECIPES_NOT_LIST.format(kind=_kind(value)))
        return ()
    if not value:
        problems.append(msg.RECIPES_EMPTY)
        return ()
    specs = [
        _recipe(number, item, problems, expanded=expanded) for number, item in enumerate(value, 1)
    ]
    ids = [spec.id for spec in specs if isinstance(spec, RecipeSpec)]
    repeated = [recipe_id for recipe_id, count in Counter(ids).items() if count > 1]
    if repeated:
        problems.append(msg.DUPLICATE_IDS.format(ids=msg.code_list(repeated)))
    return tuple(spec for spec in specs if spec is not None)


def _recipe(
    number: int, item: object, problems: list[str], *, expanded: bool
) -> RecipeSpec | DictObjectSpec | None:
    if not isinstance(item, Mapping):
        problems.append(msg.RECIPE_NOT_MAPPING.format(number=number, kind=_kind(item)))
        return None
    raw_id, obj, dict_obj = item.get("id"), item.get("object"), item.get("dict_object")
    label = str(raw_id) if raw_id is not None else f"#{number}"
    if dict_obj is not None:
        if expanded:
            problems.append(msg.EXPANDED_DICT_OBJECT.format(label=label))
            return None
        if obj is not None:
            problems.append(msg.RECIPE_BOTH_OBJECTS.format(label=label))
            return None
        # Its `id`, if any, is ignored: the dict's keys become the recipe ids.
        ref = _object_ref(label, "dict_object", dict_obj, problems)
        return DictObjectSpec(ref) if ref is not None else None
    recipe_id = _recipe_id(number, raw_id, problems)
    if obj is None:
        if not expanded:
            problems.append(msg.RECIPE_WITHOUT_OBJECT.format(label=label))
        return RecipeSpec(recipe_id) if recipe_id is not None else None
    checked = _object_ref(label, "object", obj, problems)
    if recipe_id is None or checked is None:
        return None
    return RecipeSpec(recipe_id, checked)


def _recipe_id(number: int, value: object, problems: list[str]) -> str | None:
    if value is None:
        problems.append(msg.RECIPE_WITHOUT_ID.format(number=number))
        return None
    if not isinstance(value, str):
        problems.append(msg.RECIPE_ID_NOT_TEXT.format(number=number, value=value))
        return None
    if len(value) > MAX_RECIPE_ID_LENGTH or not _RECIPE_ID.fullmatch(value):
        problems.append(msg.RECIPE_ID_INVALID.format(id=value, limit=MAX_RECIPE_ID_LENGTH))
        return None
    if value.lower() in RESERVED_RECIPE_IDS:
        problems.append(msg.RECIPE_ID_RESERVED.format(id=value))
        return None
    return value


def _object_ref(label: str, key: str, value: object, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not _OBJECT_REF.fullmatch(value):
        problems.append(msg.RECIPE_OBJECT_FORMAT.format(label=label, key=key, value=value))
        return None
    return value


def _bakery(
    data: Mapping[object, object],
    problems: list[str],
    *,
    known_bakeries: Collection[str],
    default: str | None,
) -> str | None:
    known = msg.code_list(sorted(known_bakeries)) if known_bakeries else msg.NO_BAKERIES
    bakery = data.get("bakery")
    if bakery is None:
        if default is None:
            problems.append(msg.BAKERY_MISSING.format(known=known))
        return default
    if not isinstance(bakery, Mapping):
        problems.append(msg.BAKERY_NOT_MAPPING)
        return None
    bakery_id = bakery.get("id")
    if bakery_id is None:
        problems.append(msg.BAKERY_MISSING.format(known=known))
        return None
    if not isinstance(bakery_id, str) or bakery_id not in known_bakeries:
        problems.append(msg.BAKERY_UNKNOWN.format(id=bakery_id, known=known))
        return None
    return bakery_id


def _text(data: Mapping[object, object], key: str, problems: list[str]) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(msg.FIELD_NOT_TEXT.format(field=key, kind=_kind(value)))
    return None


def _maintainers(value: object, problems: list[str]) -> tuple[Maintainer, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(msg.FIELD_NOT_LIST.format(field="maintainers", kind=_kind(value)))
        return ()
    people = []
    for person in value:
        if not isinstance(person, Mapping):
            problems.append(msg.FIELD_NOT_LIST.format(field="maintainers", kind=_kind(person)))
            continue
        fields = {key: _text(person, key, problems) for key in ("name", "github", "orcid")}
        people.append(Maintainer(**fields))
    return tuple(people)


def _provenance(value: object, problems: list[str]) -> tuple[str | None, tuple[str, ...]]:
    if value is None:
        return None, ()
    if not isinstance(value, Mapping):
        problems.append(msg.FIELD_NOT_TEXT.format(field="provenance", kind=_kind(value)))
        return None, ()
    license_ = _text(value, "license", problems)
    providers = value.get("providers") or []
    if not isinstance(providers, list):
        problems.append(
            msg.FIELD_NOT_LIST.format(field="provenance.providers", kind=_kind(providers))
        )
        return license_, ()
    names = [p.get("name") for p in providers if isinstance(p, Mapping)]
    return license_, tuple(name for name in names if isinstance(name, str))


def _kind(value: object) -> str:
    """How YAML would describe a value, for messages ("a list", "the number 3")."""
    match value:
        case bool():
            return f"the boolean `{str(value).lower()}`"
        case int() | float():
            return f"the number `{value}`"
        case str():
            return f"the text `{value}`"
        case list():
            return "a list"
        case Mapping():
            return "a mapping"
        case None:
            return "nothing"
        case _:
            return f"a {type(value).__name__}"
