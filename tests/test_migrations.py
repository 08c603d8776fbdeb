"""Models and migrations agree, and the migrations run both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import clinic_app.models  # noqa: F401
from clinic_app.__main__ import alembic_config


def _diff(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_models_and_migrations_agree(engine):
    assert _diff(engine) == []


def test_migrations_downgrade_to_nothing_and_back(engine):
    url = engine.url.render_as_string(hide_password=False)
    cfg = alembic_config(url)
    downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(cfg, "head")
    assert {"appointment", "note", "charge", "audit_log"} <= set(inspect(engine).get_table_names())
    assert _diff(engine) == []


def test_migration_files_are_numbered_in_the_order_they_run():
    """One chain, no branches; a file's number is its place in the chain (the revision ids
    inside stay what databases already hold, so a file's number and its id may differ)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()
    chain = list(reversed(list(script.walk_revisions())))
    for place, rev in enumerate(chain, start=1):
        name = rev.path.rsplit("/", 1)[-1]
        assert name.startswith(f"{place:04d}_"), f"{name} (revision {rev.revision}) runs as number {place}"
