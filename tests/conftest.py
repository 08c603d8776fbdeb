"""Shared fixtures: real databases (SQLite and PostgreSQL), a small clinic, Chromium."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlmodel import Session, SQLModel

from clinic_app.__main__ import migrate
from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Fee, Location, Patient, Provider, Room
from clinic_app.services.platform import auth
from clinic_app.services.platform.actor import Actor
from tests.smtp import smtp_server

# The audit chain's key (services/platform/audit.py), the same for the tests and the apps and commands
# they start; without it each would make one in the project's data folder.
os.environ.setdefault("CLINIC_AUDIT_KEY", "clinic-tests-audit-key")

PG_ADMIN_URL = os.environ.get("CLINIC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TZ = "America/New_York"
DAY = dt.date(2030, 3, 12)  # a Tuesday, far enough ahead that bookings are in the future


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    """Wall-clock time at the test location, as UTC."""
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m), tzinfo=ZoneInfo(TZ)).astimezone(dt.UTC)


# -- databases --------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database of this test run (one per xdist worker), migrated to head."""
    name = f"clinic_test_{uuid.uuid4().hex[:10]}"
    admin = sa_create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, sqlite_template, tmp_path):
    """A migrated, empty clinic database: every test here runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "clinic.db"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    url = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with eng.begin() as conn:
        # TRUNCATE fires no row triggers, so append-only tables can be emptied between tests.
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as s:
        yield s


# -- a small clinic ------------------------------------------------------------------
@dataclass
class Clinic:
    location: Location
    providers: list[Provider]
    rooms: list[Room]
    treatment: AppointmentType
    evaluation: AppointmentType
    patients: list[Patient]
    reception: Actor
    clinician: Actor  # provider 0
    clinician2: Actor  # provider 1
    biller: Actor
    manager: Actor
    admin: Actor


PASSWORD = "correct horse battery"
_HASH: list[str] = []


@pytest.fixture
def fast_hash(monkeypatch):
    """Fixtures make many users: hash their one password once per run, not per user."""
    if not _HASH:
        _HASH.append(auth.hash_password(PASSWORD))
    monkeypatch.setattr(auth, "hash_password", lambda password: _HASH[0] if password == PASSWORD else auth._passwords.hash(password))


@pytest.fixture
def clinic(session, fast_hash) -> Clinic:
    location = Location(name="Test Clinic", timezone=TZ)
    session.add(location)
    session.flush()
    providers = [Provider(name=n, location_id=location.id, npi="1234567893") for n in ("Ann Able, PT", "Bo Baker, PT")]
    rooms = [Room(location_id=location.id, name=n) for n in ("Room 1", "Room 2")]
    treatment = AppointmentType(name="Treatment", duration_minutes=30)
    evaluation = AppointmentType(name="Initial evaluation", duration_minutes=60)
    patients = [
        Patient(mrn=f"T{i}", first_name=f, last_name=last, birth_date=dt.date(1980, 1, i + 1))
        for i, (f, last) in enumerate([("Cara", "Diaz"), ("Eli", "Fox"), ("Gus", "Hall")])
    ]
    session.add_all([*providers, *rooms, treatment, evaluation, *patients])
    session.add_all([Fee(code="97110", amount_cents=4500, timed=True), Fee(code="97161", amount_cents=15000)])
    session.commit()

    def user(name: str, role: str, provider: Provider | None = None) -> Actor:
        u = auth.create_user(
            session, actor=None, username=name, full_name=name.title(), password=PASSWORD, role=role,
            provider_id=provider.id if provider else None, location_id=location.id,
        )
        return auth.actor_for(u)

    made = Clinic(
        location=location, providers=providers, rooms=rooms, treatment=treatment, evaluation=evaluation,
        patients=patients, reception=user("reception", "reception"), clinician=user("clin", "clinician", providers[0]),
        clinician2=user("clin2", "clinician", providers[1]), biller=user("biller", "biller"),
        manager=user("manager", "manager"), admin=user("admin", "admin"),
    )
    session.commit()  # the fixture is the caller: services leave the commit to it (issue 17)
    return made


# -- a real SMTP server -------------------------------------------------------------
@pytest.fixture
def smtp():
    """(inbox, port) of a running local SMTP server (tests/smtp.py)."""
    with smtp_server() as running:
        yield running


# -- browser -------------------------------------------------------------------------
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
