"""The original pangeo-forge-orchestrator schema, exactly as its last migration left it.

This revision carries the original's own revision id, so that a database written by the
original service (alembic_version = 0499cef6b57a) is already "at" this revision and
`pfo migrate` upgrades it in place. On an empty database it builds the original tables,
which the next revision then adopts: both paths end in the same schema by construction.

Revision ID: 0499cef6b57a
Revises:
Create Date: 2022-09-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0499cef6b57a"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain DDL, copied from the structure of the original's production backup (pg_dump):
    # constraint names and column order matter to the adoption that follows.
    op.execute(
        """
        CREATE TABLE bakery (
            region character varying NOT NULL,
            name character varying NOT NULL,
            description character varying NOT NULL,
            id serial NOT NULL,
            CONSTRAINT bakery_pkey PRIMARY KEY (id)
        );
        CREATE TABLE feedstock (
            spec character varying NOT NULL,
            provider character varying NOT NULL,
            id serial NOT NULL,
            CONSTRAINT feedstock_pkey PRIMARY KEY (id)
        );
        CREATE TABLE reciperun (
            recipe_id character varying NOT NULL,
            bakery_id integer NOT NULL,
            feedstock_id integer NOT NULL,
            head_sha character varying NOT NULL,
            version character varying NOT NULL,
            started_at timestamp without time zone NOT NULL,
            completed_at timestamp without time zone,
            conclusion character varying,
            status character varying NOT NULL,
            message character varying,
            id serial NOT NULL,
            is_test boolean NOT NULL,
            dataset_type character varying,
            dataset_public_url character varying,
            CONSTRAINT reciperun_pkey PRIMARY KEY (id),
            CONSTRAINT reciperun_bakery_id_fkey FOREIGN KEY (bakery_id) REFERENCES bakery (id),
            CONSTRAINT reciperun_feedstock_id_fkey FOREIGN KEY (feedstock_id) REFERENCES feedstock (id)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE reciperun; DROP TABLE feedstock; DROP TABLE bakery;")
