"""Claim acknowledgements: the 277CA (005010X214) a clearinghouse or payer returns for
the claims of an 837P file, claim by claim: accepted into adjudication or rejected.

The whole file is checked first (envelope, counts, that every claim is one we sent);
then each claim that is still submitted moves to accepted or rejected, with the status
codes (and the payer's message) kept in its history. A claim already further along
(e.g. paid) or already answered by this acknowledgement is left as it is and reported,
so importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Claim
from clinic_app.services import audit, claims
from clinic_app.services.actor import Actor
from clinic_app.services.claims import STATUS_LABELS, _move
from clinic_app.services.era import RemittanceRefused, _check_envelope, _el, _segments, x12_text
from clinic_app.services.errors import ClinicError
from clinic_app.services.permissions import require

# Claim status category codes (STC01-1) of a 277CA.
ACCEPTED = {"A2": "accepted for adjudication", "A5": "accepted (split claim)"}
REJECTED = {
    "A3": "returned as unprocessable", "A4": "not found", "A6": "rejected for missing information",
    "A7": "rejected for invalid information", "A8": "rejected for relational field in error",
}


class AcknowledgementRefused(RemittanceRefused):
    """The 277CA cannot be imported; nothing was changed."""


@dataclass
class ClaimAck:
    number: str
    statuses: list[tuple[str, str, str]] = field(default_factory=list)  # (category, status code, message)
    payer_claim_number: str = ""

    def verdict(self) -> str | None:
        categories = [c for c, _, _ in self.statuses]
        if any(c in REJECTED for c in categories):
            return "rejected"
        if any(c in ACCEPTED for c in categories):
            return "accepted"
        return None  # an acknowledgement of receipt only (A1) or a pending code

    def note(self) -> str:
        parts = []
        for category, code, message in self.statuses:
            words = REJECTED.get(category) or ACCEPTED.get(category) or ""
            parts.append(" ".join(x for x in (f"{category}:{code}".rstrip(":"), words, message) if x))
        return ("277CA " + "; ".join(parts))[:200]


def parse(text: str) -> list[ClaimAck]:
    """The claims a 277CA answers, with their status codes; AcknowledgementRefused otherwise."""
    try:
        segments = _check_envelope(_segments(text), kind="277", words="a 277CA claim acknowledgement", plural="acknowledgements")
    except RemittanceRefused as exc:
        raise AcknowledgementRefused(str(exc)) from exc
    if _el(segments[0], 3) != "005010X214":
        raise AcknowledgementRefused("This 277 is not a claim acknowledgement (277CA, 005010X214).")
    found: list[ClaimAck] = []
    level = ""
    for seg in segments:
        tag = seg[0]
        if tag == "HL":
            level = _el(seg, 3)
        elif tag == "TRN" and _el(seg, 1) == "2" and level == "PT":
            found.append(ClaimAck(number=_el(seg, 2)[:20]))
        elif tag == "STC" and level == "PT" and found:
            category, _, code = _el(seg, 1).partition(":")
            found[-1].statuses.append((category[:3], code.split(":")[0][:5], _el(seg, 12)[:80]))
        elif tag == "REF" and _el(seg, 1) == "1K" and level == "PT" and found:
            found[-1].payer_claim_number = _el(seg, 2)[:50]
    if not found:
        raise AcknowledgementRefused("The acknowledgement answers no claims.")
    return found


def import_277ca(session: Session, *, actor: Actor, text: str | bytes, now: dt.datetime | None = None) -> dict:
    """Apply a 277CA: submitted claims become accepted or rejected (all or nothing).

    Returns counts and, per claim left unchanged, why.
    """
    for_write(session)
    require(actor.role, "billing.remittance")
    try:
        return _import(session, actor, text, now or utcnow())
    except ClinicError:
        session.rollback()
        raise


def _import(session: Session, actor: Actor, text: str | bytes, now: dt.datetime) -> dict:
    _, decoded = x12_text(text, "acknowledgement", AcknowledgementRefused)
    acks = parse(decoded)
    plan = []
    for ack in acks:
        claim = session.exec(select(Claim).where(Claim.number == ack.number)).first()
        if claim is None:
            raise AcknowledgementRefused(f"Claim {ack.number} in the acknowledgement matches no claim we sent; nothing was changed.")
        plan.append((claim, ack))
    summary = {"accepted": 0, "rejected": 0, "unchanged": []}
    for claim, ack in plan:
        verdict = ack.verdict()
        if verdict is None:
            summary["unchanged"].append(f"{claim.number}: received, not yet accepted or rejected")
            continue
        if claim.status != "submitted":
            summary["unchanged"].append(f"{claim.number}: already {STATUS_LABELS[claim.status].lower()}")
            continue
        if ack.payer_claim_number and not claim.payer_claim_number:
            claim.payer_claim_number = ack.payer_claim_number
        _move(session, claim, verdict, actor=actor, note=ack.note(), now=now)
        summary[verdict] += 1
    audit.record(session, actor=actor, action="import", entity="claim_ack",
                 detail=f"277CA: {summary['accepted']} accepted, {summary['rejected']} rejected")
    session.commit()
    if summary["accepted"] or summary["rejected"]:
        claims.announce("277CA imported")
    return summary
