"""The database's own rules hold even when code bypasses the services."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic_app.models import Appointment, AuditLog, Charge, NoteDiagnosis
from clinic_app.services.charting import charting
from clinic_app.services.platform.errors import from_db_error
from tests.conftest import at
from tests.services.helpers import book, charted_note


def _raw_appointment(clinic, start, *, provider=0, room=None, status="booked"):
    return Appointment(
        patient_id=clinic.patients[1].id, provider_id=clinic.providers[provider].id, location_id=clinic.location.id,
        room_id=clinic.rooms[room].id if room is not None else None, appointment_type_id=clinic.treatment.id,
        starts_at=at(start), ends_at=at(start) + dt.timedelta(minutes=30), status=status,
    )


def test_database_refuses_a_provider_double_booking(engine, session, clinic):
    book(session, clinic, "09:00")
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError) as info:
        raw.add(_raw_appointment(clinic, "09:15"))
        raw.commit()
    assert "already has an appointment" in str(from_db_error(info.value))


def test_database_refuses_a_room_double_booking(engine, session, clinic):
    book(session, clinic, "09:00", room=0)
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError) as info:
        raw.add(_raw_appointment(clinic, "09:10", provider=1, room=0))
        raw.commit()
    assert "room is already booked" in str(from_db_error(info.value))


def test_database_allows_overlap_with_cancelled_visits(engine, session, clinic):
    with Session(engine) as raw:
        raw.add(_raw_appointment(clinic, "09:00", status="cancelled"))
        raw.add(_raw_appointment(clinic, "09:00"))
        raw.commit()


def test_database_refuses_moving_an_appointment_onto_another(engine, session, clinic):
    book(session, clinic, "09:00")
    later = book(session, clinic, "10:00", patient=1)
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError):
        raw.execute(text("UPDATE appointment SET starts_at = :s, ends_at = :e WHERE id = :i"),
                    {"s": _db_time(engine, at("09:10")), "e": _db_time(engine, at("09:40")), "i": later.id})
        raw.commit()


def _db_time(engine, moment):
    return moment.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moment


def test_database_refuses_changes_to_a_signed_note(engine, session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.commit()  # the test is the caller: saved before another connection writes
    for statement in (
        "UPDATE note SET plan = 'edited' WHERE id = :i",
        "DELETE FROM note WHERE id = :i",
        "DELETE FROM note_diagnosis WHERE note_id = :i",
        "UPDATE note_procedure SET units = 9 WHERE note_id = :i",
    ):
        with Session(engine) as raw, pytest.raises(IntegrityError, match="note_signed"):
            raw.execute(text(statement), {"i": note.id})
            raw.commit()
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError, match="note_signed"):
        raw.add(NoteDiagnosis(note_id=note.id, code="M54.50"))
        raw.commit()


def test_database_keeps_charges_and_the_audit_log_append_only(engine, session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.add(AuditLog(action="test", entity="x"))
    session.commit()
    for statement, rule in (
        ("UPDATE charge SET amount_cents = 1", "charge_final"),
        ("DELETE FROM charge", "charge_final"),
        ("UPDATE audit_log SET action = 'x'", "audit_log_append_only"),
        ("DELETE FROM audit_log", "audit_log_append_only"),
    ):
        with Session(engine) as raw, pytest.raises(IntegrityError, match=rule):
            raw.execute(text(statement))
            raw.commit()
    assert session.get(Charge, 1).amount_cents == 9000


def test_one_charge_set_per_visit_is_a_database_rule(engine, session, clinic):
    appt, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError):
        raw.add(Charge(appointment_id=appt.id, note_id=note.id, line_no=1, code="97161", units=1, unit_price_cents=1, amount_cents=1))
        raw.commit()


def test_database_refuses_a_visit_longer_than_a_day(engine, session, clinic):
    # The bound that keeps SQLite's overlap checks fast at scale (alembic 0008) relies on it.
    visit = _raw_appointment(clinic, "09:00")
    visit.ends_at = visit.starts_at + dt.timedelta(hours=24, minutes=1)
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError) as info:
        raw.add(visit)
        raw.commit()
    assert "at most a day" in str(from_db_error(info.value))


def test_database_refuses_overlap_with_a_long_visit_that_started_the_day_before(engine, session, clinic):
    long_visit = _raw_appointment(clinic, "16:00")
    long_visit.starts_at -= dt.timedelta(days=1)
    long_visit.ends_at = long_visit.starts_at + dt.timedelta(hours=23, minutes=30)  # until 15:30 today
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw:
        raw.add(long_visit)
        raw.commit()
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError) as info:
        raw.add(_raw_appointment(clinic, "15:00", room=None))
        raw.commit()
    assert "already has an appointment" in str(from_db_error(info.value))
