"""The portal's Profile: the signed-in patient asks to change their contact details (phone,
e-mail, address, preferred channel, reminder opt-out, emergency contact); the change waits as
a request the desk sees on the patient's profile and accepts (the record changes, each field
kept in history by services/frontdesk/changes.py) or declines with a reason.

The values are checked with registration's own rules (services/frontdesk/patients.validate)
when asked and again when accepted. One request waits per patient: a newer one replaces it.
Where the clinic sets ``CLINIC_PORTAL_PROFILE_DIRECT`` (settings.portal_profile_direct) the
change is made at once instead, with the same checks, history and audit, and nothing waits.
Scoped to ``me.acting_for`` (one of ``me.patient_ids``); never commits (the caller owns the transaction).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import Patient, ProfileChange
from clinic_app.models.people import fill_search_keys
from clinic_app.services.frontdesk import changes, patients
from clinic_app.services.frontdesk.patients import CHANNEL_LABELS
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require
from clinic_app.services.portal.accounts import Me, portal_actor
from clinic_app.services.tasks import rules

# What a patient may change themselves, and the words for each.
FIELDS = {
    "phone": "Phone", "email": "E-mail", "address_line": "Address", "city": "City", "region": "State",
    "postal_code": "ZIP code", "preferred_channel": "Preferred contact", "reminders_opt_out": "No reminders",
    "emergency_name": "Emergency contact", "emergency_relationship": "Emergency contact relationship",
    "emergency_phone": "Emergency contact phone",
}


def _value_words(field: str, value) -> str:
    if field == "reminders_opt_out":
        return "yes" if value else "no"
    if field == "preferred_channel":
        return CHANNEL_LABELS.get(value, value)
    return value or "(none)"


@dataclass(frozen=True)
class Line:
    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Waiting:
    id: int
    patient_id: int
    requested_at: dt.datetime
    lines: tuple[Line, ...]
    asked: dict  # field -> the value asked (the patient's form shows these while it waits)


def current(session: Session, me: Me) -> dict:
    """The patient's contact details as on record (the form starts from them)."""
    patient = session.get(Patient, me.acting_for)
    if patient is None or patient.id not in me.patient_ids:
        raise NotFound("Your record is not available; please call the clinic.")
    return {name: getattr(patient, name) for name in FIELDS}


def _checked(session: Session, patient: Patient, wanted: dict, today: dt.date) -> dict:
    """``wanted`` (some of FIELDS) applied to the patient's registration, checked with
    registration's rules; returns the cleaned values of FIELDS."""
    form = patients.as_registration(session, patient_id=patient.id)
    for name, value in wanted.items():
        setattr(form, name, bool(value) if name == "reminders_opt_out" else str(value or ""))
    if (form.preferred_channel == "sms" and "sms" not in form.consents and not form.reminders_opt_out
            and patient.preferred_channel != "sms"):
        raise InvalidInput("Text message reminders need your written consent on record; choose another way, "
                           "or ask the desk at your next visit.")
    try:
        values, _ = patients.validate(form, today=today)
    except patients.RegistrationInvalid as exc:
        raise InvalidInput("Please correct: " + " ".join(exc.problems.values())) from exc
    return {name: values[name] for name in FIELDS}


def request_change(session: Session, me: Me, *, values: dict, now: dt.datetime | None = None) -> ProfileChange:
    """Ask for the changed fields of ``values`` (the form, keys of FIELDS) to be made; the desk
    decides. A waiting request of the patient's is replaced by this one."""
    for_write(session)
    now = now or utcnow()
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise InvalidInput("Only your contact details can be changed here.")
    patient = session.get(Patient, me.acting_for)
    if patient is None or patient.id not in me.patient_ids or not patient.active:
        raise NotFound("Your record is not available; please call the clinic.")
    if all(_same(getattr(patient, name), value) for name, value in values.items()):
        raise InvalidInput("Nothing changed: edit a detail, then send.")
    cleaned = _checked(session, patient, values, now.date())
    wanted = {name: value for name, value in cleaned.items() if getattr(patient, name) != value}
    if not wanted:
        raise InvalidInput("Nothing changed: edit a detail, then send.")
    for old in session.exec(select(ProfileChange).where(ProfileChange.patient_id == patient.id,
                                                         ProfileChange.status == "waiting")):
        old.status, old.decided_at = "replaced", now
        session.add(old)
    row = ProfileChange(patient_id=patient.id, account_id=me.account_id, changes=json.dumps(wanted), requested_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=portal_actor(me), action="create", entity="profile_change", entity_id=row.id,
                 patient_id=patient.id, detail=", ".join(wanted)[:200])
    if settings.portal_profile_direct():
        _make(session, actor=portal_actor(me), row=row, patient=patient, now=now, words="the patient's own change")
    rules.evaluate(session, "profile_change", patient.id, now=now)  # the desk's task (none once made)
    return row


def _same(old, new) -> bool:
    return bool(old) == bool(new) if isinstance(old, bool) else str(old or "").strip() == str(new or "").strip()


def _lines(patient: Patient, wanted: dict) -> tuple[Line, ...]:
    return tuple(Line(name, FIELDS[name], _value_words(name, getattr(patient, name)), _value_words(name, value))
                 for name, value in wanted.items() if name in FIELDS)


def my_waiting(session: Session, me: Me) -> Waiting | None:
    """The patient's own request waiting for the desk, if any."""
    row = session.exec(select(ProfileChange).where(ProfileChange.patient_id == me.acting_for,
                                                    ProfileChange.status == "waiting")).first()
    if row is None:
        return None
    asked = json.loads(row.changes)
    return Waiting(row.id, row.patient_id, row.requested_at, _lines(session.get(Patient, row.patient_id), asked), asked)


def my_last_decision(session: Session, me: Me) -> str:
    """What the desk said to the patient's latest request, in words ("" if none decided)."""
    row = session.exec(select(ProfileChange).where(ProfileChange.patient_id == me.acting_for,
                                                    ProfileChange.status.in_(("accepted", "declined")))
                       .order_by(ProfileChange.decided_at.desc(), ProfileChange.id.desc())).first()
    if row is None:
        return ""
    if row.status == "accepted":
        return "The clinic accepted your last change."
    return "The clinic declined your last change" + (f": {row.reason}" if row.reason else ".")


# -- the desk ---------------------------------------------------------------------------------
def waiting(session: Session, *, actor: Actor, patient_id: int) -> Waiting | None:
    """The patient's change request waiting for the desk, each field as on record and as asked."""
    require(actor.role, "patient.register")
    row = session.exec(select(ProfileChange).where(ProfileChange.patient_id == patient_id,
                                                    ProfileChange.status == "waiting")).first()
    if row is None:
        return None
    asked = json.loads(row.changes)
    return Waiting(row.id, row.patient_id, row.requested_at, _lines(session.get(Patient, patient_id), asked), asked)


def _open(session: Session, request_id: int) -> ProfileChange:
    row = session.get(ProfileChange, request_id) if isinstance(request_id, int) else None
    if row is None or row.status != "waiting":
        raise NotFound("That change request is no longer waiting (the patient may have sent a newer one).")
    return row


def accept(session: Session, *, actor: Actor, request_id: int, now: dt.datetime | None = None) -> list[str]:
    """Make the asked change on the record, checked again with registration's rules; each
    changed field is kept in the record's history. Returns the changed fields."""
    for_write(session)
    require(actor.role, "patient.register")
    now = now or utcnow()
    row = _open(session, request_id)
    patient = session.get(Patient, row.patient_id)
    if not patient.active:
        raise InvalidInput("This record is inactive (merged or closed); decline the request.")
    changed = _make(session, actor=actor, row=row, patient=patient, now=now, words="accepted the patient's change")
    rules.evaluate(session, "profile_change", patient.id, now=now)  # closes the desk's task
    return changed


def _make(session: Session, *, actor: Actor, row: ProfileChange, patient: Patient, now: dt.datetime,
          words: str) -> list[str]:
    """Make the change ``row`` asks on the record (checked again), with history and audit."""
    wanted = json.loads(row.changes)
    cleaned = _checked(session, patient, wanted, now.date())
    after = {name: cleaned[name] for name in wanted}
    before = {name: getattr(patient, name) for name in after}
    changed = changes.record(session, actor=actor, entity="patient", entity_id=patient.id, patient_id=patient.id,
                             before=before, after=after, now=now)
    for name, value in after.items():
        setattr(patient, name, value)
    fill_search_keys(patient)
    session.add(patient)
    row.status, row.decided_at, row.decided_by_user_id = "accepted", now, actor.user_id
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="patient", entity_id=patient.id, patient_id=patient.id,
                 detail=(f"{words}: " + ", ".join(changed))[:200])
    session.flush()
    return changed


def decline(session: Session, *, actor: Actor, request_id: int, reason: str = "",
            now: dt.datetime | None = None) -> None:
    """Decline the request (the record stays as it is); the reason is shown to the patient."""
    for_write(session)
    require(actor.role, "patient.register")
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise InvalidInput("The reason is over 200 characters; shorten it.")
    row = _open(session, request_id)
    now = now or utcnow()
    row.status, row.decided_at, row.decided_by_user_id, row.reason = "declined", now, actor.user_id, reason
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="profile_change", entity_id=row.id,
                 patient_id=row.patient_id, detail="declined")
    session.flush()
    rules.evaluate(session, "profile_change", row.patient_id, now=now)  # closes the desk's task
