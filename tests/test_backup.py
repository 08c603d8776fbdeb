"""Backup and restore round trips, and `audit verify` on the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AuditLog, Patient
from clinic_app.services import audit, auth, backup
from clinic_app.services.errors import InvalidInput
from clinic_app.settings import PROJECT_ROOT
from tests.conftest import PASSWORD


def _cli(args, url, tmp_path):
    env = {**os.environ, "DATABASE_URL": url, "CLINIC_ATTACHMENTS_DIR": str(tmp_path / "files")}
    return subprocess.run([sys.executable, "-m", "clinic_app", *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


def _patients(engine):
    with Session(engine) as s:
        return [(p.mrn, p.last_name) for p in s.exec(select(Patient).order_by(Patient.id))]


def test_backup_then_restore_brings_back_the_database_and_attachments(engine, session, clinic, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    auth.authenticate(session, username="reception", password=PASSWORD)
    files = tmp_path / "files"
    (files / "2030").mkdir(parents=True)
    (files / "2030" / "scan.pdf").write_bytes(b"%PDF-1.4 scan")
    before = _patients(engine)
    session.close()

    made = _cli(["backup", "--out", str(tmp_path / "bk")], url, tmp_path)
    assert made.returncode == 0, made.stderr
    # Life goes on after the backup: a new patient, a lost file.
    with Session(engine) as s:
        s.add(Patient(mrn="LATE1", first_name="Late", last_name="Comer", birth_date=clinic.patients[0].birth_date))
        s.commit()
    (files / "2030" / "scan.pdf").unlink()
    engine.dispose()

    restored = _cli(["restore", str(tmp_path / "bk")], url, tmp_path)
    assert restored.returncode == 0, restored.stderr
    fresh = make_engine(url)
    assert _patients(fresh) == before
    assert (files / "2030" / "scan.pdf").read_bytes() == b"%PDF-1.4 scan"
    with Session(fresh) as s:
        assert audit.verify(s).intact
        # The database's rules came back with the data.
        with pytest.raises(Exception, match="audit_log_append_only"):
            s.execute(text("DELETE FROM audit_log"))
            s.commit()
    fresh.dispose()


def test_a_damaged_backup_is_refused_and_nothing_changes(engine, session, clinic, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    session.close()
    backup.backup(database_url=url, out_dir=tmp_path / "bk")
    dump = next(p for p in (tmp_path / "bk").iterdir() if p.name.startswith("clinic."))
    dump.write_bytes(dump.read_bytes()[:-10] + b"corrupted!")
    with pytest.raises(InvalidInput, match="missing or damaged; nothing was restored"):
        backup.restore(database_url=url, backup_dir=tmp_path / "bk")
    with pytest.raises(InvalidInput, match="not empty"):
        backup.backup(database_url=url, out_dir=tmp_path / "bk")


def test_audit_verify_on_the_command_line_reports_the_first_tampered_row(engine, session, clinic, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    for _ in range(3):
        auth.authenticate(session, username="reception", password=PASSWORD)
    ok = _cli(["audit", "verify"], url, tmp_path)
    assert ok.returncode == 0 and "Audit log intact" in ok.stdout
    target = session.exec(select(AuditLog.id).order_by(AuditLog.id).offset(2)).first()
    session.commit()
    with engine.begin() as conn:
        tamper = text("UPDATE audit_log SET role = 'admin' WHERE id = :i")
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(tamper, {"i": target})
        else:  # the PostgreSQL database is shared by the run's tests: put the rule back
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(tamper, {"i": target})
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    bad = _cli(["audit", "verify"], url, tmp_path)
    assert bad.returncode == 1 and f"audit row {target} " in bad.stdout and "was altered" in bad.stdout
