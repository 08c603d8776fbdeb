"""`python -m clinic_app tasks sweep` (for cron, and the app's daily upkeep): every rule over the
demo clinic; a second sweep at the same moment opens nothing more."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import create_engine

from tests.test_cli import run

NOW = "2030-03-12T13:00:00+00:00"
LATER = "2030-04-20T13:00:00+00:00"


def test_sweep_from_the_command_line(tmp_path):
    db = tmp_path / "c.db"
    assert run(["demo", "--now", NOW], db).returncode == 0
    first = run(["tasks", "sweep", "--now", LATER], db)
    assert first.returncode == 0, first.stderr
    assert "Task sweep:" in first.stdout
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        opened = conn.execute(text("SELECT count(*) FROM task WHERE status = 'open'")).scalar()
        kinds = {k for (k,) in conn.execute(text("SELECT DISTINCT kind FROM task"))}
    again = run(["tasks", "sweep", "--now", LATER], db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM task")).scalar() == opened  # nothing twice
    engine.dispose()
    assert again.returncode == 0 and opened > 0, first.stdout
    assert kinds, first.stdout
