"""Slash commands in a pull-request comment: `/run <id>`, `/run all`, `/cancel <id>`, `/help`.

Decisions, so that a comment never triggers code by accident:

- Only the first non-blank line is read. A command further down (quoted, or in prose that
  explains how to use `/run`) is not a command; a comment holds one command.
- The command word is case-insensitive (`/Run`); the recipe id keeps its case (ids are
  case-sensitive). `all` is a keyword in any case, so meta.yaml may not use it as an id.
- Leading and trailing whitespace, tabs and CRLF line ends are tolerated.
- A line starting with `/` whose word is not one of ours (`/cc`, `/usr/bin/python`) is not a
  command: it gets no reaction and no reply. Our word with the wrong arguments is `Malformed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from pangeo_forge_orchestrator.core.messages import (
    CANCEL_ALL,
    MISSING_RECIPE_ID,
    TOO_MANY_ARGUMENTS,
)


class AllRecipes(Enum):
    ALL = "all"


ALL: Final = AllRecipes.ALL


@dataclass(frozen=True, slots=True)
class RunCommand:
    recipe_id: str | Literal[AllRecipes.ALL]


@dataclass(frozen=True, slots=True)
class CancelCommand:
    recipe_id: str


@dataclass(frozen=True, slots=True)
class HelpCommand:
    pass


@dataclass(frozen=True, slots=True)
class Malformed:
    """One of our commands with unusable arguments: `line` as typed, `problem` in words."""

    line: str
    problem: str


Command = RunCommand | CancelCommand | HelpCommand | Malformed


def parse_command(body: str | None) -> Command | None:
    """The command on the comment's first non-blank line, or None when it is not a command."""
    if not body:
        return None
    line = next((line.strip() for line in body.splitlines() if line.strip()), "")
    # "/ run" (a space after the slash) is prose, not a command.
    if not line.startswith("/") or len(line) < 2 or line[1].isspace():
        return None
    word, *args = line[1:].split()
    match word.lower():
        case "help":
            # Extra words after /help ("/help please") still deserve the help text.
            return HelpCommand()
        case "run":
            return _one_id(line, "run", args, allow_all=True)
        case "cancel":
            return _one_id(line, "cancel", args, allow_all=False)
        case _:
            return None


def _one_id(line: str, word: str, args: list[str], *, allow_all: bool) -> Command:
    if not args:
        return Malformed(line, MISSING_RECIPE_ID.format(word=word))
    if len(args) > 1:
        return Malformed(line, TOO_MANY_ARGUMENTS.format(count=len(args)))
    recipe_id = args[0]
    if recipe_id.lower() == ALL.value:
        return RunCommand(ALL) if allow_all else Malformed(line, CANCEL_ALL)
    return RunCommand(recipe_id) if word == "run" else CancelCommand(recipe_id)
