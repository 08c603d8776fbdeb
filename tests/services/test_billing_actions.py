"""Billing a visit to the right party: an insured visit goes to the patient only with a
reason, and a visit billed to the patient by mistake is reopened and then claimed."""

from __future__ import annotations

import pytest
from sqlmodel import select

from clinic_app.models import AppointmentEvent, AuditLog, LedgerEntry
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotAllowed
from clinic_app.services.revenue import billing, claims, ledger
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing, signed_visit


def test_the_queue_names_the_coverage_of_an_insured_visit(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = signed_visit(session, clinic)
    row = billing.queue_row(session, appointment_id=appt.id)
    assert row["coverage"] == "Acme Health, member M010001"


def test_an_insured_visit_is_billed_to_the_patient_only_with_a_reason(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    appt = signed_visit(session, clinic)
    pid = clinic.patients[0].id
    for reason in ("", "   "):
        with pytest.raises(InvalidInput, match="Acme Health, member M010001 covers this visit"):
            billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id, reason=reason)
    # Nothing changed: still in the queue, nothing on the ledger.
    assert billing.queue_row(session, appointment_id=appt.id)["status"] == "ready_to_bill"
    assert ledger.entries(session, patient_id=pid) == []
    with pytest.raises(InvalidInput, match="too long"):
        billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id, reason="x" * 121)

    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id, reason="patient asked to pay herself")
    (entry,) = ledger.entries(session, patient_id=pid)
    assert (entry.payer_id, entry.reason) == (None, "billed to patient: patient asked to pay herself")
    event = session.exec(select(AppointmentEvent).where(AppointmentEvent.appointment_id == appt.id,
                                                        AppointmentEvent.to_status == "billed")).one()
    assert event.note == "patient asked to pay herself"
    assert session.exec(select(AuditLog).where(AuditLog.action == "bill_patient", AuditLog.entity_id == appt.id)).one()


def test_an_uninsured_visit_is_billed_to_the_patient_without_a_reason(session, clinic):
    set_up_billing(session, clinic)
    appt = signed_visit(session, clinic)
    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id)
    assert ledger.balances(session, patient_id=clinic.patients[0].id)["patient"] == 8000  # the self-pay rate


def test_a_visit_billed_to_the_patient_by_mistake_is_reopened_and_claimed(session, clinic):
    payer = set_up_billing(session, clinic)
    appt = signed_visit(session, clinic)
    pid = clinic.patients[0].id
    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id)
    cover(session, clinic, payer)  # the card turns up after the visit was billed to her
    assert [r["id"] for r in billing.billed_to_patients(session, actor=clinic.biller, location_id=clinic.location.id)] == [appt.id]

    with pytest.raises(InvalidInput, match="Say why"):
        billing.reopen_for_billing(session, actor=clinic.biller, appointment_id=appt.id, reason=" ")
    with pytest.raises(NotAllowed):
        billing.reopen_for_billing(session, actor=clinic.reception, appointment_id=appt.id, reason="insurance found")
    assert billing.queue_row(session, appointment_id=appt.id)["status"] == "billed"

    billing.reopen_for_billing(session, actor=clinic.biller, appointment_id=appt.id, reason="insurance found")
    assert billing.queue_row(session, appointment_id=appt.id)["status"] == "ready_to_bill"
    entries = ledger.entries(session, patient_id=pid)
    assert [(e.kind, e.amount_cents, e.reverses_id) for e in entries] == [("charge", 8000, None), ("charge", -8000, entries[0].id)]
    assert ledger.balances(session, patient_id=pid)["patient"] == 0
    assert session.exec(select(AuditLog).where(AuditLog.action == "reopen_for_billing", AuditLog.entity_id == appt.id)).one()
    with pytest.raises(IllegalTransition, match="only a billed visit"):
        billing.reopen_for_billing(session, actor=clinic.biller, appointment_id=appt.id, reason="again")

    claim = claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id)
    assert claim.payer_id == payer.id
    assert ledger.balances(session, patient_id=pid) == {"patient": 0, "insurance": claim.total_cents, "total": claim.total_cents}
    with pytest.raises(IllegalTransition, match=f"on claim {claim.number}"):
        billing.reopen_for_billing(session, actor=clinic.biller, appointment_id=appt.id, reason="again")
    assert billing.billed_to_patients(session, actor=clinic.biller, location_id=clinic.location.id) == []


def test_a_claimed_visit_is_not_reopened(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    with pytest.raises(IllegalTransition, match="correct and resend that claim"):
        billing.reopen_for_billing(session, actor=clinic.biller, appointment_id=claim.appointment_id, reason="oops")
    assert len(session.exec(select(LedgerEntry)).all()) == 1
