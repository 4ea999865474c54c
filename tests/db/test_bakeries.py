from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.bakeries import default_registry, parse_bakeries
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind
from pangeo_forge_orchestrator.db.bakeries import sync_bakeries
from pangeo_forge_orchestrator.db.tables import Bakery


def registry(description: str, kind: str = "local"):
    entry = {
        "region": "us-central1",
        "description": description,
        "kind": kind,
        "target_root": "gs://b/{subpath}",
        "public_url": "https://b/{subpath}",
    }
    if kind == "dataflow":
        entry["runner_config"] = {
            "DataflowBakery": {"project_id": "p", "temp_gcs_location": "gs://b/t"}
        }
    return parse_bakeries({"bakeries": {"synced-bakery": entry}}, environ={})


def rows(session: Session) -> list[tuple[str, str, str, BakeryKind]]:
    return [
        tuple(row)
        for row in session.execute(
            sa.select(Bakery.name, Bakery.region, Bakery.description, Bakery.kind)  # type: ignore[call-overload]
            .where(Bakery.name.in_(["synced-bakery", "local"]))  # type: ignore[attr-defined]
            .order_by(Bakery.name)
        )
    ]


def test_sync_inserts_then_updates_by_name(session: Session):
    first = sync_bakeries(session, registry("first words"))
    second = sync_bakeries(session, registry("second words", kind="dataflow"))

    assert first == second
    assert rows(session) == [("synced-bakery", "us-central1", "second words", BakeryKind.DATAFLOW)]


def test_sync_of_the_default_registry_matches_the_seeded_local_bakery(
    session: Session, tmp_path: Path
):
    ids = sync_bakeries(session, default_registry(data_dir=tmp_path))

    assert list(ids) == ["local"]
    assert rows(session) == [
        (
            "local",
            "local",
            "Runs recipes on this machine with Apache Beam's DirectRunner.",
            BakeryKind.LOCAL,
        )
    ]
    assert session.get(Bakery, ids["local"]) is not None
