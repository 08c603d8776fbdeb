"""Patient statements (and a visit's invoice) as PDF, built from the ledger with fpdf2."""

from __future__ import annotations

import datetime as dt

from fpdf import FPDF
from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import Appointment, BillingProfile, Charge, LedgerEntry, Location, Patient, Payer
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.errors import NotFound
from clinic_app.services.platform.money import dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import ledger


def latin1(text: str) -> str:
    """Text the core PDF fonts can draw (Latin-1; anything else replaced rather than failing)."""
    return (text or "").encode("latin-1", "replace").decode("latin-1")




class _Doc(FPDF):
    def __init__(self, title: str, clinic: str, address: str) -> None:
        super().__init__(format="Letter")
        self.set_title(title)
        self.set_creator("clinic_app")
        self.add_page()
        self.set_font("Helvetica", "B", 16)
        self.cell(0, 10, latin1(clinic), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 10)
        if address:
            self.cell(0, 6, latin1(address), new_x="LMARGIN", new_y="NEXT")
        self.ln(4)
        self.set_font("Helvetica", "B", 13)
        self.cell(0, 8, latin1(title), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 10)

    def line_of(self, *cells: tuple[str, float, str], bold: bool = False) -> None:
        self.set_font("Helvetica", "B" if bold else "", 10)
        for text, width, align in cells:
            self.cell(width, 7, latin1(text), border="B", align=align)
        self.ln()


def _header(session: Session, patient: Patient, location_id: int | None) -> tuple[str, str]:
    profile = session.exec(select(BillingProfile).where(BillingProfile.location_id == location_id)).first() if location_id else None
    if profile is not None:
        return profile.organisation, f"{profile.address}, {profile.city}, {profile.state} {profile.zip_code[:5]}"
    location = session.get(Location, location_id) if location_id else None
    return (location.name if location else "Clinic"), (location.address if location else "")


def render_statement(session: Session, *, patient: Patient, as_of: dt.date, location_id: int | None) -> bytes:
    """The statement PDF itself (no permission check, no audit: its callers do both)."""
    payer_names = {p.id: p.name for p in session.exec(select(Payer))}
    clinic, address = _header(session, patient, location_id)
    doc = _Doc(f"Statement for {patient.first_name} {patient.last_name}", clinic, address)
    doc.cell(0, 6, latin1(f"Account {patient.mrn}    Statement date {as_of.isoformat()}"), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    doc.line_of(("Date", 28, "L"), ("Service", 24, "L"), ("Item", 88, "L"), ("Amount", 30, "R"), bold=True)
    for e in ledger.entries(session, patient_id=patient.id):
        who = payer_names.get(e.payer_id, "") if e.payer_id else "you"
        item = f"{ledger.KIND_LABELS[e.kind]} ({who})"
        if e.method and e.method != "insurance":
            item += f" by {e.method}" + (f" ref {e.reference}" if e.reference else "")
        if e.reason:
            item += f": {e.reason}"
        doc.line_of(
            (e.created_at.date().isoformat(), 28, "L"), (e.service_date.isoformat() if e.service_date else "", 24, "L"),
            (item[:60], 88, "L"), (dollars(e.amount_cents), 30, "R"),
        )
    totals = ledger.balances(session, patient_id=patient.id)
    doc.ln(4)
    doc.line_of(("Insurance still to pay", 140, "L"), (dollars(totals["insurance"]), 30, "R"))
    label = "Your credit" if totals["patient"] < 0 else "Amount you owe"
    doc.line_of((label, 140, "L"), (dollars(abs(totals["patient"])), 30, "R"), bold=True)
    return bytes(doc.output())


def statement_pdf(session: Session, *, actor: Actor, patient_id: int, as_of: dt.date, location_id: int | None = None) -> bytes:
    """A statement of the patient's account: every entry, what insurance still owes, what they owe."""
    for_write(session)
    require(actor.role, "payment.take")
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient no longer exists.")
    data = render_statement(session, patient=patient, as_of=as_of, location_id=location_id or actor.location_id)
    audit.record(session, actor=actor, action="print", entity="statement", entity_id=patient_id, patient_id=patient_id)
    session.flush()
    return data


def invoice_pdf(session: Session, *, actor: Actor, appointment_id: int) -> bytes:
    """A self-pay invoice for one visit: its charge lines and total."""

    for_write(session)
    require(actor.role, "payment.take")
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    patient = session.get(Patient, appointment.patient_id)
    location = session.get(Location, appointment.location_id)
    clinic, address = _header(session, patient, location.id)
    day = local_day(appointment.starts_at, location.timezone)
    doc = _Doc(f"Invoice for {patient.first_name} {patient.last_name}", clinic, address)
    doc.cell(0, 6, latin1(f"Account {patient.mrn}    Visit {day.isoformat()}    Invoice V{appointment.id}"), new_x="LMARGIN", new_y="NEXT")
    doc.ln(3)
    doc.line_of(("Code", 30, "L"), ("Units", 20, "R"), ("Price", 40, "R"), ("Amount", 40, "R"), bold=True)
    charges = session.exec(select(Charge).where(Charge.appointment_id == appointment_id).order_by(Charge.line_no)).all()
    for c in charges:
        doc.line_of((c.code, 30, "L"), (str(c.units), 20, "R"), (dollars(c.unit_price_cents), 40, "R"), (dollars(c.amount_cents), 40, "R"))
    paid = -sum(
        e.amount_cents for e in session.exec(
            select(LedgerEntry).where(LedgerEntry.appointment_id == appointment_id, LedgerEntry.payer_id.is_(None), LedgerEntry.kind == "payment")
        )
    )
    total = sum(c.amount_cents for c in charges)
    doc.line_of(("Total", 90, "L"), (dollars(total), 40, "R"), bold=True)
    doc.line_of(("Paid", 90, "L"), (dollars(paid), 40, "R"))
    doc.line_of(("Due", 90, "L"), (dollars(total - paid), 40, "R"), bold=True)
    audit.record(session, actor=actor, action="print", entity="invoice", entity_id=appointment_id, patient_id=patient.id)
    session.flush()
    return bytes(doc.output())
