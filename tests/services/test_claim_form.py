"""A claim printed in CMS-1500 boxes: the figures on the PDF are the claim's."""

from __future__ import annotations

import datetime as dt
import io

import pypdf
import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Location, Patient, Provider
from clinic_app.services.platform.errors import NotAllowed, NotFound
from clinic_app.services.revenue import claim_form, claims, payers
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
    assert "33 Billing provider info & ph #\nTest Clinic PT LLC\n1 Main St\nSpringfield, IL 62701\n" in text
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


def _read(pdf: bytes) -> str:
    """The PDF's text as a reader (pypdf) extracts it."""
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_claim_form_names_the_patient_the_facility_and_the_providers(session, clinic):
    payer = set_up_billing(session, clinic)
    payers.update_payer(session, actor=clinic.biller, payer_db_id=payer.id, name=payer.name, payer_id=payer.payer_id,
                        default_modifiers="GP", claim_filing_indicator="MB")
    location = session.get(Location, clinic.location.id)
    location.address = "40 Harbor Rd, Springfield, IL 62704"
    patient = session.get(Patient, clinic.patients[0].id)
    patient.sex, patient.address_line, patient.city, patient.region, patient.postal_code = (
        "female", "12 Elm St, Apt 3", "Hartford", "CT", "061011234")
    patient.phone = "(860) 555-0142"
    session.add_all([location, patient])
    session.commit()
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    made_on = claim.created_at.astimezone(dt.timezone(dt.timedelta(0))).date()

    text = _read(claim_form.claim_form_pdf(session, actor=clinic.biller, claim_id=claim.id))

    assert "1 Insurance type\nMedicare" in text  # from the payer's filing indicator MB
    assert "2 Patient's name (last, first)\nDiaz, Cara" in text
    assert "3 Patient's birth date, sex\n01/01/1980   Sex: F" in text
    assert "5 Patient's address\n12 Elm St, Apt 3\nHartford, CT 06101" in text
    assert "7 Insured's address\nSame as the patient" in text
    assert "5 Patient's telephone\n(860) 555-0142" in text
    assert "Claim filing indicator (837P SBR09)\nMB" in text
    date = claim.service_date.strftime("%m/%d/%Y")
    assert f"\n{date} 11 97110 GP A $77.00 2 1234567893\n" in text  # 24A date, 24B place of service (office), 24D code
    assert "31 Signature of physician or supplier, date\nAnn Able, PT\nSigned on file " in text
    signed = text.split("Signed on file ", 1)[1][:10]
    assert abs((dt.datetime.strptime(signed, "%m/%d/%Y").date() - made_on).days) <= 1  # in the location's zone
    assert "32 Service facility location\nTest Clinic\n40 Harbor Rd\nSpringfield, IL 62704" in text
    assert "33 Billing provider info & ph #\nTest Clinic PT LLC\n1 Main St\nSpringfield, IL 62701" in text
    assert "32a Service facility NPI\n1245319599" in text


def test_box_3_leaves_the_sex_blank_when_it_is_not_female_or_male(session, clinic):
    payer = set_up_billing(session, clinic)
    patient = session.get(Patient, clinic.patients[0].id)
    patient.sex = "unknown"
    session.add(patient)
    session.commit()
    cover(session, clinic, payer, relationship="spouse", subscriber_first_name="Dan", subscriber_last_name="Diaz",
          subscriber_birth_date=dt.date(1978, 2, 3), address="9 Elm St", city="Springfield", state="IL", zip_code="62701")
    claim = claimed_visit(session, clinic)
    text = _read(claim_form.claim_form_pdf(session, actor=clinic.biller, claim_id=claim.id))
    assert "3 Patient's birth date, sex\n01/01/1980\n" in text and "Sex:" not in text
    assert "1 Insurance type\nGroup health plan" in text  # a commercial payer (CI)
    assert "7 Insured's address\n9 Elm St\nSpringfield, IL 62701" in text
    assert "4 Insured's name (last, first)\nDiaz, Dan" in text
