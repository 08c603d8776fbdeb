"""Scrubber rules that need the visit's minutes and its episode of care."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic_app import settings
from clinic_app.models import Fee
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import cases
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.revenue import claims
from tests.conftest import DAY, at
from tests.services.helpers import in_session
from tests.services.revenue_helpers import cover, set_up_billing, signed_visit


def _timed_visit(session, clinic):
    """A visit signed under the CMS rule: 33 min 97110 (2 units) + 7 min 97112 (1 unit)."""
    session.add(Fee(code="97112", amount_cents=4600, timed=True))
    session.commit()
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Neck stiff")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M54.2")
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", minutes=33)
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97112", minutes=7)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=at("09:00") + dt.timedelta(minutes=40))
    return appt


def test_units_inconsistent_with_minutes_under_the_clinics_rule_hold_the_claim(session, clinic, monkeypatch):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = _timed_visit(session, clinic)
    assert claims.scrub(session, actor=clinic.biller, appointment_id=appt.id) == []

    # The clinic now bills by the per-code rule: 7 minutes of 97112 support no unit.
    monkeypatch.setattr(settings, "TIMED_UNIT_RULE", "per_code")
    assert claims.scrub(session, actor=clinic.biller, appointment_id=appt.id) == [
        "Line 2 (97112): units inconsistent with minutes: 1 unit(s) billed for 7 minute(s), but under the "
        "substantial-portion rule (per code) (40 timed minute(s) in the visit) they support 0; the clinician "
        "must correct the units or minutes by addendum."
    ]
    with pytest.raises(InvalidInput, match="units inconsistent with minutes"):
        claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id)
    assert session.get(type(appt), appt.id).status == "ready_to_bill"


def test_timed_codes_without_minutes_are_not_held(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = signed_visit(session, clinic)  # 97110 x2, no minutes recorded
    assert claims.scrub(session, actor=clinic.biller, appointment_id=appt.id) == []


def _episode(session, clinic, appt, **auth):
    case = cases.open_case(session, actor=clinic.reception, patient_id=appt.patient_id, title="Left knee", **auth)
    cases.attach_visit(session, actor=clinic.reception, case_id=case.id, appointment_id=appt.id)
    return case


def test_authorisation_exhausted_holds_the_claim(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = signed_visit(session, clinic)
    _episode(session, clinic, appt, authorized_visits=0)
    problems = claims.scrub(session, actor=clinic.biller, appointment_id=appt.id)
    assert problems == [
        "Episode 'Left knee': authorisation exhausted (Visit 1 of 0 authorised); ask the payer for more visits "
        "or new dates and update the episode, or bill the patient instead."
    ]
    with pytest.raises(InvalidInput, match="authorisation exhausted"):
        claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id)


def test_authorisation_expired_holds_the_claim_and_a_valid_one_passes(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = signed_visit(session, clinic)
    case = _episode(session, clinic, appt, authorized_visits=12, auth_start=DAY - dt.timedelta(days=40),
                    auth_end=DAY - dt.timedelta(days=1))
    problems = claims.scrub(session, actor=clinic.biller, appointment_id=appt.id)
    assert len(problems) == 1
    assert f"authorisation expired or not yet valid (After the authorisation ended {case.auth_end.isoformat()})" in problems[0]

    case.auth_end = DAY
    session.add(case)
    session.commit()
    assert claims.scrub(session, actor=clinic.biller, appointment_id=appt.id) == []
    assert claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id).total_cents > 0
