"""The audit log: hash-chained, verified, searchable by admins only."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from clinic_app.models import AuditLog
from clinic_app.services.platform import audit, auth
from clinic_app.services.platform.errors import NotAllowed
from tests.conftest import PASSWORD


def _sign_ins(session, n):
    for _ in range(n):
        auth.authenticate(session, username="reception", password=PASSWORD)


def test_every_row_chains_onto_the_one_before(session, clinic):
    _sign_ins(session, 3)
    rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    assert rows[0].prev_hash == ""
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
    verdict = audit.verify(session)
    assert verdict.intact and verdict.rows == len(rows)


def _tamper(engine, statement, params):
    """What someone with database access could do: drop the rule, change a row."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(statement), params)
        else:
            # The PostgreSQL database is shared by the run's tests: put the rule back.
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text(statement), params)
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def test_verify_finds_the_first_altered_row(engine, session, clinic):
    _sign_ins(session, 4)
    target = session.exec(select(AuditLog).order_by(AuditLog.id).offset(5)).first()
    session.commit()  # end the read, so that ALTER TABLE can take its lock
    _tamper(engine, "UPDATE audit_log SET detail = 'nothing to see' WHERE id = :i", {"i": target.id})
    with Session(engine) as fresh:
        verdict = audit.verify(fresh)
    assert verdict.first_bad_id == target.id
    assert "was altered" in verdict.problem


def test_verify_finds_a_removed_row(engine, session, clinic):
    _sign_ins(session, 4)
    ids = session.exec(select(AuditLog.id).order_by(AuditLog.id)).all()
    session.commit()
    _tamper(engine, "DELETE FROM audit_log WHERE id = :i", {"i": ids[3]})
    with Session(engine) as fresh:
        verdict = audit.verify(fresh)
    assert verdict.first_bad_id == ids[4]
    assert "removed or altered" in verdict.problem


def test_concurrent_writers_keep_one_chain(engine, session, clinic):
    barrier = threading.Barrier(4)

    def desk():
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            _sign_ins(s, 3)

    threads = [threading.Thread(target=desk) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert audit.verify(session).intact
    hashes = session.exec(select(AuditLog.prev_hash)).all()
    assert len(hashes) == len(set(hashes))  # no two rows chained onto the same row


def test_only_admins_search_the_log_and_filters_work(session, clinic):
    _sign_ins(session, 2)
    auth.authenticate(session, username="biller", password=PASSWORD)
    with pytest.raises(NotAllowed):
        audit.search(session, actor=clinic.manager)
    rows, total = audit.search(session, actor=clinic.admin, user_id=clinic.reception.user_id, action="sign_in")
    assert total == 2 and all(r.user_id == clinic.reception.user_id and r.action == "sign_in" for r in rows)
    page, _ = audit.search(session, actor=clinic.admin, limit=2)
    older, _ = audit.search(session, actor=clinic.admin, limit=2, before_id=page[-1].id)
    assert page[0].id > page[1].id > older[0].id


# -- the keyed chain and its anchors (issue 12) ----------------------------------------------------
def _tamper_all(engine, statement, many):
    """_tamper for several rows at once (SQLite's rule is dropped once)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
            for params in many:
                conn.execute(text(statement), params)
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            for params in many:
                conn.execute(text(statement), params)
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def test_rows_are_keyed_so_a_row_edited_and_the_chain_recomputed_without_the_key_is_found(engine, session, clinic):
    """Someone with database access edits a row and recomputes the plain SHA-256 chain after it:
    the rows carry an HMAC keyed outside the database, so the edit still shows."""
    import hashlib

    _sign_ins(session, 4)
    rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    assert all(r.keyed for r in rows)
    target = rows[3]
    session.commit()
    # The attacker's recomputation: change a row, then re-link every row after it with SHA-256.
    previous = rows[2].row_hash
    statements = []
    for row in rows[3:]:
        row.detail = "nothing to see" if row.id == target.id else row.detail
        row.prev_hash = previous
        row.keyed = False  # the attacker cannot make HMACs, so plain hashes it is
        parts = [row.prev_hash, row.at.isoformat(timespec="microseconds"), str(row.user_id or ""), row.role, row.action,
                 row.entity, str(row.entity_id if row.entity_id is not None else ""),
                 str(row.patient_id if row.patient_id is not None else ""), row.source, row.detail]
        row.row_hash = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        previous = row.row_hash
        statements.append({"i": row.id, "d": row.detail, "p": row.prev_hash, "h": row.row_hash})
    _tamper_all(engine, "UPDATE audit_log SET detail = :d, prev_hash = :p, row_hash = :h, keyed = false WHERE id = :i", statements)
    with Session(engine) as fresh:
        verdict = audit.verify(fresh)
    assert not verdict.intact and verdict.first_bad_id == target.id
    assert "not keyed but follows keyed rows" in verdict.problem


def test_an_anchor_shows_the_newest_rows_deleted_and_a_head_recomputed(engine, session, clinic, tmp_path):
    anchors = tmp_path / "anchors.jsonl"
    _sign_ins(session, 3)
    written = audit.write_anchor(session, anchors)
    assert written["rows"] == len(session.exec(select(AuditLog.id)).all())
    assert audit.write_anchor(session, anchors) is None  # nothing new: no second line
    assert audit.verify(session, anchors=anchors).intact
    _sign_ins(session, 1)
    audit.write_anchor(session, anchors)
    ids = session.exec(select(AuditLog.id).order_by(AuditLog.id)).all()
    session.commit()
    # Deleting the newest rows leaves a chain that is whole: only the anchor tells.
    _tamper_all(engine, "DELETE FROM audit_log WHERE id >= :i", [{"i": ids[-2]}])
    with Session(engine) as fresh:
        assert audit.verify(fresh).intact  # without anchors, nothing to see
        verdict = audit.verify(fresh, anchors=anchors)
    assert not verdict.intact and "truncated" in verdict.problem
    assert any(f"up to row {ids[-1]}; that row is gone and {len(ids) - 2} rows are left" in p for p in verdict.problems)
    # A forged anchor line (no key) is itself reported.
    with anchors.open("a") as handle:
        handle.write('{"at": "2030-01-01T00:00:00+00:00", "rows": 1, "head_id": 1, "head_hash": "x", "mac": "y"}\n')
    with Session(engine) as fresh:
        assert any("not one this clinic wrote" in p for p in audit.verify(fresh, anchors=anchors).problems)


def test_rows_from_before_the_keyed_chain_still_verify_and_are_protected_by_it(engine, session, clinic):
    """Migration 0016 keeps the plain SHA-256 rows there are; the first keyed row links onto them."""
    import hashlib

    rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    session.commit()
    previous, plain = "", []
    for row in rows:  # the log as 0015 wrote it: plain links
        parts = [previous, row.at.isoformat(timespec="microseconds"), str(row.user_id or ""), row.role, row.action,
                 row.entity, str(row.entity_id if row.entity_id is not None else ""),
                 str(row.patient_id if row.patient_id is not None else ""), row.source, row.detail]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        plain.append({"p": previous, "h": digest, "i": row.id})
        previous = digest
    _tamper_all(engine, "UPDATE audit_log SET prev_hash = :p, row_hash = :h, keyed = false WHERE id = :i", plain)
    with Session(engine, expire_on_commit=False) as fresh:
        _sign_ins(fresh, 2)  # the upgraded app goes on, keyed
        assert audit.verify(fresh).intact
        first_keyed = fresh.exec(select(AuditLog).where(AuditLog.keyed).order_by(AuditLog.id)).first()
        assert first_keyed.prev_hash == previous
        fresh.commit()
    # An old row edited and the plain chain recomputed up to the switch: the first keyed link breaks.
    old = rows[1]
    _tamper_all(engine, "UPDATE audit_log SET detail = 'edited' WHERE id = :i", [{"i": old.id}])
    with Session(engine) as fresh:
        verdict = audit.verify(fresh)
    assert verdict.first_bad_id == old.id


def test_the_key_is_made_once_into_the_data_folder_readable_by_its_owner_only(tmp_path, monkeypatch):
    import stat

    monkeypatch.delenv("CLINIC_AUDIT_KEY", raising=False)
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path))
    key = audit.audit_key()
    path = tmp_path / audit.KEY_FILE
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit.audit_key() == key and len(key) == 64
    monkeypatch.setenv("CLINIC_AUDIT_KEY", "configured")
    assert audit.audit_key() == b"configured"


def test_patient_searches_are_audited_with_what_was_searched_and_how_many_were_found(session, clinic):
    from clinic_app.services.frontdesk import patients

    found = patients.search(session, actor=clinic.reception, text="Diaz")
    session.commit()
    row = session.exec(select(AuditLog).where(AuditLog.action == "search").order_by(AuditLog.id.desc())).first()
    assert row.user_id == clinic.reception.user_id and row.entity == "patient"
    assert row.detail.startswith(f"'Diaz': {len(found)} found") and str(found[0].id) in row.detail
    assert audit.verify(session).intact


def test_a_chain_recomputed_whole_as_plain_hashes_differs_from_its_anchor(engine, session, clinic, tmp_path):
    """Every row re-linked with plain SHA-256 (as if the log had never been keyed) is a whole chain;
    the anchor, written with the key, still holds the hash the head had."""
    import hashlib

    anchors = tmp_path / "anchors.jsonl"
    _sign_ins(session, 3)
    audit.write_anchor(session, anchors)
    rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    session.commit()
    previous, plain = "", []
    for row in rows:
        detail = "edited" if row.id == rows[2].id else row.detail
        parts = [previous, row.at.isoformat(timespec="microseconds"), str(row.user_id or ""), row.role, row.action,
                 row.entity, str(row.entity_id if row.entity_id is not None else ""),
                 str(row.patient_id if row.patient_id is not None else ""), row.source, detail]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        plain.append({"p": previous, "h": digest, "d": detail, "i": row.id})
        previous = digest
    _tamper_all(engine, "UPDATE audit_log SET prev_hash = :p, row_hash = :h, detail = :d, keyed = false WHERE id = :i", plain)
    with Session(engine) as fresh:
        assert audit.verify(fresh).intact  # a whole plain chain...
        verdict = audit.verify(fresh, anchors=anchors)
    assert not verdict.intact and "re-chained" in verdict.problem and verdict.first_bad_id == rows[-1].id


def test_a_page_of_views_is_recorded_in_one_insert_that_keeps_the_chain(session, clinic):
    _sign_ins(session, 1)
    audit.record_many(session, actor=clinic.clinician, source="api 10.0.0.9", entries=[
        {"action": "view", "entity": "fhir.Patient", "entity_id": p.id, "patient_id": p.id, "detail": "API search"}
        for p in clinic.patients
    ])
    audit.record(session, actor=clinic.clinician, action="view", entity="note", entity_id=1)
    session.commit()
    views = session.exec(select(AuditLog).where(AuditLog.entity == "fhir.Patient").order_by(AuditLog.id)).all()
    assert [v.patient_id for v in views] == [p.id for p in clinic.patients]
    assert all(v.source == "api 10.0.0.9" and v.keyed for v in views)
    assert audit.verify(session).intact


# -- searching for people (issue 15) ---------------------------------------------------------------
def _views(session, clinic):
    """The rows profile views write: the desk opens two patients' profiles; the biller one."""
    diaz, fox = clinic.patients[0], clinic.patients[1]
    for actor, patient in ((clinic.reception, diaz), (clinic.reception, fox), (clinic.biller, diaz)):
        audit.record(session, actor=actor, action="view", entity="patient_profile", entity_id=patient.id, patient_id=patient.id)
    session.commit()
    return diaz, fox


def test_the_log_is_searched_by_username_or_name_and_by_patient_name_or_mrn(session, clinic):
    diaz, fox = _views(session, clinic)
    before = session.exec(select(AuditLog.id)).all()
    rows, total = audit.search(session, actor=clinic.admin, user="reception", action="view")
    assert total == 2 and {r.patient_id for r in rows} == {diaz.id, fox.id}
    rows, total = audit.search(session, actor=clinic.admin, user="Recep")  # the full name "Reception", any case
    assert total >= 2 and all(r.user_id == clinic.reception.user_id for r in rows)
    rows, total = audit.search(session, actor=clinic.admin, patient=diaz.mrn)  # MRN
    assert total == 2 and all(r.patient_id == diaz.id for r in rows)
    rows, total = audit.search(session, actor=clinic.admin, patient="Diaz, Cara")  # name as the desk types it
    assert total == 2
    rows, total = audit.search(session, actor=clinic.admin, patient="diaz", user="biller")
    assert total == 1 and rows[0].user_id == clinic.biller.user_id
    assert audit.search(session, actor=clinic.admin, user="nobody-like-this") == ([], 0)
    assert audit.search(session, actor=clinic.admin, patient="Zzyzx") == ([], 0)
    assert session.exec(select(AuditLog.id)).all() == before  # only read


def test_the_table_and_its_csv_name_people_not_ids(session, clinic):
    diaz, _ = _views(session, clinic)
    rows, _ = audit.search(session, actor=clinic.admin, patient=diaz.mrn, user="reception")
    table = audit.as_table(session, rows)
    assert table[0]["user"] == "Reception (reception)"
    assert table[0]["patient"] == f"Diaz, Cara (MRN {diaz.mrn})"
    assert str(clinic.reception.user_id) not in table[0]["user"]
    text = audit.to_csv(table)
    header, first = text.splitlines()[:2]
    assert header == "when_utc,user,role,action,record,patient,from,detail"
    assert "Reception (reception)" in first and f"MRN {diaz.mrn}" in first


def test_a_csv_cell_a_spreadsheet_would_run_is_defused(session, clinic):
    audit.record(session, actor=clinic.admin, action="note", entity="x", detail="=HYPERLINK(\"http://evil\")")
    rows, _ = audit.search(session, actor=clinic.admin, action="note")
    assert "'=HYPERLINK" in audit.to_csv(audit.as_table(session, rows))


def test_billings_account_look_up_is_the_desks_search_audited_the_same_way(session, clinic):
    from clinic_app.services.frontdesk import patients

    diaz = clinic.patients[0]
    diaz.phone = "555-201-7788"
    session.add(diaz)
    session.commit()
    for typed in ("Diaz", "diaz, cara", "1980-01-01", "01/01/1980", "5552017788", diaz.mrn.lower()):
        found = patients.account_search(session, actor=clinic.biller, text=typed)
        assert [p.id for p in found] == [diaz.id], typed
    session.commit()
    rows = session.exec(select(AuditLog).where(AuditLog.action == "search", AuditLog.user_id == clinic.biller.user_id)).all()
    assert len(rows) == 6 and rows[0].detail == f"'Diaz': 1 found (ids {diaz.id})"
    with pytest.raises(NotAllowed):
        patients.account_search(session, actor=clinic.manager, text="Diaz")
