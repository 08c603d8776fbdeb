"""The database keeps the charting rules of migration 0002 even when code bypasses the services."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic_app.models import Charge, ClinicianSupervision, MeasureResult, NoteAddendum, NoteCosignature, NoteProcedure
from clinic_app.services.charting import charting, measures
from clinic_app.services.platform.errors import from_db_error
from tests.services.helpers import charted_note


def _refused(engine, rule, *, row=None, statement=None, params=None):
    with Session(engine) as raw, pytest.raises(IntegrityError, match=rule) as info:
        if row is not None:
            raw.add(row)
        else:
            raw.execute(text(statement), params or {})
        raw.commit()
    return from_db_error(info.value)


def test_addenda_need_a_signed_note_and_never_change(engine, session, clinic):
    _, note = charted_note(session, clinic)
    session.commit()  # the test is the caller: saved before another connection writes
    error = _refused(engine, "addendum_needs_signed_note", row=NoteAddendum(note_id=note.id, author_user_id=clinic.clinician.user_id, text="x"))
    assert "for signed notes" in str(error)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    charting.add_addendum(session, actor=clinic.clinician, note_id=note.id, text="Correction")
    session.commit()  # the test is the caller: saved before another connection writes
    _refused(engine, "addendum_final", statement="UPDATE note_addendum SET text = 'rewritten'")
    _refused(engine, "addendum_final", statement="DELETE FROM note_addendum")
    assert [a["text"] for a in charting.addenda(session, note_id=note.id)] == ["Correction"]


def test_co_signatures_need_a_signed_note_another_person_and_never_change(engine, session, clinic):
    session.add(ClinicianSupervision(provider_id=clinic.providers[0].id, supervisor_provider_id=clinic.providers[1].id))
    session.commit()
    _, note = charted_note(session, clinic)
    session.commit()  # the test is the caller: saved before another connection writes
    _refused(engine, "cosign_needs_signed_note", row=NoteCosignature(note_id=note.id, user_id=clinic.clinician2.user_id))
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.commit()  # the test is the caller: saved before another connection writes
    _refused(engine, "cosign_by_signer", row=NoteCosignature(note_id=note.id, user_id=clinic.clinician.user_id))
    charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id)
    session.commit()  # the test is the caller: saved before another connection writes
    _refused(engine, "cosignature_final", statement="DELETE FROM note_cosignature")
    _refused(engine, "cosignature_final", statement="UPDATE note_cosignature SET user_id = :u", params={"u": clinic.admin.user_id})
    with Session(engine) as raw, pytest.raises(IntegrityError):  # one co-signature per note
        raw.add(NoteCosignature(note_id=note.id, user_id=clinic.admin.user_id))
        raw.commit()


def test_a_supervised_visit_gets_no_charges_before_its_co_signature(engine, session, clinic):
    session.add(ClinicianSupervision(provider_id=clinic.providers[0].id, supervisor_provider_id=clinic.providers[1].id))
    session.commit()
    appt, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.commit()  # the test is the caller: saved before another connection writes
    error = _refused(engine, "charge_needs_cosignature", row=Charge(
        appointment_id=appt.id, note_id=note.id, line_no=1, code="97110", units=2, unit_price_cents=4500, amount_cents=9000,
    ))
    assert "co-signature" in str(error)


def test_minutes_and_self_supervision_are_checked(engine, session, clinic):
    _, note = charted_note(session, clinic)
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError):
        raw.add(NoteProcedure(note_id=note.id, code="97161", units=1, minutes=0))
        raw.commit()
    session.commit()  # the test is the caller: saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError):
        raw.add(ClinicianSupervision(provider_id=clinic.providers[0].id, supervisor_provider_id=clinic.providers[0].id))
        raw.commit()


def test_measure_scores_lock_with_the_signed_note(engine, session, clinic):
    _, note = charted_note(session, clinic)
    measures.record(session, actor=clinic.clinician, note_id=note.id, code="NPRS", values=[6])
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.commit()  # the test is the caller: saved before another connection writes
    _refused(engine, "note_signed", statement="UPDATE measure_result SET score = 1")
    _refused(engine, "note_signed", statement="DELETE FROM measure_result")
    _refused(engine, "note_signed", row=MeasureResult(
        note_id=note.id, patient_id=note.patient_id, measure_code="LEFS", item_values="[]", item_labels="[]", score=1,
        recorded_by_user_id=clinic.clinician.user_id,
    ))
