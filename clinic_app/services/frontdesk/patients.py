"""Patient registration and the front desk's type-ahead search.

Registration checks every field first and reports all the problems at once, then
saves the patient and their consents in one transaction: nothing is half saved.
A registration that looks like a patient already on file raises PossibleDuplicate
naming them, unless the desk confirms it is someone else.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Patient, PatientConsent
from clinic_app.models.people import (
    GUARANTOR_RELATIONSHIPS,
    PREFERRED_CHANNELS,
    SEXES,
    digits,
    fill_search_keys,
    search_key,
)
from clinic_app.services.frontdesk import changes
from clinic_app.services.frontdesk.patient_lookup import MRN_PATTERN, matching, parse_date
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound, PossibleDuplicate, from_db_error
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import payers

CONSENT_LABELS = {
    "treatment": "Consent to treatment",
    "privacy_notice": "Privacy notice acknowledged",
    "financial": "Financial policy",
    "sms": "Text message reminders",
    "email": "Email reminders",
}
CHANNEL_LABELS = {"sms": "Text message", "email": "Email", "phone": "Phone call", "none": "No reminders"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Registration:
    """What the registration form sends. Strings as typed; dates as ISO text."""

    first_name: str = ""
    last_name: str = ""
    birth_date: str = ""
    sex: str = "unknown"
    phone: str = ""
    email: str = ""
    address_line: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    preferred_channel: str = "phone"
    reminders_opt_out: bool = False
    emergency_name: str = ""
    emergency_relationship: str = ""
    emergency_phone: str = ""
    guarantor_relationship: str = "self"
    guarantor_name: str = ""
    guarantor_phone: str = ""
    mrn: str = ""
    consents: dict[str, str] = field(default_factory=dict)  # kind -> ISO date given
    # Insurance taken at registration: the primary, then the secondary (payers.CoverageForm).
    coverages: list = field(default_factory=list)


class RegistrationInvalid(InvalidInput):
    """One or more fields are wrong; ``problems`` maps each field to what to fix."""

    def __init__(self, problems: dict[str, str], coverage_problems: dict[int, dict[str, str]] | None = None) -> None:
        super().__init__("Please correct: " + " ".join(problems.values()))
        self.problems = problems
        # Insurance n's wrong fields (payers.CoverageInvalid.problems), for the form to show each
        # beside its field; ``problems["coverage_<n>"]`` says them all.
        self.coverage_problems = coverage_problems or {}


def _phone_ok(text: str) -> bool:
    return 7 <= len(digits(text)) <= 15 and re.fullmatch(r"[0-9 ()+.\-]*", text or "") is not None


def validate(form: Registration, *, today: dt.date) -> tuple[dict, dict[str, dt.date]]:
    """The cleaned values and consents, or RegistrationInvalid listing every problem."""
    problems: dict[str, str] = {}
    v = {k: (getattr(form, k) or "").strip() if isinstance(getattr(form, k), str) else getattr(form, k)
         for k in Registration.__dataclass_fields__ if k not in ("consents", "coverages")}
    for name, label, limit in (("first_name", "First name", 80), ("last_name", "Last name", 80)):
        if not v[name]:
            problems[name] = f"{label} is required."
        elif len(v[name]) > limit:
            problems[name] = f"{label} is too long (at most {limit} characters)."
        elif not search_key(v[name]):
            problems[name] = f"{label} needs at least one letter."
    born = parse_date(v["birth_date"])
    if born is None:
        problems["birth_date"] = "Date of birth is required (month/day/year, e.g. 04/23/1980)."
    elif born > today:
        problems["birth_date"] = "Date of birth cannot be in the future."
    elif born < today.replace(year=today.year - 130):
        problems["birth_date"] = "Date of birth is more than 130 years ago; check the year."
    v["birth_date"] = born
    if v["sex"] not in SEXES:
        problems["sex"] = "Choose a sex from the list."
    if v["phone"] and not _phone_ok(v["phone"]):
        problems["phone"] = "Phone must have 7 to 15 digits, e.g. (212) 555-0142."
    if v["email"] and (len(v["email"]) > 120 or not _EMAIL.match(v["email"])):
        problems["email"] = "Email must look like name@example.com."
    channel = v["preferred_channel"]
    if channel not in PREFERRED_CHANNELS:
        problems["preferred_channel"] = "Choose how the patient prefers to be contacted."
    elif channel in ("sms", "phone") and not v["phone"]:
        problems["preferred_channel"] = f"{CHANNEL_LABELS[channel]} is preferred: enter a phone number."
    elif channel == "email" and not v["email"]:
        problems["preferred_channel"] = "Email is preferred: enter an email address."
    for name, label, limit in (
        ("address_line", "Address", 200), ("city", "City", 80), ("region", "State", 40),
        ("postal_code", "ZIP code", 12), ("emergency_name", "Emergency contact name", 120),
        ("emergency_relationship", "Emergency contact relationship", 40), ("guarantor_name", "Guarantor name", 120),
    ):
        if len(v[name]) > limit:
            problems[name] = f"{label} is too long (at most {limit} characters)."
    if v["emergency_name"] and not v["emergency_phone"]:
        problems["emergency_phone"] = "Enter the emergency contact's phone number."
    elif v["emergency_phone"] and not _phone_ok(v["emergency_phone"]):
        problems["emergency_phone"] = "Emergency contact phone must have 7 to 15 digits."
    elif v["emergency_phone"] and not v["emergency_name"]:
        problems["emergency_name"] = "Enter the emergency contact's name."
    if v["guarantor_relationship"] not in GUARANTOR_RELATIONSHIPS:
        problems["guarantor_relationship"] = "Choose who is responsible for the bill."
    elif v["guarantor_relationship"] == "self":
        v["guarantor_name"] = ""
        v["guarantor_phone"] = ""
    elif not v["guarantor_name"]:
        problems["guarantor_name"] = "Enter the guarantor's name (the person responsible for the bill)."
    if v["guarantor_phone"] and not _phone_ok(v["guarantor_phone"]):
        problems["guarantor_phone"] = "Guarantor phone must have 7 to 15 digits."
    v["mrn"] = v["mrn"].upper()
    if v["mrn"] and not MRN_PATTERN.match(v["mrn"]):
        problems["mrn"] = "MRN may hold only letters, digits and dashes (at most 20)."
    consents: dict[str, dt.date] = {}
    for kind, text in (form.consents or {}).items():
        if not (text or "").strip():
            continue
        label = CONSENT_LABELS.get(kind)
        if label is None:
            problems[f"consent_{kind}"] = "Unknown kind of consent."
            continue
        given = parse_date(text)
        if given is None:
            problems[f"consent_{kind}"] = f"{label}: enter the date it was given, e.g. {today.isoformat()}."
        elif given > today:
            problems[f"consent_{kind}"] = f"{label}: the date cannot be in the future."
        elif born is not None and given < born:
            problems[f"consent_{kind}"] = f"{label}: the date is before the date of birth."
        else:
            consents[kind] = given
    if channel == "sms" and "sms" not in consents and not v["reminders_opt_out"]:
        problems["consent_sms"] = "Text message reminders need the patient's consent date."
    if problems:
        raise RegistrationInvalid(problems)
    return v, consents


def possible_duplicates(session: Session, *, first_name: str, last_name: str, birth_date: dt.date,
                        phone: str = "", email: str = "") -> list[Patient]:
    """Patients on file who may be this person: same birth date and a name that matches
    (last name, or first name when the last name changed), or the same phone or email."""
    last, first = search_key(last_name), search_key(first_name)
    conditions = [
        and_(Patient.birth_date == birth_date, or_(Patient.search_last == last, Patient.search_first == first)),
    ]
    if len(digits(phone)) >= 7:
        conditions.append(and_(Patient.phone_digits == digits(phone), Patient.search_last == last))
    if email:
        conditions.append(and_(Patient.email == email, Patient.search_first == first))
    return list(session.exec(select(Patient).where(Patient.active, or_(*conditions)).order_by(Patient.id).limit(5)))


def describe(patient: Patient) -> str:
    """A patient as the desk names them: name, MRN and date of birth."""
    return f"{patient.last_name}, {patient.first_name} ({patient.mrn}, born {patient.birth_date.isoformat()})"


def register_patient(
    session: Session,
    *,
    actor: Actor,
    form: Registration,
    confirm_not_duplicate: bool = False,
    now: dt.datetime | None = None,
) -> Patient:
    """Register a new patient with their consents, all or nothing."""
    for_write(session)
    require(actor.role, "patient.register")
    now = now or utcnow()
    values, consents, coverages = _validate_with_coverage(session, actor, form, today=now.date())
    if not confirm_not_duplicate:
        matches = possible_duplicates(
            session, first_name=values["first_name"], last_name=values["last_name"],
            birth_date=values["birth_date"], phone=values["phone"], email=values["email"],
        )
        if matches:
            names = "; ".join(describe(p) for p in matches)
            raise PossibleDuplicate(
                f"This may be a patient already on file: {names}. Book them instead, or "
                "choose Register anyway if this is a different person.",
                matches=[p.id for p in matches],
            )
    mrn = values.pop("mrn")
    if mrn and session.exec(select(Patient.id).where(Patient.mrn == mrn)).first() is not None:
        raise RegistrationInvalid({"mrn": f"MRN {mrn} belongs to another patient; leave it empty to get a new one."})
    patient = Patient(**values, mrn=mrn or f"NEW-{uuid.uuid4().hex[:12]}", created_at=now)
    fill_search_keys(patient)
    try:
        with session.begin_nested():  # an error undoes this part only, not the caller's work
            session.add(patient)
            session.flush()
            if not mrn:
                patient.mrn = f"P{patient.id:07d}"
            for kind, given in consents.items():
                session.add(PatientConsent(patient_id=patient.id, kind=kind, given_on=given, recorded_by=actor.user_id, recorded_at=now))
            audit.record(session, actor=actor, action="create", entity="patient", entity_id=patient.id, patient_id=patient.id)
            for n, fields in coverages:
                try:
                    payers.record_coverage(session, actor=actor, patient_id=patient.id, **fields)
                except InvalidInput as exc:
                    raise RegistrationInvalid({f"coverage_{n}": f"{_INSURANCE[n]}: {exc}"}) from exc
    except IntegrityError as exc:
        raise (from_db_error(exc) or InvalidInput("The registration could not be saved; check the fields.")) from exc
    return patient


_INSURANCE = {1: "Primary insurance", 2: "Secondary insurance"}


def _validate_with_coverage(session: Session, actor: Actor, form: Registration, *, today: dt.date):
    """The registration's values, consents and coverages, or RegistrationInvalid listing every
    problem of the form and of its insurance at once (the coverage rules of the set-up page)."""
    problems: dict[str, str] = {}
    values, consents = {}, {}
    try:
        values, consents = validate(form, today=today)
    except RegistrationInvalid as exc:
        problems.update(exc.problems)
    coverages, coverage_problems = [], {}
    for n, cover in enumerate(form.coverages or [], start=1):
        if n > 2 or not str(cover.payer_id).strip():
            continue  # no insurer chosen: self-pay (or no secondary)
        require(actor.role, "coverage.edit")
        cover.priority = str(n)
        try:
            coverages.append((n, payers.check_coverage_form(session, form=cover)))
        except InvalidInput as exc:
            problems[f"coverage_{n}"] = f"{_INSURANCE[n]}: {exc}"
            coverage_problems[n] = getattr(exc, "problems", {})
    if problems:
        raise RegistrationInvalid(problems, coverage_problems)
    return values, consents, coverages


def consents_of(session: Session, *, patient_id: int) -> dict[str, dt.date]:
    """The patient's consents: kind -> date given."""
    rows = session.exec(select(PatientConsent).where(PatientConsent.patient_id == patient_id))
    return {c.kind: c.given_on for c in rows}


def search(session: Session, *, actor: Actor, text: str, limit: int = 8) -> list[Patient]:
    """Type-ahead: patients by name prefix ("smi", "smith jo", "Smith, Jo"), date of
    birth (1980-04-23 or 04/23/1980), phone digits (at least 3) or MRN prefix.

    Every branch is a range on an indexed key, so the answer does not slow down with
    the number of patients (bench/patient_search.py measures it).
    """
    require(actor.role, "patient.search")
    return _audited_search(session, actor, text, limit)


def account_search(session: Session, *, actor: Actor, text: str, limit: int = 8) -> list[Patient]:
    """Billing's patient account look-up: the desk's search (name, date of birth, phone or
    MRN), for those who take payments, audited the same way."""
    require(actor.role, "payment.take")
    return _audited_search(session, actor, text, limit)


def _audited_search(session: Session, actor: Actor, text: str, limit: int) -> list[Patient]:
    text = (text or "").strip()
    if len(text) < 2 or len(text) > 80:
        return []
    for_write(session)  # the search is audited
    results = matching(session, text, limit=limit)
    # Who looked for whom: the text searched and how many patients it showed (HIPAA audit
    # controls). Written in the caller's transaction, committed with it.
    audit.record(session, actor=actor, action="search", entity="patient",
                 detail=f"{text[:120]!r}: {len(results)} found" + (f" (ids {','.join(str(p.id) for p in results)})"
                                                                   if results else ""))
    return results


EDITABLE = [name for name in Registration.__dataclass_fields__ if name not in ("mrn", "consents", "coverages")]


def as_registration(session: Session, *, patient_id: int) -> Registration:
    """A registered patient as the form shows them, for editing."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient no longer exists.")
    values = {name: getattr(patient, name) for name in EDITABLE}
    values["birth_date"] = patient.birth_date.isoformat()
    return Registration(**values, mrn=patient.mrn,
                        consents={k: d.isoformat() for k, d in consents_of(session, patient_id=patient_id).items()})


def update_patient(
    session: Session, *, actor: Actor, patient_id: int, form: Registration, now: dt.datetime | None = None,
) -> list[str]:
    """Change a registered patient's demographics, contact, guarantor and consents, all or
    nothing, with the same checks as registration; each changed field is kept in history.

    The MRN does not change. A consent left empty is withdrawn (its history row keeps the
    date it had). Returns the names of the changed fields.
    """
    for_write(session)
    require(actor.role, "patient.register")
    now = now or utcnow()
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient no longer exists.")
    if not patient.active:
        raise InvalidInput(f"{describe(patient)} is inactive (merged or closed); edit the record that is kept.")
    form.mrn = ""
    values, consents = validate(form, today=now.date())
    values.pop("mrn")
    before = {name: getattr(patient, name) for name in EDITABLE}
    old_consents = {c.kind: c for c in session.exec(select(PatientConsent).where(PatientConsent.patient_id == patient_id))}
    changed = changes.record(session, actor=actor, entity="patient", entity_id=patient_id, patient_id=patient_id,
                             before=before, after=values, now=now)
    changed += changes.record(
        session, actor=actor, entity="patient", entity_id=patient_id, patient_id=patient_id, now=now,
        before={f"consent_{k}": c.given_on for k, c in old_consents.items()},
        after={f"consent_{k}": consents.get(k) for k in CONSENT_LABELS},
    )
    if not changed:
        raise InvalidInput("Nothing changed: edit a field, then save.")
    try:
        with session.begin_nested():  # an error undoes this part only, not the caller's work
            for name, value in values.items():
                setattr(patient, name, value)
            fill_search_keys(patient)
            session.add(patient)
            for kind in CONSENT_LABELS:
                row, given = old_consents.get(kind), consents.get(kind)
                if row is not None and given is None:
                    session.delete(row)
                elif row is None and given is not None:
                    session.add(PatientConsent(patient_id=patient_id, kind=kind, given_on=given, recorded_by=actor.user_id,
                                               recorded_at=now))
                elif row is not None and row.given_on != given:
                    row.given_on, row.recorded_by, row.recorded_at = given, actor.user_id, now
                    session.add(row)
            audit.record(session, actor=actor, action="update", entity="patient", entity_id=patient_id,
                         patient_id=patient_id, detail=", ".join(changed)[:200])
    except IntegrityError as exc:
        raise (from_db_error(exc) or InvalidInput("The changes could not be saved; check the fields.")) from exc
    return changed
