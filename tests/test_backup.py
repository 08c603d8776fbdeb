"""Backup and restore round trips, and `audit verify` on the command line."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AuditLog, Patient
from clinic_app.services.platform import audit, auth, backup
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.settings import PROJECT_ROOT
from tests.conftest import PASSWORD


def _cli(args, url, tmp_path):
    env = {**os.environ, "DATABASE_URL": url, "CLINIC_ATTACHMENTS_DIR": str(tmp_path / "files"),
           "CLINIC_DATA_DIR": str(tmp_path / "data")}
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


# -- restore reads only what the manifest lists, follows no link, fails whole (issue 12) ---------
def _made(engine, tmp_path, files=None):
    url = engine.url.render_as_string(hide_password=False)
    if files:
        (tmp_path / "files").mkdir(exist_ok=True)
        for name, data in files.items():
            (tmp_path / "files" / name).write_bytes(data)
    backup.backup(database_url=url, out_dir=tmp_path / "bk", attachments=tmp_path / "files")
    return url


def test_a_restore_refuses_files_its_manifest_does_not_list_and_links_anywhere(engine, session, clinic, tmp_path):
    session.close()
    url = _made(engine, tmp_path, {"scan.png": b"png bytes"})
    target = tmp_path / "restored-files"
    target.mkdir()
    (target / "kept.txt").write_text("the attachments folder as it was")
    # A file slipped into the backup without being in its manifest.
    (tmp_path / "bk" / "attachments" / "extra.exe").write_bytes(b"MZ")
    with pytest.raises(InvalidInput, match=r"attachments/extra\.exe, which its manifest does not list"):
        backup.restore(database_url=url, backup_dir=tmp_path / "bk", attachments=target)
    (tmp_path / "bk" / "attachments" / "extra.exe").unlink()
    # A listed file replaced by a link to a file outside the backup.
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the clinic")
    listed = tmp_path / "bk" / "attachments" / "scan.png"
    listed.unlink()
    listed.symlink_to(secret)
    with pytest.raises(InvalidInput, match="a link to somewhere else"):
        backup.restore(database_url=url, backup_dir=tmp_path / "bk", attachments=target)
    listed.unlink()
    listed.write_bytes(b"png bytes")
    # A manifest that names a path outside the backup.
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    manifest["files"]["../secret.txt"] = "0" * 64
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidInput, match="not a file inside the backup"):
        backup.restore(database_url=url, backup_dir=tmp_path / "bk", attachments=target)
    assert (target / "kept.txt").read_text() == "the attachments folder as it was"  # nothing was touched


def test_a_postgresql_restore_that_fails_halfway_leaves_the_database_as_it_was(pg_url, tmp_path):
    """pg_restore runs in one transaction into a new database; only a whole restore is swapped in."""
    from sqlalchemy import create_engine

    engine = make_engine(pg_url)
    with Session(engine) as s:
        s.add(Patient(mrn="KEEP1", first_name="Kept", last_name="Asis", birth_date=dt.date(1970, 1, 1)))
        s.commit()
    before = _patients(engine)
    engine.dispose()
    backup.backup(database_url=pg_url, out_dir=tmp_path / "bk")
    dump = tmp_path / "bk" / "clinic.pgdump"
    dump.write_bytes(dump.read_bytes()[: len(dump.read_bytes()) * 2 // 3])  # cut: pg_restore fails partway
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    manifest["files"]["clinic.pgdump"] = backup._sha256(dump)  # the checksums agree: only pg_restore can tell
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidInput, match=r"pg_restore could not restore the backup.*nothing was changed"):
        backup.restore(database_url=pg_url, backup_dir=tmp_path / "bk")
    engine = make_engine(pg_url)
    assert _patients(engine) == before
    with Session(engine) as s:
        s.exec(select(Patient).where(Patient.mrn == "KEEP1")).one()
        s.delete(s.exec(select(Patient).where(Patient.mrn == "KEEP1")).one())
        s.commit()
    engine.dispose()
    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # no half-restored database was left behind
        names = [r[0] for r in conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE '%restoring%'"))]
    admin.dispose()
    assert not [n for n in names if n.startswith(pg_url.rsplit("/", 1)[1])]
