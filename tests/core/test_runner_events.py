from __future__ import annotations

import json

import pytest

from pangeo_forge_orchestrator.core.runner_events import (
    Completed,
    Failed,
    Fetching,
    LogLine,
    Running,
    Setup,
    Submitted,
    parse_line,
)


def line(**fields) -> str:
    return json.dumps(fields) + "\n"


@pytest.mark.parametrize(
    ("text", "event"),
    [
        (
            line(message="Picked Git content provider.\n", status="fetching"),
            Fetching("Picked Git content provider.\n"),
        ),
        (line(message="Target Storage is ...", status="setup"), Setup("Target Storage is ...")),
        (
            line(message="Running job for recipe gpcp\n", status="running", recipe="gpcp"),
            Running("Running job for recipe gpcp\n"),
        ),
        (
            line(
                message="Submitted job 2022-x for recipe gpcp",
                status="submitted",
                job_id="2022-x",
                job_name="pfo-pangeo-forge-run-7",
                recipe="gpcp",
            ),
            Submitted(
                "Submitted job 2022-x for recipe gpcp",
                job_id="2022-x",
                job_name="pfo-pangeo-forge-run-7",
            ),
        ),
        (
            line(message="Error during running: boom", status="failed", exc_info="Traceback..."),
            Failed("Error during running: boom", exc_info="Traceback..."),
        ),
        (line(message="Error", status="failed"), Failed("Error", exc_info=None)),
        (
            line(message="Expansion complete", status="completed", meta={"title": "t"}),
            Completed("Expansion complete", meta={"title": "t"}),
        ),
    ],
)
def test_status_lines_become_typed_events(text, event):
    assert parse_line(text) == event


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Collecting apache-beam\n", "Collecting apache-beam"),
        ("[1, 2]\n", "[1, 2]"),
        ("\n", ""),
        ('{"message": "Worker: no status"}\n', "Worker: no status"),
        ('{"message": "odd", "status": "paused"}\n', "odd"),
        # A `submitted` line without its job id is not a submission.
        (
            '{"message": "Submitted", "status": "submitted"}',
            '{"message": "Submitted", "status": "submitted"}',
        ),
        ('{"status": "weird"}', '{"status": "weird"}'),
    ],
)
def test_anything_else_is_a_log_line(text, expected):
    assert parse_line(text) == LogLine(expected)


def test_completed_with_a_malformed_meta_keeps_an_empty_one():
    assert parse_line(line(message="done", status="completed", meta=[1])) == Completed("done")
