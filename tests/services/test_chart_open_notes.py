"""The chart a clinician trusts (issue 13): what the screen shows is what gets signed, and
every unsigned note is found whatever its date."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.live import bus
from clinic_app.models import ClinicianSupervision, Note, NoteProcedure
from clinic_app.services.charting import charting, pending, templates
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform.errors import DraftConflict, InvalidInput, NoteAlreadySigned
from tests.conftest import DAY, at
from tests.services.helpers import charted_note


# -- sign acts on what is on screen ------------------------------------------------------------
def test_the_pending_edits_are_saved_and_then_signed_as_shown(session, clinic):
    _, note = charted_note(session, clinic)
    templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PT-DAILY")
    charting.set_minutes(session, actor=clinic.clinician, note_id=note.id, code="97110", minutes=23)
    edits = {"subjective": "Knee pain 4/10", "plan": "Squats, 3 x 10.", "field:next": "Progress to lunges",
             "minutes:97110": "23"}
    saved = pending.save_pending(session, actor=clinic.clinician, note_id=note.id, edits=edits,
                                  base={"subjective": "Knee pain 4/10", "plan": ""})
    assert saved == ["plan", "field:next"]  # what already agreed is not written again
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.expire_all()
    signed = session.get(Note, note.id)
    assert (signed.plan, signed.signed_at is not None) == ("Squats, 3 x 10.", True)
    assert templates.values(session, note_id=note.id)["next"] == "Progress to lunges"
    # The same edits again (a second tap, or the debounced autosave landing after the
    # signature) are no change, so nothing is refused; a different text is.
    assert pending.save_pending(session, actor=clinic.clinician, note_id=note.id, edits=edits) == []
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="plan", text="Squats, 3 x 10.")
    assert templates.save_field(session, actor=clinic.clinician, note_id=note.id, key="next", value="Progress to lunges") \
        == "Progress to lunges"
    with pytest.raises(NoteAlreadySigned):
        pending.save_pending(session, actor=clinic.clinician, note_id=note.id, edits={"plan": "Changed after signing"})
    with pytest.raises(NoteAlreadySigned):
        charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="plan", text="Changed after signing")


def test_pending_edits_are_all_or_nothing_and_a_refusal_names_the_field(session, clinic):
    _, note = charted_note(session, clinic)
    templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PT-DAILY")
    session.commit()  # the test is the caller
    with pytest.raises(InvalidInput, match="Active range of motion: enter a number from 0 to 180 degrees"):
        pending.save_pending(session, actor=clinic.clinician, note_id=note.id,
                              edits={"plan": "Walk daily", "field:rom_deg": "200"})
    with pytest.raises(InvalidInput, match="Minutes of 97110 must be a whole number from 1 to 480"):
        pending.save_pending(session, actor=clinic.clinician, note_id=note.id,
                              edits={"plan": "Walk daily", "minutes:97110": "900"})
    with pytest.raises(InvalidInput, match="not understood"):
        pending.save_pending(session, actor=clinic.clinician, note_id=note.id, edits={"signed_at": "2030-01-01"})
    session.rollback()  # what a caller does with a refusal
    assert session.get(Note, note.id).plan == ""  # nothing of a refused set was written
    assert "rom_deg" not in templates.values(session, note_id=note.id)


def test_pending_text_over_another_devices_save_is_a_conflict_not_an_overwrite(session, clinic):
    _, note = charted_note(session, clinic)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="plan", text="From the other tablet")
    with pytest.raises(DraftConflict) as raised:
        pending.save_pending(session, actor=clinic.clinician, note_id=note.id,
                              edits={"plan": "From this tablet", "assessment": "Better"}, base={"plan": ""})
    assert raised.value.saved_text == "From the other tablet"
    session.expire_all()
    kept = session.get(Note, note.id)
    assert (kept.plan, kept.assessment) == ("From the other tablet", "")


def test_another_clinician_cannot_write_through_pending_edits(session, clinic):
    _, note = charted_note(session, clinic)
    with pytest.raises(Exception, match="another clinician"):
        pending.save_pending(session, actor=clinic.clinician2, note_id=note.id, edits={"plan": "Not mine"})
    session.expire_all()
    assert session.get(Note, note.id).plan == ""


def test_minutes_are_changed_on_the_line_and_the_units_then_disagree(session, clinic):
    _, note = charted_note(session, clinic)  # 97110 x 2, no minutes
    charting.set_minutes(session, actor=clinic.clinician, note_id=note.id, code="97110", minutes="38")
    line = session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note.id)).one()
    assert (line.minutes, line.units) == (38, 2)
    blockers = charting.sign_blockers(session, note_id=note.id)
    assert [(b.section, b.target) for b in blockers] == [("codes", "units-fix")]
    assert "it supports 3" in blockers[0].text
    with pytest.raises(InvalidInput, match="Correct the units"):
        charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    with pytest.raises(InvalidInput, match="97999 is no longer on this note"):
        charting.set_minutes(session, actor=clinic.clinician, note_id=note.id, code="97999", minutes="10")


def test_the_sign_bar_lists_every_blocker_with_its_section(session, clinic):
    appt = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[1].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("10:00"), now=at("07:00"),
    )
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=at("09:55"))
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    assert [(b.section, b.target) for b in charting.sign_blockers(session, note_id=note.id)] == [
        ("note", "start-session"), ("note", "soap-subjective"), ("codes", "dx-search"), ("codes", "px-code"),
    ]
    with pytest.raises(Exception, match="start the session before signing"):
        charting.sign_note(session, actor=clinic.clinician, note_id=note.id)


# -- my open notes --------------------------------------------------------------------------
def _earlier(session, clinic, days: int, hhmm: str, patient: int = 0):
    """A visit ``days`` before DAY, checked in and in session (the note not started)."""
    day = DAY - dt.timedelta(days=days)
    appt = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[patient].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at(hhmm, day), now=at("07:00", day),
    )
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=at(hhmm, day))
    scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="in_session", now=at(hhmm, day))
    return appt


def test_every_unsigned_note_of_any_date_oldest_first_with_its_age(session, clinic):
    old = _earlier(session, clinic, 9, "10:00", patient=1)
    yesterday = _earlier(session, clinic, 1, "15:00", patient=2)
    today, _ = charted_note(session, clinic, "09:00")
    signed, signed_note = charted_note(session, clinic, "11:00")
    charting.sign_note(session, actor=clinic.clinician, note_id=signed_note.id)
    booked = scheduling.book_appointment(  # not checked in: the desk's to settle, not a note
        session, actor=clinic.reception, patient_id=clinic.patients[2].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("13:00"), now=at("07:00"),
    )
    others = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[1].id, provider_id=clinic.providers[1].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("14:00"), now=at("07:00"),
    )
    scheduling.transition(session, actor=clinic.reception, appointment_id=others.id, to_status="arrived", now=at("14:00"))
    rows = charting.open_notes(session, actor=clinic.clinician, now=at("16:00"))
    assert [(r["appointment_id"], r["age_label"], r["kind"]) for r in rows] == [
        (old.id, "9 days old", "sign"), (yesterday.id, "yesterday", "sign"), (today.id, "today", "sign"),
    ]
    assert rows[0]["label"] == f"Open note: Fox, Eli, {(DAY - dt.timedelta(days=9)).isoformat()} 10:00, 9 days old"
    assert rows[0]["note_id"] == 0  # not started yet: opening it starts it
    assert signed.id not in [r["appointment_id"] for r in rows] and booked.id not in [r["appointment_id"] for r in rows]
    one_day = charting.open_notes(session, actor=clinic.clinician, day=DAY - dt.timedelta(days=1), now=at("16:00"))
    assert [r["appointment_id"] for r in one_day] == [yesterday.id]
    # An earlier day's note is charted and signed like today's; the list then drops it.
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=old.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Late note")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M54.50")
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97161", units=1)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert old.id not in [r["appointment_id"] for r in charting.open_notes(session, actor=clinic.clinician)]
    assert charting.chart_card(session, appointment_id=old.id)["status"] == "ready_to_bill"


def test_a_supervisor_finds_the_notes_awaiting_their_co_signature(session, clinic):
    session.add(ClinicianSupervision(provider_id=clinic.providers[0].id, supervisor_provider_id=clinic.providers[1].id))
    session.commit()
    appt, note = charted_note(session, clinic)
    assert charting.chart_card(session, appointment_id=appt.id)["open"]["kind"] == "sign"
    assert charting.open_notes(session, actor=clinic.clinician2, now=at("16:00")) == []
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert charting.open_notes(session, actor=clinic.clinician, now=at("16:00")) == []  # signed: done for the student
    rows = charting.open_notes(session, actor=clinic.clinician2, now=at("16:00"))
    assert [(r["note_id"], r["kind"], r["provider_name"]) for r in rows] == [(note.id, "cosign", "Ann Able, PT")]
    assert rows[0]["label"].startswith("Review and co-sign: Diaz, Cara, by Ann Able, PT, 2030-03-12 09:00")
    card = charting.chart_card(session, appointment_id=appt.id)
    assert (card["open"]["kind"], card["supervisor_id"]) == ("cosign", clinic.providers[1].id)
    charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id)
    assert charting.open_notes(session, actor=clinic.clinician2) == []
    assert charting.chart_card(session, appointment_id=appt.id)["open"] is None


def test_a_supervised_signature_is_published_for_the_supervisors_list(monkeypatch, session, clinic):
    session.add(ClinicianSupervision(provider_id=clinic.providers[0].id, supervisor_provider_id=clinic.providers[1].id))
    session.commit()
    published = []
    monkeypatch.setattr(bus, "publish", published.append)
    appt, note = charted_note(session, clinic)
    session.commit()
    published.clear()
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.commit()
    assert [(e.appointment_id, e.status) for e in published] == [(appt.id, "in_session")]


def test_a_visit_joins_the_open_notes_when_checked_in_and_leaves_when_cancelled(session, clinic):
    appt = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("10:00"), now=at("07:00"),
    )
    assert charting.chart_card(session, appointment_id=appt.id, now=at("09:00"))["open"] is None
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=at("09:58"))
    row = charting.chart_card(session, appointment_id=appt.id, now=at("09:59"))["open"]
    assert (row["kind"], row["age_label"], row["status_label"]) == ("sign", "today", "Arrived")
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="cancelled", now=at("10:05"))
    assert charting.chart_card(session, appointment_id=appt.id)["open"] is None
