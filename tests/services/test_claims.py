"""Payers, coverage, pricing at signing, scrubbing, claims and their 837P files."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import Appointment, Charge, ClaimLine, LedgerEntry, Provider
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotAllowed
from clinic_app.services.revenue import billing, claims, payers
from tests.conftest import DAY
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing, signed_visit

NOW = dt.datetime(2030, 3, 13, 15, 0, tzinfo=dt.UTC)


def _charges(session, appt):
    return {c.code: (c.units, c.unit_price_cents, c.amount_cents) for c in session.exec(select(Charge).where(Charge.appointment_id == appt.id))}


# -- pricing at signing ----------------------------------------------------------------
def test_charges_are_priced_from_the_payer_covering_the_date_of_service(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = signed_visit(session, clinic, extra_codes=[("97161", 1)])
    assert _charges(session, appt) == {"97110": (2, 3850, 7700), "97161": (1, 12000, 12000)}


def test_uncovered_patients_pay_the_self_pay_rate_or_the_standard_fee(session, clinic):
    payer = set_up_billing(session, clinic)
    # Coverage that ended the day before the visit does not count.
    cover(session, clinic, payer, start=DAY - dt.timedelta(days=60), end=DAY - dt.timedelta(days=1))
    appt = signed_visit(session, clinic, extra_codes=[("97161", 1)])
    # 97110 has a self-pay rate (40.00); 97161 has none, so the clinic's fee (150.00).
    assert _charges(session, appt) == {"97110": (2, 4000, 8000), "97161": (1, 15000, 15000)}


def test_coverage_rules_refuse_bad_input_and_overlaps(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    with pytest.raises(InvalidInput, match="already has primary coverage"):
        cover(session, clinic, payer, start=DAY)
    with pytest.raises(InvalidInput, match="ends before it starts"):
        cover(session, clinic, payer, priority=2, start=DAY, end=DAY - dt.timedelta(days=1))
    with pytest.raises(InvalidInput, match="subscriber's name and birth date"):
        cover(session, clinic, payer, patient=1, relationship="child")
    with pytest.raises(InvalidInput, match="payer id"):
        payers.create_payer(session, actor=clinic.biller, name="Bad", payer_id="a b")
    with pytest.raises(InvalidInput, match="already exists"):
        payers.create_payer(session, actor=clinic.biller, name="Acme Health", payer_id="OTHER")
    with pytest.raises(InvalidInput, match="not an amount"):
        payers.set_fee(session, actor=clinic.biller, code="97110", amount="12,50")
    with pytest.raises(NotAllowed):
        payers.set_fee(session, actor=clinic.reception, code="97110", amount="12")


# -- scrubbing ---------------------------------------------------------------------------
def test_scrubber_names_each_problem_a_biller_can_fix(session, clinic):
    appt = signed_visit(session, clinic)  # no billing profile, no payer, no coverage yet
    problems = claims.scrub(session, actor=clinic.biller, appointment_id=appt.id)
    assert any("has no billing profile" in p for p in problems)
    assert any("has no active coverage on 2030-03-12" in p for p in problems)

    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    assert claims.scrub(session, actor=clinic.biller, appointment_id=appt.id) == []

    provider = session.get(Provider, clinic.providers[0].id)
    provider.npi = "1234567890"  # fails the Luhn check
    session.add(provider)
    session.commit()
    assert claims.scrub(session, actor=clinic.biller, appointment_id=appt.id) == [
        "Ann Able, PT's NPI 1234567890 fails its check digit; correct the provider record."
    ]
    provider.npi = None
    session.add(provider)
    session.commit()
    assert claims.scrub(session, actor=clinic.biller, appointment_id=appt.id) == [
        "Ann Able, PT has no rendering NPI; add it to the provider record."
    ]


def test_scrubber_catches_missing_pointers_bad_codes_and_modifiers(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = signed_visit(session, clinic)
    first = session.exec(select(Charge).where(Charge.appointment_id == appt.id)).one()
    # Lines written outside the chart (e.g. imported) can lack a pointer or carry a category.
    session.add(Charge(appointment_id=appt.id, note_id=first.note_id, line_no=2, code="97161", units=1,
                       unit_price_cents=100, amount_cents=100, diagnosis_codes=""))
    session.add(Charge(appointment_id=appt.id, note_id=first.note_id, line_no=3, code="97530", units=1,
                       unit_price_cents=100, amount_cents=100, diagnosis_codes="M54"))
    session.commit()
    problems = claims.scrub(session, actor=clinic.biller, appointment_id=appt.id, modifiers={1: "GP,X"})
    assert "Line 2 (97161) points at no diagnosis; each service line needs at least one." in problems
    assert any(p.startswith("Diagnosis M54: ") and "category, not a billable code" in p for p in problems)
    assert any(p.startswith("Line 1 (97110): 'X' is not a modifier") for p in problems)
    with pytest.raises(claims.ClaimProblems):
        claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id)
    assert session.get(Appointment, appt.id).status == "ready_to_bill"  # nothing changed


# -- claims ------------------------------------------------------------------------------
def test_creating_a_claim_bills_the_visit_and_charges_the_payer(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic, extra_dx=("M54.50",), modifiers={1: "59"})
    lines = session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id)).all()
    assert [(ln.code, ln.modifiers, ln.units, ln.amount_cents, ln.pointers) for ln in lines] == [("97110", "59,GP", 2, 7700, "1,2")]
    assert claims.claim_view(session, claim_id=claim.id)["diagnoses"] == ["M25.561", "M54.50"]
    assert session.get(Appointment, claim.appointment_id).status == "billed"
    ledger = session.exec(select(LedgerEntry)).all()
    assert [(e.kind, e.payer_id, e.amount_cents) for e in ledger] == [("charge", payer.id, 7700)]
    assert [e.to_status for e in claims.history(session, claim_id=claim.id)] == ["draft"]
    assert billing.queue(session, actor=clinic.biller, location_id=clinic.location.id) == []
    with pytest.raises(IllegalTransition, match="only visits ready to bill"):
        claims.create_claim(session, actor=clinic.biller, appointment_id=claim.appointment_id)
    with pytest.raises(NotAllowed):
        claims.create_claim(session, actor=clinic.clinician, appointment_id=claim.appointment_id)


def test_batch_holds_visits_that_fail_the_scrubber(session, clinic):
    payer = set_up_billing(session, clinic)
    covered = signed_visit(session, clinic, "09:00")
    cover(session, clinic, payer, start=DAY, end=DAY)
    made, held = claims.create_claims(session, actor=clinic.biller, location_id=clinic.location.id)
    assert [c.appointment_id for c in made] == [covered.id]
    later = signed_visit(session, clinic, "10:00")
    session.execute(Appointment.__table__.update().where(Appointment.id == later.id).values(starts_at=later.starts_at + dt.timedelta(days=1), ends_at=later.ends_at + dt.timedelta(days=1)))
    session.commit()
    session.expire_all()  # changed behind the ORM's back (the fixture's session keeps objects on commit)
    made, held = claims.create_claims(session, actor=clinic.biller, location_id=clinic.location.id)
    assert made == []
    assert list(held) == [later.id]
    assert "has no active coverage on 2030-03-13" in held[later.id][0]


def _export(session, clinic, tmp_path):
    files = claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW)
    texts = [f.read_text() for f in files]
    for text in texts:
        assert x12_validate.validate(text) == []
    return texts


def test_837p_with_several_diagnoses_and_modifiers_passes_pyx12(session, clinic, tmp_path):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(
        session, clinic, extra_dx=("M54.50", "M62.81", "R26.89", "M25.562"), extra_codes=[("97161", 1)],
        modifiers={1: "59,KX", 2: "GP"},
    )
    [text] = _export(session, clinic, tmp_path)
    assert "HI*ABK:M25561*ABF:M5450*ABF:M6281*ABF:R2689*ABF:M25562~" in text
    assert "SV1*HC:97110:59:KX:GP*77*UN*2***1:2:3:4~" in text  # a line points at four at most
    assert "SV1*HC:97161:GP*120*UN*1***1:2:3:4~" in text
    assert f"CLM*{claim.number}*197***11:B:1*Y*A*Y*Y~" in text
    assert session.get(type(claim), claim.id).status == "submitted"
    assert claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW) == []  # nothing left to send


def test_837p_for_a_dependent_with_secondary_coverage_passes_pyx12(session, clinic, tmp_path):
    payer = set_up_billing(session, clinic)
    second = payers.create_payer(session, actor=clinic.biller, name="Second Mutual", payer_id="SM200")
    cover(session, clinic, payer, relationship="child", subscriber_first_name="Dora", subscriber_last_name="Diaz",
          subscriber_birth_date=dt.date(1955, 5, 5),
          address="9 Elm St", city="Springfield", state="IL", zip_code="62701")
    cover(session, clinic, second, priority=2)
    claim = claimed_visit(session, clinic)
    assert claim.secondary_coverage_id is not None
    [text] = _export(session, clinic, tmp_path)
    assert "HL*3*2*23*0~\nPAT*19~\nNM1*QC*1*DIAZ*CARA~\nN3*9 ELM ST~" in text
    assert "SBR*S*18*G77******CI~\nOI***Y***Y~" in text
    assert "NM1*PR*2*SECOND MUTUAL*****PI*SM200~" in text


def test_several_claims_share_one_file_per_payer(session, clinic, tmp_path):
    payer = set_up_billing(session, clinic, default_modifiers="")
    other = payers.create_payer(session, actor=clinic.biller, name="Other Care", payer_id="OC1")
    cover(session, clinic, payer)
    claimed_visit(session, clinic, "09:00")
    claimed_visit(session, clinic, "10:00")
    payers.add_coverage(session, actor=clinic.reception, patient_id=clinic.patients[0].id, payer_id=other.id,
                        member_id="Z9", effective_from=DAY, priority=2)
    claimed_visit(session, clinic, "11:00")
    texts = _export(session, clinic, tmp_path)
    assert len(texts) == 1 and texts[0].count("CLM*") == 3  # one primary payer for all three


def test_claim_lifecycle_keeps_history_and_corrected_claims_replace(session, clinic, tmp_path):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    with pytest.raises(IllegalTransition, match="Draft; it cannot become Paid"):
        claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="paid")
    _export(session, clinic, tmp_path)
    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="rejected", note="999: bad member id")
    claims.resubmit(session, actor=clinic.biller, claim_id=claim.id, modifiers={1: "GP,KX"}, note="added KX")
    [text] = _export(session, clinic, tmp_path / "2")
    assert "11:B:1" in text and "HC:97110:GP:KX" in text  # rejected: never reached the payer
    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="denied", note="CO-50")
    claims.resubmit(session, actor=clinic.biller, claim_id=claim.id, note="records attached")
    [text] = _export(session, clinic, tmp_path / "3")
    assert "11:B:7" in text and f"REF*F8*{claim.number}~" in text
    assert [(e.from_status, e.to_status) for e in claims.history(session, claim_id=claim.id)] == [
        (None, "draft"), ("draft", "submitted"), ("submitted", "rejected"), ("rejected", "draft"), ("draft", "submitted"),
        ("submitted", "denied"), ("denied", "draft"), ("draft", "submitted"),
    ]
