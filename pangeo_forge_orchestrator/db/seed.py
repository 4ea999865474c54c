"""Sample rows for review apps and fresh local databases (`pfo seed`): safe to run twice."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, Provider
from pangeo_forge_orchestrator.db.tables import Bakery, Feedstock

SAMPLE_BAKERY = {
    "name": "local",
    "region": "local",
    "description": "Runs recipes on this machine with Apache Beam's DirectRunner.",
    "kind": BakeryKind.LOCAL,
}
# The website hard-codes feedstock 1 as staged-recipes, so it is seeded first.
SAMPLE_FEEDSTOCKS = ("pangeo-forge/staged-recipes", "pangeo-forge/sample-feedstock")


def seed_sample_data(session: Session) -> dict[str, int]:
    """Insert the sample bakery and feedstocks unless present; return how many rows were added."""
    bakeries = session.execute(
        insert(Bakery).values(**SAMPLE_BAKERY).on_conflict_do_nothing().returning(sa.literal(1))
    ).all()
    feedstocks = 0
    for spec in SAMPLE_FEEDSTOCKS:
        feedstocks += len(
            session.execute(
                insert(Feedstock)
                .values(spec=spec, provider=Provider.GITHUB)
                .on_conflict_do_nothing()
                .returning(sa.literal(1))
            ).all()
        )
    return {"bakeries": len(bakeries), "feedstocks": feedstocks}
