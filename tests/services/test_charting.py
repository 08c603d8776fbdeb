"""Notes: drafts, codes, and signing exactly once."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from clinic_app.models import Appointment, AppointmentEvent, Charge, Note
from clinic_app.services.charting import charting
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotAllowed, NoteAlreadySigned
from tests.services.helpers import book, charted_note, in_session


def test_drafts_autosave_field_by_field(session, clinic):
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="objective", text="ROM 0-120")
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="plan", text="HEP daily")
    session.expire_all()
    again = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    assert (again.id, again.objective, again.plan, again.signed_at) == (note.id, "ROM 0-120", "HEP daily", None)


def test_signing_locks_the_note_makes_the_visit_ready_to_bill_and_captures_charges(session, clinic):
    appt, note = charted_note(session, clinic)
    charges = charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.expire_all()
    assert session.get(Appointment, appt.id).status == "ready_to_bill"
    assert session.get(Note, note.id).signed_by_user_id == clinic.clinician.user_id
    assert [(c.code, c.units, c.unit_price_cents, c.amount_cents, c.diagnosis_codes) for c in charges] == [
        ("97110", 2, 4500, 9000, "M25.561")
    ]
    last = session.exec(select(AppointmentEvent).where(AppointmentEvent.appointment_id == appt.id).order_by(AppointmentEvent.id.desc())).first()
    assert (last.from_status, last.to_status, last.user_id) == ("in_session", "ready_to_bill", clinic.clinician.user_id)


def test_signing_twice_gives_one_charge_set(session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    with pytest.raises(NoteAlreadySigned):
        charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert len(session.exec(select(Charge)).all()) == 1


def test_two_tablets_signing_at_once_give_one_charge_set(engine, session, clinic):
    appt, note = charted_note(session, clinic)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def tablet() -> None:
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                charting.sign_note(s, actor=clinic.clinician, note_id=note.id)
                s.commit()  # each tablet's screen commits its own sign-off
                outcomes.append("signed")
            except NoteAlreadySigned:
                outcomes.append("already")

    threads = [threading.Thread(target=tablet) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already", "already", "already", "signed"]
    session.expire_all()
    assert len(session.exec(select(Charge).where(Charge.appointment_id == appt.id)).all()) == 1
    assert session.get(Appointment, appt.id).status == "ready_to_bill"


def test_a_signed_note_refuses_every_change(session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    with pytest.raises(NoteAlreadySigned):
        charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="plan", text="changed")
    with pytest.raises(NoteAlreadySigned):
        charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M54.50")
    with pytest.raises(NoteAlreadySigned):
        charting.remove_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110")
    session.expire_all()
    assert session.get(Note, note.id).plan == ""
    assert [d.code for d in charting.diagnoses(session, note_id=note.id)] == ["M25.561"]


def test_signing_needs_a_started_session_and_a_complete_note(session, clinic):
    appt = book(session, clinic, "10:00")
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    with pytest.raises(IllegalTransition, match="start the session before signing"):
        charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    appt2 = in_session(session, clinic, "11:00")
    note2 = charting.open_note(session, actor=clinic.clinician, appointment_id=appt2.id)
    with pytest.raises(InvalidInput, match="The note is empty"):
        charting.sign_note(session, actor=clinic.clinician, note_id=note2.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note2.id, field="assessment", text="Improving")
    with pytest.raises(InvalidInput, match="at least one diagnosis"):
        charting.sign_note(session, actor=clinic.clinician, note_id=note2.id)
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note2.id, code="M54.50")
    with pytest.raises(InvalidInput, match="at least one procedure"):
        charting.sign_note(session, actor=clinic.clinician, note_id=note2.id)
    assert session.exec(select(Charge)).all() == []


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("M54", "is a category, not a billable code"),
        ("Q99.99", "not in the ICD-10-CM code set"),
        ("hello", "not an ICD-10-CM code"),
        ("", "not an ICD-10-CM code"),
    ],
)
def test_unknown_or_unbillable_diagnoses_are_refused(session, clinic, code, message):
    _, note = charted_note(session, clinic)
    with pytest.raises(InvalidInput, match=message):
        charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code=code)
    assert [d.code for d in charting.diagnoses(session, note_id=note.id)] == ["M25.561"]


def test_diagnosis_codes_are_normalised(session, clinic):
    _, note = charted_note(session, clinic)
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code=" m5450 ")
    assert [d.code for d in charting.diagnoses(session, note_id=note.id)] == ["M25.561", "M54.50"]


@pytest.mark.parametrize(
    ("code", "units", "message"),
    [("97999", 1, "not on the clinic's fee list"), ("9711", 1, "not a procedure code"), ("97161", 0, "Units must be"),
     ("97161", "two", "Units must be"), ("97161", 25, "Units must be"), ("97110", 1, "already on this note")],
)
def test_bad_procedure_lines_are_refused(session, clinic, code, units, message):
    _, note = charted_note(session, clinic)
    with pytest.raises(InvalidInput, match=message):
        charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code=code, units=units)
    assert [(p.code, p.units) for p in charting.procedures(session, note_id=note.id)] == [("97110", 2)]


def test_a_clinician_cannot_open_or_sign_another_clinicians_visit(session, clinic):
    appt, note = charted_note(session, clinic)
    with pytest.raises(NotAllowed):
        charting.open_note(session, actor=clinic.clinician2, appointment_id=appt.id)
    with pytest.raises(NotAllowed):
        charting.sign_note(session, actor=clinic.clinician2, note_id=note.id)
    for actor in (clinic.reception, clinic.biller, clinic.manager, clinic.admin):
        with pytest.raises(NotAllowed):
            charting.open_note(session, actor=actor, appointment_id=appt.id)
        with pytest.raises(NotAllowed):
            charting.sign_note(session, actor=actor, note_id=note.id)
    assert session.exec(select(Charge)).all() == []


def test_overlong_note_text_is_refused_and_the_saved_text_kept(session, clinic):
    _, note = charted_note(session, clinic)
    with pytest.raises(InvalidInput, match="over 20,000 characters"):
        charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="x" * 20_001)
    session.expire_all()
    assert session.get(Note, note.id).subjective == "Knee pain 4/10"
