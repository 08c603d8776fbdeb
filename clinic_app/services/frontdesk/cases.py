"""Episodes of care and their prior authorisation: N visits between two dates.

A visit booked past the authorised count or outside the dates is allowed (the clinic
may still see the patient) but is flagged on the board: it is at risk of denial.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import RELEASED, Appointment, CareCase, CaseVisit, Location, Patient
from clinic_app.services.frontdesk import changes
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require

CASE_FIELDS = ("title", "referral_source", "diagnosis_code", "payer_name", "authorized_visits", "auth_start", "auth_end")


def _checked_case(*, title: str, referral_source: str, diagnosis_code: str, payer_name: str,
                  authorized_visits: int | None, auth_start: dt.date | None, auth_end: dt.date | None) -> dict:
    """An episode's values, cleaned, or InvalidInput naming what to fix (same rules to open and edit)."""
    title = (title or "").strip()
    if not title or len(title) > 120:
        raise InvalidInput("Give the episode a title of at most 120 characters, e.g. 'Left knee, post-op'.")
    if authorized_visits is not None and not 0 <= authorized_visits <= 500:
        raise InvalidInput("Authorised visits must be a number from 0 to 500.")
    if auth_start and auth_end and auth_end < auth_start:
        raise InvalidInput("The authorisation must end on or after the day it starts.")
    diagnosis_code = (diagnosis_code or "").strip().upper()
    if len(diagnosis_code) > 10:
        raise InvalidInput("The diagnosis code is at most 10 characters, e.g. M25.561.")
    return {
        "title": title, "referral_source": (referral_source or "").strip()[:120], "diagnosis_code": diagnosis_code,
        "payer_name": (payer_name or "").strip()[:120], "authorized_visits": authorized_visits,
        "auth_start": auth_start, "auth_end": auth_end,
    }


def open_case(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    title: str,
    referral_source: str = "",
    diagnosis_code: str = "",
    payer_name: str = "",
    authorized_visits: int | None = None,
    auth_start: dt.date | None = None,
    auth_end: dt.date | None = None,
) -> CareCase:
    """Open an episode of care for a patient."""
    for_write(session)
    require(actor.role, "patient.register")
    if session.get(Patient, patient_id) is None:
        raise InvalidInput("Choose a patient from the search results.")
    case = CareCase(patient_id=patient_id, **_checked_case(
        title=title, referral_source=referral_source, diagnosis_code=diagnosis_code, payer_name=payer_name,
        authorized_visits=authorized_visits, auth_start=auth_start, auth_end=auth_end,
    ))
    session.add(case)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="care_case", entity_id=case.id, patient_id=patient_id)
    session.flush()
    return case


def attach_visit(session: Session, *, actor: Actor, case_id: int, appointment_id: int) -> CaseVisit:
    """Count an appointment against an episode of the same patient."""
    for_write(session)
    require(actor.role, "appointment.book")
    case = session.get(CareCase, case_id)
    appointment = session.get(Appointment, appointment_id)
    if case is None or appointment is None:
        raise NotFound("That episode or appointment no longer exists.")
    if case.patient_id != appointment.patient_id:
        raise InvalidInput("The episode belongs to another patient.")
    link = CaseVisit(case_id=case_id, appointment_id=appointment_id)
    try:
        with session.begin_nested():  # an error undoes this part only, not the caller's work
            session.add(link)
    except IntegrityError as exc:
        raise InvalidInput("This visit already counts against an episode.") from exc
    return link


def cases_of(session: Session, *, patient_id: int) -> list[CareCase]:
    """A patient's open episodes, newest first."""
    return list(
        session.exec(select(CareCase).where(CareCase.patient_id == patient_id, CareCase.active).order_by(CareCase.id.desc()))
    )


def authorization_warnings(
    session: Session, *, appointment_ids: list[int] | None = None, shown=None, until: dt.datetime | None = None,
) -> dict[int, str]:
    """For each given appointment in an episode with an authorisation: why it is at
    risk ("Visit 13 of 12 authorised", "After the authorisation ended 2030-04-30").

    The appointments are ``appointment_ids``, or ``shown``, a query of appointment ids
    (the board's days: the database reads them, no list of thousands of ids is sent);
    ``until``: none of them starts later (visits after it do not change their numbers)."""
    if shown is None:
        if not appointment_ids:
            return {}
        shown = list(appointment_ids)
    # Only episodes with an authorisation can put a visit at risk.
    authorised = select(CareCase.id).where(
        CareCase.id.in_(select(CaseVisit.case_id).where(CaseVisit.appointment_id.in_(shown))),
        (CareCase.authorized_visits.is_not(None)) | (CareCase.auth_start.is_not(None)) | (CareCase.auth_end.is_not(None)),
    )
    # The visit's number within its episode is counted by the database (a window over the
    # episode's visits), and only the asked-for visits come back: a week on the board is
    # thousands of visits, their episodes many more.
    numbered = (
        select(CaseVisit.case_id, Appointment.id.label("appointment_id"), Appointment.starts_at, Location.timezone,
               func.row_number().over(partition_by=CaseVisit.case_id,
                                      order_by=(Appointment.starts_at, Appointment.id)).label("number"))
        .join(Appointment, Appointment.id == CaseVisit.appointment_id)
        .join(Location, Location.id == Appointment.location_id)
        .where(CaseVisit.case_id.in_(authorised), Appointment.status.not_in(RELEASED))
    )
    if until is not None:
        numbered = numbered.where(Appointment.starts_at <= until)
    numbered = numbered.subquery()
    rows = session.exec(
        select(*numbered.c, CareCase.authorized_visits, CareCase.auth_start, CareCase.auth_end)
        .join(CareCase, CareCase.id == numbered.c.case_id)
        .where(numbered.c.appointment_id.in_(shown))
    ).all()
    warnings: dict[int, str] = {}
    for _case_id, appointment_id, starts_at, tz, number, visits, auth_start, auth_end in rows:
        day = local_day(starts_at, tz)
        if visits is not None and number > visits:
            warnings[appointment_id] = f"Visit {number} of {visits} authorised"
        elif auth_end and day > auth_end:
            warnings[appointment_id] = f"After the authorisation ended {auth_end.isoformat()}"
        elif auth_start and day < auth_start:
            warnings[appointment_id] = f"Before the authorisation starts {auth_start.isoformat()}"
    return warnings


def used_visits(session: Session, *, case_id: int) -> int:
    """Visits of an episode that are booked or done (cancelled and no-shows do not count)."""
    return len(
        session.exec(
            select(CaseVisit.id)
            .join(Appointment, Appointment.id == CaseVisit.appointment_id)
            .where(CaseVisit.case_id == case_id, Appointment.status.not_in(RELEASED))
        ).all()
    )


def update_case(
    session: Session, *, actor: Actor, case_id: int, active: bool | None = None, now: dt.datetime | None = None,
    **fields,
) -> list[str]:
    """Edit an episode of care (any field of ``open_case``; ``active=False`` closes it), with
    the same checks as opening one; each change is kept in history. Returns the changed fields."""
    for_write(session)
    require(actor.role, "patient.register")
    now = now or utcnow()
    case = session.get(CareCase, case_id)
    if case is None:
        raise NotFound("That episode of care no longer exists.")
    unknown = set(fields) - set(CASE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown episode field: {', '.join(sorted(unknown))}.")
    current = {name: getattr(case, name) for name in CASE_FIELDS}
    values = _checked_case(**{**current, **fields})
    if active is not None:
        values["active"], current["active"] = bool(active), case.active
    return changes.apply_edit(session, actor=actor, row=case, entity="care_case", before=current, after=values, now=now)
