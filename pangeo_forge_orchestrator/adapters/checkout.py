"""A local checkout of `file://` repositories, handed to pangeo-forge-runner as a directory.

The runner hands a URL to repo2docker's content providers, and one of them (Dataverse) fetches
a list of hosts from the internet before git gets its turn: on a machine without internet, no
URL can be fetched. A local directory skips the providers (and ignores --ref), so for
repositories on this machine (the sandbox's) we clone and check out the sha ourselves.
Other URLs pass through untouched.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

GIT_TIMEOUT_SECONDS = 120.0


class CheckoutError(OSError):
    """git could not clone or check out; the message has git's reason (an OSError, as the
    runner's own failures to start are)."""


@asynccontextmanager
async def runner_source(repo_url: str, ref: str) -> AsyncIterator[str]:
    """What to pass as --repo: REPO_URL itself, or a checkout of REF for a file:// URL."""
    if not repo_url.startswith("file://"):
        yield repo_url
        return
    with tempfile.TemporaryDirectory(prefix="pfo-checkout-") as directory:
        await _git("clone", "--quiet", "--no-checkout", repo_url, directory)
        await _git("-C", directory, "-c", "advice.detachedHead=false", "checkout", "--quiet", ref)
        yield directory


async def _git(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise CheckoutError(f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS:.0f} s") from None
    if process.returncode != 0:
        raise CheckoutError(f"git {' '.join(args[:2])} failed: {stderr.decode(errors='replace')}")
