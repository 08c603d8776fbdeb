"""Insurance eligibility: the X12 5010 270 inquiry (005010X279A1) and reading a 271.

``request_270`` writes the inquiry for one coverage (EQ*30, health benefit plan
coverage) and remembers its trace number; the payer's 271 echoes that number in TRN, so
``import_271`` finds the coverage by it (or, failing that, by the member id). A 271 is
read completely and checked before anything is saved: a damaged, truncated or foreign
file is refused with the reason and changes nothing.

What is kept per coverage: active or inactive (EB01 1-5 active, 6-8 inactive), the
copay (EB01 B, EB07), the deductible remaining (EB01 C with EB06 29 "remaining"), when.
A subscriber or dependant loop with an AAA segment and no EB is the payer saying it could not
find or match the person (AAA03, e.g. 75 "subscriber/insured not found", 72 "invalid member
id"): that is an answer too, kept as "not found at the payer" with its reason. An AAA about
the request itself (at the payer or the provider loop, e.g. 42 "unable to respond now")
refuses the file with its reason: it answers for nobody.
Where a payer sends several, the in-network (EB12 Y or empty) individual amount for
physical medicine / therapy wins, then the plan-wide one (service type 30).

pyx12 4.0.0, which validates the 837P (services/interop/x12/x12_validate.py), ships no 5010
270/271 map (only 004010X092A1); the inquiry is checked with x12sdk's 005010X279A1
models instead (``validate_270``), in the service and in the tests.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import Appointment, BillingProfile, Coverage, LedgerEntry, Location, Patient, Payer
from clinic_app.services.interop.x12 import reader as x12
from clinic_app.services.interop.x12.reader import el
from clinic_app.services.interop.x12.x12_837 import RECEIVER_ID, SENDER_ID, clean
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotFound
from clinic_app.services.platform.money import dollars
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue.pricing import coverage_on

MAX_BYTES = 1024 * 1024  # one answer per file; a 271 for one person is a few KB
ACTIVE = {"1", "2", "3", "4", "5"}
INACTIVE = {"6", "7", "8"}
STATUS_WORDS = {"active": "Active", "inactive": "Inactive", "not_found": "Not found at the payer"}
# AAA03 reject reasons (X12 element 901) a 271 sends most.
AAA_REASONS = {
    "15": "required application data missing", "41": "authorization/access restrictions",
    "42": "unable to respond at current time", "43": "invalid or missing provider identification",
    "51": "provider not on file", "56": "inappropriate date", "57": "invalid or missing date of service",
    "58": "invalid or missing date of birth", "62": "date of service not within allowable inquiry period",
    "63": "date of service in future", "64": "invalid or missing patient id", "65": "invalid or missing patient name",
    "67": "patient not found", "68": "duplicate patient id number", "71": "birth date does not match the payer's",
    "72": "invalid or missing member id", "73": "invalid or missing subscriber name",
    "75": "subscriber/insured not found", "76": "duplicate member id", "77": "subscriber found, patient not found",
    "78": "subscriber not in the group or plan", "79": "invalid participant identification",
    "80": "no response received", "T4": "payer name or identifier missing",
}


def aaa_words(code: str) -> str:
    return f"{AAA_REASONS.get(code, 'rejected')} (AAA {code})"
# Service types a therapy clinic's copay is for, best first (X12 1365).
THERAPY_TYPES = ("PT", "AE", "33", "AD", "A6", "30")
DEPENDENT_INS = {"spouse": "01", "child": "19", "other": "G8"}


class EligibilityRefused(ClinicError):
    """The 271 cannot be read into the clinic's coverages; nothing was changed."""


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def validate_270(text: str) -> list[str]:
    """Problems x12sdk's 005010X279A1 models find in a 270; empty when it is valid."""
    from x12sdk.io import X12ModelReader

    try:
        with X12ModelReader(text) as reader:
            models = list(reader.models())
    except Exception as exc:  # the validators raise pydantic and value errors alike
        return [str(exc)[:2000]]
    return [] if models else ["no transaction found"]


def _profile(session: Session, actor: Actor) -> BillingProfile:
    query = select(BillingProfile).order_by(BillingProfile.id)
    if actor.location_id:
        query = select(BillingProfile).where(BillingProfile.location_id == actor.location_id)
    profile = session.exec(query).first() or session.exec(select(BillingProfile).order_by(BillingProfile.id)).first()
    if profile is None or not profile.npi:
        raise InvalidInput("Set up the clinic's billing profile (organisation and NPI) before asking payers about eligibility.")
    return profile


def render_270(*, coverage: Coverage, patient: Patient, payer: Payer, profile: BillingProfile, trace: str,
               control_number: int, now: dt.datetime) -> str:
    """The 270 interchange asking ``payer`` whether ``coverage`` is active today."""
    control = f"{control_number % 1_000_000_000:09d}"
    group = str(control_number % 1_000_000_000)
    today = _d8(now.date())
    originator = "1" + (profile.tax_id if re.fullmatch(r"[0-9]{9}", profile.tax_id or "") else "999999999")
    self_insured = coverage.relationship == "self"
    rows = [
        ["ST", "270", "0001", "005010X279A1"],
        ["BHT", "0022", "13", trace, today, now.strftime("%H%M")],
        ["HL", "1", "", "20", "1"],
        ["NM1", "PR", "2", clean(payer.name), "", "", "", "", "PI", clean(payer.payer_id, 80)],
        ["HL", "2", "1", "21", "1"],
        ["NM1", "1P", "2", clean(profile.organisation), "", "", "", "", "XX", profile.npi],
        ["HL", "3", "2", "22", "0" if self_insured else "1"],
    ]
    question = [["DTP", "291", "D8", today], ["EQ", "30"]]
    if self_insured:
        rows += [
            ["TRN", "1", trace, originator],
            ["NM1", "IL", "1", clean(patient.last_name), clean(patient.first_name, 35), "", "", "", "MI", clean(coverage.member_id, 80)],
            ["DMG", "D8", _d8(patient.birth_date)],
            *question,
        ]
    else:
        rows += [
            ["NM1", "IL", "1", clean(coverage.subscriber_last_name), clean(coverage.subscriber_first_name, 35), "", "", "",
             "MI", clean(coverage.member_id, 80)],
            ["DMG", "D8", _d8(coverage.subscriber_birth_date)],
            ["HL", "4", "3", "23", "0"],
            ["TRN", "1", trace, originator],
            ["NM1", "03", "1", clean(patient.last_name), clean(patient.first_name, 35)],
            ["DMG", "D8", _d8(patient.birth_date)],
            ["INS", "N", DEPENDENT_INS[coverage.relationship]],
            *question,
        ]
    rows.append(["SE", str(len(rows) + 1), "0001"])
    isa = "*".join([
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", SENDER_ID.ljust(15), "ZZ", RECEIVER_ID.ljust(15),
        now.strftime("%y%m%d"), now.strftime("%H%M"), "^", "00501", control, "0", settings.x12_usage(), ":",
    ])
    gs = "*".join(["GS", "HS", SENDER_ID, RECEIVER_ID, today, now.strftime("%H%M"), group, "X", "005010X279A1"])
    body = [isa, gs, *("*".join(r) for r in rows), f"GE*1*{group}", f"IEA*1*{control}"]
    return "~\n".join(body) + "~\n"


def request_270(session: Session, *, actor: Actor, coverage_id: int, now: dt.datetime | None = None) -> str:
    """Write the 270 for a coverage, check it, and remember its trace number."""
    for_write(session)
    require(actor.role, "coverage.edit")
    now = now or utcnow()
    coverage = session.get(Coverage, coverage_id)
    if coverage is None or not coverage.active:
        raise NotFound(f"No active coverage has the id {coverage_id}.")
    patient, payer = session.get(Patient, coverage.patient_id), session.get(Payer, coverage.payer_id)
    if coverage.relationship != "self" and coverage.subscriber_birth_date is None:
        raise InvalidInput("Record the subscriber's date of birth on the coverage first.")
    profile = _profile(session, actor)
    trace = f"C{coverage.id}T{now:%Y%m%d%H%M%S}"
    control = int(now.timestamp()) % 1_000_000_000
    text = render_270(coverage=coverage, patient=patient, payer=payer, profile=profile, trace=trace,
                      control_number=control, now=now)
    problems = validate_270(text)
    if problems:  # a bug in the writer, never the desk's fault: say so plainly
        raise InvalidInput(f"The 270 for coverage {coverage.id} did not pass the 5010 checks: {problems[0][:300]}")
    coverage.eligibility_trace = trace
    session.add(coverage)
    audit.record(session, actor=actor, action="export", entity="eligibility_270", entity_id=coverage.id,
                 patient_id=coverage.patient_id, detail=trace)
    session.flush()
    return text


@dataclass
class Answer:
    """What a 271 says about one person."""

    trace: str
    member_id: str
    status: str  # "active" | "inactive" | "not_found"
    copay_cents: int | None
    deductible_remaining_cents: int | None
    reason: str = ""  # AAA03 when not found


def _cents(text: str, where: str) -> int:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError) as exc:
        raise EligibilityRefused(f"{where}: the amount {text[:20]!r} is not a number.") from exc
    if not value.is_finite() or value < 0 or value > Decimal("10000000"):
        raise EligibilityRefused(f"{where}: the amount {text[:20]!r} is out of range.")
    return int((value * 100).to_integral_value())


def _best(candidates: list[tuple[list[str], int]]) -> int | None:
    """The amount for therapy in network for the individual, else the plan's."""
    def rank(item):
        seg, _ = item
        types = el(seg, 3).split(":") if el(seg, 3) else ["30"]
        kind = min((THERAPY_TYPES.index(t) for t in types if t in THERAPY_TYPES), default=len(THERAPY_TYPES))
        return (el(seg, 12) == "N", kind, el(seg, 2) not in ("", "IND"))

    return min(candidates, key=rank)[1] if candidates else None


def read_271(raw: bytes | str) -> list[Answer]:
    """Every person's answer in a 271 file, after checking the whole file."""
    try:
        _, text = x12.x12_text(raw, "eligibility response", EligibilityRefused, max_bytes=MAX_BYTES)
        transaction = x12.check_envelope(x12.segments(text), kind="271", words="a 271 eligibility response", plural="eligibility responses",
                                      version="005010X279A1")
    except ClinicError as exc:
        raise EligibilityRefused(str(exc)) from exc
    people: list[dict] = []
    by_hl: dict[str, dict] = {}
    current: dict | None = None
    for seg in transaction:
        name = seg[0]
        if name == "HL" and el(seg, 3) in ("22", "23"):
            # A dependant answers under its subscriber's trace and member id unless it has its own.
            parent = by_hl.get(el(seg, 2), {}) if el(seg, 3) == "23" else {}
            current = {"trace": parent.get("trace", ""), "own_trace": False, "member_id": parent.get("member_id", ""),
                       "eb": [], "hl": el(seg, 1), "rejected": "", "parent": el(seg, 4) == "1"}
            by_hl[current["hl"]] = current
            people.append(current)
        elif current is None:
            if name == "AAA" and el(seg, 1) == "N":
                # About the request (2100A payer, 2100B provider): no person is answered for.
                raise EligibilityRefused(f"The payer could not answer the request: {aaa_words(el(seg, 3)[:3])}"
                                         + (" ; ask again later." if el(seg, 3) == "42" else "; correct it and ask again."))
            continue
        elif name == "TRN" and el(seg, 1) in ("1", "2") and not current["own_trace"]:
            current["trace"], current["own_trace"] = el(seg, 2), True
        elif name == "NM1" and el(seg, 1) == "IL":
            current["member_id"] = el(seg, 9)
        elif name == "AAA" and el(seg, 1) == "N":
            current["rejected"] = el(seg, 3)
        elif name == "EB":
            current["eb"].append(seg)
    answers = []
    for person in people:
        where = f"Subscriber loop HL {person['hl']}"
        if person["rejected"] and person["eb"]:
            raise EligibilityRefused(f"{where}: the payer rejected the request ({aaa_words(person['rejected'][:3])}) but also "
                                     "sent benefits (EB); the answer contradicts itself. Ask again.")
        if person["rejected"]:
            # The payer found no one to answer for: an answer (not found), kept with its reason.
            answers.append(Answer(trace=person["trace"][:50], member_id=person["member_id"][:80], status="not_found",
                                  copay_cents=None, deductible_remaining_cents=None, reason=person["rejected"][:3]))
            continue
        if not person["eb"]:
            if person["parent"]:
                continue  # a subscriber whose dependant is the patient: the answer is in the dependant's loop
            raise EligibilityRefused(f"{where}: the answer holds no benefit (EB) segments; the file is incomplete.")
        codes = {el(seg, 1) for seg in person["eb"]}
        if codes & ACTIVE:
            status = "active"
        elif codes & INACTIVE:
            status = "inactive"
        else:
            raise EligibilityRefused(f"{where}: no EB segment says whether the coverage is active or inactive.")
        copays = [(seg, _cents(el(seg, 7), where)) for seg in person["eb"] if el(seg, 1) == "B" and el(seg, 7)]
        remaining = [
            (seg, _cents(el(seg, 7), where)) for seg in person["eb"]
            if el(seg, 1) == "C" and el(seg, 6) == "29" and el(seg, 7)
        ]
        answers.append(Answer(
            trace=person["trace"][:50], member_id=person["member_id"][:80], status=status,
            copay_cents=_best(copays), deductible_remaining_cents=_best(remaining),
        ))
    if not answers:
        raise EligibilityRefused("The file holds no eligibility answer for anyone.")
    return answers


def import_271(session: Session, *, actor: Actor, raw: bytes | str, now: dt.datetime | None = None) -> list[dict]:
    """Read a 271 into the coverages it answers for: all of them, or none."""
    for_write(session)
    require(actor.role, "coverage.edit")
    now = now or utcnow()
    answers = read_271(raw)
    updates = []
    for answer in answers:
        coverage = None
        if answer.trace:
            coverage = session.exec(select(Coverage).where(Coverage.eligibility_trace == answer.trace)).first()
        if coverage is None and answer.member_id:
            matches = session.exec(select(Coverage).where(Coverage.member_id == answer.member_id, Coverage.active)).all()
            coverage = matches[0] if len(matches) == 1 else None
        if coverage is None:
            raise EligibilityRefused(
                f"The answer for member {answer.member_id[:20] or '(none)'} (trace {answer.trace[:30] or 'none'}) "
                "matches no coverage on file; nothing was changed."
            )
        if answer.member_id and clean(answer.member_id, 80) != clean(coverage.member_id, 80):
            raise EligibilityRefused(
                f"The answer with trace {answer.trace[:30]} is for member {answer.member_id[:20]}, but that request was "
                f"for {coverage.member_id}; nothing was changed."
            )
        updates.append((coverage, answer))
    result = []
    for coverage, answer in updates:
        coverage.eligibility_status = answer.status
        coverage.eligibility_copay_cents = answer.copay_cents
        coverage.deductible_remaining_cents = answer.deductible_remaining_cents
        coverage.eligibility_reason = answer.reason
        coverage.eligibility_checked_at = now
        session.add(coverage)
        audit.record(session, actor=actor, action="import", entity="eligibility_271", entity_id=coverage.id,
                     patient_id=coverage.patient_id,
                     detail=f"{answer.status}{' AAA ' + answer.reason if answer.reason else ''} trace {answer.trace}"[:200])
        row = {"coverage_id": coverage.id, "status": answer.status, "copay_cents": answer.copay_cents,
               "deductible_remaining_cents": answer.deductible_remaining_cents}
        if answer.reason:
            row["reason"] = answer.reason
        result.append(row)
    session.flush()
    return result




def eligibility_words(coverage: Coverage, tz: str) -> str:
    """The last eligibility answer in words, e.g. "Active (checked 2030-03-11 16:05): copay $25.00,
    deductible remaining $300.00", or "Eligibility not checked"."""
    if not coverage.eligibility_status or coverage.eligibility_checked_at is None:
        return "Eligibility not checked"
    words = f"{STATUS_WORDS.get(coverage.eligibility_status, coverage.eligibility_status)} " \
            f"(checked {local(coverage.eligibility_checked_at, tz):%Y-%m-%d %H:%M})"
    if coverage.eligibility_status == "not_found":
        return (f"{words}: {aaa_words(coverage.eligibility_reason or '?')}; check the member id, name and birth date "
                "with the patient, then ask again")
    details = []
    if coverage.eligibility_copay_cents is not None:
        details.append(f"copay {dollars(coverage.eligibility_copay_cents)}")
    if coverage.deductible_remaining_cents is not None:
        details.append(f"deductible remaining {dollars(coverage.deductible_remaining_cents)}")
    return words + (": " + ", ".join(details) if details else "")


@dataclass
class CopayDue:
    """What the desk should collect for a visit at check-in, in words and cents."""

    coverage: str  # "Acme Health, member XY123" or a self-pay sentence
    eligibility: str
    copay_cents: int | None  # None: no copay known for this visit
    paid_cents: int
    due_cents: int

    @property
    def words(self) -> str:
        if self.copay_cents is None:
            return "No copay on file for this visit"
        if self.due_cents == 0:
            return f"Copay {dollars(self.copay_cents)} paid"
        return f"Copay due {dollars(self.due_cents)}" + (f" (of {dollars(self.copay_cents)})" if self.paid_cents else "")


def copay_due(session: Session, *, appointment_id: int) -> CopayDue:
    """The copay due for a visit: the payer's 271 copay when the coverage is active,
    else the copay recorded on the coverage, less what the patient paid for this visit."""
    from sqlalchemy import func


    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That appointment no longer exists.")
    tz = session.get(Location, appointment.location_id).timezone
    day = local(appointment.starts_at, tz).date()
    paid = -int(session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(LedgerEntry.appointment_id == appointment_id, LedgerEntry.kind == "payment", LedgerEntry.payer_id.is_(None))
    ).one())
    coverage = coverage_on(session, patient_id=appointment.patient_id, day=day)
    if coverage is None:
        return CopayDue("No insurance on file for this day (self-pay)", "", None, paid, 0)
    payer = session.get(Payer, coverage.payer_id)
    label = f"{payer.name}, member {coverage.member_id}"
    words = eligibility_words(coverage, tz)
    if coverage.eligibility_status == "inactive":
        return CopayDue(label, words + ": ask for current insurance or treat as self-pay", None, paid, 0)
    if coverage.eligibility_status == "not_found":
        return CopayDue(label, words, None, paid, 0)
    copay = coverage.eligibility_copay_cents if coverage.eligibility_copay_cents is not None else coverage.copay_cents
    due = max((copay or 0) - paid, 0) if copay is not None else 0
    return CopayDue(label, words, copay, paid, due)
