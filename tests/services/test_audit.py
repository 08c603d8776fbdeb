"""The audit log: hash-chained, verified, searchable by admins only."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from clinic_app.models import AuditLog
from clinic_app.services import audit, auth
from clinic_app.services.errors import NotAllowed
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
