"""`pfo demo`: the whole life of a dataset on one machine, checked at every step.

A contributor proposes a tiny recipe to staged-recipes; the service records test runs and
reports a check run; an outsider's `/run` is refused; a maintainer's `/run` bakes it for real
(pangeo-forge-runner, Apache Beam's DirectRunner); the result comes back as a comment with an
xarray snippet; the merge creates the feedstock repository and cleans staged-recipes; the
feedstock's production run deploys the dataset, which the public API then lists.
Everything stays under PFO_DATA_DIR, to browse afterwards with `make run`.
"""

from __future__ import annotations

from typing import TextIO

from pangeo_forge_orchestrator.sandbox.client import SandboxClient
from pangeo_forge_orchestrator.sandbox.demo_steps import STEPS, Story
from pangeo_forge_orchestrator.sandbox.demo_support import port_is_free, runner_available
from pangeo_forge_orchestrator.sandbox.demo_texts import DONE, PORT_BUSY, RUNNER_MISSING, START_WHY
from pangeo_forge_orchestrator.sandbox.mode import CONTRIBUTOR, WEB_PREFIX, sandbox_dir
from pangeo_forge_orchestrator.sandbox.service_process import ServiceProcess
from pangeo_forge_orchestrator.sandbox.transcript import StepFailed, Transcript
from pangeo_forge_orchestrator.settings import Settings


def run_demo(settings: Settings, *, port: int, out: TextIO) -> bool:
    """Tell the story; True only if every step did what it should."""
    say = Transcript(out)
    say.say("Pangeo Forge, end to end on this machine: a simulated GitHub, a real bake.")
    if not runner_available(settings.runner_command):
        say.say(RUNNER_MISSING.format(command=settings.runner_command))
        return False
    if not port_is_free(port):
        say.say(PORT_BUSY.format(port=port))
        return False
    root = sandbox_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    service = ServiceProcess(
        port=port, data_dir=settings.data_dir, log_path=root / "demo-service.log"
    )
    client = SandboxClient(service.base_url, login=CONTRIBUTOR)
    story = Story()
    try:
        with say.step("Start the service in sandbox mode", START_WHY):
            _start(say, service)
        for step in STEPS:
            step(say, client, story, settings)
    except StepFailed:
        say.say(f"\nThe service's log: {service.log_path}")
    finally:
        client.close()
        code = service.stop()
        say.say(f"\nService stopped (exit {code}).")
    if say.failures:
        say.say(f"\n✗ The demo failed after {say.elapsed:.0f} s:")
        for failure in say.failures:
            say.say(f"  {failure}")
        return False
    say.say(
        DONE.format(
            seconds=say.elapsed,
            data_dir=settings.data_dir,
            port=port,
            story=story_urls(service.base_url, story),
        )
    )
    return True


def story_urls(base_url: str, story: Story) -> str:
    if not story.feedstock:
        return ""
    return (
        f"  {base_url}/feedstocks/{story.feedstock['id']}\n"
        f"  {base_url}/feedstocks/{story.feedstock['id']}/datasets\n"
        f"  {base_url}{WEB_PREFIX}/{story.feedstock['spec']}"
    )


def _start(say: Transcript, service: ServiceProcess) -> None:
    try:
        say.detail(service.migrate())
        service.start()
    except RuntimeError as error:
        raise StepFailed(str(error)) from None
    say.link("REST API", f"{service.base_url}/docs")
    say.link("simulated GitHub", f"{service.base_url}{WEB_PREFIX}/")
