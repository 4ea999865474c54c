"""Apply the installation table's upkeep effects (core/events.py decides them)."""

from __future__ import annotations

from typing import assert_never

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlmodel import col

from pangeo_forge_orchestrator.core.events import (
    ChangeInstallationRepositories,
    ForgetInstallation,
    InstallationEffect,
    SaveInstallation,
    repositories_after,
)
from pangeo_forge_orchestrator.db.tables import Installation


def apply_installation_effect(session: Session, effect: InstallationEffect) -> None:
    match effect:
        case SaveInstallation():
            _save(session, effect)
        case ForgetInstallation(installation_id=installation_id):
            session.execute(sa.delete(Installation).where(col(Installation.id) == installation_id))
        case ChangeInstallationRepositories():
            _change_repositories(session, effect)
        case _:
            assert_never(effect)


def _save(session: Session, effect: SaveInstallation) -> None:
    installation = effect.installation
    statement = insert(Installation).values(
        id=installation.id,
        account=installation.account,
        suspended=installation.suspended,
        repositories=list(effect.repositories or ()),
    )
    changes = {
        "account": statement.excluded.account,
        "suspended": statement.excluded.suspended,
        "updated_at": sa.func.now(),
    }
    if effect.repositories is not None:
        changes["repositories"] = statement.excluded.repositories
    session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changes))


def _change_repositories(session: Session, effect: ChangeInstallationRepositories) -> None:
    installation = effect.installation
    # The row may be missing (the `created` delivery was lost or not handled yet): create it,
    # then lock it, so that concurrent changes to one installation apply one after the other.
    session.execute(
        insert(Installation)
        .values(id=installation.id, account=installation.account, suspended=installation.suspended)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    current = session.execute(
        sa.select(col(Installation.repositories))
        .where(col(Installation.id) == installation.id)
        .with_for_update()
    ).scalar_one()
    session.execute(
        sa.update(Installation)
        .where(col(Installation.id) == installation.id)
        .values(
            account=installation.account,
            suspended=installation.suspended,
            repositories=list(
                repositories_after(current, added=effect.added, removed=effect.removed)
            ),
            updated_at=sa.func.now(),
        )
    )
