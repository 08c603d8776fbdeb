"""The scale data generator (bench/generate.py) at a tiny size, on SQLite and PostgreSQL:
it makes what it says, breaks none of the database's rules, writes timestamps the app
reads back, and a second run reuses the data instead of generating it again."""

from __future__ import annotations

import datetime as dt
import importlib.util
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import Appointment, Location
from clinic_app.services.frontdesk import board
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import day_bounds
from tests.conftest import PG_ADMIN_URL

_spec = importlib.util.spec_from_file_location("bench_generate", Path(__file__).parent.parent / "bench" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

SIZE = {"patients": 60, "appointments": 600, "providers": 4, "locations": 2, "rooms": 3}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bench.db'}"
        return
    name = f"clinic_gen_{uuid.uuid4().hex[:10]}"
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    admin = sa_create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _scalar(conn, sql: str) -> int:
    return conn.execute(text(sql)).scalar_one()


def _overlaps(conn, column: str) -> int:
    """Pairs of live appointments of one provider, room or patient that overlap in time."""
    return _scalar(conn, f"""
        SELECT count(*) FROM appointment a JOIN appointment b
          ON a.{column} = b.{column} AND a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
        WHERE a.status NOT IN ('no_show', 'cancelled') AND b.status NOT IN ('no_show', 'cancelled')""")


def test_tiny_clinic_is_consistent_and_reused(url):
    made = generate.generate(url, **SIZE, quiet=True)
    assert made["appointment"] == 600
    engine = make_engine(url)
    with engine.connect() as conn:
        assert _scalar(conn, "SELECT count(*) FROM appointment") == 600
        assert _scalar(conn, "SELECT count(*) FROM patient") == 60
        assert _scalar(conn, "SELECT count(*) FROM provider") == 4
        for column in ("provider_id", "room_id", "patient_id"):
            assert _overlaps(conn, column) == 0, column
        # Every visit done and signed has its signed note and charges; billed visits with
        # coverage have a claim whose total is the visit's charges.
        assert _scalar(conn, """SELECT count(*) FROM appointment a LEFT JOIN note n ON n.appointment_id = a.id
            WHERE a.status IN ('ready_to_bill', 'billed') AND (n.signed_at IS NULL OR n.signed_at < a.ends_at)""") == 0
        assert _scalar(conn, """SELECT count(*) FROM appointment a WHERE a.status IN ('ready_to_bill', 'billed')
            AND NOT EXISTS (SELECT 1 FROM charge c WHERE c.appointment_id = a.id)""") == 0
        assert _scalar(conn, "SELECT count(*) FROM claim") > 100
        assert _scalar(conn, """SELECT count(*) FROM claim c
            WHERE c.total_cents <> (SELECT sum(amount_cents) FROM charge WHERE appointment_id = c.appointment_id)""") == 0
        # The money balances per claim: charge = payment + adjustment + transfer out of the payer.
        assert _scalar(conn, """SELECT count(*) FROM claim c WHERE c.status = 'paid' AND
            (SELECT sum(amount_cents) FROM ledger_entry l WHERE l.claim_id = c.id AND l.payer_id IS NOT NULL) <> 0""") == 0
        statuses = {row[0] for row in conn.execute(text("SELECT DISTINCT status FROM appointment"))}
        assert {"billed", "booked", "cancelled", "no_show"} <= statuses
        first = conn.execute(text("SELECT min(starts_at) FROM appointment")).scalar_one()
    # About three years of data, up to four weeks after the data's "today".
    first_day = first.date() if isinstance(first, dt.datetime) else dt.date.fromisoformat(str(first)[:10])
    assert (generate.TODAY - first_day).days > 3 * 365 - 60

    # The app reads the generated times: the board's week shows exactly the visits that
    # start in that week at the location.
    monday = generate.TODAY - dt.timedelta(days=generate.TODAY.weekday())
    with Session(engine) as session:
        location = session.exec(select(Location).order_by(Location.id)).first()
        start, _ = day_bounds(monday, location.timezone)
        _, end = day_bounds(monday + dt.timedelta(days=6), location.timezone)
        expected = [a.id for a in session.exec(select(Appointment).where(Appointment.location_id == location.id))
                    if start <= a.starts_at < end]
        week = board.board_day(session, actor=Actor(user_id=1, role="reception", name="t"),
                               location_id=location.id, day=monday, days=7)
        assert sorted(c["id"] for c in week.cards) == sorted(expected)
        assert expected
    engine.dispose()

    again = generate.generate(url, **SIZE, quiet=True)
    assert again == {"reused": True, "appointments": 600}
    with pytest.raises(SystemExit, match="--reset"):
        generate.generate(url, **{**SIZE, "appointments": 700}, quiet=True)
