"""The soak of issue 3 (bench/soak.py), small: 200 deliveries, 4 SIGKILLs, a fixed seed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench import soak
from bench.soak_chaos import WEB, WORKER, plan_kills
from bench.soak_plan import SendKind, plan_traffic


def test_plan_resends_the_same_bytes_under_the_same_guid() -> None:
    plan = plan_traffic(
        run="0badcafe", count=500, duplicate_share=0.1, secret="s", rng=random.Random(3)
    )
    originals = {s.delivery.guid: s.delivery for s in plan.main if s.kind is SendKind.ORIGINAL}
    duplicates = [
        *(s for s in plan.main if s.kind is SendKind.CONCURRENT),
        *plan.later.values(),
        *plan.after_drain,
    ]
    assert len(originals) == 500
    assert len(duplicates) == 50
    assert len({d.delivery.guid for d in duplicates}) == 50
    for duplicate in duplicates:
        assert duplicate.delivery == originals[duplicate.delivery.guid]
    assert {d.kind for d in duplicates} == {
        SendKind.CONCURRENT,
        SendKind.LATER,
        SendKind.AFTER_DRAIN,
    }


def test_kills_split_between_web_and_worker_within_the_traffic() -> None:
    points = plan_kills(kills=21, deliveries=10_000, rng=random.Random(5))
    targets = [point.target for point in points]
    assert (targets.count(WEB), targets.count(WORKER)) == (11, 10)
    places = [point.at_acknowledged for point in points]
    assert places == sorted(places)
    assert places[0] >= 300
    assert places[-1] <= 8_500


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_small_soak_loses_nothing_and_duplicates_nothing(database_url: str, tmp_path: Path) -> None:
    config = soak.SoakConfig(
        deliveries=200, kills=4, seed=7, database_url=database_url, results_dir=tmp_path
    )

    results = soak.run(config)

    figures = results["figures"]
    failed = [check for check in results["checks"] if not check["passed"]]
    assert failed == [], soak.summary(results)
    assert figures["guids_acknowledged"] == figures["delivery_rows"] == 200
    assert figures["lost"] == 0
    assert figures["duplicate_rows"] == 0
    assert figures["deliveries_without_exactly_one_job"] == 0
    assert figures["jobs_not_finished"] == 0
    assert figures["jobs_failed"] == 0
    assert results["kills"] == {WEB: 2, WORKER: 2, "total": 4}
    assert results["sends"]["acknowledged_by_kind"]["after_drain"] > 0
    written = json.loads(Path(results["results_file"]).read_text())
    assert written["passed"] is True
