"""Keep the `bakery` table in step with the configured bakeries (called at start-up)."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.bakeries import BakeryRegistry
from pangeo_forge_orchestrator.db.tables import Bakery


def sync_bakeries(session: Session, registry: BakeryRegistry) -> dict[str, int]:
    """Upsert one row per configured bakery, by name; return each name's row id.

    Rows of bakeries no longer configured stay: past recipe runs still point at them.
    """
    ids: dict[str, int] = {}
    for config in registry:
        statement = insert(Bakery).values(
            name=config.name,
            region=config.region,
            description=config.description,
            kind=config.kind,
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[Bakery.__table__.c.name],  # type: ignore[attr-defined]
            set_={
                "region": statement.excluded.region,
                "description": statement.excluded.description,
                "kind": statement.excluded.kind,
            },
        ).returning(Bakery.__table__.c.id)  # type: ignore[attr-defined]
        ids[config.name] = session.execute(upsert).scalar_one()
    return ids
