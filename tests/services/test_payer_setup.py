"""Billing set-up as the screens use it: editing payers, fee schedules, ending coverage."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Charge
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.revenue import payers, pricing
from tests.conftest import DAY
from tests.services.revenue_helpers import cover, set_up_billing, signed_visit


def test_a_payer_is_edited_with_validation_and_can_be_retired(session, clinic):
    acme = set_up_billing(session, clinic)
    other = payers.create_payer(session, actor=clinic.admin, name="Beta Mutual", payer_id="BETA2")
    with pytest.raises(InvalidInput, match="Another payer is already named 'Beta Mutual'"):
        payers.update_payer(session, actor=clinic.biller, payer_db_id=acme.id, name="Beta Mutual", payer_id="ACME1")
    with pytest.raises(InvalidInput, match="payer id is the letters and digits"):
        payers.update_payer(session, actor=clinic.biller, payer_db_id=acme.id, name="Acme", payer_id="AC ME")
    with pytest.raises(InvalidInput, match="not a modifier"):
        payers.update_payer(session, actor=clinic.biller, payer_db_id=acme.id, name="Acme", payer_id="ACME1", default_modifiers="GPX")
    with pytest.raises(NotAllowed):
        payers.update_payer(session, actor=clinic.reception, payer_db_id=acme.id, name="Acme", payer_id="ACME1")
    assert (acme.name, acme.payer_id, acme.default_modifiers) == ("Acme Health", "ACME1", "GP")  # nothing changed

    payers.update_payer(session, actor=clinic.biller, payer_db_id=acme.id, name="Acme Health Plans", payer_id="acme9",
                        default_modifiers="gp kx", active=False)
    names = [(p.name, p.payer_id, p.default_modifiers, p.active) for p in payers.list_payers(session, actor=clinic.admin)]
    assert names == [("Beta Mutual", "BETA2", "", True), ("Acme Health Plans", "ACME9", "GP,KX", False)]
    assert other.id != acme.id


def test_fee_schedules_list_per_payer_and_removing_a_fee_falls_back_to_the_standard_fee(session, clinic):
    acme = set_up_billing(session, clinic)
    assert [(f.code, f.amount_cents) for f in payers.fees(session, actor=clinic.biller, payer_id=acme.id)] == [
        ("97110", 3850), ("97161", 12000)]
    assert [(f.code, f.amount_cents) for f in payers.fees(session, actor=clinic.biller)] == [("97110", 4000)]  # self-pay
    with pytest.raises(NotAllowed):
        payers.fees(session, actor=clinic.clinician, payer_id=acme.id)
    row = payers.fees(session, actor=clinic.biller, payer_id=acme.id)[1]
    payers.remove_fee(session, actor=clinic.biller, fee_id=row.id)
    with pytest.raises(NotFound, match="already gone"):
        payers.remove_fee(session, actor=clinic.biller, fee_id=row.id)
    cover(session, clinic, acme)
    appt = signed_visit(session, clinic, extra_codes=[("97161", 1)])
    prices = {c.code: c.unit_price_cents for c in session.exec(select(Charge).where(Charge.appointment_id == appt.id))}
    assert prices == {"97110": 3850, "97161": 15000}  # 97161 now at the clinic's standard fee


def test_coverage_is_found_by_mrn_audited_and_ended_on_a_date(session, clinic):
    acme = set_up_billing(session, clinic)
    patient = clinic.patients[0]
    with pytest.raises(NotFound, match="No patient has the MRN 'NOPE'"):
        payers.patient_by_mrn(session, actor=clinic.reception, mrn="nope")
    assert payers.patient_by_mrn(session, actor=clinic.reception, mrn=patient.mrn.lower()).id == patient.id
    assert session.exec(select(AuditLog).where(AuditLog.entity == "coverage", AuditLog.action == "view")).first() is not None
    with pytest.raises(NotAllowed):
        payers.patient_by_mrn(session, actor=clinic.admin, mrn=patient.mrn)

    coverage = cover(session, clinic, acme, start=DAY - dt.timedelta(days=30))
    with pytest.raises(InvalidInput, match="cannot end before that"):
        payers.end_coverage(session, actor=clinic.biller, coverage_id=coverage.id, effective_to=DAY - dt.timedelta(days=31))
    payers.end_coverage(session, actor=clinic.biller, coverage_id=coverage.id, effective_to=DAY - dt.timedelta(days=1))
    assert pricing.coverage_on(session, patient_id=patient.id, day=DAY) is None
    assert pricing.coverage_on(session, patient_id=patient.id, day=DAY - dt.timedelta(days=1)).id == coverage.id
    with pytest.raises(InvalidInput, match="already ends on"):
        payers.end_coverage(session, actor=clinic.biller, coverage_id=coverage.id, effective_to=DAY)
    # A new primary coverage may start once the old one has ended.
    cover(session, clinic, acme, start=DAY)
    assert [c.effective_from for c in payers.coverages(session, actor=clinic.biller, patient_id=patient.id)] == [
        DAY, DAY - dt.timedelta(days=30)]
