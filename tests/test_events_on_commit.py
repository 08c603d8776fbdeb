"""Domain events leave on commit, never after a rollback (issue 17).

A service queues the event that tells screens about its change on the session it was given
(live.publish_on_commit); the caller's commit sends it, a rollback drops it, and a savepoint's
rollback drops only what was queued inside that savepoint. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from clinic_app import db
from clinic_app.live import ClaimsChanged, bus, publish_on_commit
from clinic_app.models import Patient


def a_patient(mrn: str) -> Patient:
    return Patient(mrn=mrn, first_name="Eve", last_name="Ent", birth_date=dt.date(1980, 1, 1))


def test_an_event_queued_by_a_write_leaves_only_when_the_caller_commits(engine, clinic):
    with bus.held() as sent, Session(engine) as session:
        session.add(a_patient("E1"))
        publish_on_commit(session, ClaimsChanged(what="first"))
        session.flush()
        assert sent == []  # written, not committed: no screen may hear of it yet
        session.commit()
        assert sent == [ClaimsChanged(what="first")]


def test_a_rolled_back_transaction_sends_nothing(engine, clinic):
    with bus.held() as sent, Session(engine) as session:
        session.add(a_patient("E2"))
        session.flush()
        publish_on_commit(session, ClaimsChanged(what="undone"))
        session.rollback()
        session.commit()  # a later commit of the same session does not resurrect it
    assert sent == []


def test_a_session_closed_without_commit_sends_nothing(engine, clinic):
    with bus.held() as sent:
        with Session(engine) as session:
            session.add(a_patient("E3"))
            publish_on_commit(session, ClaimsChanged(what="abandoned"))
        assert sent == []


def test_a_savepoints_rollback_drops_only_its_own_events(engine, clinic):
    with bus.held() as sent, Session(engine) as session:
        session.add(a_patient("E4"))
        publish_on_commit(session, ClaimsChanged(what="outer"))
        inner = session.begin_nested()
        session.add(a_patient("E5"))
        publish_on_commit(session, ClaimsChanged(what="inner"))
        inner.rollback()
        kept = session.begin_nested()
        publish_on_commit(session, ClaimsChanged(what="kept"))
        kept.commit()
        assert sent == []
        session.commit()
    assert sent == [ClaimsChanged(what="outer"), ClaimsChanged(what="kept")]


def test_with_nothing_pending_the_event_leaves_at_once(engine, clinic):
    with bus.held() as sent, Session(engine) as session:
        session.add(a_patient("E6"))
        session.commit()
        session.get(Patient, 1)  # a read after the commit: nothing of this session is uncommitted
        publish_on_commit(session, ClaimsChanged(what="already committed"))
        assert sent == [ClaimsChanged(what="already committed")]


def test_an_importers_whole_transaction_holds_events_until_its_end(engine, clinic):
    try:
        with bus.held() as sent, db.one_transaction(engine) as session:
            session.add(a_patient("E7"))
            publish_on_commit(session, ClaimsChanged(what="part of a failed import"))
            session.commit()  # a composed service's commit is only a savepoint's release
            raise ValueError("the next entry is bad")
    except ValueError:
        pass
    assert sent == []
