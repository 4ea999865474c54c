"""The demo's story, one function per step: what a person does, and what must follow."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pangeo_forge_orchestrator.sandbox.client import (
    PullRef,
    SandboxClient,
    SandboxError,
    staged_recipes,
    wait_for,
)
from pangeo_forge_orchestrator.sandbox.demo_support import (
    DatasetUnreadable,
    open_with_xarray,
)
from pangeo_forge_orchestrator.sandbox.demo_texts import (
    DATASET_WHY,
    MAINTAINER_WHY,
    MERGE_WHY,
    OUTSIDER_WHY,
    PRODUCTION_WHY,
    PROPOSE_WHY,
    RESULT_WHY,
)
from pangeo_forge_orchestrator.sandbox.mode import (
    CONTRIBUTOR,
    MAINTAINER,
    ORG,
    OUTSIDER,
    WEB_PREFIX,
    sandbox_dir,
)
from pangeo_forge_orchestrator.sandbox.tiny_recipe import RECIPE_ID, tiny_recipe, write_inputs
from pangeo_forge_orchestrator.sandbox.transcript import StepFailed, Transcript
from pangeo_forge_orchestrator.settings import Settings

QUICK = 60.0  # seconds for anything that is not a bake
BAKE_TIMEOUT = 1200.0  # the first bake builds the recipe's environment (~80 s here)
PROGRESS_EVERY = 10.0


@dataclass
class Story:
    """What the steps learn and pass on."""

    name: str = ""
    pull: PullRef | None = None
    test_run: dict[str, Any] = field(default_factory=dict)
    feedstock: dict[str, Any] = field(default_factory=dict)
    production_run: dict[str, Any] = field(default_factory=dict)


def _expect(what: str, probe: Any, *, timeout: float = QUICK, **kwargs: Any) -> Any:
    try:
        return wait_for(what, probe, timeout=timeout, **kwargs)
    except SandboxError as error:
        raise StepFailed(str(error)) from None


def _bot_comments_after(
    client: SandboxClient, pull: PullRef, after_id: int
) -> list[dict[str, Any]]:
    return [
        c
        for c in client.comments(pull.repo, pull.number)
        if c["id"] > after_id and c["user"]["login"].endswith("[bot]")
    ]


def propose(say: Transcript, client: SandboxClient, story: Story, settings: Settings) -> None:
    with say.step(f"{CONTRIBUTOR} proposes a recipe to {staged_recipes()}", PROPOSE_WHY):
        story.name = _free_name(client)
        inputs = sandbox_dir(settings) / "inputs" / story.name
        write_inputs(inputs)
        say.detail(f"wrote 2 NetCDF files to {inputs}")
        recipe = tiny_recipe(
            inputs,
            title=f"Tiny temperature ({story.name})",
            maintainer=CONTRIBUTOR,
            provider="The Pangeo Forge demo",
        )
        branch = f"add-{story.name}"
        try:
            client.push_files(
                staged_recipes(),
                branch=branch,
                files=recipe.files(f"recipes/{story.name}"),
                message=f"Add {story.name}",
            )
            story.pull = client.open_pull(
                staged_recipes(),
                branch=branch,
                title=f"Add {story.name}",
                body="A two-day temperature grid.",
            )
        except SandboxError as error:
            raise StepFailed(str(error)) from None
        pull = story.pull
        runs = _expect(
            "a queued test run for the pull request",
            lambda: client.service(f"/recipe_runs/?head_sha={pull.head_sha}") or None,
        )
        story.test_run = runs[0]
        checks = _expect(
            "a check run on the pull request",
            lambda: client.check_runs(pull.repo, pull.head_sha) or None,
        )
        for check in checks:
            title = check["output"].get("title") or ""
            say.detail(f"check run “{check['name']}”: {check['status']} — {title}")
        run = story.test_run
        say.detail(f"recipe run {run['id']} ({run['recipe_id']}): {run['status']}")
        if story.test_run["status"] != "queued":
            raise StepFailed(f"the test run is {story.test_run['status']}, expected queued")
        say.link("pull request", pull.html_url)
        say.link("recipe run", f"{client.base_url}/recipe_runs/{story.test_run['id']}")


def outsider_run(say: Transcript, client: SandboxClient, story: Story, settings: Settings) -> None:
    pull = _must(story.pull)
    with say.step(
        f"{OUTSIDER}, who may not run code here, comments `/run {RECIPE_ID}`", OUTSIDER_WHY
    ):
        comment = client.as_user(OUTSIDER).comment(pull.repo, pull.number, f"/run {RECIPE_ID}")
        replies = _expect(
            "the service's answer to the refused /run",
            lambda: _bot_comments_after(client, pull, comment["id"]) or None,
        )
        say.detail("the service answered:\n" + _first_lines(replies[0]["body"]))
        run = client.service(f"/recipe_runs/{story.test_run['id']}")
        if run["status"] != "queued":
            raise StepFailed(f"the refused /run changed the run to {run['status']}")
        say.detail(f"recipe run {run['id']} is still {run['status']}")


def maintainer_run(
    say: Transcript, client: SandboxClient, story: Story, settings: Settings
) -> None:
    pull = _must(story.pull)
    with say.step(
        f"{MAINTAINER}, a maintainer, comments `/run {RECIPE_ID}`: a real test bake", MAINTAINER_WHY
    ):
        comment = client.as_user(MAINTAINER).comment(pull.repo, pull.number, f"/run {RECIPE_ID}")
        _expect(
            "👀 on the /run comment", lambda: "eyes" in client.reactions(pull.repo, comment["id"])
        )
        say.detail("👀 the service saw the command")
        run = _follow_bake(say, client, story.test_run["id"])
        story.test_run = run
        reactions = client.reactions(pull.repo, comment["id"])
        say.detail(f"reactions on the comment: {', '.join(reactions)}")
        if "rocket" not in reactions:
            raise StepFailed("no 🚀 on the /run comment")
        say.link("run logs", f"{client.base_url}/recipe_runs/{run['id']}/logs")


def _follow_bake(say: Transcript, client: SandboxClient, run_id: int) -> dict[str, Any]:
    last_report = [0.0]

    def progress(elapsed: float) -> None:
        if elapsed - last_report[0] >= PROGRESS_EVERY:
            last_report[0] = elapsed
            run = client.service(f"/recipe_runs/{run_id}")
            say.detail(f"… {elapsed:>4.0f} s  {run['status']}")

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = client.service(f"/recipe_runs/{run_id}")
        return run if run["status"] == "completed" else None

    run: dict[str, Any] = _expect(
        f"recipe run {run_id} to complete",
        finished,
        timeout=BAKE_TIMEOUT,
        interval=1.0,
        tick=progress,
    )
    say.detail(f"recipe run {run_id}: {run['status']} / {run['conclusion']}")
    if run["conclusion"] != "success":
        logs = f"{client.base_url}/recipe_runs/{run_id}/logs"
        raise StepFailed(f"the bake ended {run['conclusion']}: {run.get('message') or ''} ({logs})")
    return run


def result_comment(
    say: Transcript, client: SandboxClient, story: Story, settings: Settings
) -> None:
    pull = _must(story.pull)
    with say.step("The service reports the result on the pull request", RESULT_WHY):

        def snippet() -> str | None:
            for comment in client.comments(pull.repo, pull.number):
                found = re.search(r"```python\n(.*?)```", comment["body"], re.S)
                if (
                    comment["user"]["login"].endswith("[bot]")
                    and found
                    and "xarray" in found.group(1)
                ):
                    return found.group(1)
            return None

        code = _expect("a result comment with an xarray snippet", snippet)
        say.detail("to open the test dataset:")
        say.code(code.rstrip())
        checks = client.check_runs(pull.repo, pull.head_sha)
        for check in checks:
            say.detail(f"check run “{check['name']}”: {check['status']} / {check['conclusion']}")


def merge(say: Transcript, client: SandboxClient, story: Story, settings: Settings) -> None:
    pull = _must(story.pull)
    feedstock_repo = f"{ORG}/{story.name}-feedstock"
    with say.step(f"{MAINTAINER} merges: the service creates {feedstock_repo}", MERGE_WHY):
        try:
            client.as_user(MAINTAINER).merge(pull.repo, pull.number)
        except SandboxError as error:
            raise StepFailed(str(error)) from None
        _expect(f"the repository {feedstock_repo}", lambda: client.repo_exists(feedstock_repo))
        feedstocks = _expect(
            "the feedstock in the service's API",
            lambda: (
                [
                    f
                    for f in client.service("/feedstocks/?limit=100&sort=desc")
                    if f["spec"] == feedstock_repo
                ]
                or None
            ),
        )
        story.feedstock = feedstocks[0]
        _expect(
            f"recipes/{story.name}/ removed from staged-recipes",
            lambda: not client.file_exists(staged_recipes(), f"recipes/{story.name}/meta.yaml"),
        )
        say.detail(
            f"feedstock {story.feedstock['id']}: {feedstock_repo}; staged-recipes cleaned up"
        )
        for repo in (feedstock_repo, staged_recipes()):
            for made in client.pulls(repo):
                if made["user"]["login"].endswith("[bot]"):
                    state = "merged" if made.get("merged_at") else made["state"]
                    title = made["title"]
                    say.detail(
                        f"the service's pull request {repo}#{made['number']}: {title} ({state})"
                    )
        say.link("feedstock repository", f"{client.base_url}{WEB_PREFIX}/{feedstock_repo}")
        say.link("feedstock (API)", f"{client.base_url}/feedstocks/{story.feedstock['id']}")


def production_run(
    say: Transcript, client: SandboxClient, story: Story, settings: Settings
) -> None:
    feedstock_id = story.feedstock["id"]
    repo = story.feedstock["spec"]
    with say.step("The feedstock's production run bakes and deploys the dataset", PRODUCTION_WHY):
        runs = _expect(
            "a production run of the feedstock",
            lambda: (
                client.service(f"/recipe_runs/?feedstock_id={feedstock_id}&is_test=false") or None
            ),
        )
        story.production_run = _follow_bake(say, client, runs[0]["id"])

        def deployed() -> tuple[dict[str, Any], dict[str, Any]] | None:
            for deployment in client.deployments(repo):
                statuses = client.deployment_statuses(repo, deployment["id"])
                if statuses and statuses[0]["state"] == "success":
                    return deployment, statuses[0]
            return None

        deployment, status = _expect("a successful deployment", deployed)
        environment = deployment["environment"]
        say.detail(f"deployment to the “{environment}” environment: {status['state']}")
        say.link("recipe run", f"{client.base_url}/recipe_runs/{story.production_run['id']}")


def dataset_listed(
    say: Transcript, client: SandboxClient, story: Story, settings: Settings
) -> None:
    feedstock_id = story.feedstock["id"]
    with say.step("The dataset is listed by the public API", DATASET_WHY):
        datasets = client.service(f"/feedstocks/{feedstock_id}/datasets?type=production")
        if not datasets:
            raise StepFailed(f"/feedstocks/{feedstock_id}/datasets lists nothing")
        for dataset in datasets:
            say.detail(f"{dataset.get('recipe_id')}: {dataset.get('dataset_public_url')}")
        url = str(datasets[0].get("dataset_public_url") or "")
        try:
            opened = open_with_xarray(settings.data_dir, url)
        except DatasetUnreadable as error:
            raise StepFailed(str(error)) from None
        if opened is not None:
            say.detail("opened with xarray:\n" + opened)
        say.link("datasets", f"{client.base_url}/feedstocks/{feedstock_id}/datasets")


def _free_name(client: SandboxClient) -> str:
    number = 1
    while client.repo_exists(f"{ORG}/tiny-{number}-feedstock") or any(
        p["head"]["ref"] == f"add-tiny-{number}" for p in client.pulls(staged_recipes())
    ):
        number += 1
    return f"tiny-{number}"


def _first_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("<!--")]
    return "\n".join(lines[:count])


def _must(pull: PullRef | None) -> PullRef:
    if pull is None:
        raise StepFailed("no pull request was opened")
    return pull


Step = Callable[[Transcript, SandboxClient, Story, Settings], None]
STEPS: tuple[Step, ...] = (
    propose,
    outsider_run,
    maintainer_run,
    result_comment,
    merge,
    production_run,
    dataset_listed,
)
