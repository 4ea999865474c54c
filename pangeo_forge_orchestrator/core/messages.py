"""Every text a person reads on GitHub: check-run titles and summaries, comments, problems.

Written for data engineers who may not know GitHub well: say what happened, why, and what to
do next. Builders take only public values (ids, shas, URLs, logins); a run's error text is
passed in already redacted by whoever read it, and is truncated here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

# -- meta.yaml problems (one line each; shown as a bullet list) --------------------------------
META_MISSING = "There is no `{path}` in this commit; every feedstock needs one."
META_TOO_LARGE = "`meta.yaml` is {size} bytes; the limit is {limit} bytes."
META_YAML_ERROR = "`meta.yaml` is not valid YAML (line {line}, column {column}): {problem}."
# PyYAML's words for indentation mistakes ("expected <block end>") mean little to most people.
META_YAML_INDENT_HINT = (
    " This usually means the indentation is off: keys of one mapping must line up, indented "
    "with spaces (not tabs)."
)
META_YAML_ERROR_NO_MARK = "`meta.yaml` is not valid YAML: {problem}."
META_EMPTY = "`meta.yaml` is empty."
META_NOT_MAPPING = (
    "`meta.yaml` must be a mapping of keys (`title`, `recipes`, `bakery`, ...), not {kind}."
)
RECIPES_MISSING = (
    "`meta.yaml` has no `recipes` list; add one, for example "
    '`recipes: [{{id: my-dataset, object: "recipe:recipe"}}]`.'
)
RECIPES_EMPTY = "`recipes` is empty; list at least one recipe with an `id` and an `object`."
RECIPES_NOT_LIST = "`recipes` must be a list of recipes (each with `id` and `object`), not {kind}."
RECIPE_NOT_MAPPING = "Recipe #{number} must be a mapping with `id` and `object`, not {kind}."
RECIPE_WITHOUT_ID = (
    "Recipe #{number} has no `id`; give it a short unique name, e.g. `id: my-dataset`."
)
RECIPE_ID_NOT_TEXT = "Recipe #{number} has an `id` that is not text ({value}); put it in quotes."
RECIPE_ID_INVALID = (
    "Recipe id `{id}` may only use letters, digits, `.`, `-` and `_` (at most {limit} "
    "characters): it is typed in `/run <recipe_id>` and names a GitHub deployment."
)
RECIPE_ID_RESERVED = "Recipe id `{id}` is reserved (`/run all` runs every recipe); choose another."
RECIPE_WITHOUT_OBJECT = (
    "Recipe `{label}` has no `object`; point it at the recipe in your module, "
    'e.g. `object: "recipe:recipe"`.'
)
RECIPE_BOTH_OBJECTS = "Recipe `{label}` has both `object` and `dict_object`; keep one."
RECIPE_OBJECT_FORMAT = (
    "Recipe `{label}`: `{key}: {value}` should look like `module:name` (e.g. `recipe:recipe`)."
)
EXPANDED_DICT_OBJECT = "Recipe `{label}` was still a `dict_object` after `expand-meta`."
DUPLICATE_IDS = "Recipe ids must be unique; repeated: {ids}."
BAKERY_MISSING = "`meta.yaml` has no `bakery: {{id: ...}}`; known bakeries: {known}."
BAKERY_NOT_MAPPING = "`bakery` must be a mapping with an `id`, e.g. `bakery: {{id: my-bakery}}`."
BAKERY_UNKNOWN = "Bakery `{id}` is not known here; known bakeries: {known}."
NO_BAKERIES = "none are configured on this service"
FIELD_NOT_TEXT = "`{field}` must be text, not {kind}."
FIELD_NOT_LIST = "`{field}` must be a list, not {kind}."

# -- staged-recipes layout problems -----------------------------------------------------------
LAYOUT_NO_FILES = "It changes no files."
LAYOUT_OUTSIDE_RECIPES = "It changes files outside recipes/: {paths}."
LAYOUT_LOOSE_FILES = (
    "It changes files directly in recipes/, not in a recipes/<name>/ folder: {paths}."
)
LAYOUT_SEVERAL_FOLDERS = "It touches {count} recipe folders: {names}."
LAYOUT_BAD_NAME = (
    "The folder name `{name}` cannot name a repository (`{name}-feedstock`); "
    "use letters, digits, `.`, `-` and `_`."
)
LAYOUT_RULE = (
    "A staged-recipes pull request adds exactly one `recipes/<name>/` folder and changes "
    "nothing else, so that merging it can create `<name>-feedstock`."
)

# -- check runs -------------------------------------------------------------------------------
SYNC_CHECK_NAME = "Recipe runs"
SYNC_IN_PROGRESS_TITLE = "Reading meta.yaml"
SYNC_IN_PROGRESS_SUMMARY = "Checking `{meta_path}` at `{sha}` and recording a test run per recipe."
SYNC_EXPANDING_SUMMARY = (
    "`{meta_path}` lists recipes through `dict_object`, so their ids come from running "
    "`pangeo-forge-runner expand-meta` in an isolated worker (no secrets). This check "
    "completes when that finishes."
)
SYNC_SUCCESS_TITLE = "{count} test run(s) ready"
SYNC_SUCCESS_SUMMARY = (
    "Test runs recorded for commit `{sha}`. A maintainer starts them by commenting "
    "`/run <recipe_id>` or `/run all` on this pull request."
)
SYNC_RUN_LINE = "- `{recipe_id}`: {url} ({status})"
SYNC_DRAFT_TITLE = "meta.yaml is valid; no runs while this is a draft"
SYNC_DRAFT_SUMMARY = (
    "Recipes found in `{meta_path}` at `{sha}`: {ids}. Test runs are recorded when the pull "
    "request is marked ready for review."
)
DRAFT_IDS_PENDING = "(listed by `expand-meta` once the pull request is ready for review)"
SYNC_FAILURE_TITLE = "meta.yaml needs changes"
SYNC_LAYOUT_TITLE = "This pull request's files need rearranging"
SYNC_FAILURE_SUMMARY = "Problems found in `{meta_path}` at `{sha}`:"
SYNC_FAILURE_FOOTER = "Fix them and push again; this check runs on every push."
RUN_CHECK_NAME = "Recipe run: {recipe_id}"
RUN_CHECK_TITLE_STARTED = "Running `{recipe_id}` ({kind})"
RUN_CHECK_SUMMARY = (
    "Recipe run {run_id} of `{recipe_id}` at `{sha}`.\n\n- Run page: {url}\n- Logs: {logs}"
)
RUN_CHECK_TITLES = {
    "success": "`{recipe_id}` succeeded",
    "failure": "`{recipe_id}` failed",
    "timed_out": "`{recipe_id}` timed out",
    "cancelled": "`{recipe_id}` was cancelled",
}
RUN_CHECK_TITLE_OTHER = "`{recipe_id}` finished: {conclusion}"
SUPERSEDED_TITLE = "Cancelled: a newer commit was pushed"
SUPERSEDED_SUMMARY = (
    "Commit `{new_sha}` was pushed to this pull request, so this run at `{sha}` was stopped."
)
CANCEL_REASON_SUPERSEDED = "Cancelled: superseded by commit {new_sha}."
CANCEL_REASON_COMMAND = "Cancelled by @{login} with /cancel."
CANCELLED_BY_COMMAND_SUMMARY = "@{login} cancelled this run with `/cancel {recipe_id}`."
RUN_KIND_TEST = "test run, pruned"
RUN_KIND_PRODUCTION = "production run"
DEPLOYMENT_DESCRIPTION = "Production run {run_id} of {recipe_id}"
DEPLOYMENT_STATE_DESCRIPTIONS = {
    "in_progress": "Running",
    "success": "Succeeded",
    "failure": "Failed",
    "error": "Did not finish ({conclusion})",
}

# -- slash commands: why a command was malformed (shown inside USAGE) ------------------------
MISSING_RECIPE_ID = "it needs a recipe id, e.g. `/{word} my-recipe`"
TOO_MANY_ARGUMENTS = "it takes one recipe id, and got {count} words"
CANCEL_ALL = "`/cancel` takes one recipe id; `all` is not supported"

# -- comments ---------------------------------------------------------------------------------
COMMENT_MARKER = "<!-- pfo:{key} -->"
HELP = """\
Commands I understand in a comment on this pull request (the command goes on the first line):

- `/run <recipe_id>`: start a test run (pruned to a few inputs) of one recipe at the latest commit
- `/run all`: start a test run of every recipe
- `/cancel <recipe_id>`: stop a queued or running test run of a recipe
- `/help`: show this message

Recipes in meta.yaml at `{sha}`: {ids}.
Starting or cancelling runs needs write access to this repository (admin, maintain or write)."""
HELP_META_INVALID = "(none readable: meta.yaml has problems, see the check run)"
USAGE = """\
@{login}, I could not understand `{line}`: {problem}.

Usage: `/run <recipe_id>`, `/run all`, `/cancel <recipe_id>` or `/help`."""
REFUSAL = """\
Thanks, @{login}! Running recipe code needs write access to `{repo}`, and your access is \
`{level}`. Only people with the admin, maintain or write role on this repository can start or \
cancel runs, so that code from a pull request never runs with our credentials unasked.

A maintainer can comment `{command}` for you."""
RERUN_REFUSAL = """\
Thanks, @{login}! Re-running recipe code needs write access to `{repo}`, and your access is \
`{level}`. A maintainer can press "Re-run" on the check, or comment `/run <recipe_id>`."""
UNKNOWN_RECIPE = """\
@{login}, there is no recipe `{recipe_id}` in meta.yaml at `{sha}`. Valid ids: {ids}.

For example: `/run {example}`."""
META_INVALID_REPLY = """\
@{login}, I cannot run recipes at `{sha}` because meta.yaml has problems (details in the \
"{check}" check):

{problems}"""
ALREADY_QUEUED = (
    "`{recipe_id}` is already queued at `{sha}` ({url}); it starts when the bakery has room."
)
ALREADY_RUNNING = "`{recipe_id}` is already running at `{sha}` ({url})."
ALREADY_ACTIVE_MANY = "@{login}, these were already on their way, so I left them alone:"
EXPANSION_PENDING = (
    "@{login}, the recipes at `{sha}` are still being listed (meta.yaml uses `dict_object`); "
    "try again in a minute."
)
NOTHING_TO_CANCEL = (
    "@{login}, there is no queued or running test run of `{recipe_id}` on this pull request."
)
RESULT_SUCCESS = """\
:tada: The test run of `{recipe_id}` at `{sha}` succeeded!

{open_dataset}

Run page: {url}"""
OPEN_ZARR = """\
Open the dataset with:

```python
import xarray as xr
ds = xr.open_dataset({dataset_url_literal}, engine="zarr", chunks={{}})
ds
```"""
OPEN_OTHER = "The {dataset_type} output is at {dataset_url}."
NO_DATASET_URL = "The run reported no dataset URL; the logs say where its output went."
RESULT_FAILURE = """\
The test run of `{recipe_id}` at `{sha}` {what}. Here is the end of the error:

{error}

Full logs: {logs}
Run page: {url}

Push a fix and comment `/run {recipe_id}` to try again; ask here if the error is unclear."""
RESULT_FAILURE_NO_ERROR = "(the run reported no error text; the logs have the details)"
RESULT_WHAT = {"failure": "failed", "timed_out": "ran out of time"}
RESULT_WHAT_OTHER = "ended with `{conclusion}`"
DISPATCH_FAILED = """\
I could not start the test run of `{recipe_id}` at `{sha}`: {error}

Nothing ran. Comment `/run {recipe_id}` to try again; if it keeps failing, the logs \
({logs}) help the service's maintainers."""
MERGED_META_INVALID = """\
This pull request was merged, but no production run started because meta.yaml at `{sha}` has \
problems:

{problems}

Fix them in a new pull request; merging it starts the production runs."""
MERGED_LAYOUT_INVALID = """\
This pull request was merged, but I could not turn it into a feedstock. {rule}

{problems}"""

# -- feedstock creation -----------------------------------------------------------------------
FEEDSTOCK_DESCRIPTION = "Pangeo Forge feedstock for {name}."
FEEDSTOCK_PR_TITLE = "Create {name}-feedstock"
FEEDSTOCK_PR_BODY = "Moves `recipes/{name}/` from {source} (#{pr_number}) into `feedstock/`."
FEEDSTOCK_FILE_COMMIT = "Add {path}"
CLEANUP_PR_TITLE = "Cleanup {name}"
CLEANUP_PR_BODY = "`recipes/{name}/` now lives in {feedstock}; this removes it from here."
CLEANUP_FILE_COMMIT = "Remove {path}"

_MAX_LISTED = 10
_ERROR_LINES = 20
_ERROR_CHARS = 2000
# GitHub rejects check-run summaries over 65535 characters.
CHECK_SUMMARY_LIMIT = 65535


def code_list(items: Iterable[str]) -> str:
    """`a`, `b`, `c` (at most ten, then how many more), or "(none)"."""
    values = list(items)
    shown = ", ".join(f"`{value}`" for value in values[:_MAX_LISTED])
    if len(values) > _MAX_LISTED:
        shown += f" and {len(values) - _MAX_LISTED} more"
    return shown or "(none)"


def bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def fenced(text: str, *, language: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside, so it cannot break."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def error_tail(text: str | None) -> str:
    """The last lines of an error (a traceback ends with its cause), fenced and bounded."""
    if not text or not text.strip():
        return RESULT_FAILURE_NO_ERROR
    lines = text.strip().splitlines()[-_ERROR_LINES:]
    tail = "\n".join(lines)[-_ERROR_CHARS:]
    return fenced(tail)


def truncate(text: str, limit: int = CHECK_SUMMARY_LIMIT) -> str:
    marker = "\n\n(truncated)"
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def comment_marker(key: str) -> str:
    """The hidden line that identifies one of our comments, so it is never posted twice."""
    return COMMENT_MARKER.format(key=key)


def already_active(login: str, lines: Sequence[str]) -> str:
    """One reply for the recipes a /run left alone because they were queued or running."""
    if len(lines) == 1:
        return f"@{login}, {lines[0]}"
    return f"{ALREADY_ACTIVE_MANY.format(login=login)}\n\n{bullets(lines)}"


def open_dataset(dataset_type: str | None, dataset_url: str | None) -> str:
    """How to open a run's output: a ready-to-paste xarray snippet for Zarr."""
    if not dataset_url:
        return NO_DATASET_URL
    # The original's runs were all Zarr and left the type unset, hence the default.
    if dataset_type in (None, "zarr"):
        # json.dumps writes a valid Python string literal for any URL, quotes included.
        return OPEN_ZARR.format(dataset_url_literal=json.dumps(dataset_url))
    return OPEN_OTHER.format(dataset_type=dataset_type, dataset_url=dataset_url)


def run_check_title(recipe_id: str, conclusion: str) -> str:
    template = RUN_CHECK_TITLES.get(conclusion, RUN_CHECK_TITLE_OTHER)
    return template.format(recipe_id=recipe_id, conclusion=conclusion)


def problem_list(problems: Sequence[str]) -> str:
    return bullets(problems)
