"""The patient profile the desk opens from a card or a search: one read of everything the
desk may see about a patient, in words (names, never ids), each part loadable on its own.

Minimum necessary: demographics, insurance, visits (when, with whom, status; never note
contents), balances and payments, the desk's documents (statement, receipts, consents),
waitlist entries. Opening a profile is an audited view of the patient's record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    AppointmentType,
    Coverage,
    LedgerEntry,
    Location,
    Patient,
    Payer,
    Provider,
    Room,
)
from clinic_app.services.frontdesk import patients, scheduling, waitlist
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local
from clinic_app.services.platform.errors import NotFound
from clinic_app.services.platform.money import dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import eligibility, ledger

PRIORITY_WORDS = {1: "Primary", 2: "Secondary"}
RELATIONSHIP_WORDS = {"self": "the patient", "spouse": "spouse", "child": "parent (the patient is their child)",
                      "other": "other"}
PAST_VISITS = 20




@dataclass
class CoverageLine:
    id: int
    payer: str
    priority: str
    member_id: str
    group: str
    subscriber: str
    dates: str
    copay: str
    eligibility: str
    in_effect: bool  # covers today
    label: str  # "Primary: Acme Health, member M1" (names the row's buttons)


@dataclass
class VisitLine:
    id: int
    when: str
    provider: str
    kind: str
    where: str
    status: str


@dataclass
class MoneyLine:
    when: str
    what: str
    amount: str


@dataclass
class Account:
    patient_owes: str
    insurance_owes: str
    lines: list[MoneyLine]
    billed_visits: list[VisitLine]  # receipts (invoices) the desk can print


def patient_of(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient is not on file (the link may be old); search for them again.")
    return patient


def display_zone(session: Session, actor: Actor) -> str:
    """The time zone dates are shown in: the actor's location's, else the first location's."""
    location = session.get(Location, actor.location_id) if actor.location_id else None
    location = location or session.exec(select(Location).where(Location.active).order_by(Location.id)).first()
    return location.timezone if location else "UTC"


def open_profile(session: Session, *, actor: Actor, patient_id: int) -> Patient:
    """The patient whose profile is opened (an audited view of their record)."""
    for_write(session)
    require(actor.role, "patient.search")
    patient = patient_of(session, patient_id)
    audit.record(session, actor=actor, action="view", entity="patient_profile", entity_id=patient.id, patient_id=patient.id)
    session.flush()
    return patient


def demographics(patient: Patient) -> list[tuple[str, str]]:
    """The patient's details as label/value pairs, in the order the desk reads them."""
    address = ", ".join(x for x in (patient.address_line, patient.city, f"{patient.region} {patient.postal_code}".strip()) if x)
    guarantor = "the patient" if patient.guarantor_relationship == "self" else (
        f"{patient.guarantor_name} ({patient.guarantor_relationship})"
        + (f", {patient.guarantor_phone}" if patient.guarantor_phone else ""))
    emergency = patient.emergency_name and (
        f"{patient.emergency_name}" + (f" ({patient.emergency_relationship})" if patient.emergency_relationship else "")
        + f", {patient.emergency_phone}")
    return [
        ("MRN", patient.mrn),
        ("Date of birth", patient.birth_date.isoformat()),
        ("Sex", patient.sex.title() if patient.sex in ("female", "male", "other") else "unknown (not recorded)"),
        ("Phone", patient.phone or "none on file"),
        ("Email", patient.email or "none on file"),
        ("Address", address or "none on file"),
        ("Preferred contact", patients.CHANNEL_LABELS.get(patient.preferred_channel, patient.preferred_channel)
         + (" (opted out of reminders)" if patient.reminders_opt_out else "")),
        ("Emergency contact", emergency or "none on file"),
        ("Responsible for the bill", guarantor),
    ]


def coverages(session: Session, *, actor: Actor, patient_id: int, today: dt.date, tz: str) -> list[CoverageLine]:
    """Every coverage of the patient (current and ended), primary first, newest first."""
    require(actor.role, "coverage.edit")
    rows = session.exec(
        select(Coverage, Payer).join(Payer, Payer.id == Coverage.payer_id)
        .where(Coverage.patient_id == patient_id)
        .order_by(Coverage.active.desc(), Coverage.priority, Coverage.effective_from.desc())
    ).all()
    lines = []
    for c, p in rows:
        subscriber = "the patient" if c.relationship == "self" else (
            f"{c.subscriber_first_name} {c.subscriber_last_name} ({RELATIONSHIP_WORDS[c.relationship]})")
        in_effect = c.active and c.effective_from <= today and (c.effective_to is None or today <= c.effective_to)
        ends = "open end" if c.effective_to is None else c.effective_to.isoformat()
        dates = f"{c.effective_from.isoformat()} to {ends}" + ("" if c.active else " (removed)")
        priority = PRIORITY_WORDS[c.priority]
        lines.append(CoverageLine(
            id=c.id, payer=p.name, priority=priority, member_id=c.member_id, group=c.group_number or "none",
            subscriber=subscriber, dates=dates, copay="none on file" if c.copay_cents is None else dollars(c.copay_cents),
            eligibility=eligibility_line(c, tz), in_effect=in_effect,
            label=f"{priority}: {p.name}, member {c.member_id}",
        ))
    return lines


def eligibility_line(coverage: Coverage, tz: str) -> str:
    """The last eligibility answer in words, e.g. "Eligibility: Active (checked ...): copay $25.00"."""
    words = eligibility.eligibility_words(coverage, tz)
    return words if words.startswith("Eligibility") else f"Eligibility: {words}"


def visits(session: Session, *, actor: Actor, patient_id: int, now: dt.datetime) -> tuple[list[VisitLine], list[VisitLine]]:
    """(upcoming visits soonest first, the last past visits newest first)."""
    require(actor.role, "patient.search")

    def query(upcoming: bool):
        q = (
            select(Appointment, Provider, AppointmentType, Location, Room)
            .join(Provider, Provider.id == Appointment.provider_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Location, Location.id == Appointment.location_id)
            .outerjoin(Room, Room.id == Appointment.room_id)
            .where(Appointment.patient_id == patient_id)
        )
        if upcoming:
            return q.where(Appointment.starts_at >= now).order_by(Appointment.starts_at)
        return q.where(Appointment.starts_at < now).order_by(Appointment.starts_at.desc()).limit(PAST_VISITS)

    def line(a: Appointment, pr: Provider, k: AppointmentType, loc: Location, room: Room | None) -> VisitLine:
        status = scheduling.STATUS_LABELS[a.status]
        if a.status == "cancelled" and a.late_cancel:
            status = "Cancelled late"
        return VisitLine(id=a.id, when=f"{local(a.starts_at, loc.timezone):%a %Y-%m-%d %H:%M}", provider=pr.name,
                         kind=k.name, where=loc.name + (f", {room.name}" if room else ""), status=status)

    return [line(*r) for r in session.exec(query(True))], [line(*r) for r in session.exec(query(False))]


def account(session: Session, *, actor: Actor, patient_id: int, tz: str) -> Account:
    """Balances (what the patient owes, what insurers owe) and the account's entries, newest first."""
    require(actor.role, "payment.take")
    owed = ledger.balances(session, patient_id=patient_id)
    payer_names = {p.id: p.name for p in session.exec(select(Payer))}
    entries = session.exec(
        select(LedgerEntry).where(LedgerEntry.patient_id == patient_id).order_by(LedgerEntry.id.desc()).limit(30)
    ).all()
    lines = []
    for e in entries:
        party = payer_names.get(e.payer_id, "insurance") if e.payer_id else "patient"
        detail = ", ".join(x for x in (
            ledger.KIND_LABELS[e.kind], party, e.method if e.method not in ("", "insurance") else "",
            f"visit of {e.service_date.isoformat()}" if e.service_date else "", e.reason) if x)
        lines.append(MoneyLine(when=f"{local(e.created_at, tz):%Y-%m-%d}", what=detail, amount=dollars(e.amount_cents)))
    billed = session.exec(
        select(Appointment, Provider, AppointmentType, Location)
        .join(Provider, Provider.id == Appointment.provider_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(Appointment.patient_id == patient_id, Appointment.status == "billed")
        .order_by(Appointment.starts_at.desc()).limit(10)
    ).all()
    receipts = [
        VisitLine(id=a.id, when=f"{local(a.starts_at, loc.timezone):%Y-%m-%d}", provider=pr.name, kind=k.name,
                  where=loc.name, status="Billed")
        for a, pr, k, loc in billed
    ]
    return Account(patient_owes=dollars(owed["patient"]), insurance_owes=dollars(owed["insurance"]), lines=lines,
                   billed_visits=receipts)


def consents(session: Session, *, patient_id: int) -> list[tuple[str, str]]:
    """The consents on file: what, and the date given."""
    given = patients.consents_of(session, patient_id=patient_id)
    return [(label, given[kind].isoformat()) for kind, label in patients.CONSENT_LABELS.items() if kind in given]


def waitlist_entries(session: Session, *, actor: Actor, patient_id: int, now: dt.datetime | None = None) -> list[dict]:
    """The patient's waitlist entries with their preferences and how long they waited."""
    return waitlist.entries_of(session, actor=actor, patient_id=patient_id, now=now or utcnow())
