"""`pfo sandbox …`: act as a person on the sandbox of a running `make run` (or `pfo serve`)."""

from __future__ import annotations

from pathlib import Path

import typer

from pangeo_forge_orchestrator.sandbox.client import SandboxClient, SandboxError, staged_recipes
from pangeo_forge_orchestrator.sandbox.mode import CONTRIBUTOR, MAINTAINER, ORG, WEB_PREFIX
from pangeo_forge_orchestrator.sandbox.tiny_recipe import tiny_recipe, write_inputs

sandbox_app = typer.Typer(
    help="Act on the simulated GitHub of a server running in sandbox mode (`make run`).",
    no_args_is_help=True,
)
URL = typer.Option("http://127.0.0.1:8000", "--url", help="The service in sandbox mode.")
AS = typer.Option(CONTRIBUTOR, "--as", help="Who acts: dana (contributor), max (maintainer), …")


def _client(url: str, login: str) -> SandboxClient:
    return SandboxClient(url, login=login)


def _fail(error: SandboxError) -> typer.Exit:
    typer.echo(f"✗ {error}", err=True)
    return typer.Exit(1)


@sandbox_app.command()
def propose(
    name: str = typer.Argument(..., help="The recipe's name: recipes/NAME/ and NAME-feedstock."),
    url: str = URL,
    login: str = AS,
    data_dir: Path = typer.Option(Path(".pfo"), help="Where the recipe's input files go."),
) -> None:
    """Open a staged-recipes pull request adding the tiny recipe as recipes/NAME/."""
    client = _client(url, login)
    inputs = (data_dir / "sandbox" / "inputs" / name).absolute()
    write_inputs(inputs)
    recipe = tiny_recipe(inputs, title=f"Tiny temperature ({name})", maintainer=login)
    try:
        client.push_files(
            staged_recipes(),
            branch=f"add-{name}",
            files=recipe.files(f"recipes/{name}"),
            message=f"Add {name}",
        )
        pull = client.open_pull(staged_recipes(), branch=f"add-{name}", title=f"Add {name}")
    except SandboxError as error:
        raise _fail(error) from None
    typer.echo(f"{login} opened {pull.repo}#{pull.number} at {pull.head_sha[:7]}: {pull.html_url}")
    typer.echo(f"next: pfo sandbox comment {pull.repo} {pull.number} '/run tiny' --as {MAINTAINER}")


@sandbox_app.command("create-feedstock")
def create_feedstock(
    name: str = typer.Argument(..., help="Creates NAME-feedstock holding the tiny recipe."),
    url: str = URL,
    login: str = typer.Option(MAINTAINER, "--as", help="Who creates it (an org owner)."),
    data_dir: Path = typer.Option(Path(".pfo"), help="Where the recipe's input files go."),
) -> None:
    """Create a feedstock repository from the template (the tiny recipe under feedstock/)."""
    client = _client(url, login)
    repo = f"{ORG}/{name}-feedstock"
    inputs = (data_dir / "sandbox" / "inputs" / name).absolute()
    write_inputs(inputs)
    files = tiny_recipe(inputs, title=f"Tiny temperature ({name})", maintainer=login).files(
        "feedstock"
    )
    try:
        client.github(
            "POST", f"/orgs/{ORG}/repos", json={"name": f"{name}-feedstock", "auto_init": True}
        )
        for path, data in files.items():
            client.put_file(repo, path=path, data=data, message=f"Add {path}")
    except SandboxError as error:
        raise _fail(error) from None
    typer.echo(f"created {repo}: {url}{WEB_PREFIX}/{repo}")


@sandbox_app.command()
def comment(
    repo: str = typer.Argument(..., help="owner/name"),
    number: int = typer.Argument(..., help="The pull request."),
    text: str = typer.Argument(..., help="What to say, e.g. '/run tiny'."),
    url: str = URL,
    login: str = AS,
) -> None:
    """Comment on a pull request (a `/run RECIPE` comment asks for a test bake)."""
    try:
        made = _client(url, login).comment(repo, number, text)
    except SandboxError as error:
        raise _fail(error) from None
    typer.echo(f"{login} commented on {repo}#{number}: {made['html_url']}")


@sandbox_app.command()
def merge(
    repo: str = typer.Argument(..., help="owner/name"),
    number: int = typer.Argument(..., help="The pull request."),
    url: str = URL,
    login: str = typer.Option(MAINTAINER, "--as", help="Who merges (needs write access)."),
) -> None:
    """Merge a pull request."""
    try:
        sha = _client(url, login).merge(repo, number)
    except SandboxError as error:
        raise _fail(error) from None
    typer.echo(f"{login} merged {repo}#{number} as {sha[:7]}")


@sandbox_app.command()
def show(
    repo: str = typer.Argument(..., help="owner/name"),
    number: int = typer.Argument(..., help="The pull request."),
    url: str = URL,
) -> None:
    """Print a pull request: its checks and its conversation."""
    client = _client(url, CONTRIBUTOR)
    try:
        pull = client.pull(repo, number)
        checks = client.check_runs(repo, pull["head"]["sha"])
        comments = client.comments(repo, number)
    except SandboxError as error:
        raise _fail(error) from None
    state = "merged" if pull.get("merged") else pull["state"]
    typer.echo(f"{repo}#{number} “{pull['title']}” by {pull['user']['login']}: {state}")
    for check in checks:
        title = (check.get("output") or {}).get("title") or ""
        typer.echo(
            f"  check {check['name']}: {check['status']} {check['conclusion'] or ''} {title}"
        )
    for item in comments:
        typer.echo(f"\n— {item['user']['login']}:\n{item['body']}")
    typer.echo(f"\n{pull['html_url']}")
