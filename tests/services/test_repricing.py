"""Insurance recorded after a visit was signed: its unbilled charges are priced again from the
payer's schedule (history kept, audited), and the scrubber refuses a claim whose charges were
priced for another payer. On SQLite and PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.models import AuditLog, Charge, ChargePrice, ClaimLine, Coverage
from clinic_app.services.revenue import billing, claims, payers, repricing
from tests.conftest import DAY
from tests.services.revenue_helpers import cover, set_up_billing, signed_visit


def _charges(session, appointment_id):
    session.expire_all()
    return list(session.exec(select(Charge).where(Charge.appointment_id == appointment_id).order_by(Charge.line_no)))


def _history(session, charge_id):
    return list(session.exec(select(ChargePrice).where(ChargePrice.charge_id == charge_id).order_by(ChargePrice.id)))


def test_a_visit_signed_self_pay_is_claimed_at_the_payer_price_once_insurance_is_added(session, clinic):
    payer = set_up_billing(session, clinic)  # Acme pays $38.50 a unit of 97110; self-pay $40.00
    visit = signed_visit(session, clinic)  # 97110 x 2, while the patient had no insurance
    assert [c.amount_cents for c in _charges(session, visit.id)] == [8000]

    cover(session, clinic, payer)  # the desk records the insurance the patient forgot

    charge = _charges(session, visit.id)[0]
    assert (charge.unit_price_cents, charge.amount_cents) == (3850, 7700)
    signing, reprice = _history(session, charge.id)
    assert (signing.payer_id, signing.amount_cents, signing.previous_amount_cents) == (None, 8000, None)
    assert (reprice.payer_id, reprice.amount_cents, reprice.previous_amount_cents) == (payer.id, 7700, 8000)
    assert reprice.previous_unit_price_cents == 4000 and reprice.user_id == clinic.reception.user_id
    assert "coverage added: Acme Health" in reprice.reason
    audit = session.exec(select(AuditLog).where(AuditLog.entity == "charge", AuditLog.entity_id == charge.id)).one()
    assert audit.patient_id == clinic.patients[0].id and "4000->3850" in audit.detail

    claim = claims.create_claim(session, actor=clinic.biller, appointment_id=visit.id, modifiers={})
    assert claim.total_cents == 7700
    assert [line.amount_cents for line in session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id))] == [7700]


def test_only_unbilled_visits_in_the_coverage_dates_are_repriced(session, clinic):
    payer = set_up_billing(session, clinic)
    billed = signed_visit(session, clinic, "09:00")
    billing.mark_billed(session, actor=clinic.biller, appointment_id=billed.id)  # billed to the patient at $80
    unbilled = signed_visit(session, clinic, "11:00")
    cover(session, clinic, payer, start=DAY + dt.timedelta(days=1))  # starts the day after the visits
    assert [c.amount_cents for c in _charges(session, unbilled.id)] == [8000]
    cover(session, clinic, payer, start=DAY - dt.timedelta(days=5), end=DAY, priority=2)  # a secondary prices nothing
    assert [c.amount_cents for c in _charges(session, unbilled.id)] == [8000]
    primary = session.exec(select(Coverage).where(Coverage.priority == 1)).one()
    payers.update_coverage(session, actor=clinic.reception, coverage_id=primary.id, effective_from=DAY - dt.timedelta(days=30))
    assert [c.amount_cents for c in _charges(session, unbilled.id)] == [7700]
    assert [c.amount_cents for c in _charges(session, billed.id)] == [8000]  # its bill carries that price


def test_ending_the_coverage_before_the_visit_prices_it_as_self_pay_again(session, clinic):
    payer = set_up_billing(session, clinic)
    coverage = cover(session, clinic, payer)
    visit = signed_visit(session, clinic)
    assert [c.amount_cents for c in _charges(session, visit.id)] == [7700]
    payers.end_coverage(session, actor=clinic.reception, coverage_id=coverage.id, effective_to=DAY - dt.timedelta(days=1))
    charge = _charges(session, visit.id)[0]
    assert charge.amount_cents == 8000
    assert [(h.payer_id, h.amount_cents) for h in _history(session, charge.id)] == [(payer.id, 7700), (None, 8000)]


def test_the_scrubber_refuses_a_claim_priced_for_another_payer(engine, session, clinic):
    payer = set_up_billing(session, clinic)
    visit = signed_visit(session, clinic)
    # Coverage that arrives without re-pricing (an import, a merge): the charges stay self-pay.
    session.add(Coverage(patient_id=clinic.patients[0].id, payer_id=payer.id, member_id="IMP1",
                         effective_from=DAY - dt.timedelta(days=10)))
    session.commit()
    with pytest.raises(claims.ClaimProblems) as refused:
        claims.create_claim(session, actor=clinic.biller, appointment_id=visit.id, modifiers={})
    assert "Line 1 (97110) is priced from the self-pay rates ($40.00 a unit), not Acme Health's fee schedule" in str(refused.value)
    assert [c.amount_cents for c in _charges(session, visit.id)] == [8000]  # nothing changed

    done = repricing.reprice_unbilled(session, actor=clinic.reception, patient_id=clinic.patients[0].id)
    assert repricing.words(done) == "Re-priced 1 unbilled visit from Acme Health's fee schedule: $80.00 -> $77.00."
    assert claims.create_claim(session, actor=clinic.biller, appointment_id=visit.id, modifiers={}).total_cents == 7700


def test_the_database_lets_a_price_change_only_as_its_history_says(engine, session, clinic):
    payer = set_up_billing(session, clinic)
    visit = signed_visit(session, clinic)
    charge = _charges(session, visit.id)[0]
    refused = [
        "UPDATE charge SET amount_cents = 7700, unit_price_cents = 3850 WHERE id = :i",  # no history row
        "DELETE FROM charge_price",
        "UPDATE charge_price SET amount_cents = 1",
    ]
    for statement in refused:
        with Session(engine) as raw, pytest.raises(IntegrityError, match=r"charge_final|charge_price_append_only"):
            raw.execute(text(statement), {"i": charge.id})
            raw.commit()
    session.commit()  # the test is the caller: its work is saved before another connection writes
    with Session(engine) as raw:  # a history row for 7700, then a price that is not it, or a changed code
        raw.add(ChargePrice(charge_id=charge.id, payer_id=payer.id, unit_price_cents=3850, amount_cents=7700,
                            previous_unit_price_cents=4000, previous_amount_cents=8000))
        raw.commit()
    for statement in (
        "UPDATE charge SET amount_cents = 7000, unit_price_cents = 3500 WHERE id = :i",
        "UPDATE charge SET amount_cents = 7700, unit_price_cents = 3850, code = '97161' WHERE id = :i",
        "UPDATE charge SET amount_cents = 7700, unit_price_cents = 3850, units = 2, line_no = 5 WHERE id = :i",
    ):
        session.commit()  # the test is the caller: its work is saved before another connection writes
        with Session(engine) as raw, pytest.raises(IntegrityError, match="charge_final"):
            raw.execute(text(statement), {"i": charge.id})
            raw.commit()
    billing.mark_billed(session, actor=clinic.biller, appointment_id=visit.id)
    session.commit()  # the test is the caller: its work is saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError, match="charge_final"):  # billed: final
        raw.execute(text("UPDATE charge SET amount_cents = 7700, unit_price_cents = 3850 WHERE id = :i"), {"i": charge.id})
        raw.commit()
    assert _charges(session, visit.id)[0].amount_cents == 8000
