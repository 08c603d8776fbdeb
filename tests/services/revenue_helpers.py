"""Helpers for revenue-cycle tests: a payer, coverage, a billing profile, a claimed visit."""

from __future__ import annotations

import datetime as dt

from clinic_app.services.charting import charting
from clinic_app.services.revenue import claims, payers
from tests.conftest import DAY, at
from tests.services.helpers import charted_note


def set_up_billing(session, clinic, *, default_modifiers="GP"):
    """A payer with a fee schedule and the location's billing profile; returns the payer."""
    payers.set_billing_profile(
        session, actor=clinic.admin, location_id=clinic.location.id, organisation="Test Clinic PT LLC",
        npi="1245319599", tax_id="12-3456789", address="1 Main St", city="Springfield", state="IL", zip_code="627011234",
    )
    payer = payers.create_payer(session, actor=clinic.biller, name="Acme Health", payer_id="ACME1", default_modifiers=default_modifiers)
    payers.set_fee(session, actor=clinic.biller, payer_id=payer.id, code="97110", amount="38.50")
    payers.set_fee(session, actor=clinic.biller, payer_id=payer.id, code="97161", amount="120")
    payers.set_fee(session, actor=clinic.biller, code="97110", amount="40")  # self-pay rate
    session.commit()  # the helper is the caller: services leave the commit to it
    return payer


def cover(session, clinic, payer, *, patient=0, priority=1, start=DAY - dt.timedelta(days=30), end=None, **kw):
    coverage = payers.add_coverage(
        session, actor=clinic.reception, patient_id=clinic.patients[patient].id, payer_id=payer.id,
        member_id=f"M{patient}{priority}0001", group_number="G77", effective_from=start, effective_to=end,
        priority=priority, **kw,
    )
    session.commit()
    return coverage


def signed_visit(session, clinic, hhmm="09:00", *, extra_dx=(), extra_codes=()):
    """A visit whose note is signed (ready to bill)."""
    appt, note = charted_note(session, clinic, hhmm)
    for code in extra_dx:
        charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code=code)
    for code, units in extra_codes:
        charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code=code, units=units)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=at(hhmm) + dt.timedelta(minutes=40))
    session.commit()
    return appt


def claimed_visit(session, clinic, hhmm="09:00", modifiers=None, **kw):
    appt = signed_visit(session, clinic, hhmm, **kw)
    claim = claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id, modifiers=modifiers)
    session.commit()
    return claim
