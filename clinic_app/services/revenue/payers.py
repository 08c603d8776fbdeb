"""Payers, patients' coverage, fee schedules, and the price a charge gets at signing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import BillingProfile, Coverage, FeeSchedule, Patient, Payer
from clinic_app.models.people import SEXES
from clinic_app.models.revenue import RELATIONSHIPS
from clinic_app.services.charting.codes import PROCEDURE_RE, npi_is_valid
from clinic_app.services.frontdesk import changes
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import repricing

PAYER_ID_RE = re.compile(r"^[A-Za-z0-9]{2,80}$")
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")
# The claim filing indicator (X12 element 1032, the 837P's SBR09) in 005010X222A1's code list,
# in the words a biller picks it by.
FILING_INDICATORS = {
    "CI": "Commercial insurance",
    "BL": "Blue Cross/Blue Shield",
    "MB": "Medicare Part B",
    "MA": "Medicare Part A",
    "16": "Medicare Advantage HMO (Medicare risk)",
    "MC": "Medicaid",
    "HM": "Health maintenance organisation (HMO)",
    "12": "Preferred provider organisation (PPO)",
    "13": "Point of service (POS)",
    "14": "Exclusive provider organisation (EPO)",
    "15": "Indemnity insurance",
    "17": "Dental maintenance organisation",
    "11": "Other non-federal program",
    "CH": "TRICARE (CHAMPUS)",
    "VA": "Veterans Affairs plan",
    "FI": "Federal Employees Program",
    "OF": "Other federal program",
    "TV": "Title V",
    "WC": "Workers' compensation",
    "AM": "Automobile medical",
    "LM": "Liability medical",
    "DS": "Disability",
    "ZZ": "Mutually defined",
}


def filing_indicator(code: str) -> str:
    """A claim filing indicator from the list ('mb' -> 'MB'), or InvalidInput naming the choice."""
    code = (code or "").strip().upper()
    if code not in FILING_INDICATORS:
        raise InvalidInput("Choose the claim filing indicator from the list (e.g. CI commercial, MB Medicare Part B).")
    return code


def parse_modifiers(text: str) -> str:
    """Up to four two-character modifiers ('gp, kx' -> 'GP,KX'); InvalidInput otherwise."""
    mods = [m for m in re.split(r"[\s,]+", (text or "").strip().upper()) if m]
    if len(mods) > 4:
        raise InvalidInput("A service line carries at most four modifiers.")
    for m in mods:
        if not MODIFIER_RE.match(m):
            raise InvalidInput(f"{m[:6]!r} is not a modifier (two letters or digits, e.g. GP or 59).")
    return ",".join(mods)


def parse_money(text: str | int) -> int:
    """Cents from '45', '45.00' or an int of cents."""
    if isinstance(text, int):
        cents = text
    else:
        m = re.fullmatch(r"\$?\s*([0-9]{1,7})(?:\.([0-9]{1,2}))?", (text or "").strip())
        if not m:
            raise InvalidInput(f"{str(text)[:12]!r} is not an amount; type dollars and cents, e.g. 45.00.")
        cents = int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if cents < 0:
        raise InvalidInput("An amount cannot be negative.")
    return cents


def create_payer(
    session: Session, *, actor: Actor, name: str, payer_id: str, default_modifiers: str = "", claim_filing_indicator: str = "CI",
) -> Payer:
    """Add an insurer; its payer id is the one its claims are addressed to, its claim filing
    indicator the kind of plan its claims say it is (SBR09)."""
    for_write(session)
    require(actor.role, "billing.setup")
    name = (name or "").strip()
    payer_id = (payer_id or "").strip().upper()
    if not name:
        raise InvalidInput("Give the payer a name.")
    if not PAYER_ID_RE.match(payer_id):
        raise InvalidInput("The payer id is the letters and digits the clearinghouse lists for this payer (e.g. 12345 or BCBSX).")
    payer = Payer(name=name[:60], payer_id=payer_id, default_modifiers=parse_modifiers(default_modifiers),
                  claim_filing_indicator=filing_indicator(claim_filing_indicator))
    try:
        with session.begin_nested():  # a clash undoes this part only
            session.add(payer)
    except IntegrityError as exc:
        raise InvalidInput(f"A payer named {name!r} or with payer id {payer_id} already exists.") from exc
    audit.record(session, actor=actor, action="create", entity="payer", entity_id=payer.id)
    session.flush()
    return payer


def list_payers(session: Session, *, actor: Actor) -> list[Payer]:
    """Every payer, active ones first, by name."""
    require(actor.role, "billing.setup")
    return list(session.exec(select(Payer).order_by(Payer.active.desc(), Payer.name)))


def update_payer(
    session: Session, *, actor: Actor, payer_db_id: int, name: str, payer_id: str, default_modifiers: str = "", active: bool = True,
    claim_filing_indicator: str | None = None,
) -> Payer:
    """Change a payer's name, payer id, default modifiers, claim filing indicator (None: keep
    it), or stop using it (claims already made keep it)."""
    for_write(session)
    require(actor.role, "billing.setup")
    payer = session.get(Payer, payer_db_id)
    if payer is None:
        raise NotFound("That payer no longer exists.")
    name, payer_id = (name or "").strip(), (payer_id or "").strip().upper()
    if not name:
        raise InvalidInput("Give the payer a name.")
    if not PAYER_ID_RE.match(payer_id):
        raise InvalidInput("The payer id is the letters and digits the clearinghouse lists for this payer (e.g. 12345 or BCBSX).")
    indicator = payer.claim_filing_indicator if claim_filing_indicator is None else filing_indicator(claim_filing_indicator)
    try:
        with session.begin_nested():  # a clash undoes this part only
            payer.name, payer.payer_id, payer.default_modifiers, payer.active = name[:60], payer_id, parse_modifiers(default_modifiers), bool(active)
            payer.claim_filing_indicator = indicator
            session.add(payer)
    except IntegrityError as exc:
        raise InvalidInput(f"Another payer is already named {name!r} or has payer id {payer_id}.") from exc
    audit.record(session, actor=actor, action="update", entity="payer", entity_id=payer.id)
    session.flush()
    return payer


def fees(session: Session, *, actor: Actor, payer_id: int | None = None) -> list[FeeSchedule]:
    """A payer's fee schedule, or the self-pay rates when ``payer_id`` is None, by code."""
    require(actor.role, "billing.setup")
    where = FeeSchedule.payer_id == payer_id if payer_id else FeeSchedule.payer_id.is_(None)
    return list(session.exec(select(FeeSchedule).where(where).order_by(FeeSchedule.code)))


def remove_fee(session: Session, *, actor: Actor, fee_id: int) -> None:
    """Drop a row of a fee schedule; the code is then priced at the clinic's standard fee.

    Charges already priced keep their price (they carry it)."""
    for_write(session)
    require(actor.role, "billing.setup")
    row = session.get(FeeSchedule, fee_id)
    if row is None:
        raise NotFound("That fee is already gone.")
    audit.record(session, actor=actor, action="delete", entity="fee_schedule", detail=f"{row.code} payer {row.payer_id or 'self-pay'}")
    session.delete(row)
    session.flush()


def set_fee(session: Session, *, actor: Actor, code: str, amount: str | int, payer_id: int | None = None) -> FeeSchedule:
    """Set the price per unit of a code for a payer, or the self-pay rate (no payer)."""
    for_write(session)
    require(actor.role, "billing.setup")
    code = (code or "").strip().upper()
    if not PROCEDURE_RE.match(code):
        raise InvalidInput(f"{code[:12]!r} is not a procedure code (five characters, e.g. 97110).")
    cents = parse_money(amount)
    if payer_id is not None and session.get(Payer, payer_id) is None:
        raise NotFound("That payer no longer exists.")
    row = session.exec(
        select(FeeSchedule).where(FeeSchedule.code == code, FeeSchedule.payer_id == payer_id if payer_id else FeeSchedule.payer_id.is_(None))
    ).first()
    row = row or FeeSchedule(payer_id=payer_id, code=code, amount_cents=cents)
    row.amount_cents = cents
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="fee_schedule", detail=f"{code} payer {payer_id or 'self-pay'} {cents}")
    session.flush()
    return row


COVERAGE_FIELDS = (
    "payer_id", "member_id", "group_number", "priority", "relationship", "subscriber_first_name",
    "subscriber_last_name", "subscriber_birth_date", "subscriber_sex", "address", "city", "state", "zip_code", "effective_from",
    "effective_to",
)


class CoverageInvalid(InvalidInput):
    """A coverage's fields that are wrong, all at once: ``problems`` maps each field (a name of
    ``CoverageForm``) to what to fix; the message is all of them."""

    # The order the forms show their fields in (and the alert lists the problems in).
    ORDER = ("payer_id", "member_id", "group_number", "priority", "effective_from", "effective_to", "copay", "relationship",
             "subscriber_first_name", "subscriber_last_name", "subscriber_birth_date", "subscriber_sex", "address", "city",
             "state", "zip_code")

    def __init__(self, problems: dict[str, str]) -> None:
        rank = {name: i for i, name in enumerate(self.ORDER)}
        problems = dict(sorted(problems.items(), key=lambda item: rank.get(item[0], len(rank))))
        super().__init__(" ".join(dict.fromkeys(problems.values())))
        self.problems = problems


def _checked_coverage(session: Session, *, patient_id: int | None, payer_id: int | None, member_id: str,
                      effective_from: dt.date | None, effective_to: dt.date | None, group_number: str, priority: int | None,
                      relationship: str, subscriber_first_name: str, subscriber_last_name: str,
                      subscriber_birth_date: dt.date | None, address: str, city: str, state: str, zip_code: str,
                      subscriber_sex: str = "unknown", ignore_id: int | None = None,
                      problems: dict[str, str] | None = None) -> dict:
    """A coverage's values, cleaned, or CoverageInvalid naming every field to fix (same rules for
    add and edit). ``problems`` already found (a date that is not one) are reported with the rest.

    ``patient_id`` None checks a coverage for a patient not saved yet (registration): every
    rule but the overlap with the patient's other coverages, which they do not have."""
    problems = dict(problems or {})

    def problem(field: str, text: str) -> None:
        problems.setdefault(field, text)

    if patient_id is not None and session.get(Patient, patient_id) is None:
        raise NotFound("That patient no longer exists.")
    if payer_id is not None and session.get(Payer, payer_id) is None:
        raise NotFound("That payer no longer exists.")
    if payer_id is None:
        problem("payer_id", "Choose the insurer (payer) from the list.")
    member_id = (member_id or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9-]{2,40}", member_id):
        problem("member_id", "The member id is the letters and digits on the insurance card (2 to 40).")
    if priority not in (1, 2):
        problem("priority", "Coverage is primary (1) or secondary (2).")
    if relationship not in RELATIONSHIPS:
        problem("relationship", "The subscriber is the patient (self), a spouse, a parent (child) or other.")
    if effective_from is None:
        problem("effective_from", "Enter the date the coverage starts.")
    elif effective_to is not None and effective_to < effective_from:
        problem("effective_to", "The coverage ends before it starts; check the dates.")
    if relationship != "self":
        given = {"subscriber_first_name": subscriber_first_name.strip(), "subscriber_last_name": subscriber_last_name.strip(),
                 "subscriber_birth_date": subscriber_birth_date}
        missing = [name for name, value in given.items() if not value and name not in problems]
        if missing:  # said once, beside the first field missing
            problem(missing[0], "When the patient is not the subscriber, give the subscriber's name and birth date.")
    subscriber_sex = (subscriber_sex or "unknown").strip().lower()
    if subscriber_sex not in SEXES:
        problem("subscriber_sex", "Choose the subscriber's sex from the list (female, male, other or unknown).")
    state, zip_code = (state or "").strip().upper(), (zip_code or "").strip()
    if address or city or state or zip_code:
        wrong = [name for name, ok in (
            ("address", address.strip()), ("city", city.strip()), ("state", re.fullmatch(r"[A-Z]{2}", state)),
            ("zip_code", re.fullmatch(r"[0-9]{5}([0-9]{4})?", zip_code)),
        ) if not ok]
        if wrong:
            problem(wrong[0], "Give the subscriber's street, city, two-letter state and five- or nine-digit ZIP code.")
    far = dt.date.max
    dates_ok = effective_from is not None and "effective_from" not in problems and "effective_to" not in problems
    for other in session.exec(
        select(Coverage).where(Coverage.patient_id == patient_id, Coverage.priority == priority, Coverage.active)
    ) if patient_id is not None and dates_ok and priority in (1, 2) else ():
        if other.id == ignore_id:
            continue
        if other.effective_from <= (effective_to or far) and effective_from <= (other.effective_to or far):
            word = "primary" if priority == 1 else "secondary"
            problem("effective_from",
                    f"The patient already has {word} coverage from {other.effective_from} "
                    f"to {other.effective_to or 'open end'}; end that one first.")
            break
    if problems:
        raise CoverageInvalid(problems)
    return {
        "payer_id": payer_id, "member_id": member_id, "group_number": group_number.strip()[:40], "priority": priority,
        "relationship": relationship, "subscriber_first_name": subscriber_first_name.strip()[:80],
        "subscriber_last_name": subscriber_last_name.strip()[:80], "subscriber_birth_date": subscriber_birth_date,
        "subscriber_sex": "unknown" if relationship == "self" else subscriber_sex, "effective_from": effective_from,
        "effective_to": effective_to,
        "address": address.strip()[:55], "city": city.strip()[:30], "state": state, "zip_code": zip_code,
    }


def add_coverage(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    payer_id: int,
    member_id: str,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
    group_number: str = "",
    priority: int = 1,
    relationship: str = "self",
    subscriber_first_name: str = "",
    subscriber_last_name: str = "",
    subscriber_birth_date: dt.date | None = None,
    subscriber_sex: str = "unknown",
    address: str = "",
    city: str = "",
    state: str = "",
    zip_code: str = "",
    copay: str | int | None = None,
    now: dt.datetime | None = None,
    problems: dict[str, str] | None = None,
) -> Coverage:
    """Record a patient's insurance; one primary and one secondary may overlap in time.

    The patient's unbilled visits in the coverage's dates are priced again from the
    schedule that now applies (``repricing``), in the same transaction. ``problems`` already
    found in the typed form (``coverage_fields``) are reported with the rules' (CoverageInvalid).
    """
    for_write(session)
    coverage = record_coverage(
        session, actor=actor, patient_id=patient_id, payer_id=payer_id, member_id=member_id, effective_from=effective_from,
        effective_to=effective_to, group_number=group_number, priority=priority, relationship=relationship,
        subscriber_first_name=subscriber_first_name, subscriber_last_name=subscriber_last_name,
        subscriber_birth_date=subscriber_birth_date, subscriber_sex=subscriber_sex, address=address, city=city, state=state, zip_code=zip_code,
        copay=copay, problems=problems,
    )
    repriced = _reprice(session, actor=actor, coverage=coverage, spans=[(coverage.effective_from, coverage.effective_to)],
                        why="coverage added", now=now)
    session.flush()
    _announce(session, repriced)
    return coverage


def record_coverage(session: Session, *, actor: Actor, patient_id: int, copay: str | int | None = None,
                    problems: dict[str, str] | None = None, **fields) -> Coverage:
    """Check and add a coverage inside the caller's transaction (audited; no re-pricing, no commit)."""
    require(actor.role, "coverage.edit")
    copay_cents, found = _copay_problem(copay, problems)
    values = _checked_coverage(session, patient_id=patient_id, problems=found, **fields)
    coverage = Coverage(patient_id=patient_id, **values, copay_cents=copay_cents)
    session.add(coverage)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="coverage", entity_id=coverage.id, patient_id=patient_id)
    return coverage


def _copay_cents(copay: str | int | None) -> int | None:
    """The card's copay in cents (empty: none), at most $1,000."""
    cents = None if copay in (None, "") else parse_money(copay)
    if cents is not None and cents > 100_000:
        raise InvalidInput("A copay is at most $1,000.00; check the amount.")
    return cents


def _copay_problem(copay: str | int | None, problems: dict[str, str] | None) -> tuple[int | None, dict[str, str]]:
    """The copay in cents and ``problems`` with the copay's own added, if it has one."""
    found = dict(problems or {})
    try:
        return _copay_cents(copay), found
    except InvalidInput as exc:
        found.setdefault("copay", str(exc))
        return None, found


def _reprice(session: Session, *, actor: Actor, coverage: Coverage, spans, why: str, now: dt.datetime | None) -> list:
    """Price the patient's unbilled visits on ``spans`` again (the caller's transaction)."""
    payer = session.get(Payer, coverage.payer_id)
    return repricing.reprice_visits(
        session, actor=actor, patient_id=coverage.patient_id, spans=spans, now=now,
        reason=f"{why}: {payer.name if payer else 'payer'}, member {coverage.member_id}",
    )


def _announce(session: Session, repriced: list) -> None:
    if repriced:
        repricing.announce(session, repriced)


@dataclass
class CoverageForm:
    """A coverage as the desk types it: text as typed, dates as a date field sends them
    (YYYY-MM-DD) or as a person types them (MM/DD/YYYY), the payer's row id."""

    payer_id: str = ""
    member_id: str = ""
    group_number: str = ""
    priority: str = "1"
    relationship: str = "self"
    subscriber_first_name: str = ""
    subscriber_last_name: str = ""
    subscriber_birth_date: str = ""
    subscriber_sex: str = "unknown"
    address: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""
    effective_from: str = ""
    effective_to: str = ""
    copay: str = ""


def typed_date(text: str, what: str, *, required: bool) -> dt.date | None:
    """A date as a date field sends it (YYYY-MM-DD) or as typed (MM/DD/YYYY); empty: None unless
    required; otherwise InvalidInput naming it in the format the field shows (month/day/year)."""
    text = (text or "").strip()
    if not text and not required:
        return None
    for parse in (dt.date.fromisoformat, lambda s: dt.datetime.strptime(s, "%m/%d/%Y").date()):
        try:
            return parse(text)
        except ValueError:
            continue
    raise InvalidInput(f"Enter {what} as month/day/year, e.g. 03/01/2030." if text else f"Enter {what}.")


def coverage_fields(form: CoverageForm) -> dict:
    """``add_coverage``'s keyword values from a typed form. What cannot be read (a date that is
    not one, no payer chosen) is left None and named in ``problems``, which the service reports
    with every rule's problem at once (CoverageInvalid)."""
    problems: dict[str, str] = {}

    def date(name: str, what: str, *, required: bool) -> dt.date | None:
        try:
            return typed_date(getattr(form, name), what, required=required)
        except InvalidInput as exc:
            problems[name] = str(exc)
            return None

    payer = str(form.payer_id).strip()
    if not payer.isdigit():
        problems["payer_id"] = "Choose the insurer (payer) from the list."
    if str(form.priority) not in ("1", "2"):
        problems["priority"] = "Coverage is primary (1) or secondary (2)."
    return {
        "payer_id": int(payer) if payer.isdigit() else None, "member_id": form.member_id, "group_number": form.group_number,
        "priority": int(form.priority) if str(form.priority) in ("1", "2") else None, "relationship": form.relationship,
        "subscriber_first_name": form.subscriber_first_name, "subscriber_last_name": form.subscriber_last_name,
        "subscriber_birth_date": date("subscriber_birth_date", "the subscriber's date of birth", required=False),
        "subscriber_sex": form.subscriber_sex or "unknown",
        "address": form.address, "city": form.city, "state": form.state, "zip_code": form.zip_code,
        "effective_from": date("effective_from", "the date the coverage starts", required=True),
        "effective_to": date("effective_to", "the coverage's last day", required=False),
        "copay": form.copay.strip(),
        "problems": problems,
    }


def check_coverage_form(session: Session, *, form: CoverageForm) -> dict:
    """Every coverage rule that does not need the patient on file (registration checks the
    coverage with the rest of the form before saving anything), all problems at once
    (CoverageInvalid); the values to add."""
    fields = coverage_fields(form)
    _, problems = _copay_problem(fields["copay"], fields.pop("problems"))
    _checked_coverage(session, patient_id=None, problems=problems, **{k: v for k, v in fields.items() if k != "copay"})
    return fields


def desk_payers(session: Session, *, actor: Actor) -> list[Payer]:
    """The active payers the desk may record coverage with, by name."""
    require(actor.role, "coverage.edit")
    return list(session.exec(select(Payer).where(Payer.active).order_by(Payer.name)))


def patient_by_mrn(session: Session, *, actor: Actor, mrn: str) -> Patient:
    """The patient whose coverage is to be seen or recorded (an audited view)."""
    for_write(session)
    require(actor.role, "coverage.edit")
    mrn = (mrn or "").strip().upper()
    patient = session.exec(select(Patient).where(Patient.mrn == mrn)).first()
    if patient is None:
        raise NotFound(f"No patient has the MRN {mrn[:20]!r}; check the number.")
    audit.record(session, actor=actor, action="view", entity="coverage", entity_id=patient.id, patient_id=patient.id)
    session.flush()
    return patient


def coverages(session: Session, *, actor: Actor, patient_id: int) -> list[Coverage]:
    """A patient's coverages, primary first, newest first within each."""
    require(actor.role, "coverage.edit")
    return list(session.exec(
        select(Coverage).where(Coverage.patient_id == patient_id).order_by(Coverage.priority, Coverage.effective_from.desc())
    ))


def end_coverage(session: Session, *, actor: Actor, coverage_id: int, effective_to: dt.date,
                 now: dt.datetime | None = None) -> Coverage:
    """End a coverage on a date (the last day it covers); earlier claims keep it."""
    for_write(session)
    require(actor.role, "coverage.edit")
    coverage = session.get(Coverage, coverage_id)
    if coverage is None:
        raise NotFound("That coverage no longer exists.")
    if effective_to < coverage.effective_from:
        raise InvalidInput(f"The coverage started on {coverage.effective_from}; it cannot end before that.")
    if coverage.effective_to is not None and effective_to > coverage.effective_to:
        raise InvalidInput(f"The coverage already ends on {coverage.effective_to}.")
    was_to = coverage.effective_to
    coverage.effective_to = effective_to
    session.add(coverage)
    session.flush()
    audit.record(session, actor=actor, action="update", entity="coverage", entity_id=coverage.id, patient_id=coverage.patient_id,
                 detail=f"ends {effective_to}")
    repriced = _reprice(session, actor=actor, coverage=coverage, spans=[(effective_to + dt.timedelta(days=1), was_to)],
                        why="coverage ended", now=now)
    session.flush()
    _announce(session, repriced)
    return coverage


def billing_profile(session: Session, *, location_id: int) -> BillingProfile | None:
    """The billing profile of a location, if it has one."""
    return session.exec(select(BillingProfile).where(BillingProfile.location_id == location_id)).first()


def update_coverage(
    session: Session, *, actor: Actor, coverage_id: int, copay: str | int | None = "keep", active: bool | None = None,
    now: dt.datetime | None = None, problems: dict[str, str] | None = None, **fields,
) -> list[str]:
    """Edit a coverage (any field of ``add_coverage``, the card's copay, or end it with
    ``active=False``), with the same checks as adding one; each change is kept in history.

    A change of payer or member id clears the last eligibility answer, which was about
    the old policy. Returns the names of the changed fields.
    """
    for_write(session)
    require(actor.role, "coverage.edit")
    now = now or utcnow()
    coverage = session.get(Coverage, coverage_id)
    if coverage is None:
        raise NotFound("That coverage no longer exists.")
    unknown = set(fields) - set(COVERAGE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown coverage field: {', '.join(sorted(unknown))}.")
    current = {name: getattr(coverage, name) for name in COVERAGE_FIELDS}
    copay_cents, found = _copay_problem(None if copay == "keep" else copay, problems)
    values = _checked_coverage(session, patient_id=coverage.patient_id, ignore_id=coverage.id, problems=found,
                               **{**current, **fields})
    if copay != "keep":
        values["copay_cents"] = copay_cents
        current["copay_cents"] = coverage.copay_cents
    if active is not None:
        values["active"] = bool(active)
        current["active"] = coverage.active
    repriced: list = []

    def void_eligibility_and_reprice(changed: list[str]) -> None:
        if {"payer_id", "member_id"} & set(changed):  # the last answer was about the old policy
            coverage.eligibility_status, coverage.eligibility_checked_at = "", None
            coverage.eligibility_copay_cents = coverage.deductible_remaining_cents = None
        if set(changed) & {"payer_id", "priority", "effective_from", "effective_to", "active"}:
            for name, value in values.items():
                setattr(coverage, name, value)
            session.add(coverage)
            session.flush()
            spans = [(current["effective_from"], current["effective_to"]), (values["effective_from"], values["effective_to"])]
            repriced.extend(_reprice(session, actor=actor, coverage=coverage, spans=spans, why="coverage changed", now=now))

    changed = changes.apply_edit(session, actor=actor, row=coverage, entity="coverage", before=current, after=values,
                                 now=now, on_changed=void_eligibility_and_reprice)
    _announce(session, repriced)
    return changed


def coverages_of(session: Session, *, patient_id: int) -> list[tuple[Coverage, Payer]]:
    """A patient's active coverages with their payers, primary first."""
    return list(session.exec(
        select(Coverage, Payer).join(Payer, Payer.id == Coverage.payer_id)
        .where(Coverage.patient_id == patient_id, Coverage.active).order_by(Coverage.priority, Coverage.effective_from)
    ).all())


def set_billing_profile(
    session: Session, *, actor: Actor, location_id: int, organisation: str, npi: str, tax_id: str,
    address: str, city: str, state: str, zip_code: str,
) -> BillingProfile:
    """The billing provider a location's claims name (organisation NPI, EIN, address)."""
    for_write(session)
    require(actor.role, "billing.setup")
    npi, tax_id = (npi or "").strip(), (tax_id or "").replace("-", "").strip()
    if not npi_is_valid(npi):
        raise InvalidInput(f"{npi[:12]!r} is not a valid NPI (ten digits with a correct check digit).")
    if not re.fullmatch(r"[0-9]{9}", tax_id):
        raise InvalidInput("The tax id (EIN) is nine digits.")
    if not re.fullmatch(r"[A-Z]{2}", (state or "").strip().upper()) or not re.fullmatch(r"[0-9]{5}([0-9]{4})?", zip_code or ""):
        raise InvalidInput("Give a two-letter state and a five- or nine-digit ZIP code.")
    profile = session.exec(select(BillingProfile).where(BillingProfile.location_id == location_id)).first()
    profile = profile or BillingProfile(location_id=location_id, organisation="")
    profile.organisation, profile.npi, profile.tax_id = organisation.strip()[:60], npi, tax_id
    profile.address, profile.city, profile.state, profile.zip_code = address.strip()[:55], city.strip()[:30], state.strip().upper(), zip_code
    session.add(profile)
    audit.record(session, actor=actor, action="update", entity="billing_profile", entity_id=location_id)
    session.flush()
    return profile
