"""Statements and invoices as PDF, from the ledger."""

from __future__ import annotations

import re
import zlib

import pytest

from clinic_app.services.platform.errors import NotAllowed
from clinic_app.services.revenue import billing, ledger, statements
from tests.conftest import DAY
from tests.services.revenue_helpers import signed_visit


def pdf_text(data: bytes) -> str:
    """The text drawn on the pages (fpdf2 deflates its content streams)."""
    assert data.startswith(b"%PDF-")
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        shown.extend(m.decode("latin-1") for m in re.findall(rb"\((.*?)(?<!\\)\) ?Tj", content))
    return "\n".join(shown).replace("\\(", "(").replace("\\)", ")")


def test_statement_lists_the_ledger_and_what_the_patient_owes(session, clinic):
    appt = signed_visit(session, clinic)
    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id)
    pid = clinic.patients[0].id
    ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="25", method="card", reference="TERM 7781")
    text = pdf_text(statements.statement_pdf(session, actor=clinic.reception, patient_id=pid, as_of=DAY))
    assert "Statement for Cara Diaz" in text
    assert "Charge (you): billed to patient" in text and "$90.00" in text
    assert "Payment (you) by card ref TERM 7781" in text and "-$25.00" in text
    assert "Amount you owe" in text and "$65.00" in text
    with pytest.raises(NotAllowed):
        statements.statement_pdf(session, actor=clinic.clinician, patient_id=pid, as_of=DAY)


def test_invoice_shows_the_visit_charges_paid_and_due(session, clinic):
    appt = signed_visit(session, clinic, extra_codes=[("97161", 1)])
    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id)
    ledger.take_payment(session, actor=clinic.reception, patient_id=clinic.patients[0].id, amount="40", method="cash", appointment_id=appt.id)
    text = pdf_text(statements.invoice_pdf(session, actor=clinic.biller, appointment_id=appt.id))
    assert "Invoice for Cara Diaz" in text and "Visit 2030-03-12" in text
    assert "97110" in text and "97161" in text
    assert "$240.00" in text and "$40.00" in text and "$200.00" in text
