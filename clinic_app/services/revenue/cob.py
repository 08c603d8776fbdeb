"""Coordination of benefits: the claim to the secondary payer after the primary pays.

When an 835 pays a primary claim and the patient has secondary coverage on the date
of service, what the primary left to the patient (its PR amounts) is billed to the
secondary payer: a new draft claim with the same lines and diagnoses, whose 837P
reports the primary's adjudication (2320 AMT*D and claim-level CAS, 2330A/B, and per
line 2430 SVD/CAS/DTP*573). The balance moves on the ledger from the patient's column
to the secondary payer's; the secondary's own 835 then posts against that claim.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.live import publish_on_commit
from clinic_app.live.events import ClaimsChanged
from clinic_app.models import (
    Adjustment,
    Claim,
    ClaimDiagnosis,
    ClaimEvent,
    ClaimLine,
    Coverage,
    LedgerEntry,
    LinePosting,
    Payer,
    Remittance,
)
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotFound
from clinic_app.services.platform.money import dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import pricing

# CARC 23: "the impact of prior payer(s) adjudication": on a secondary payer's 835 the
# part of the charge the primary already settled. It moves no money on our ledger.
PRIOR_PAYER = ("OA", "23")


@dataclass
class LineAdjudication:
    paid_cents: int
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class Adjudication:
    """What the primary payer decided on a claim, as its last 835 told us."""

    paid_cents: int
    patient_cents: int
    claim_adjustments: list[tuple[str, str, int]]
    lines: dict[int, LineAdjudication]
    adjudicated_on: dt.date


def adjudication(session: Session, *, claim_id: int) -> Adjudication | None:
    """The primary's answer to ``claim_id`` from the last remittance that posted it (None if none)."""
    remittance_id = session.exec(select(func.max(LinePosting.remittance_id)).where(LinePosting.claim_id == claim_id)).one()
    if remittance_id is None:
        return None
    remittance = session.get(Remittance, remittance_id)
    postings = list(session.exec(
        select(LinePosting).where(LinePosting.claim_id == claim_id, LinePosting.remittance_id == remittance_id).order_by(LinePosting.id)
    ))
    lines: dict[int, LineAdjudication] = {}
    claim_level: list[tuple[str, str, int]] = []
    for posting in postings:
        line = lines.setdefault(posting.claim_line_id, LineAdjudication(paid_cents=posting.paid_cents))
        for adj in session.exec(select(Adjustment).where(Adjustment.line_posting_id == posting.id).order_by(Adjustment.id)):
            (claim_level if adj.claim_level else line.adjustments).append((adj.group_code, adj.reason_code, adj.amount_cents))
    every = claim_level + [a for line in lines.values() for a in line.adjustments]
    return Adjudication(
        paid_cents=sum(line.paid_cents for line in lines.values()),
        patient_cents=sum(v for g, _, v in every if g == "PR"),
        claim_adjustments=claim_level,
        lines=lines,
        adjudicated_on=remittance.paid_on or remittance.imported_at.date(),
    )


def patient_balance_of(session: Session, *, claim_id: int) -> int:
    """What the patient owes from this claim (the PR amounts moved to them, less any reversals)."""
    return int(session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(LedgerEntry.claim_id == claim_id, LedgerEntry.payer_id.is_(None))
    ).one())


def owed_by_payer(session: Session, *, claim: Claim) -> int:
    """What the claim's payer still owes on it, per the ledger."""
    return int(session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(LedgerEntry.claim_id == claim.id, LedgerEntry.payer_id == claim.payer_id)
    ).one())


def _secondary_coverage(session: Session, primary: Claim) -> Coverage | None:
    coverage = pricing.coverage_on(session, patient_id=primary.patient_id, day=primary.service_date, priority=2)
    if coverage is None and primary.secondary_coverage_id:
        recorded = session.get(Coverage, primary.secondary_coverage_id)
        coverage = recorded if recorded is not None and recorded.active else None
    return coverage


def why_not(session: Session, *, primary: Claim) -> str | None:
    """Why no secondary claim can follow ``primary`` now, in words; None when it can."""
    if primary.primary_claim_id is not None:
        return f"Claim {primary.number} is itself a secondary claim."
    if primary.status != "paid":
        return f"Claim {primary.number} is not paid by the primary payer yet; the secondary is billed after the primary's 835."
    if session.exec(select(Claim.id).where(Claim.primary_claim_id == primary.id)).first() is not None:
        return f"Claim {primary.number} already has a secondary claim."
    coverage = _secondary_coverage(session, primary)
    if coverage is None:
        return f"The patient has no secondary coverage on {primary.service_date}; record it first."
    if coverage.payer_id == primary.payer_id:
        return "The secondary coverage is with the same payer as the primary; correct the coverage."
    if patient_balance_of(session, claim_id=primary.id) <= 0:
        return f"The primary payer left nothing for the patient on claim {primary.number}; there is nothing to bill a secondary payer."
    return None


def create_secondary_claim(
    session: Session, *, actor: Actor, claim_id: int, now: dt.datetime | None = None,
) -> Claim:
    """Bill the balance the primary payer left on ``claim_id`` to the patient's secondary payer.

    The new draft claim repeats the primary's lines and diagnoses (charges as billed)
    and names the primary claim; the balance moves from the patient's column to the
    secondary payer's. IllegalTransition/InvalidInput say why it cannot be made.
    """
    for_write(session)
    require(actor.role, "billing.claims")
    primary = session.get(Claim, claim_id)
    if primary is None:
        raise NotFound("That claim no longer exists.")
    reason = why_not(session, primary=primary)
    if reason:
        raise IllegalTransition(reason)
    coverage = _secondary_coverage(session, primary)
    payer = session.get(Payer, coverage.payer_id)
    balance = patient_balance_of(session, claim_id=primary.id)
    now = now or utcnow()
    claim = Claim(
        number=f"S{primary.appointment_id}-{now:%y%m%d%H%M%S}"[:20], appointment_id=primary.appointment_id,
        patient_id=primary.patient_id, payer_id=payer.id, coverage_id=coverage.id, secondary_coverage_id=primary.coverage_id,
        primary_claim_id=primary.id, service_date=primary.service_date, total_cents=primary.total_cents,
        frequency="1", created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(claim)
    except IntegrityError as exc:
        raise InvalidInput(f"Claim {primary.number} already has a secondary claim.") from exc
    for dx in session.exec(select(ClaimDiagnosis).where(ClaimDiagnosis.claim_id == primary.id)):
        session.add(ClaimDiagnosis(claim_id=claim.id, position=dx.position, code=dx.code))
    for line in session.exec(select(ClaimLine).where(ClaimLine.claim_id == primary.id).order_by(ClaimLine.line_no)):
        mods = [m for m in line.modifiers.split(",") if m]
        mods += [m for m in payer.default_modifiers.split(",") if m and m not in mods]
        session.add(ClaimLine(
            claim_id=claim.id, charge_id=line.charge_id, line_no=line.line_no, code=line.code, modifiers=",".join(mods[:4]),
            units=line.units, amount_cents=line.amount_cents, pointers=line.pointers,
        ))
    session.add(ClaimEvent(claim_id=claim.id, to_status="draft", user_id=actor.user_id, at=now,
                           note=f"secondary claim after {primary.number}"[:200]))
    base = {"patient_id": primary.patient_id, "appointment_id": primary.appointment_id, "claim_id": claim.id,
            "service_date": primary.service_date, "user_id": actor.user_id, "created_at": now,
            "reason": f"billed to secondary {payer.name}"[:120]}
    session.add(LedgerEntry(payer_id=None, kind="transfer", amount_cents=-balance, **base))
    session.add(LedgerEntry(payer_id=payer.id, kind="transfer", amount_cents=balance, **base))
    session.flush()
    audit.record(session, actor=actor, action="create", entity="claim", entity_id=claim.id, patient_id=primary.patient_id,
                 detail=f"secondary after claim {primary.id}")
    publish_on_commit(session, ClaimsChanged(what=f"secondary claim {claim.number} created"))
    return claim


def secondary_check(session: Session, *, claim: Claim, paid: int, adjustments: list[tuple[str, str, int]]) -> str | None:
    """On a secondary claim's 835: the payment and adjustments other than OA-23 must account
    for exactly what was billed to the secondary; a message when they do not."""
    if claim.primary_claim_id is None:
        return None
    owed = owed_by_payer(session, claim=claim)
    accounted = paid + sum(v for g, r, v in adjustments if (g, r) != PRIOR_PAYER)
    if accounted == owed:
        return None
    return (
        f"Claim {claim.number} is a secondary claim for {dollars(owed)} left after the primary payer, but the "
        f"remittance pays and adjusts {dollars(accounted)} of it (not counting OA-23, the prior payer's part); "
        "nothing was posted: post this claim by hand."
    )

