import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.commands import (
    ALL,
    CancelCommand,
    HelpCommand,
    Malformed,
    RunCommand,
    parse_command,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/run my-recipe", RunCommand("my-recipe")),
        ("/run all", RunCommand(ALL)),
        ("/run ALL", RunCommand(ALL)),
        ("/cancel my-recipe", CancelCommand("my-recipe")),
        ("/help", HelpCommand()),
        ("/help me please", HelpCommand()),
        ("/RUN My-Recipe", RunCommand("My-Recipe")),
        ("/Cancel x", CancelCommand("x")),
        ("   /run a  ", RunCommand("a")),
        ("\t/run\ta", RunCommand("a")),
        ("/run a\r\nthanks!\r\n", RunCommand("a")),
        ("\r\n\r\n/run a\r\n", RunCommand("a")),
        ("/run a\n/run b", RunCommand("a")),
    ],
)
def test_commands_are_read(body, expected):
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "   \n\n",
        "Looks good to me!",
        "Please try:\n/run a",  # only the first non-blank line counts
        "> /run a\n\nquoting the docs",
        "/cc @rabernat",
        "/usr/bin/python crashed",
        "/",
        "/ run a",
        "`/run a`",
    ],
)
def test_plain_comments_are_not_commands(body):
    assert parse_command(body) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("/run", msg.MISSING_RECIPE_ID.format(word="run")),
        ("/cancel", msg.MISSING_RECIPE_ID.format(word="cancel")),
        ("/run a b", msg.TOO_MANY_ARGUMENTS.format(count=2)),
        ("/cancel all", msg.CANCEL_ALL),
    ],
)
def test_our_commands_with_wrong_arguments_are_malformed(body, problem):
    assert parse_command(body) == Malformed(body, problem)


def test_malformed_keeps_the_line_as_typed_without_surrounding_space():
    assert parse_command("  /run  \r\n") == Malformed(
        "/run", msg.MISSING_RECIPE_ID.format(word="run")
    )
