"""The demo's transcript: numbered steps, what each showed, how long it took, links to follow."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

WIDTH = 88


class StepFailed(Exception):  # noqa: N818 -- reads as the transcript's verdict
    """A step did not do what it should; the message says what was expected and what happened."""


@dataclass
class Transcript:
    out: TextIO
    started: float = field(default_factory=time.monotonic)
    failures: list[str] = field(default_factory=list)
    number: int = 0

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def detail(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            for piece in textwrap.wrap(
                line,
                WIDTH,
                subsequent_indent="  ",
                break_long_words=False,  # URLs and paths stay whole, to copy and click
                break_on_hyphens=False,
            ) or [""]:
                self.say(f"      {piece}")

    def code(self, text: str) -> None:
        """Lines to paste somewhere: indented, never wrapped."""
        for line in text.splitlines():
            self.say(f"        {line}")

    def link(self, label: str, url: str) -> None:
        self.say(f"      {label + ':':<22} {url}")

    @contextmanager
    def step(self, title: str, why: str = "") -> Iterator[None]:
        """Run one step: print its title, then ✓ or ✗ with its duration."""
        self.number += 1
        self.say(f"\n{self.number:>2}. {title}")
        if why:
            self.detail(why)
        begun = time.monotonic()
        try:
            yield
        except StepFailed as failure:
            self.failures.append(f"{self.number}. {title}: {failure}")
            self.say(f"   ✗ failed after {time.monotonic() - begun:.1f} s: {failure}")
            raise
        self.say(f"   ✓ done in {time.monotonic() - begun:.1f} s")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
