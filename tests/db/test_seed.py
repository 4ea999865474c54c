from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.db.seed import SAMPLE_FEEDSTOCKS, seed_sample_data


def test_seed_adds_sample_rows_once(session: Session) -> None:
    first = seed_sample_data(session)
    second = seed_sample_data(session)

    specs = session.execute(sa.text("SELECT spec FROM feedstock ORDER BY id")).scalars().all()
    assert first == {"bakeries": 1, "feedstocks": 2}
    assert second == {"bakeries": 0, "feedstocks": 0}
    assert list(specs) == list(SAMPLE_FEEDSTOCKS)
