"""A claim printed in CMS-1500 boxes: the figures on the PDF are the claim's."""

from __future__ import annotations

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Patient, Provider
from clinic_app.services.platform.errors import NotAllowed, NotFound
from clinic_app.services.revenue import claim_form, claims
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.test_statements import pdf_text


def test_claim_form_carries_the_claims_boxes_and_figures(session, clinic):
    payer = set_up_billing(session, clinic)
    coverage = cover(session, clinic, payer)
    claim = claimed_visit(session, clinic, extra_dx=["M54.2"], extra_codes=[("97161", 1)], modifiers={1: "KX"})
    view = claims.claim_view(session, claim_id=claim.id)
    patient = session.get(Patient, claim.patient_id)
    provider = session.get(Provider, clinic.providers[0].id)

    text = pdf_text(claim_form.claim_form_pdf(session, actor=clinic.biller, claim_id=claim.id))

    assert f"Claim {claim.number}" in text
    assert "Acme Health  (payer id ACME1)" in text
    assert f"1a Insured's ID number\n{coverage.member_id}\n" in text
    assert f"{patient.last_name}, {patient.first_name}" in text
    assert "G77" in text  # 11 group
    # 21: diagnoses A-L in claim order.
    assert view["diagnoses"] == ["M25.561", "M54.2"]
    assert "M25.561" in text and "M54.2" in text
    # 24: each line with date, POS 11, code, modifiers, pointers as letters, charges, units, rendering NPI.
    lines = {line.code: line for line in view["lines"]}
    assert lines["97110"].amount_cents == 7700 and lines["97161"].amount_cents == 12000
    assert lines["97110"].pointers == "1,2"  # printed as letters A and B
    date = claim.service_date.strftime("%m/%d/%Y")
    assert f"\n{date}\n11\n97110\nKX GP\nAB\n$77.00\n2\n{provider.npi}\n" in text
    assert f"\n{date}\n11\n97161\nGP\nAB\n$120.00\n1\n{provider.npi}\n" in text
    # 25, 28, 33, 33a: EIN, total, billing provider and its NPI.
    assert "25 Federal tax I.D. number (EIN)\n123456789\n" in text
    assert "28 Total charge\n$197.00\n" in text and claim.total_cents == 19700
    assert "Test Clinic PT LLC, 1 Main St, Springfield, IL 62701" in text
    assert text.endswith("33a Billing provider NPI\n1245319599")


def test_printing_a_claim_is_audited_and_limited_to_billers(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    with pytest.raises(NotAllowed):
        claim_form.claim_form_pdf(session, actor=clinic.reception, claim_id=claim.id)
    with pytest.raises(NotFound):
        claim_form.claim_form_pdf(session, actor=clinic.biller, claim_id=claim.id + 999)
    claim_form.claim_form_pdf(session, actor=clinic.biller, claim_id=claim.id)
    printed = session.exec(select(AuditLog).where(AuditLog.action == "print", AuditLog.entity == "claim")).all()
    assert [(a.entity_id, a.patient_id, a.user_id) for a in printed] == [(claim.id, claim.patient_id, clinic.biller.user_id)]


def test_recent_claims_list_each_claim_for_printing_newest_first(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    first = claimed_visit(session, clinic, "09:00")
    second = claimed_visit(session, clinic, "11:00")
    rows = claims.recent_claims(session, actor=clinic.biller)
    assert [r["claim_id"] for r in rows] == [second.id, first.id]
    assert rows[0]["number"] == second.number and rows[0]["status"] == "Draft" and rows[0]["payer"] == "Acme Health"
    assert [r["claim_id"] for r in claims.recent_claims(session, actor=clinic.biller, limit=1)] == [second.id]
    with pytest.raises(NotAllowed):
        claims.recent_claims(session, actor=clinic.reception)
