"""The patient ledger: immutable money movements, balances derived from them.

Positive amounts raise what is owed (charges, refunds paid out, amounts moved to
the patient), negative ones lower it (payments, adjustments, write-offs). Each
entry names who owes it: a payer, or the patient when ``payer_id`` is empty. No
balance is stored anywhere; a correction is a new entry that reverses an old one.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.live import ClaimsChanged, publish_on_commit
from clinic_app.models import LedgerEntry, Patient, Payer
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound, from_db_error
from clinic_app.services.platform.money import dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import claims
from clinic_app.services.revenue.payers import parse_money

PATIENT_METHODS = ("cash", "cheque", "card")
KIND_LABELS = {
    "charge": "Charge", "payment": "Payment", "adjustment": "Adjustment", "write_off": "Write-off",
    "refund": "Refund", "transfer": "Transfer",
}
_CARD_NUMBER = re.compile(r"[0-9]{13,19}")


def _reference(method: str, reference: str) -> str:
    reference = (reference or "").strip()
    if len(reference) > 40:
        raise InvalidInput("The reference is at most 40 characters.")
    if _CARD_NUMBER.search(re.sub(r"[\s-]", "", reference)):
        raise InvalidInput("That looks like a card number; enter the card terminal's reference instead, never the card number.")
    if method == "card" and not reference:
        raise InvalidInput("Enter the card terminal's reference for a card payment.")
    if method == "cheque" and not reference:
        raise InvalidInput("Enter the cheque number.")
    return reference


def _add(session: Session, actor: Actor, entry: LedgerEntry) -> LedgerEntry:
    try:
        with session.begin_nested():  # a clash undoes this part only
            session.add(entry)
    except IntegrityError as exc:
        raise (from_db_error(exc) or InvalidInput("That entry conflicts with the ledger.")) from exc
    audit.record(session, actor=actor, action=f"ledger:{entry.kind}", entity="ledger_entry", entity_id=entry.id, patient_id=entry.patient_id)
    session.flush()
    claims.announce(session, f"ledger {entry.kind}")  # AR aging changes on every billing page
    return entry


def _patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient no longer exists.")
    return patient


def balances(session: Session, *, patient_id: int) -> dict[str, int]:
    """What is owed on a patient's account, by the patient and by insurance, in cents."""
    rows = session.exec(
        select(LedgerEntry.payer_id.is_(None), func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(LedgerEntry.patient_id == patient_id)
        .group_by(LedgerEntry.payer_id.is_(None))
    ).all()
    by_party = {bool(is_patient): int(total) for is_patient, total in rows}
    patient, insurance = by_party.get(True, 0), by_party.get(False, 0)
    return {"patient": patient, "insurance": insurance, "total": patient + insurance}


def entries(session: Session, *, patient_id: int) -> list[LedgerEntry]:
    """A patient's ledger, oldest first."""
    return list(session.exec(select(LedgerEntry).where(LedgerEntry.patient_id == patient_id).order_by(LedgerEntry.id)))


def take_payment(
    session: Session, *, actor: Actor, patient_id: int, amount: str | int, method: str, reference: str = "",
    appointment_id: int | None = None, now: dt.datetime | None = None,
) -> LedgerEntry:
    """Record a patient's payment by cash, cheque or card (card: the terminal's reference only)."""
    for_write(session)
    require(actor.role, "payment.take")
    _patient(session, patient_id)
    if method not in PATIENT_METHODS:
        raise InvalidInput("Choose how the patient paid: cash, cheque or card.")
    cents = parse_money(amount)
    if cents == 0:
        raise InvalidInput("Enter the amount paid.")
    return _add(session, actor, LedgerEntry(
        patient_id=patient_id, appointment_id=appointment_id, kind="payment", amount_cents=-cents,
        method=method, reference=_reference(method, reference), user_id=actor.user_id, created_at=now or utcnow(),
    ))


def refund(
    session: Session, *, actor: Actor, patient_id: int, amount: str | int, method: str, reference: str = "",
    reason: str = "", now: dt.datetime | None = None,
) -> LedgerEntry:
    """Pay back a patient's credit (never more than the credit they hold), with a reason."""
    for_write(session)
    require(actor.role, "ledger.adjust")
    _patient(session, patient_id)
    if method not in PATIENT_METHODS:
        raise InvalidInput("Choose how the refund is paid: cash, cheque or card.")
    cents = parse_money(amount)
    if not (reason or "").strip():
        raise InvalidInput("Say why the refund is paid (e.g. overpaid, visit cancelled).")
    credit = -balances(session, patient_id=patient_id)["patient"]
    if cents == 0 or cents > credit:
        raise InvalidInput(f"The patient's credit is {dollars(max(credit, 0))}; a refund must be more than 0 and at most that.")
    return _add(session, actor, LedgerEntry(
        patient_id=patient_id, kind="refund", amount_cents=cents, method=method,
        reference=_reference(method, reference), reason=reason.strip()[:120], user_id=actor.user_id, created_at=now or utcnow(),
    ))


def write_off(
    session: Session, *, actor: Actor, patient_id: int, amount: str | int, reason: str, payer_id: int | None = None,
    now: dt.datetime | None = None,
) -> LedgerEntry:
    """Write off part of what the patient (or a payer) owes, with a reason."""
    for_write(session)
    require(actor.role, "ledger.adjust")
    _patient(session, patient_id)
    cents = parse_money(amount)
    if not (reason or "").strip():
        raise InvalidInput("Say why the amount is written off (e.g. small balance, hardship).")
    if payer_id:
        # What this payer still owes on the account (e.g. a denial given up on).
        owed = int(session.exec(
            select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
            .where(LedgerEntry.patient_id == patient_id, LedgerEntry.payer_id == payer_id)
        ).one())
    else:
        owed = balances(session, patient_id=patient_id)["patient"]
    if cents == 0 or cents > owed:
        raise InvalidInput(f"The balance is {dollars(max(owed, 0))}; a write-off must be more than 0 and at most that.")
    return _add(session, actor, LedgerEntry(
        patient_id=patient_id, payer_id=payer_id, kind="write_off", amount_cents=-cents, reason=reason.strip()[:120],
        user_id=actor.user_id, created_at=now or utcnow(),
    ))


def reverse(session: Session, *, actor: Actor, entry_id: int, reason: str, now: dt.datetime | None = None) -> LedgerEntry:
    """Correct an entry by posting its exact opposite; the original stays as it was."""
    for_write(session)
    require(actor.role, "ledger.adjust")
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound("That ledger entry no longer exists.")
    if original.reverses_id is not None:
        raise InvalidInput("This entry is itself a correction; post a new entry instead.")
    if session.exec(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)).first() is not None:
        raise InvalidInput("This entry was already reversed.")
    if not (reason or "").strip():
        raise InvalidInput("Say why the entry is reversed.")
    return _add(session, actor, LedgerEntry(
        patient_id=original.patient_id, payer_id=original.payer_id, appointment_id=original.appointment_id,
        claim_id=original.claim_id, kind=original.kind, amount_cents=-original.amount_cents,
        service_date=original.service_date, method=original.method, reference=original.reference,
        reason=f"reverses #{original.id}: {reason.strip()}"[:120], reverses_id=original.id,
        user_id=actor.user_id, created_at=now or utcnow(),
    ))


def account(session: Session, *, actor: Actor, mrn: str) -> dict:
    """A patient's account by MRN: who, balances and entries for the billing screen (audited view)."""
    for_write(session)
    require(actor.role, "payment.take")
    patient = session.exec(select(Patient).where(Patient.mrn == (mrn or "").strip().upper())).first()
    if patient is None:
        raise NotFound(f"No patient has the MRN {(mrn or '').strip()[:20]!r}; check the number.")
    audit.record(session, actor=actor, action="view", entity="ledger", entity_id=patient.id, patient_id=patient.id)
    session.flush()
    rows = entries(session, patient_id=patient.id)
    reversed_ids = {e.reverses_id for e in rows if e.reverses_id is not None}
    owed_by_payer = session.exec(
        select(Payer.id, Payer.name, func.sum(LedgerEntry.amount_cents)).join(Payer, Payer.id == LedgerEntry.payer_id)
        .where(LedgerEntry.patient_id == patient.id).group_by(Payer.id, Payer.name).order_by(Payer.name)
    ).all()
    return {
        "patient_id": patient.id,
        "mrn": patient.mrn,
        "name": f"{patient.last_name}, {patient.first_name} ({patient.mrn})",
        "balances": balances(session, patient_id=patient.id),
        "entries": [
            {
                "id": e.id, "date": e.created_at.date().isoformat(), "service_date": e.service_date.isoformat() if e.service_date else "",
                "kind": KIND_LABELS[e.kind], "party": "insurance" if e.payer_id else "patient",
                "detail": " ".join(x for x in (e.method if e.method != "insurance" else "", e.reference, e.reason) if x),
                "amount_cents": e.amount_cents,
                # A correction is itself final, and an entry is reversed at most once.
                "reversible": e.reverses_id is None and e.id not in reversed_ids,
                "reversed": e.id in reversed_ids,
            }
            for e in rows
        ],
        "payers": [{"payer_id": pid, "name": name, "owed_cents": int(owed)} for pid, name, owed in owed_by_payer if owed],
    }



def post_online_payment(
    session: Session, *, patient_id: int, amount_cents: int, reference: str, appointment_id: int | None = None,
    now: dt.datetime | None = None,
) -> LedgerEntry:
    """Post a card payment the patient made online through a payment gateway (the portal).

    No member of staff takes it: the gateway confirmed it, and ``reference`` is the gateway's
    payment id (never card data). The caller (services/portal/payments.py) has checked the
    amount and makes sure one gateway payment is posted once. Never commits: the caller's
    transaction does, and the billing pages and KPIs hear of it then."""
    for_write(session)
    _patient(session, patient_id)
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidInput("An online payment is a whole number of cents, more than 0.")
    entry = LedgerEntry(
        patient_id=patient_id, appointment_id=appointment_id, kind="payment", amount_cents=-amount_cents,
        method="card", reference=(reference or "")[:40], reason="paid online", created_at=now or utcnow(),
    )
    session.add(entry)
    session.flush()
    audit.record(session, actor=None, action="ledger:payment", entity="ledger_entry", entity_id=entry.id,
                 patient_id=patient_id, source="portal")
    publish_on_commit(session, ClaimsChanged(what="ledger payment online"))  # AR aging, KPIs
    return entry
