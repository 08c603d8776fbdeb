"""Helpers for service tests: book, move and chart a visit in a few calls."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import text

from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling
from tests.conftest import DAY, at


def now_at(hhmm: str) -> dt.datetime:
    return at(hhmm, DAY)


def book(session, clinic, hhmm="09:00", provider=0, patient=0, room=None, kind=None):
    """Book a visit and commit it (these helpers are the caller: services leave the commit to them)."""
    appointment = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[patient].id,
        provider_id=clinic.providers[provider].id, appointment_type_id=(kind or clinic.treatment).id,
        starts_at=at(hhmm), room_id=clinic.rooms[room].id if room is not None else None, now=now_at("07:00"),
    )
    session.commit()
    return appointment


def in_session(session, clinic, hhmm="09:00"):
    appt = book(session, clinic, hhmm)
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at(hhmm))
    scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="in_session", now=now_at(hhmm))
    session.commit()
    return appt


def charted_note(session, clinic, hhmm="09:00"):
    """A visit in session with a complete draft note, ready to sign."""
    appt = in_session(session, clinic, hhmm)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Knee pain 4/10")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M25.561")
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", units=2)
    session.commit()
    return appt, note


def until_a_booking_waits(engine) -> None:
    """Until the other desk's booking waits for ours (PostgreSQL: on the no-overlap rule; SQLite:
    for the write lock, which cannot be seen from here, so a moment)."""
    if engine.dialect.name != "postgresql":
        time.sleep(0.5)
        return
    for _ in range(200):
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar_one():
                return
        time.sleep(0.05)
    raise AssertionError("the second booking never waited for the first")
