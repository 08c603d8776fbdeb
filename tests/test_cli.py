"""The command line: migrate, demo (reproducible), create-user."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlmodel import Session, create_engine, func, select

from clinic_app.models import Appointment, Patient, User
from clinic_app.settings import PROJECT_ROOT


def run(args, db, stdin=""):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([sys.executable, "-m", "clinic_app", *args], input=stdin, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


def _snapshot(db):
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        patients = [(p.mrn, p.first_name, p.last_name) for p in s.exec(select(Patient).order_by(Patient.id))]
        statuses = dict(s.exec(select(Appointment.status, func.count()).group_by(Appointment.status)).all())
        users = sorted(s.exec(select(User.username, User.role)).all())
    engine.dispose()
    return patients, statuses, users


def test_demo_is_reproducible_and_covers_every_status_and_role(tmp_path):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    now = ["--now", "2030-03-12T15:10:00+00:00"]  # the same moment gives the same clinic
    out = run(["demo", *now], first)
    assert out.returncode == 0, out.stderr
    assert "300 patients" in out.stdout
    assert run(["demo", *now], second).returncode == 0
    a, b = _snapshot(first), _snapshot(second)
    assert a == b
    patients, statuses, users = a
    assert len(patients) == 300
    assert set(statuses) == {"booked", "arrived", "in_session", "ready_to_bill", "billed", "no_show", "cancelled"}
    assert {role for _, role in users} == {"reception", "clinician", "biller", "manager", "admin"}
    # A second load refuses to clobber, --if-empty leaves it, --reset rebuilds.
    again = run(["demo"], first)
    assert again.returncode == 1 and "--reset" in again.stdout
    assert run(["demo", "--if-empty"], first).returncode == 0
    assert run(["demo", "--reset", *now], first).returncode == 0
    assert _snapshot(first) == a


def test_create_user_reads_the_password_from_stdin_and_checks_it(tmp_path):
    db = tmp_path / "c.db"
    assert run(["migrate"], db).returncode == 0
    bad = run(["create-user", "--username", "kim", "--full-name", "Kim Lee", "--role", "biller"], db, stdin="short\n")
    assert bad.returncode == 1 and "at least 10 characters" in bad.stderr
    ok = run(["create-user", "--username", "kim", "--full-name", "Kim Lee", "--role", "biller"], db, stdin="a long enough secret\n")
    assert ok.returncode == 0, ok.stderr
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        user = s.exec(select(User).where(User.username == "kim")).one()
        assert user.role == "biller" and user.password_hash.startswith("$argon2")
    engine.dispose()


def test_migrate_creates_a_missing_postgresql_database(tmp_path):
    """`make run-prod` on a fresh server: migrate (and demo) create the database first."""
    import uuid

    from sqlalchemy import inspect, make_url, text

    from tests.conftest import PG_ADMIN_URL

    url = make_url(PG_ADMIN_URL).set(database=f"clinic_cli_{uuid.uuid4().hex[:10]}").render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url}
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        first = subprocess.run([sys.executable, "-m", "clinic_app", "migrate"], capture_output=True, text=True, env=env,
                               cwd=PROJECT_ROOT, timeout=300)
        assert first.returncode == 0, first.stderr
        assert "Created the PostgreSQL database" in first.stdout
        engine = create_engine(url)
        assert {"appointment", "patient", "user"} <= set(inspect(engine).get_table_names())
        engine.dispose()
        again = subprocess.run([sys.executable, "-m", "clinic_app", "migrate"], capture_output=True, text=True, env=env,
                               cwd=PROJECT_ROOT, timeout=300)
        assert again.returncode == 0 and "Created" not in again.stdout  # an existing database is left as it is
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


def test_migrate_fills_an_emptied_kpi_rollup_so_the_first_dashboard_load_computes_nothing(tmp_path):
    import datetime as dt

    from clinic_app.models import KpiDayDone
    from clinic_app.services.kpi import kpi

    db = tmp_path / "c.db"
    assert run(["demo"], db).returncode == 0
    engine = create_engine(f"sqlite:///{db}")
    today = dt.datetime.now(dt.UTC).date()
    month = kpi.KpiFilters(start=today - dt.timedelta(days=30), end=today)
    with Session(engine) as s:
        before = kpi.compute_range_kpis(s, month)
    # An upgrade that brings a new rollup table leaves the rollup empty (0014 and 0015 did).
    with engine.begin() as c:
        for table in ("kpi_visit_day", "kpi_visit_payer_day", "kpi_ledger_day", "kpi_money_day", "kpi_claim_day", "kpi_case_day",
                      "kpi_case_payer_day", "kpi_day_done", "kpi_dirty"):
            c.exec_driver_sql(f"DELETE FROM {table}")
    out = run(["migrate"], db)
    assert out.returncode == 0, out.stderr
    assert "KPI rollup computed for" in out.stdout
    with Session(engine) as s:
        done = s.exec(select(func.count()).select_from(KpiDayDone)).one()
        assert done > 0
        after = kpi.compute_range_kpis(s, month)
        # The dashboard found every day computed: it added none, and shows the same figures.
        assert s.exec(select(func.count()).select_from(KpiDayDone)).one() == done
    assert {k: v for k, v in after.items() if k != "computed_at"} == {k: v for k, v in before.items() if k != "computed_at"}
    # Once filled, a later migrate leaves the rollup alone.
    again = run(["migrate"], db)
    assert again.returncode == 0 and "KPI rollup computed" not in again.stdout
    engine.dispose()
