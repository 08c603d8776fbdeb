"""Signing extras: addenda, co-signature, two devices on one draft, minutes and units."""

from __future__ import annotations

import pytest
from sqlmodel import select

from clinic_app.models import Appointment, AppointmentEvent, AuditLog, Charge, ClinicianSupervision, Fee, Note
from clinic_app.services.charting import charting
from clinic_app.services.platform.errors import (
    DraftConflict,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NoteAlreadySigned,
)
from tests.services.helpers import charted_note, in_session, now_at


# -- addenda -------------------------------------------------------------------------
def test_an_addendum_is_kept_beside_the_unchanged_original(session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    charting.add_addendum(session, actor=clinic.clinician, note_id=note.id, text="  Pain was 6/10, not 4/10.  ", now=now_at("12:00"))
    charting.add_addendum(session, actor=clinic.clinician, note_id=note.id, text="Patient called: HEP going well.", now=now_at("15:30"))
    session.expire_all()
    assert session.get(Note, note.id).subjective == "Knee pain 4/10"
    rows = charting.addenda(session, note_id=note.id)
    assert [(a["text"], a["author"], a["created_at"]) for a in rows] == [
        ("Pain was 6/10, not 4/10.", "Clin", now_at("12:00")),
        ("Patient called: HEP going well.", "Clin", now_at("15:30")),
    ]
    assert session.exec(select(AuditLog).where(AuditLog.action == "addendum")).all()


def test_addenda_are_only_for_signed_notes_and_not_empty(session, clinic):
    _, note = charted_note(session, clinic)
    with pytest.raises(InvalidInput, match="still a draft"):
        charting.add_addendum(session, actor=clinic.clinician, note_id=note.id, text="Too early")
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    with pytest.raises(InvalidInput, match="empty addendum"):
        charting.add_addendum(session, actor=clinic.clinician, note_id=note.id, text="   ")
    with pytest.raises(InvalidInput, match="over 5,000 characters"):
        charting.add_addendum(session, actor=clinic.clinician, note_id=note.id, text="x" * 5001)
    assert charting.addenda(session, note_id=note.id) == []


def test_only_the_notes_clinician_or_their_supervisor_add_addenda(session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    for actor in (clinic.clinician2, clinic.reception, clinic.biller, clinic.admin):
        with pytest.raises(NotAllowed):
            charting.add_addendum(session, actor=actor, note_id=note.id, text="Not mine to add")
    assert charting.addenda(session, note_id=note.id) == []


# -- co-signature ----------------------------------------------------------------------
@pytest.fixture
def supervised(session, clinic):
    """Provider 0 (the clinician fixture) is an assistant supervised by provider 1."""
    session.add(ClinicianSupervision(provider_id=clinic.providers[0].id, supervisor_provider_id=clinic.providers[1].id))
    session.commit()
    return clinic


def test_an_assistants_note_is_billable_only_once_co_signed(session, supervised):
    clinic = supervised
    appt, note = charted_note(session, clinic)
    assert charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=now_at("09:40")) == []
    session.expire_all()
    assert session.get(Appointment, appt.id).status == "in_session"
    assert session.get(Note, note.id).signed_at == now_at("09:40")
    assert session.exec(select(Charge)).all() == []
    waiting = charting.awaiting_cosignature(session, actor=clinic.clinician2)
    assert [(w["note_id"], w["patient_name"], w["author"]) for w in waiting] == [(note.id, "Diaz, Cara", "Ann Able, PT")]
    assert charting.signatures(session, note=session.get(Note, note.id))["needs_cosignature"] is True

    charges = charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id, now=now_at("17:00"))
    session.expire_all()
    assert [(c.code, c.units, c.amount_cents) for c in charges] == [("97110", 2, 9000)]
    assert session.get(Appointment, appt.id).status == "ready_to_bill"
    sig = charting.signatures(session, note=session.get(Note, note.id))
    assert (sig["signed_by"], sig["signed_at"], sig["cosigned_by"], sig["cosigned_at"]) == ("Clin", now_at("09:40"), "Clin2", now_at("17:00"))
    event = session.exec(select(AppointmentEvent).where(AppointmentEvent.to_status == "ready_to_bill")).one()
    assert (event.user_id, event.note) == (clinic.clinician2.user_id, "note co-signed")
    assert charting.awaiting_cosignature(session, actor=clinic.clinician2) == []
    assert sig["needs_cosignature"] is False
    with pytest.raises(NoteAlreadySigned):
        charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id)
    assert len(session.exec(select(Charge)).all()) == 1


def test_only_the_supervisor_co_signs_and_only_a_signed_note(session, supervised):
    clinic = supervised
    _, note = charted_note(session, clinic)
    with pytest.raises(InvalidInput, match="signed by its author before"):
        charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    with pytest.raises(NotAllowed, match="supervising clinician"):
        charting.cosign_note(session, actor=clinic.clinician, note_id=note.id)
    for actor in (clinic.reception, clinic.biller, clinic.manager, clinic.admin):
        with pytest.raises(NotAllowed):
            charting.cosign_note(session, actor=actor, note_id=note.id)
    assert session.exec(select(Charge)).all() == []


def test_a_supervisor_can_read_and_amend_but_others_cannot(session, supervised):
    clinic = supervised
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert charting.read_note(session, actor=clinic.clinician2, note_id=note.id).id == note.id
    charting.add_addendum(session, actor=clinic.clinician2, note_id=note.id, text="Reviewed; agree with plan.")
    assert [a["author"] for a in charting.addenda(session, note_id=note.id)] == ["Clin2"]
    with pytest.raises(NotAllowed):
        charting.read_note(session, actor=clinic.reception, note_id=note.id)


def test_a_note_billed_before_supervision_began_needs_no_co_signature(session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    session.add(ClinicianSupervision(provider_id=clinic.providers[0].id, supervisor_provider_id=clinic.providers[1].id))
    session.commit()
    assert charting.awaiting_cosignature(session, actor=clinic.clinician2) == []
    assert charting.signatures(session, note=note)["needs_cosignature"] is False
    with pytest.raises(IllegalTransition, match="already Ready to bill; it needs no co-signature"):
        charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id)


def test_an_unsupervised_clinician_signs_straight_to_billing(session, clinic):
    _, note = charted_note(session, clinic)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert charting.signatures(session, note=session.get(Note, note.id))["needs_cosignature"] is False
    assert charting.awaiting_cosignature(session, actor=clinic.clinician2) == []


# -- two devices, one draft --------------------------------------------------------------
def test_a_stale_device_is_told_and_its_text_is_not_written(session, clinic):
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    # Both tablets loaded the empty section; tablet A saves first.
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="objective", text="ROM 0-110", base_text="")
    with pytest.raises(DraftConflict, match="changed on another device") as info:
        charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="objective", text="Gait antalgic", base_text="")
    assert info.value.saved_text == "ROM 0-110"
    session.expire_all()
    assert session.get(Note, note.id).objective == "ROM 0-110"
    # Tablet B chooses to keep its own text: a save without a base overwrites on purpose.
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="objective", text="Gait antalgic")
    session.expire_all()
    assert session.get(Note, note.id).objective == "Gait antalgic"


def test_devices_editing_different_sections_do_not_conflict(session, clinic):
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="A", base_text="")
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="plan", text="B", base_text="")
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="A, more", base_text="A")
    session.expire_all()
    assert (session.get(Note, note.id).subjective, session.get(Note, note.id).plan) == ("A, more", "B")


# -- minutes and units ---------------------------------------------------------------
@pytest.fixture
def timed_fees(session, clinic):
    session.add_all([Fee(code="97112", amount_cents=4600, timed=True), Fee(code="97140", amount_cents=4200, timed=True)])
    session.commit()
    return clinic


def _note_in_session(session, clinic):
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Neck stiff")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M54.2")
    return note


def test_units_left_blank_follow_the_visits_timed_minutes(session, timed_fees):
    clinic = timed_fees
    note = _note_in_session(session, clinic)
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", minutes=33)
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97112", minutes="7")
    assert [(p.code, p.units, p.minutes) for p in charting.procedures(session, note_id=note.id)] == [
        ("97110", 2, 33), ("97112", 1, 7)
    ]
    assert charting.unit_warnings(session, note_id=note.id) == []
    charges = charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert [(c.code, c.units) for c in charges] == [("97110", 2), ("97112", 1)]


def test_units_that_disagree_with_minutes_are_warned_and_block_signing(session, timed_fees):
    clinic = timed_fees
    note = _note_in_session(session, clinic)
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", units=2, minutes=38)
    assert charting.unit_warnings(session, note_id=note.id) == [
        "97110: 2 unit(s) entered, but under the CMS 8-minute rule (38 timed minute(s) in this visit) it supports 3."
    ]
    with pytest.raises(InvalidInput, match="Correct the units"):
        charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert session.exec(select(Charge)).all() == []
    charting.apply_suggested_units(session, actor=clinic.clinician, note_id=note.id)
    assert [(p.code, p.units) for p in charting.procedures(session, note_id=note.id)] == [("97110", 3)]
    assert charting.unit_warnings(session, note_id=note.id) == []


def test_the_rule_is_a_setting(session, timed_fees):
    clinic = timed_fees
    note = _note_in_session(session, clinic)
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", minutes=33)
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97112", units=1, minutes=7)
    assert charting.unit_warnings(session, note_id=note.id, rule="cms") == []
    assert charting.unit_warnings(session, note_id=note.id, rule="per_code") == [
        "97112: 1 unit(s) entered, but under the substantial-portion rule (per code) (40 timed minute(s) in this visit) "
        "it supports 0; remove it or correct the minutes."
    ]
    with pytest.raises(InvalidInput, match="bill no unit under the substantial-portion rule"):
        charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97140", minutes=5, rule="per_code")


def test_a_timed_code_without_minutes_is_only_a_reminder(session, clinic):
    _, note = charted_note(session, clinic)  # 97110, 2 units, no minutes
    assert charting.unit_warnings(session, note_id=note.id) == ["97110 is a timed code: record its minutes."]
    assert len(charting.sign_note(session, actor=clinic.clinician, note_id=note.id)) == 1


@pytest.mark.parametrize(
    ("code", "units", "minutes", "message"),
    [("97112", "", "", "enter the minutes and leave units blank"), ("97161", "", "30", "Units must be"),
     ("97112", "", "0", "Minutes must be"), ("97112", "", "481", "Minutes must be"), ("97112", "1", "ten", "Minutes must be")],
)
def test_bad_minutes_are_refused_and_nothing_added(session, timed_fees, code, units, minutes, message):
    clinic = timed_fees
    note = _note_in_session(session, clinic)
    with pytest.raises(InvalidInput, match=message):
        charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code=code, units=units, minutes=minutes)
    assert charting.procedures(session, note_id=note.id) == []


# -- copy forward ----------------------------------------------------------------------
def test_copy_forward_fills_only_empty_sections_and_adds_missing_diagnoses(session, clinic):
    _, first = charted_note(session, clinic, "08:00")
    charting.save_draft(session, actor=clinic.clinician, note_id=first.id, field="plan", text="HEP: quad sets 3x10")
    charting.sign_note(session, actor=clinic.clinician, note_id=first.id)
    appt = in_session(session, clinic, "10:00")
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Better today")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M54.50")
    assert charting.copy_forward(session, actor=clinic.clinician, note_id=note.id) == ["plan section(s)", "diagnoses M25.561"]
    session.expire_all()
    again = session.get(Note, note.id)
    assert (again.subjective, again.plan) == ("Better today", "HEP: quad sets 3x10")
    assert [d.code for d in charting.diagnoses(session, note_id=note.id)] == ["M54.50", "M25.561"]
    assert charting.procedures(session, note_id=note.id) == []
    with pytest.raises(InvalidInput, match="Nothing to copy"):
        charting.copy_forward(session, actor=clinic.clinician, note_id=note.id)


def test_copy_forward_needs_an_earlier_signed_note(session, clinic):
    _, unsigned = charted_note(session, clinic, "08:00")  # a draft is not copied from
    appt = in_session(session, clinic, "10:00")
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    with pytest.raises(InvalidInput, match="no earlier signed note"):
        charting.copy_forward(session, actor=clinic.clinician, note_id=note.id)
    assert session.get(Note, note.id).subjective == ""
    with pytest.raises(NotAllowed):
        charting.copy_forward(session, actor=clinic.clinician2, note_id=unsigned.id)


# -- modifiers, and CQ/CO for an assistant's services ------------------------------------
def test_an_assistants_services_carry_cq_from_note_to_claim(session, supervised):
    from clinic_app.models import ClaimLine, Provider
    from clinic_app.services.revenue import claims
    from tests.services.revenue_helpers import cover, set_up_billing

    clinic = supervised
    assistant = session.get(Provider, clinic.providers[0].id)
    assistant.assistant_kind = "PTA"
    session.add(assistant)
    session.commit()
    cover(session, clinic, set_up_billing(session, clinic))
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Knee pain 4/10")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M25.561")
    for modifiers, message in (("GP,59,KX,XU", "CQ is added to every line of this assistant's note"),
                               ("G", "'G' is not a modifier")):
        with pytest.raises(InvalidInput, match=message):
            charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", units=2, modifiers=modifiers)
    assert charting.procedures(session, note_id=note.id) == []
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", units=2, modifiers="59")
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=now_at("09:40"))
    charges = charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id, now=now_at("17:00"))
    assert [(c.code, c.modifiers) for c in charges] == [("97110", "59,CQ")]
    # On the claim: the note's modifiers and CQ, the biller's KX, then the payer's default GP.
    claim = claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id, modifiers={1: "KX"})
    assert [ln.modifiers for ln in session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id))] == ["59,CQ,KX,GP"]


def test_a_therapists_own_services_carry_no_assistant_modifier(session, clinic):
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Knee pain 4/10")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M25.561")
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", units=2, modifiers="gp 59 kx xu")
    charges = charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert [(c.code, c.modifiers) for c in charges] == [("97110", "GP,59,KX,XU")]
