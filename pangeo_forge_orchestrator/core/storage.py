"""Where a recipe run's dataset is written and published (LEGACY-API "Storage layout").

A bakery names two templates: `target_root` (where the runner writes, with `{subpath}`) and
`public_url` (how the world reads it, with `{subpath}` or `{root_path}`); both may also use
`{app_name}`. The subpath already begins with the app name, as the original's did, so that a
staging deployment never overwrites production data: write templates as `gs://bucket/{subpath}`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

TARGET_ROOT_FIELDS = frozenset({"app_name", "subpath"})
PUBLIC_URL_FIELDS = frozenset({"app_name", "subpath", "root_path"})


@dataclass(frozen=True, slots=True)
class RunStorage:
    """The rendered storage of one run: stored on the run at submit time, never re-derived."""

    target_root: str
    public_url: str


def storage_subpath(
    *,
    app_name: str,
    feedstock_spec: str,
    recipe_id: str,
    dataset_type: str,
    is_test: bool,
    recipe_run_id: int,
) -> str:
    """Return the run's subpath.

    - test runs: `{app_name}/test/{feedstock_spec}/recipe-run-{id}/{recipe_id}.{dataset_type}`
      (one folder per run, so that test runs never collide);
    - production runs: `{app_name}/{feedstock_spec}/{recipe_id}.{dataset_type}` (each production
      run overwrites the previous one on purpose: that path is the published dataset).
    """
    if is_test:
        prefix = f"{app_name}/test/{feedstock_spec}/recipe-run-{recipe_run_id}"
    else:
        prefix = f"{app_name}/{feedstock_spec}"
    return f"{prefix}/{recipe_id}.{dataset_type}"


def template_fields(template: str) -> set[str]:
    """Return the `{placeholders}` of a template; raise ValueError if it is malformed."""
    names: set[str] = set()
    for _literal, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"malformed placeholder {{{field}}}")
        names.add(field)
    return names


def render_storage(
    *, target_root_template: str, public_url_template: str, app_name: str, subpath: str
) -> RunStorage:
    """Fill the bakery's templates for one run."""
    root = target_root_template.format(app_name=app_name, subpath=subpath)
    public = public_url_template.format(app_name=app_name, subpath=subpath, root_path=root)
    return RunStorage(target_root=root, public_url=public)
