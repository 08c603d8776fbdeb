"""Claim acknowledgements: the 999 a clearinghouse returns for a whole 837P file
(accepted, or rejected with the syntax errors found), and the 277CA (005010X214) for
the claims of a file, claim by claim: accepted into adjudication or rejected.

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
from clinic_app.services.interop.x12 import reader as x12
from clinic_app.services.interop.x12.reader import X12Refused, el
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import claims
from clinic_app.services.revenue.claims import STATUS_LABELS, move_claim

# Claim status category codes (STC01-1) of a 277CA.
ACCEPTED = {"A2": "accepted for adjudication", "A5": "accepted (split claim)"}
REJECTED = {
    "A3": "returned as unprocessable", "A4": "not found", "A6": "rejected for missing information",
    "A7": "rejected for invalid information", "A8": "rejected for relational field in error",
}


class AcknowledgementRefused(X12Refused):
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
        segments = x12.check_envelope(x12.segments(text), kind="277", words="a 277CA claim acknowledgement", plural="acknowledgements")
    except X12Refused as exc:
        raise AcknowledgementRefused(str(exc)) from exc
    if el(segments[0], 3) != "005010X214":
        raise AcknowledgementRefused("This 277 is not a claim acknowledgement (277CA, 005010X214).")
    found: list[ClaimAck] = []
    level = ""
    for seg in segments:
        tag = seg[0]
        if tag == "HL":
            level = el(seg, 3)
        elif tag == "TRN" and el(seg, 1) == "2" and level == "PT":
            found.append(ClaimAck(number=el(seg, 2)[:20]))
        elif tag == "STC" and level == "PT" and found:
            category, _, code = el(seg, 1).partition(":")
            found[-1].statuses.append((category[:3], code.split(":")[0][:5], el(seg, 12)[:80]))
        elif tag == "REF" and el(seg, 1) == "1K" and level == "PT" and found:
            found[-1].payer_claim_number = el(seg, 2)[:50]
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
        raise


def _import(session: Session, actor: Actor, text: str | bytes, now: dt.datetime) -> dict:
    _, decoded = x12.x12_text(text, "acknowledgement", AcknowledgementRefused)
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
        move_claim(session, claim, verdict, actor=actor, note=ack.note(), now=now)
        summary[verdict] += 1
    audit.record(session, actor=actor, action="import", entity="claim_ack",
                 detail=f"277CA: {summary['accepted']} accepted, {summary['rejected']} rejected")
    session.flush()
    if summary["accepted"] or summary["rejected"]:
        claims.announce(session, "277CA imported")
    return summary


# 999 (005010X231A1): the receiver's syntax check of a whole 837P file.
REJECTED_999 = {"R": "rejected", "M": "rejected (MAC failed)", "W": "rejected (assurance failed)", "X": "rejected (content undecryptable)"}
# IK304 segment syntax error codes (X12 element 620) and IK403 element error codes (element 621).
SEGMENT_ERRORS = {
    "1": "unrecognized segment ID", "2": "unexpected segment", "3": "required segment missing",
    "4": "loop occurs over maximum times", "5": "segment exceeds maximum use", "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence", "8": "segment has data element errors",
    "I4": "implementation \"not used\" segment present", "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times", "I8": "implementation segment below minimum use",
    "I9": "implementation dependent \"not used\" segment present",
}
ELEMENT_ERRORS = {
    "1": "required data element missing", "2": "conditional required data element missing", "3": "too many data elements",
    "4": "data element too short", "5": "data element too long", "6": "invalid character in data element",
    "7": "invalid code value", "8": "invalid date", "9": "invalid time", "10": "exclusion condition violated",
    "12": "too many repetitions", "13": "too many components", "I10": "implementation \"not used\" data element present",
    "I11": "implementation too few repetitions", "I12": "implementation pattern match failure",
    "I13": "implementation dependent \"not used\" data element present", "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
}


def _coded(code: str, words: dict[str, str]) -> str:
    return f"error {code} ({words[code]})" if code in words else f"error {code or '(none)'}"


def parse_999(text: str) -> tuple[str, str, list[str]]:
    """(the 837P file's GS control number, 'accepted' or 'rejected', the errors named)."""
    try:
        segments = x12.check_envelope(x12.segments(text), kind="999", words="a 999 acknowledgement", plural="acknowledgements")
    except X12Refused as exc:
        raise AcknowledgementRefused(str(exc)) from exc
    ak1 = next((s for s in segments if s[0] == "AK1"), None)
    if ak1 is None or el(ak1, 1) != "HC":
        raise AcknowledgementRefused("This 999 does not acknowledge an 837P claim file (no AK1*HC).")
    errors = []
    for seg in segments:
        if seg[0] == "IK3":
            # IK302 counts segments from the transaction set's ST (ST = 1), not from the start of the file.
            loop = f", loop {el(seg, 3)}" if el(seg, 3) else ""
            errors.append(f"{el(seg, 1)} segment at position {el(seg, 2)} of the transaction set{loop}: "
                          f"{_coded(el(seg, 4), SEGMENT_ERRORS)}")
        elif seg[0] == "IK4":
            position = el(seg, 1).replace(":", ".")
            bad = f", bad value {el(seg, 4)[:20]!r}" if el(seg, 4) else ""
            errors.append(f"element {position} (data element {el(seg, 2) or '?'}): {_coded(el(seg, 3), ELEMENT_ERRORS)}{bad}")
    codes = [el(s, 1) for s in segments if s[0] in ("IK5", "AK9")]
    verdict = "rejected" if any(c in REJECTED_999 for c in codes) else "accepted"
    return el(ak1, 2), verdict, errors


def import_999(session: Session, *, actor: Actor, text: str | bytes, now: dt.datetime | None = None) -> dict:
    """Apply a 999: when it rejects an 837P file, that file's claims still submitted become rejected.

    An accepted file changes nothing (its claims wait for the 277CA or the 835).
    """
    for_write(session)
    require(actor.role, "billing.remittance")
    try:
        _, decoded = x12.x12_text(text, "acknowledgement", AcknowledgementRefused)
        control, verdict, errors = parse_999(decoded)
        batch = list(session.exec(select(Claim).where(Claim.batch_control == control, Claim.batch_control != "").order_by(Claim.id)))
        if not batch:
            raise AcknowledgementRefused(f"The 999 answers file {control!r}, which matches no 837P file we sent; nothing was changed.")
    except ClinicError:
        raise
    summary = {"file": control, "verdict": verdict, "rejected": 0, "unchanged": []}
    if verdict == "rejected":
        note = ("999: 837P file rejected" + (": " + "; ".join(errors) if errors else ""))[:200]
        for claim in batch:
            if claim.status != "submitted":
                summary["unchanged"].append(f"{claim.number}: already {STATUS_LABELS[claim.status].lower()}")
                continue
            move_claim(session, claim, "rejected", actor=actor, note=note, now=now or utcnow())
            summary["rejected"] += 1
    audit.record(session, actor=actor, action="import", entity="claim_ack", detail=f"999 file {control}: {verdict}")
    session.flush()
    if summary["rejected"]:
        claims.announce(session, "999 imported")
    return summary


def import_ack(session: Session, *, actor: Actor, text: str | bytes, now: dt.datetime | None = None) -> dict:
    """Apply a 999 or a 277CA, whichever the file holds; the summary says which (``kind``)."""
    require(actor.role, "billing.remittance")
    _, decoded = x12.x12_text(text, "acknowledgement", AcknowledgementRefused)
    try:
        kind = next((el(s, 1) for s in x12.segments(decoded) if s[0] == "ST"), "")
    except X12Refused as exc:
        raise AcknowledgementRefused(str(exc)) from exc
    if kind == "999":
        return {"kind": "999", **import_999(session, actor=actor, text=decoded, now=now)}
    return {"kind": "277CA", **import_277ca(session, actor=actor, text=decoded, now=now)}
