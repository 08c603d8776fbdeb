"""Remittance: read an X12 835 (005010X221A1) and post it to claim lines.

The whole file is checked before anything is posted: envelope and control numbers,
segment counts, the version (GS08 005010X221A1: a 4010 file is refused by name), dates
(BPR16, every DTM, PLB02: real CCYYMMDD dates), amounts (decimal, never exponent form),
that every claim and line is one we sent, and that every claim and line balances to the
cent as the 835 guide states it (TR3 1.10.2.1): for a line, SVC02 - SVC03 = its CAS; for a
claim, CLP04 = the sum of SVC03 - the claim-level CAS (a sequestration CO-253 at claim level
beside paid lines), and CLP03 - CLP04 = all its CAS; the payment BPR02 = the sum of CLP04 -
the provider-level (PLB) adjustments. Any problem refuses the file with a message saying
where, and nothing is posted.

PLB adjustments are posted too (``provider_adjustment``): they belong to no patient, so
that the remittance's claims' payments less them is the deposit (``deposit_cents``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Adjustment,
    Claim,
    ClaimEvent,
    ClaimLine,
    LedgerEntry,
    LinePosting,
    Payer,
    ProviderAdjustment,
    Remittance,
)
from clinic_app.services.interop.x12 import reader as x12
from clinic_app.services.interop.x12.reader import X12Refused, el
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.money import amount, dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import claims, cob
from clinic_app.services.revenue.claims import STATUS_LABELS, move_claim

GROUPS = ("CO", "PR", "OA", "PI", "CR")
# CARC reasons a biller sees most; the rest show as their code.
CARC_WORDS = {
    "1": "deductible", "2": "co-insurance", "3": "co-payment", "4": "modifier inconsistent or missing",
    "16": "claim lacks information", "18": "duplicate claim", "27": "coverage ended",
    "29": "time limit for filing expired", "45": "charge exceeds fee schedule",
    "50": "not medically necessary", "96": "non-covered charge", "97": "included in another service",
    "119": "benefit maximum reached", "197": "authorisation absent", "204": "not covered under plan",
}


MAX_BYTES = x12.MAX_BYTES


class RemittanceRefused(X12Refused):
    """The 835 file cannot be posted; nothing was posted."""


@dataclass
class LineRemit:
    code: str
    modifiers: list[str]
    charge: int
    paid: int
    units: int
    control: str = ""
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass
class ClaimRemit:
    number: str
    status: str
    charge: int
    paid: int
    patient_resp: int
    payer_claim_number: str
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    lines: list[LineRemit] = field(default_factory=list)


@dataclass
class ProviderLevel:
    """One PLB adjustment: positive = withheld from the payment (e.g. WO), negative = added (e.g. L6 interest)."""

    provider: str
    fiscal_period_end: dt.date
    reason: str
    reference: str
    amount: int


@dataclass
class RemitFile:
    payment: int
    paid_on: dt.date | None
    trace: str
    payer_name: str
    claims: list[ClaimRemit]
    provider_adjustments: int
    plb: list[ProviderLevel] = field(default_factory=list)


VERSION_835 = "005010X221A1"
AMOUNT_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")  # X12 R: digits, a sign, a point; no exponent, no separators


def _cents(text: str, where: str) -> int:
    if not AMOUNT_RE.match(text):
        raise RemittanceRefused(f"{where}: {text[:20]!r} is not an amount (digits with a decimal point; "
                                "no exponent form such as 1E2).")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise RemittanceRefused(f"{where}: {text[:20]!r} is not an amount.") from exc
    cents = value * 100
    if cents != cents.to_integral_value() or abs(value) > Decimal("99999999"):
        raise RemittanceRefused(f"{where}: {text[:20]!r} is not an amount in dollars and cents.")
    return int(cents)


def _adjustments(seg: list[str], where: str) -> list[tuple[str, str, int]]:
    group = el(seg, 1)
    if group not in GROUPS:
        raise RemittanceRefused(f"{where}: CAS group {group!r} is not one of {', '.join(GROUPS)}.")
    found = []
    for k in range(2, min(len(seg), 20), 3):
        reason, value = el(seg, k), el(seg, k + 1)
        if reason:
            found.append((group, reason[:5], _cents(value, where)))
    return found


def parse(text: str) -> RemitFile:
    """An 835's payments, checked for structure and balance; RemittanceRefused otherwise."""
    segments = x12.check_envelope(x12.segments(text, RemittanceRefused), version=VERSION_835, refused=RemittanceRefused)
    bpr = next((s for s in segments if s[0] == "BPR"), None)
    if bpr is None:
        raise RemittanceRefused("The remittance has no BPR (payment) segment.")
    payment = _cents(el(bpr, 2), "BPR")
    paid_on = x12.d8(el(bpr, 16), "BPR16 (the payment date)", RemittanceRefused)
    for seg in segments:
        if seg[0] == "DTM":
            x12.d8(el(seg, 2), f"DTM*{el(seg, 1)[:3]} (DTM02)", RemittanceRefused)
    trn = next((s for s in segments if s[0] == "TRN"), [])
    payer_name = next((el(s, 2) for s in segments if s[0] == "N1" and el(s, 1) == "PR"), "")
    claims: list[ClaimRemit] = []
    plb: list[ProviderLevel] = []
    for seg in segments:
        tag = seg[0]
        if tag == "CLP":
            claims.append(ClaimRemit(
                number=el(seg, 1), status=el(seg, 2), charge=_cents(el(seg, 3), f"Claim {el(seg, 1)}"),
                paid=_cents(el(seg, 4), f"Claim {el(seg, 1)}"), patient_resp=_cents(el(seg, 5) or "0", f"Claim {el(seg, 1)}"),
                payer_claim_number=el(seg, 7)[:50],
            ))
        elif tag == "SVC":
            if not claims:
                raise RemittanceRefused("An SVC line comes before any CLP claim.")
            parts = el(seg, 1).split(":")
            claims[-1].lines.append(LineRemit(
                code=el(parts, 1), modifiers=[m for m in parts[2:6] if m],
                charge=_cents(el(seg, 2), f"Claim {claims[-1].number} line"),
                paid=_cents(el(seg, 3), f"Claim {claims[-1].number} line"),
                units=int(el(seg, 5)) if el(seg, 5).isdigit() else 1,
            ))
        elif tag == "CAS":
            if not claims:
                raise RemittanceRefused("A CAS adjustment comes before any CLP claim.")
            target = claims[-1].lines[-1] if claims[-1].lines else claims[-1]
            target.adjustments.extend(_adjustments(seg, f"Claim {claims[-1].number}"))
        elif tag == "REF" and el(seg, 1) == "6R" and claims and claims[-1].lines:
            claims[-1].lines[-1].control = el(seg, 2)
        elif tag == "LQ" and el(seg, 1) == "HE" and claims and claims[-1].lines:
            claims[-1].lines[-1].remarks.append(el(seg, 2)[:8])
        elif tag == "PLB":
            plb += _provider_level(seg)
    total_plb = sum(p.amount for p in plb)
    _check_balance(claims, payment, total_plb)
    return RemitFile(payment=payment, paid_on=paid_on, trace=el(trn, 2)[:50], payer_name=payer_name[:60], claims=claims,
                     provider_adjustments=total_plb, plb=plb)


def _provider_level(seg: list[str]) -> list[ProviderLevel]:
    """A PLB segment's adjustments: PLB03/04 up to PLB13/14, each reason:reference and an amount."""
    provider, period = el(seg, 1), x12.d8(el(seg, 2), "PLB02 (the fiscal period date)", RemittanceRefused)
    found = []
    for k in range(3, min(len(seg), 15), 2):
        if not el(seg, k):
            continue
        reason, _, reference = el(seg, k).partition(":")
        if not re.fullmatch(r"[A-Z0-9]{2}", reason):
            raise RemittanceRefused(f"PLB{k:02d}: {reason[:10]!r} is not a provider adjustment reason code (e.g. WO, L6, FB).")
        found.append(ProviderLevel(provider[:50], period, reason, reference.split(":")[0][:50],
                                   _cents(el(seg, k + 1), f"PLB{k + 1:02d}")))
    return found


def _check_balance(claims: list[ClaimRemit], payment: int, plb: int) -> None:
    if not claims:
        raise RemittanceRefused("The remittance pays no claims.")
    for claim in claims:
        if claim.status == "22":
            raise RemittanceRefused(f"Claim {claim.number} is a payer reversal (CLP02 22); post reversals by hand.")
        line_adj = 0
        for n, line in enumerate(claim.lines, start=1):
            adj = sum(a for _, _, a in line.adjustments)
            if line.charge - line.paid != adj:
                raise RemittanceRefused(
                    f"Claim {claim.number} {line_name(line, n)} does not balance: charge {dollars(line.charge)} - paid "
                    f"{dollars(line.paid)} is not the {dollars(adj)} of its adjustments."
                )
            line_adj += adj
        claim_adj = sum(a for _, _, a in claim.adjustments)
        if claim.lines and sum(ln.charge for ln in claim.lines) != claim.charge:
            raise RemittanceRefused(f"Claim {claim.number}: its lines' charges do not add up to the claim's charge "
                                    f"({dollars(claim.charge)}).")
        if claim.lines and sum(ln.paid for ln in claim.lines) - claim_adj != claim.paid:
            raise RemittanceRefused(
                f"Claim {claim.number}: the claim pays {dollars(claim.paid)}, but its lines pay "
                f"{dollars(sum(ln.paid for ln in claim.lines))} less {dollars(claim_adj)} of claim-level adjustments."
            )
        if claim.charge - claim.paid != claim_adj + line_adj:
            raise RemittanceRefused(
                f"Claim {claim.number} does not balance: charge {dollars(claim.charge)} - paid {dollars(claim.paid)} "
                f"is not the {dollars(claim_adj + line_adj)} of its adjustments."
            )
    total = sum(c.paid for c in claims) - plb
    if total != payment:
        raise RemittanceRefused(f"The payment {dollars(payment)} is not what the claims paid less provider adjustments ({dollars(total)}).")


def line_name(line: LineRemit, number: int) -> str:
    """How a refusal names a service line: its position, and its code when the payer sent one."""
    return f"line {number} ({line.code})" if line.code else f"line {number} (no procedure code)"


def _match_lines(session: Session, claim: Claim, remit: ClaimRemit) -> list[tuple[ClaimLine, LineRemit]]:
    ours = list(session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)))
    by_id = {str(ln.id): ln for ln in ours}
    pairs: list[tuple[ClaimLine, LineRemit]] = []
    used: set[int] = set()
    for n, line in enumerate(remit.lines, start=1):
        match = by_id.get(line.control) or next((ln for ln in ours if ln.code == line.code and ln.id not in used), None)
        if match is None or match.id in used:
            raise RemittanceRefused(f"Claim {claim.number}: {line_name(line, n)} matches none of the claim's lines.")
        if match.amount_cents != line.charge:
            raise RemittanceRefused(
                f"Claim {claim.number} {line_name(line, n)}: the payer's charge {dollars(line.charge)} is not the "
                f"{dollars(match.amount_cents)} we billed."
            )
        used.add(match.id)
        pairs.append((match, line))
    if not remit.lines:
        # A claim-level answer (typically a denial): spread over our lines, all adjusted.
        if remit.paid != 0:
            raise RemittanceRefused(f"Claim {claim.number} pays without service lines; it cannot be posted to lines.")
        pairs = [(ln, LineRemit(code=ln.code, modifiers=[], charge=ln.amount_cents, paid=0, units=ln.units)) for ln in ours]
    return pairs


def post(session: Session, *, actor: Actor, text: str | bytes, now: dt.datetime | None = None) -> dict:
    """Post an 835 file: line payments and CAS adjustments, claim statuses, ledger entries.

    All or nothing; RemittanceRefused (with what is wrong) when the file cannot be posted.
    """
    for_write(session)
    require(actor.role, "billing.remittance")
    with session.begin_nested():  # nothing of a refused file stays, even inside a caller's longer work
        return _post(session, actor, text, now)


def _post(session: Session, actor: Actor, text: str | bytes, now: dt.datetime | None) -> dict:
    raw, decoded = x12.x12_text(text, "remittance", RemittanceRefused)
    digest = hashlib.sha256(raw).hexdigest()
    earlier = session.exec(select(Remittance).where(Remittance.file_sha256 == digest)).first()
    if earlier is not None:
        raise RemittanceRefused(f"This file was already posted on {earlier.imported_at:%Y-%m-%d}; nothing was posted again.")
    remit = parse(decoded)
    now = now or utcnow()

    plan = []
    for claim_remit in remit.claims:
        claim = session.exec(select(Claim).where(Claim.number == claim_remit.number)).first()
        if claim is None:
            raise RemittanceRefused(f"Claim {claim_remit.number} in the remittance matches no claim we sent.")
        if claim.total_cents != claim_remit.charge:
            raise RemittanceRefused(f"Claim {claim.number}: the payer's charge does not match the {dollars(claim.total_cents)} we billed.")
        to_status = "denied" if claim_remit.status == "4" or (claim_remit.paid == 0 and claim_remit.patient_resp == 0) else "paid"
        if claim.status not in ("submitted", "accepted", "appealed"):
            raise RemittanceRefused(f"Claim {claim.number} is {STATUS_LABELS[claim.status]}; a remittance can only answer a submitted claim.")
        pairs = _match_lines(session, claim, claim_remit)
        everything = [*claim_remit.adjustments, *[a for ln in claim_remit.lines for a in ln.adjustments]]
        problem = cob.secondary_check(session, claim=claim, paid=claim_remit.paid, adjustments=everything)
        if problem:
            raise RemittanceRefused(problem)
        plan.append((claim, claim_remit, pairs, to_status))

    remittance = Remittance(
        file_sha256=digest, payer_name=remit.payer_name, trace_number=remit.trace, payment_cents=remit.payment,
        paid_on=remit.paid_on, user_id=actor.user_id, imported_at=now,
    )
    session.add(remittance)
    session.flush()
    summary = {"claims": 0, "paid_cents": 0, "denied": 0, "remittance_id": remittance.id, "secondary_claims": []}
    for claim, claim_remit, pairs, to_status in plan:
        claim_level = list(claim_remit.adjustments)
        for n, (claim_line, line) in enumerate(pairs):
            posting = LinePosting(
                remittance_id=remittance.id, claim_id=claim.id, claim_line_id=claim_line.id, claim_status_code=claim_remit.status[:2],
                charge_cents=line.charge, paid_cents=line.paid, remark_codes=",".join(line.remarks)[:60],
            )
            session.add(posting)
            session.flush()
            adjustments = list(line.adjustments)
            if not claim_remit.lines:
                adjustments = [(g, r, a) for g, r, a in claim_level]  # claim-level denial, one line
                claim_level = []
            for group, reason, value in adjustments:
                session.add(Adjustment(line_posting_id=posting.id, group_code=group, reason_code=reason, amount_cents=value))
            if n == 0 and claim_remit.lines:
                # Claim-level CAS beside paid lines: kept on the first line, marked as the claim's.
                for group, reason, value in claim_level:
                    session.add(Adjustment(line_posting_id=posting.id, group_code=group, reason_code=reason,
                                           amount_cents=value, claim_level=True))
        _ledger(session, actor, claim, claim_remit, remittance, now, denied=to_status == "denied")
        claim.payer_claim_number = claim_remit.payer_claim_number or claim.payer_claim_number
        move_claim(session, claim, to_status, actor=actor, note=f"835 {remit.trace or remittance.id}: CLP02 {claim_remit.status}", now=now)
        summary["claims"] += 1
        summary["paid_cents"] += claim_remit.paid
        summary["denied"] += to_status == "denied"
        session.flush()
        if to_status == "paid" and cob.why_not(session, primary=claim) is None:
            # The primary paid and left the patient a share: bill it to the secondary payer.
            secondary = cob.create_secondary_claim(session, actor=actor, claim_id=claim.id, now=now)
            summary["secondary_claims"].append(secondary.number)
    _post_provider_level(session, remit, remittance, plan, now)
    summary["provider_adjustments_cents"] = remit.provider_adjustments
    audit.record(session, actor=actor, action="post", entity="remittance", entity_id=remittance.id, detail=f"{summary['claims']} claims")
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise RemittanceRefused("This file was posted a moment ago by someone else; nothing was posted again.") from exc
    claims.announce(session, f"835 posted: {summary['claims']} claims")
    return summary


def _post_provider_level(session: Session, remit: RemitFile, remittance: Remittance, plan: list, now: dt.datetime) -> None:
    """The file's PLB adjustments, each on the remittance (and on the claim its reference names, when ours)."""
    payer_id = plan[0][0].payer_id if plan else None
    for item in remit.plb:
        claim = session.exec(select(Claim).where(Claim.number == item.reference)).first() if item.reference else None
        session.add(ProviderAdjustment(
            remittance_id=remittance.id, payer_id=payer_id, provider_id_code=item.provider, fiscal_period_end=item.fiscal_period_end,
            reason_code=item.reason, reference=item.reference, claim_id=claim.id if claim else None, amount_cents=item.amount,
            created_at=now,
        ))
    session.flush()


def deposit_cents(session: Session, *, remittance_id: int) -> int:
    """What the clinic's books say a remittance paid: the insurance payments posted from it to
    patients' ledgers less its provider-level adjustments. Equals the 835's BPR02."""
    from sqlalchemy import func

    paid = -int(session.exec(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.remittance_id == remittance_id, LedgerEntry.kind == "payment")).one())
    withheld = int(session.exec(select(func.coalesce(func.sum(ProviderAdjustment.amount_cents), 0)).where(
        ProviderAdjustment.remittance_id == remittance_id)).one())
    return paid - withheld


def _ledger(
    session: Session, actor: Actor, claim: Claim, remit: ClaimRemit, remittance: Remittance, now: dt.datetime, *, denied: bool,
) -> None:
    base = {"patient_id": claim.patient_id, "appointment_id": claim.appointment_id, "claim_id": claim.id,
            "remittance_id": remittance.id, "service_date": claim.service_date, "user_id": actor.user_id, "created_at": now}
    if remit.paid:
        session.add(LedgerEntry(payer_id=claim.payer_id, kind="payment", amount_cents=-remit.paid, method="insurance",
                                reference=remittance.trace_number[:40], reason=f"835 claim {claim.number}", **base))
    totals: dict[tuple[str, str], int] = {}
    for group, reason, value in [*remit.adjustments, *[a for ln in remit.lines for a in ln.adjustments]]:
        totals[(group, reason)] = totals.get((group, reason), 0) + value
    for (group, reason), value in totals.items():
        if value == 0:
            continue
        words = f"{group}-{reason} {CARC_WORDS.get(reason, '')}".strip()
        if group == "PR":
            # The patient owes it now: move it from the payer's column to the patient's.
            session.add(LedgerEntry(payer_id=claim.payer_id, kind="transfer", amount_cents=-value, reason=words, **base))
            session.add(LedgerEntry(payer_id=None, kind="transfer", amount_cents=value, reason=words, **base))
        elif (group, reason) == cob.PRIOR_PAYER and claim.primary_claim_id is not None:
            continue  # the primary's part of a secondary claim: settled on the primary claim
        elif not denied:
            # A denied amount stays owed by the payer (on the worklist) until it is
            # appealed or written off; an adjustment on a paid claim is final.
            session.add(LedgerEntry(payer_id=claim.payer_id, kind="adjustment", amount_cents=-value, reason=words, **base))


def denials(session: Session, *, actor: Actor) -> list[dict]:
    """The worklist: denied claims (835) and rejected ones (277CA), oldest service first, with their reasons."""
    require(actor.role, "billing.view")
    rows = []
    for claim, payer in session.exec(
        select(Claim, Payer).join(Payer, Payer.id == Claim.payer_id).where(Claim.status.in_(("denied", "rejected")))
        .order_by(Claim.service_date, Claim.id)
    ):
        if claim.status == "rejected":
            # Never reached adjudication: the reason is the acknowledgement's, kept in the history.
            last = session.exec(select(ClaimEvent.note).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.id.desc())).first()
            rows.append({
                "claim_id": claim.id, "number": claim.number, "payer": payer.name, "service_date": claim.service_date.isoformat(),
                "total": f"{amount(claim.total_cents)}", "reasons": last or "", "status": STATUS_LABELS[claim.status],
            })
            continue
        reasons = session.exec(
            select(Adjustment.group_code, Adjustment.reason_code, LinePosting.remark_codes)
            .join(LinePosting, LinePosting.id == Adjustment.line_posting_id)
            .where(LinePosting.claim_id == claim.id)
            .order_by(Adjustment.id)
        ).all()
        seen: list[str] = []
        for group, reason, remarks in reasons:
            label = f"{group}-{reason} {CARC_WORDS.get(reason, '')}".strip() + (f" ({remarks})" if remarks else "")
            if label not in seen:
                seen.append(label)
        rows.append({
            "claim_id": claim.id, "number": claim.number, "payer": payer.name, "service_date": claim.service_date.isoformat(),
            "total": f"{amount(claim.total_cents)}", "reasons": "; ".join(seen), "status": STATUS_LABELS[claim.status],
        })
    return rows
