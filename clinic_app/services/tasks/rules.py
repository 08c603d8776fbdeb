"""The rules that write the staff's to-do list, each defined in one place.

A rule has its words (``text``: what the condition is, ``owner``: who gets the task, ``due``,
``closes``: what closes it by itself; docs/tasks.md lists them), a ``check`` that says, for one
subject (an episode of care, a patient, a note, a claim), whether the condition holds now and
what the task is, and ``every``: the same condition for every subject at once, a few set
queries over the whole clinic (the sweep). Both build the task with the same function (the
rule's ``_..._want``), and tests/services/test_tasks.py checks that they agree.

``evaluate`` (one subject) opens the task when the condition holds and none is open, and
closes it by itself when the condition no longer holds; a task a person completed is not
opened again while the same instance of the condition lasts (the instance is part of the key:
the claim's denial, the authorisation's numbers, the plan, the anchor note...).

Rules run on the live bus's events (``on_appointment``, ``on_claims``: clinic_app/tasks_worker.py)
and in a daily ``sweep`` for what time alone makes due. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    RELEASED,
    Appointment,
    AppointmentType,
    CareCase,
    CarePlan,
    CaseVisit,
    Claim,
    ClaimEvent,
    ClinicianSupervision,
    Coverage,
    LedgerEntry,
    Location,
    Message,
    MessageThread,
    Note,
    NoteCosignature,
    ProfileChange,
    Task,
    User,
)
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.money import dollars
from clinic_app.services.portal.intake import pending_forms
from clinic_app.services.tasks.limits import DEFAULT_DAYS, DEFAULT_VISITS, progress_limits
from clinic_app.services.tasks.store import Want, changed, reconcile, reconcile_all

RECEPTION, CLINICIAN, BILLER = "reception", "clinician", "biller"

# Thresholds (docs/tasks.md).
AUTH_VISITS_LEFT = 2
AUTH_END_DAYS = 7
PLAN_END_DAYS = 7
PROGRESS_VISITS = DEFAULT_VISITS  # or the payer's own numbers (services/tasks/limits.py)
PROGRESS_DAYS = DEFAULT_DAYS
UNSIGNED_HOURS = 24
CLAIM_UNANSWERED_DAYS = 30
ELIGIBILITY_DAYS = 3
BALANCE_DAYS = 90
# A patient's message to the desk is due an answer within this many working hours (the clinic's
# working week: Monday to Friday, WORK_START to WORK_END at the clinic).
MESSAGE_WORKING_HOURS = 4
WORK_START, WORK_END = dt.time(8, 0), dt.time(18, 0)
# A visit of one of these kinds (its appointment type's name) is an evaluation or a progress
# visit: its signed note starts the progress-note count again.
PROGRESS_ANCHOR_WORDS = ("evaluation", "progress", "re-eval")


@dataclass(frozen=True)
class Rule:
    kind: str
    label: str  # the kind in words, for filters
    text: str  # the exact condition
    owner: str  # who gets it
    due: str  # when it is due
    closes: str  # what closes it by itself
    subject: str  # what it is about: case, patient, note, claim
    check: Callable[[Session, int, dt.datetime], Want | None]  # one subject (the live path)
    every: Callable[[Session, dt.datetime], dict[int, Want]]  # every subject at once (the sweep)


# -- shared look-ups ---------------------------------------------------------------------------
def clinic_zone(session: Session) -> str:
    tz = session.exec(select(Location.timezone).order_by(Location.id).limit(1)).first()
    return tz or "America/New_York"


def today(session: Session, now: dt.datetime | None = None) -> dt.date:
    """The clinic's date now (in the zone of its first location): what "due today" and snoozes count from."""
    return local_day(now or utcnow(), clinic_zone(session))


def clinician_users(session: Session) -> dict[int, int]:
    """Each provider's own account (the first active clinician account linked to them)."""
    return dict(session.exec(
        select(User.provider_id, func.min(User.id)).where(User.provider_id.is_not(None), User.active, User.role == CLINICIAN)
        .group_by(User.provider_id)
    ).all())


def _owner(users: dict[int, int], provider_id: int | None) -> dict:
    """The provider's own account, or the clinicians' queue when they have none."""
    user_id = users.get(provider_id) if provider_id is not None else None
    return {"assignee_user_id": user_id} if user_id else {"queue_role": CLINICIAN}


def _upcoming(session: Session, now: dt.datetime):
    return Appointment.starts_at >= now, Appointment.status.not_in(RELEASED)


# -- authorisation -------------------------------------------------------------------------------
def _auth_want(case_id: int, patient_id: int, title: str, authorized: int | None, ends: dt.date | None,
               used: int, upcoming: list[tuple[int, dt.datetime]], tz: str, today: dt.date) -> Want | None:
    """The episode's task from its numbers, its booked-or-done visit count and its upcoming
    visits (id, start) in order."""
    if not upcoming:
        return None
    reasons = []
    if authorized is not None:
        left = authorized - used
        if left < 0:
            reasons.append(f"{-left} visit{'s' if left < -1 else ''} booked past the {authorized} authorised")
        elif left <= AUTH_VISITS_LEFT:
            reasons.append(f"{left} authorised visit{'' if left == 1 else 's'} left")
    if ends is not None and ends <= today + dt.timedelta(days=AUTH_END_DAYS):
        after = [a for a in upcoming if local_day(a[1], tz) > ends]
        if after:
            reasons.append(f"ends {ends.isoformat()} with {len(after)} visit{'s' if len(after) > 1 else ''} booked after it")
    if not reasons:
        return None
    first_id, first_at = upcoming[0]
    return Want(
        key=f"authorisation:{case_id}:{authorized}:{ends}",
        patient_id=patient_id, title=f"Authorisation ({title}): " + "; ".join(reasons),
        due_on=local_day(first_at, tz), queue_role=RECEPTION, appointment_id=first_id, case_id=case_id,
    )


def _has_authorisation():
    return CareCase.active, or_(CareCase.authorized_visits.is_not(None), CareCase.auth_end.is_not(None))


def _check_authorisation(session: Session, case_id: int, now: dt.datetime) -> Want | None:
    episode = session.get(CareCase, case_id)
    if episode is None or not episode.active or (episode.authorized_visits is None and episode.auth_end is None):
        return None
    tz = clinic_zone(session)
    upcoming = [tuple(r) for r in session.exec(
        select(Appointment.id, Appointment.starts_at).join(CaseVisit, CaseVisit.appointment_id == Appointment.id)
        .where(CaseVisit.case_id == case_id, *_upcoming(session, now)).order_by(Appointment.starts_at, Appointment.id)
    ).all()]
    used = session.exec(
        select(func.count(CaseVisit.id)).join(Appointment, Appointment.id == CaseVisit.appointment_id)
        .where(CaseVisit.case_id == case_id, Appointment.status.not_in(RELEASED))
    ).one()
    return _auth_want(case_id, episode.patient_id, episode.title, episode.authorized_visits, episode.auth_end, used,
                      upcoming, tz, local_day(now, tz))


def _every_authorisation(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz = clinic_zone(session)
    today = local_day(now, tz)
    with_upcoming = (select(CaseVisit.case_id).join(Appointment, Appointment.id == CaseVisit.appointment_id)
                     .where(*_upcoming(session, now)))
    upcoming: dict[int, list] = defaultdict(list)
    for case_id, appointment_id, starts_at in session.exec(
        select(CaseVisit.case_id, Appointment.id, Appointment.starts_at)
        .join(Appointment, Appointment.id == CaseVisit.appointment_id).join(CareCase, CareCase.id == CaseVisit.case_id)
        .where(*_upcoming(session, now), *_has_authorisation())
        .order_by(CaseVisit.case_id, Appointment.starts_at, Appointment.id)
    ):
        upcoming[case_id].append((appointment_id, starts_at))
    used = dict(session.exec(
        select(CaseVisit.case_id, func.count(CaseVisit.id)).join(Appointment, Appointment.id == CaseVisit.appointment_id)
        .join(CareCase, CareCase.id == CaseVisit.case_id)
        .where(CaseVisit.case_id.in_(with_upcoming), *_has_authorisation(), Appointment.status.not_in(RELEASED))
        .group_by(CaseVisit.case_id)
    ).all())
    wants = {}
    for case_id, patient_id, title, authorized, ends in session.exec(
        select(CareCase.id, CareCase.patient_id, CareCase.title, CareCase.authorized_visits, CareCase.auth_end)
        .where(CareCase.id.in_(with_upcoming), *_has_authorisation())
    ):
        want = _auth_want(case_id, patient_id, title, authorized, ends, used.get(case_id, 0), upcoming[case_id], tz, today)
        if want is not None:
            wants[case_id] = want
    return wants


# -- plan of care --------------------------------------------------------------------------------
def _plan_want(patient_id: int, plan_id: int, ends: dt.date, upcoming: list[tuple[int, dt.datetime, int | None]],
               users: dict[int, int], tz: str, today: dt.date) -> Want | None:
    if ends > today + dt.timedelta(days=PLAN_END_DAYS):
        return None
    after = [a for a in upcoming if local_day(a[1], tz) > ends]
    if not after:
        return None
    return Want(
        key=f"plan_of_care:{patient_id}:{plan_id}", patient_id=patient_id,
        title=f"Plan of care ends {ends.isoformat()}; {len(after)} visit{'s' if len(after) > 1 else ''} booked after it",
        due_on=ends, appointment_id=after[0][0], **_owner(users, after[0][2]),
    )


def _plan_end(plan) -> dt.date:
    return plan.starts_on + dt.timedelta(weeks=plan.duration_weeks)


def _check_plan(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    plan = session.exec(
        select(CarePlan).where(CarePlan.patient_id == patient_id).order_by(CarePlan.recorded_at.desc(), CarePlan.id.desc()).limit(1)
    ).first()
    if plan is None:
        return None
    tz = clinic_zone(session)
    upcoming = [tuple(r) for r in session.exec(
        select(Appointment.id, Appointment.starts_at, Appointment.provider_id)
        .where(Appointment.patient_id == patient_id, *_upcoming(session, now)).order_by(Appointment.starts_at, Appointment.id)
    ).all()]
    return _plan_want(patient_id, plan.id, _plan_end(plan), upcoming, clinician_users(session), tz, local_day(now, tz))


def _every_plan(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz = clinic_zone(session)
    today = local_day(now, tz)
    in_care = select(Appointment.patient_id).where(*_upcoming(session, now))
    latest = {}
    for plan in session.exec(select(CarePlan).where(CarePlan.patient_id.in_(in_care))):
        have = latest.get(plan.patient_id)
        if have is None or (plan.recorded_at, plan.id) > (have.recorded_at, have.id):
            latest[plan.patient_id] = plan
    ending = {pid: plan for pid, plan in latest.items() if _plan_end(plan) <= today + dt.timedelta(days=PLAN_END_DAYS)}
    if not ending:
        return {}
    upcoming: dict[int, list] = defaultdict(list)
    for patient_id, appointment_id, starts_at, provider_id in session.exec(
        select(Appointment.patient_id, Appointment.id, Appointment.starts_at, Appointment.provider_id)
        .where(*_upcoming(session, now), Appointment.patient_id.in_(select(CarePlan.patient_id)))
        .order_by(Appointment.patient_id, Appointment.starts_at, Appointment.id)
    ):
        if patient_id in ending:
            upcoming[patient_id].append((appointment_id, starts_at, provider_id))
    users = clinician_users(session)
    wants = {}
    for patient_id, plan in ending.items():
        want = _plan_want(patient_id, plan.id, _plan_end(plan), upcoming[patient_id], users, tz, today)
        if want is not None:
            wants[patient_id] = want
    return wants


# -- progress note -------------------------------------------------------------------------------
def _is_anchor():
    name = func.lower(AppointmentType.name)
    return or_(*[name.contains(word) for word in PROGRESS_ANCHOR_WORDS])


def _progress_want(patient_id: int, note_id: int, provider_id: int | None, anchor_at: dt.datetime,
                   nth: dt.datetime | None, nxt: tuple[int, int | None] | None, users: dict[int, int], tz: str,
                   today: dt.date, numbers: tuple[int, int]) -> Want | None:
    """``numbers``: the (visits, days) that make it due; ``nth``: the start of that many-th visit
    since the anchor (None: fewer); ``nxt``: the next upcoming visit (id, provider)."""
    if nxt is None:  # not in care any more
        return None
    visits, days = numbers
    by_days = local_day(anchor_at, tz) + dt.timedelta(days=days)
    due = min([by_days] + ([local_day(nth, tz)] if nth is not None else []))
    if due > today:
        return None
    why = f"{visits} visits" if nth is not None and due != by_days else f"{days} days"
    return Want(
        key=f"progress_note:{patient_id}:{note_id}", patient_id=patient_id,
        title=f"Progress note due: {why} since the evaluation or last progress note", due_on=due,
        appointment_id=nxt[0], note_id=note_id, **_owner(users, nxt[1] or provider_id),
    )


def _progress_numbers(coverages: list, today: dt.date, payer_limits: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """The payer's own numbers (services/tasks/limits.py), of the patient's active primary
    coverage in effect today (the newest if several), or the clinic's."""
    in_effect = [c for c in coverages if c[2] <= today and (c[3] is None or c[3] >= today)]
    if not in_effect:
        return PROGRESS_VISITS, PROGRESS_DAYS
    return payer_limits.get(max(in_effect)[1], (PROGRESS_VISITS, PROGRESS_DAYS))


def _primary_coverages():
    return (select(Coverage.patient_id, Coverage.id, Coverage.payer_id, Coverage.effective_from, Coverage.effective_to)
            .where(Coverage.active, Coverage.priority == 1))


def _anchor_notes():
    return (select(Note.patient_id, Note.id, Note.provider_id, Appointment.starts_at)
            .join(Appointment, Appointment.id == Note.appointment_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .where(Note.signed_at.is_not(None), _is_anchor()))


def _since_anchor(now: dt.datetime):
    return Appointment.starts_at < now, Appointment.status.not_in(RELEASED)


def _check_progress(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    anchor = session.exec(
        _anchor_notes().where(Note.patient_id == patient_id).order_by(Appointment.starts_at.desc(), Note.id.desc()).limit(1)
    ).first()
    if anchor is None:
        return None
    _pid, note_id, provider_id, anchor_at = anchor
    tz = clinic_zone(session)
    today = local_day(now, tz)
    coverages = [tuple(r)[1:] for r in session.exec(_primary_coverages().where(Coverage.patient_id == patient_id))]
    numbers = _progress_numbers(coverages, today, progress_limits(session))
    nxt = session.exec(
        select(Appointment.id, Appointment.provider_id).where(Appointment.patient_id == patient_id, *_upcoming(session, now))
        .order_by(Appointment.starts_at, Appointment.id).limit(1)
    ).first()
    since = session.exec(
        select(Appointment.starts_at).where(Appointment.patient_id == patient_id, Appointment.starts_at > anchor_at,
                                            *_since_anchor(now))
        .order_by(Appointment.starts_at, Appointment.id).limit(numbers[0])
    ).all()
    return _progress_want(patient_id, note_id, provider_id, anchor_at,
                          since[numbers[0] - 1] if len(since) >= numbers[0] else None,
                          tuple(nxt) if nxt is not None else None, clinician_users(session), tz, today, numbers)


def _every_progress(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz = clinic_zone(session)
    today = local_day(now, tz)
    in_care = select(Appointment.patient_id).where(*_upcoming(session, now))
    anchors = {}
    for patient_id, note_id, provider_id, starts_at in session.exec(_anchor_notes().where(Note.patient_id.in_(in_care))):
        have = anchors.get(patient_id)
        if have is None or (starts_at, note_id) > (have[2], have[0]):
            anchors[patient_id] = (note_id, provider_id, starts_at)
    if not anchors:
        return {}
    payer_limits = progress_limits(session)
    coverages: dict[int, list] = defaultdict(list)
    if payer_limits:
        for patient_id, *coverage in session.exec(_primary_coverages().where(Coverage.patient_id.in_(in_care))):
            coverages[patient_id].append(tuple(coverage))
    numbers = {pid: _progress_numbers(coverages[pid], today, payer_limits) for pid in anchors}
    anchored = _anchor_notes().where(Note.patient_id.in_(in_care)).subquery()
    last = select(anchored.c.patient_id, func.max(anchored.c.starts_at).label("at")).group_by(anchored.c.patient_id).subquery()
    numbered = (
        select(Appointment.patient_id, Appointment.starts_at,
               func.row_number().over(partition_by=Appointment.patient_id,
                                      order_by=(Appointment.starts_at, Appointment.id)).label("n"))
        .join(last, and_(last.c.patient_id == Appointment.patient_id, Appointment.starts_at > last.c.at))
        .where(*_since_anchor(now)).subquery()
    )
    nth = {  # the start of each patient's n-th visit since the anchor, n being their payer's number
        patient_id: starts_at for patient_id, starts_at, n in session.exec(
            select(numbered.c.patient_id, numbered.c.starts_at, numbered.c.n)
            .where(numbered.c.n.in_(sorted({visits for visits, _days in numbers.values()}))))
        if patient_id in numbers and numbers[patient_id][0] == n
    }
    nxt = {}
    for patient_id, appointment_id, provider_id in session.exec(
        select(Appointment.patient_id, Appointment.id, Appointment.provider_id)
        .where(*_upcoming(session, now), Appointment.patient_id.in_(select(anchored.c.patient_id)))
        .order_by(Appointment.patient_id, Appointment.starts_at.desc(), Appointment.id.desc())
    ):
        nxt[patient_id] = (appointment_id, provider_id)  # the last one written is the earliest
    users = clinician_users(session)
    wants = {}
    for patient_id, (note_id, provider_id, anchor_at) in anchors.items():
        want = _progress_want(patient_id, note_id, provider_id, anchor_at, nth.get(patient_id), nxt.get(patient_id),
                              users, tz, today, numbers[patient_id])
        if want is not None:
            wants[patient_id] = want
    return wants


# -- notes: unsigned, co-signature ------------------------------------------------------------------
def _unsigned_want(note_id: int, patient_id: int, created_at: dt.datetime, appointment_id: int, provider_id: int | None,
                   users: dict[int, int], tz: str) -> Want:
    return Want(
        key=f"unsigned_note:{note_id}:", patient_id=patient_id,
        title=f"Sign the note started {local_day(created_at, tz).isoformat()} (unsigned over {UNSIGNED_HOURS} h)",
        due_on=local_day(created_at + dt.timedelta(hours=UNSIGNED_HOURS), tz),
        appointment_id=appointment_id, note_id=note_id, **_owner(users, provider_id),
    )


def _check_unsigned(session: Session, note_id: int, now: dt.datetime) -> Want | None:
    note = session.get(Note, note_id)
    if note is None or note.signed_at is not None or note.created_at > now - dt.timedelta(hours=UNSIGNED_HOURS):
        return None
    return _unsigned_want(note.id, note.patient_id, note.created_at, note.appointment_id, note.provider_id,
                          clinician_users(session), clinic_zone(session))


def _every_unsigned(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz, users = clinic_zone(session), clinician_users(session)
    return {row[0]: _unsigned_want(*row, users, tz) for row in session.exec(
        select(Note.id, Note.patient_id, Note.created_at, Note.appointment_id, Note.provider_id)
        .where(Note.signed_at.is_(None), Note.created_at <= now - dt.timedelta(hours=UNSIGNED_HOURS))
    )}


def _cosign_want(note_id: int, patient_id: int, signed_at: dt.datetime, appointment_id: int, supervisor: int,
                 users: dict[int, int], tz: str) -> Want:
    return Want(
        key=f"cosign:{note_id}:", patient_id=patient_id,
        title=f"Co-sign the note signed {local_day(signed_at, tz).isoformat()}",
        due_on=local_day(signed_at, tz) + dt.timedelta(days=1),
        appointment_id=appointment_id, note_id=note_id, **_owner(users, supervisor),
    )


def _check_cosign(session: Session, note_id: int, now: dt.datetime) -> Want | None:
    note = session.get(Note, note_id)
    if note is None or note.signed_at is None:
        return None
    supervisor = session.exec(
        select(ClinicianSupervision.supervisor_provider_id).where(ClinicianSupervision.provider_id == note.provider_id)
    ).first()
    if supervisor is None or session.exec(select(NoteCosignature.id).where(NoteCosignature.note_id == note_id)).first():
        return None
    return _cosign_want(note.id, note.patient_id, note.signed_at, note.appointment_id, supervisor,
                        clinician_users(session), clinic_zone(session))


def _every_cosign(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz, users = clinic_zone(session), clinician_users(session)
    cosigned = select(NoteCosignature.note_id)
    return {row[0]: _cosign_want(*row, users, tz) for row in session.exec(
        select(Note.id, Note.patient_id, Note.signed_at, Note.appointment_id, ClinicianSupervision.supervisor_provider_id)
        .join(ClinicianSupervision, ClinicianSupervision.provider_id == Note.provider_id)
        .where(Note.signed_at.is_not(None), Note.id.not_in(cosigned))
    )}


# -- claims ------------------------------------------------------------------------------------------
def _claim_columns():
    return Claim.id, Claim.status, Claim.patient_id, Claim.number, Claim.created_at, Claim.appointment_id, Claim.submit_count


def _denied_want(claim, event: tuple[int, dt.datetime] | None, tz: str) -> Want:
    claim_id, status, patient_id, number, created_at, appointment_id, _count = claim
    when = event[1] if event is not None else created_at
    return Want(
        key=f"claim_denied:{claim_id}:{event[0] if event else 0}", patient_id=patient_id,
        title=f"Work the {status} claim {number}", due_on=local_day(when, tz) + dt.timedelta(days=7),
        queue_role=BILLER, claim_id=claim_id, appointment_id=appointment_id,
    )


def _check_denied(session: Session, claim_id: int, now: dt.datetime) -> Want | None:
    claim = session.exec(select(*_claim_columns()).where(Claim.id == claim_id)).first()
    if claim is None or claim[1] not in ("denied", "rejected"):
        return None
    event = session.exec(
        select(ClaimEvent.id, ClaimEvent.at).where(ClaimEvent.claim_id == claim_id, ClaimEvent.to_status == claim[1])
        .order_by(ClaimEvent.at.desc(), ClaimEvent.id.desc()).limit(1)
    ).first()
    return _denied_want(claim, tuple(event) if event is not None else None, clinic_zone(session))


def _every_denied(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz = clinic_zone(session)
    statuses = ("denied", "rejected")
    last: dict[tuple[int, str], tuple[int, dt.datetime]] = {}
    for claim_id, to_status, event_id, at in session.exec(
        select(ClaimEvent.claim_id, ClaimEvent.to_status, ClaimEvent.id, ClaimEvent.at)
        .where(ClaimEvent.claim_id.in_(select(Claim.id).where(Claim.status.in_(statuses))), ClaimEvent.to_status.in_(statuses))
    ):
        have = last.get((claim_id, to_status))
        if have is None or (at, event_id) > (have[1], have[0]):
            last[(claim_id, to_status)] = (event_id, at)
    return {claim[0]: _denied_want(claim, last.get((claim[0], claim[1])), tz)
            for claim in session.exec(select(*_claim_columns()).where(Claim.status.in_(statuses)))}


def _unanswered_want(claim, sent: dt.datetime | None, now: dt.datetime, tz: str) -> Want | None:
    claim_id, _status, patient_id, number, created_at, appointment_id, submit_count = claim
    sent = sent if sent is not None else created_at
    if sent > now - dt.timedelta(days=CLAIM_UNANSWERED_DAYS):
        return None
    return Want(
        key=f"claim_unanswered:{claim_id}:{submit_count}", patient_id=patient_id,
        title=f"Claim {number} unanswered {CLAIM_UNANSWERED_DAYS}+ days after it was sent",
        due_on=local_day(sent, tz) + dt.timedelta(days=CLAIM_UNANSWERED_DAYS),
        queue_role=BILLER, claim_id=claim_id, appointment_id=appointment_id,
    )


_WAITING = ("submitted", "accepted")


def _check_unanswered(session: Session, claim_id: int, now: dt.datetime) -> Want | None:
    claim = session.exec(select(*_claim_columns()).where(Claim.id == claim_id)).first()
    if claim is None or claim[1] not in _WAITING:
        return None
    sent = session.exec(
        select(func.max(ClaimEvent.at)).where(ClaimEvent.claim_id == claim_id, ClaimEvent.to_status == "submitted")
    ).one()
    return _unanswered_want(claim, sent, now, clinic_zone(session))


def _every_unanswered(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz = clinic_zone(session)
    sent = (select(ClaimEvent.claim_id, func.max(ClaimEvent.at).label("at"))
            .where(ClaimEvent.claim_id.in_(select(Claim.id).where(Claim.status.in_(_WAITING))), ClaimEvent.to_status == "submitted")
            .group_by(ClaimEvent.claim_id).subquery())
    wants = {}
    for row in session.exec(select(*_claim_columns(), sent.c.at).outerjoin(sent, sent.c.claim_id == Claim.id)
                            .where(Claim.status.in_(_WAITING))):
        want = _unanswered_want(tuple(row[:7]), row[7], now, tz)
        if want is not None:
            wants[row[0]] = want
    return wants


# -- eligibility ---------------------------------------------------------------------------------
def _eligibility_want(patient_id: int, visit: tuple[int, dt.datetime], coverages: list, tz: str) -> Want | None:
    """``coverages``: the patient's active primary coverages (id, from, to, status)."""
    day = local_day(visit[1], tz)
    in_effect = [c for c in coverages if c[1] <= day and (c[2] is None or c[2] >= day)]
    if not in_effect:
        return None
    coverage_id, _from, _to, status = max(in_effect)
    if status == "active":
        return None
    words = "not checked" if not status else status.replace("_", " ")
    return Want(
        key=f"eligibility:{patient_id}:{coverage_id}", patient_id=patient_id,
        title=f"Check eligibility ({words}) before the visit on {day.isoformat()}", due_on=day,
        queue_role=RECEPTION, appointment_id=visit[0],
    )


def _coverage_columns():
    return Coverage.id, Coverage.effective_from, Coverage.effective_to, Coverage.eligibility_status


def _soon(session: Session, now: dt.datetime):
    return *_upcoming(session, now), Appointment.starts_at < now + dt.timedelta(days=ELIGIBILITY_DAYS)


def _check_eligibility(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    visit = session.exec(
        select(Appointment.id, Appointment.starts_at).where(Appointment.patient_id == patient_id, *_soon(session, now))
        .order_by(Appointment.starts_at, Appointment.id).limit(1)
    ).first()
    if visit is None:
        return None
    coverages = [tuple(c) for c in session.exec(
        select(*_coverage_columns()).where(Coverage.patient_id == patient_id, Coverage.active, Coverage.priority == 1))]
    return _eligibility_want(patient_id, tuple(visit), coverages, clinic_zone(session))


def _every_eligibility(session: Session, now: dt.datetime) -> dict[int, Want]:
    tz = clinic_zone(session)
    first = {}
    for patient_id, appointment_id, starts_at in session.exec(
        select(Appointment.patient_id, Appointment.id, Appointment.starts_at).where(*_soon(session, now))
        .order_by(Appointment.patient_id, Appointment.starts_at.desc(), Appointment.id.desc())
    ):
        first[patient_id] = (appointment_id, starts_at)  # the last one written is the earliest
    coverages: dict[int, list] = defaultdict(list)
    for patient_id, *coverage in session.exec(
        select(Coverage.patient_id, *_coverage_columns()).where(
            Coverage.patient_id.in_(select(Appointment.patient_id).where(*_soon(session, now))),
            Coverage.active, Coverage.priority == 1)
    ):
        coverages[patient_id].append(tuple(coverage))
    wants = {}
    for patient_id, visit in first.items():
        want = _eligibility_want(patient_id, visit, coverages[patient_id], tz)
        if want is not None:
            wants[patient_id] = want
    return wants


# -- balance over 90 days ---------------------------------------------------------------------------
def _over_90(cutoff: dt.datetime):
    """What the patient still owes of what they owed 90 days ago: the balance then, less every
    credit (payment, adjustment) since (oldest debt is paid first)."""
    return func.coalesce(func.sum(case(
        (LedgerEntry.created_at <= cutoff, LedgerEntry.amount_cents),
        (LedgerEntry.amount_cents < 0, LedgerEntry.amount_cents),
        else_=0,
    )), 0)


def _balance_want(patient_id: int, old: int, total: int, today: dt.date) -> Want | None:
    if old <= 0 or total <= 0:
        return None
    return Want(
        key=f"balance_90:{patient_id}:", patient_id=patient_id,
        title=f"Patient balance over {BALANCE_DAYS} days: {dollars(min(old, total))}",
        due_on=today, queue_role=BILLER,
    )


def _balance_sums(now: dt.datetime):
    return (select(LedgerEntry.patient_id, _over_90(now - dt.timedelta(days=BALANCE_DAYS)),
                   func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
            .where(LedgerEntry.payer_id.is_(None)).group_by(LedgerEntry.patient_id))


def _check_balance(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    row = session.exec(_balance_sums(now).where(LedgerEntry.patient_id == patient_id)).first()
    return _balance_want(patient_id, row[1], row[2], local_day(now, clinic_zone(session))) if row else None


def _every_balance(session: Session, now: dt.datetime) -> dict[int, Want]:
    today = local_day(now, clinic_zone(session))
    cutoff = now - dt.timedelta(days=BALANCE_DAYS)
    return {pid: _balance_want(pid, old, total, today) for pid, old, total in session.exec(
        _balance_sums(now).having(_over_90(cutoff) > 0, func.sum(LedgerEntry.amount_cents) > 0))}


# -- intake not complete the day before the visit ------------------------------------------------------
def _tomorrow(session: Session, now: dt.datetime) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """Tomorrow at the clinic, and its start and end in UTC."""
    from zoneinfo import ZoneInfo

    tz = clinic_zone(session)
    day = local_day(now, tz) + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
    return day, start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def _check_intake(session: Session, appointment_id: int, now: dt.datetime) -> Want | None:
    appointment = session.get(Appointment, appointment_id)
    day, start, end = _tomorrow(session, now)
    if (appointment is None or appointment.status != "booked" or appointment.awaiting_approval
            or not start <= appointment.starts_at < end):
        return None
    pending = pending_forms(session, appointment_id=appointment_id)
    if not pending:
        return None
    return Want(
        key=f"intake_incomplete:{appointment_id}:{day.isoformat()}", patient_id=appointment.patient_id,
        title=f"Intake not complete for tomorrow's visit ({day.isoformat()}): " + ", ".join(f.title for f in pending),
        due_on=day - dt.timedelta(days=1), queue_role=RECEPTION, appointment_id=appointment_id,
    )


def _intake_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    _, start, end = _tomorrow(session, now)
    return session.exec(select(Appointment.id).where(Appointment.starts_at >= start, Appointment.starts_at < end,
                                                     Appointment.status == "booked")).all()


# -- a patient's message unanswered -------------------------------------------------------------------
def working_hours_between(start: dt.datetime, end: dt.datetime, tz: str) -> float:
    """Hours of the clinic's working week (Monday-Friday, WORK_START-WORK_END at the clinic)
    between two moments."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    total = 0.0
    day = local_day(start, tz)
    while day <= local_day(end, tz):
        if day.weekday() < 5:
            opens = dt.datetime.combine(day, WORK_START, tzinfo=zone).astimezone(dt.UTC)
            closes = dt.datetime.combine(day, WORK_END, tzinfo=zone).astimezone(dt.UTC)
            overlap = (min(end, closes) - max(start, opens)).total_seconds()
            total += max(overlap, 0) / 3600
        day += dt.timedelta(days=1)
    return total


def _check_message(session: Session, thread_id: int, now: dt.datetime) -> Want | None:
    thread = session.get(MessageThread, thread_id)
    if thread is None or thread.kind != "patient" or thread.to_queue != "desk":
        return None
    last = session.exec(select(Message).where(Message.thread_id == thread_id).order_by(Message.id.desc()).limit(1)).first()
    if last is None or not last.by_patient:
        return None
    # The patient's first message since the desk last wrote: the wait counts from it.
    answered = session.exec(select(func.max(Message.id)).where(Message.thread_id == thread_id, ~Message.by_patient)).one()
    first = session.exec(select(Message).where(Message.thread_id == thread_id, Message.id > (answered or 0))
                         .order_by(Message.id).limit(1)).first()
    tz = clinic_zone(session)
    if working_hours_between(first.sent_at, now, tz) < MESSAGE_WORKING_HOURS:
        return None
    return Want(
        key=f"message_unanswered:{thread_id}:{first.id}", patient_id=thread.patient_id,
        title=f"Answer the patient's message: {thread.subject}"[:200], due_on=local_day(now, tz), queue_role=RECEPTION,
    )


def _message_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(
        select(MessageThread.id).where(MessageThread.kind == "patient", MessageThread.to_queue == "desk",
                                       MessageThread.last_at <= now - dt.timedelta(hours=MESSAGE_WORKING_HOURS))
    ).all()


# -- a change of contact details asked in the portal ------------------------------------------------
def _check_profile_change(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    row = session.exec(
        select(ProfileChange).where(ProfileChange.patient_id == patient_id, ProfileChange.status == "waiting")
        .order_by(ProfileChange.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return Want(
        key=f"profile_change:{patient_id}:{row.id}", patient_id=patient_id,
        title="Accept or decline the contact details change the patient asked in the portal",
        due_on=local_day(row.requested_at, clinic_zone(session)), queue_role=RECEPTION,
    )


def _profile_change_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(select(ProfileChange.patient_id).distinct().where(ProfileChange.status == "waiting")).all()


def _each(check, candidates) -> Callable[[Session, dt.datetime], dict[int, Want]]:
    """A rule's sweep from its one-subject check over its few candidates (the portal's rules:
    tomorrow's visits, the desk's open conversations, waiting changes)."""
    def every(session: Session, now: dt.datetime) -> dict[int, Want]:
        return {subject: want for subject in candidates(session, now) if (want := check(session, subject, now)) is not None}
    return every


# -- the rules, in one place -------------------------------------------------------------------
RULES: dict[str, Rule] = {rule.kind: rule for rule in (
    Rule("authorisation", "Authorisation",
         f"An active episode of care with an authorisation has at least one upcoming booked visit, and either "
         f"its authorised visits minus its booked-or-done visits is {AUTH_VISITS_LEFT} or fewer, or its end date is "
         f"within {AUTH_END_DAYS} days (or past) with an upcoming visit booked after it.",
         "Front desk queue", "The day of the episode's next booked visit.",
         "The authorisation is renewed (more visits or a later end), the visits past it are cancelled, "
         "or the episode is closed.", "case", _check_authorisation, _every_authorisation),
    Rule("plan_of_care", "Plan of care",
         f"The patient's latest plan of care (start + duration in weeks) ends within {PLAN_END_DAYS} days (or has "
         f"ended) and a visit is booked after its end.",
         "The clinician of the first visit after the end (the clinicians' queue if they have no account)",
         "The plan's end date.", "A new plan that covers the booked visits, or those visits are cancelled.",
         "patient", _check_plan, _every_plan),
    Rule("progress_note", "Progress note due",
         f"The patient has an upcoming visit and, since their latest signed note of an evaluation or progress "
         f"visit (appointment type named with evaluation, progress or re-eval), {PROGRESS_VISITS} visits have "
         f"taken place or {PROGRESS_DAYS} days have passed, whichever first; a payer can have its own numbers "
         f"(those of the payer of the patient's active primary coverage in effect today).",
         "The clinician of the patient's next visit (the clinicians' queue if they have no account)",
         f"The day of the {PROGRESS_VISITS}th visit or {PROGRESS_DAYS} days after the anchor visit, whichever first.",
         "A signed note of an evaluation or progress visit, or no upcoming visit.", "patient",
         _check_progress, _every_progress),
    Rule("unsigned_note", "Unsigned note",
         f"A note was started more than {UNSIGNED_HOURS} hours ago and is not signed.",
         "The note's clinician (the clinicians' queue if they have no account)",
         f"The day the note turned {UNSIGNED_HOURS} hours old.", "The note is signed.", "note",
         _check_unsigned, _every_unsigned),
    Rule("cosign", "Co-signature",
         "A signed note of a clinician who has a supervisor has no co-signature.",
         "The supervising clinician", "The day after the note was signed.", "The supervisor co-signs.",
         "note", _check_cosign, _every_cosign),
    Rule("claim_denied", "Claim denied or rejected",
         "A claim's status is denied (835) or rejected (999/277CA).",
         "Billers' queue", "7 days after it was denied or rejected.",
         "The claim's status changes (corrected and resubmitted, appealed, paid).", "claim",
         _check_denied, _every_denied),
    Rule("claim_unanswered", "Claim unanswered",
         f"A claim is submitted or accepted and was last sent {CLAIM_UNANSWERED_DAYS} or more days ago.",
         "Billers' queue", f"{CLAIM_UNANSWERED_DAYS} days after it was sent.",
         "The payer answers (paid, denied, rejected) or the claim is sent again.", "claim",
         _check_unanswered, _every_unanswered),
    Rule("eligibility", "Eligibility",
         f"The patient has a visit in the next {ELIGIBILITY_DAYS} days and their primary coverage in effect that day "
         f"is not checked or was answered inactive or not found.",
         "Front desk queue", "The day of the visit.",
         "An eligibility answer of active, the coverage ends, or no visit in the next days.", "patient",
         _check_eligibility, _every_eligibility),
    Rule("balance_90", "Balance over 90 days",
         f"The patient's own balance is above zero and part of what they owed {BALANCE_DAYS} days ago is still "
         f"unpaid (credits since then pay the oldest debt first).",
         "Billers' queue", "The day it was found.", "Payments or adjustments bring that part to zero.", "patient",
         _check_balance, _every_balance),
    Rule("intake_incomplete", "Intake incomplete",
         "A booked visit tomorrow (at the clinic) needs intake forms (its visit type's) that the patient has not "
         "completed.",
         "Front desk queue", "The day before the visit.",
         "The patient completes the forms, the visit is cancelled or moved off tomorrow, or its day comes.",
         "appointment", _check_intake, _each(_check_intake, _intake_candidates)),
    Rule("message_unanswered", "Patient message unanswered",
         f"The latest message of a patient's conversation with the front desk is the patient's, and their first "
         f"message since the desk last wrote is {MESSAGE_WORKING_HOURS} or more working hours old (Monday to Friday, "
         f"{WORK_START:%H:%M}-{WORK_END:%H:%M} at the clinic).",
         "Front desk queue", "The day it was found.", "A member of staff answers in the conversation.", "thread",
         _check_message, _each(_check_message, _message_candidates)),
    Rule("profile_change", "Portal details change",
         "The patient asked in the portal (My details) to change their contact details and the desk has not "
         "answered yet.",
         "Front desk queue", "The day it was asked.",
         "The desk accepts or declines the change (on the patient's profile); a newer request from the patient "
         "replaces the task with its own.", "patient", _check_profile_change,
         _each(_check_profile_change, _profile_change_candidates)),
)}

HAND_MADE = "manual"
KIND_LABELS = {**{kind: rule.label for kind, rule in RULES.items()}, HAND_MADE: "Hand-made"}


def evaluate(session: Session, kind: str, subject_id: int, *, now: dt.datetime | None = None) -> int | None:
    """Re-evaluate one rule for one subject: open, retitle or close its task. Returns the id of
    a task that changed, or None."""
    rule = RULES[kind]
    now = now or utcnow()
    return reconcile(session, kind=kind, subject=f"{kind}:{subject_id}", want=rule.check(session, subject_id, now), now=now)


def sweep(session: Session, *, now: dt.datetime | None = None, kinds: Iterable[str] | None = None) -> dict[str, int]:
    """Every rule over every subject at once (what time alone makes due or ends): each rule's
    condition as a few queries over the whole clinic, then its missing tasks opened and the
    tasks whose condition ended closed in bulk; and snoozed tasks whose day has come back.
    Returns the number of tasks opened, changed or closed per rule."""
    for_write(session)
    now = now or utcnow()
    counts: dict[str, int] = {}
    for kind in kinds or RULES:
        wants = {f"{kind}:{subject}": want for subject, want in RULES[kind].every(session, now).items()}
        counts[kind] = reconcile_all(session, kind=kind, wants=wants, now=now)
    counts["woken"] = wake_snoozed(session, now=now)
    return counts


def wake_snoozed(session: Session, *, now: dt.datetime | None = None) -> int:
    """Snoozed tasks whose day has come are open again."""
    for_write(session)
    day = today(session, now)
    woken = list(session.exec(select(Task).where(Task.status == "snoozed", Task.snoozed_until <= day)).all())
    for task in woken:
        task.status, task.snoozed_until = "open", None
        session.add(task)
    if woken:
        session.flush()
        changed(session, [t.id for t in woken])
    return len(woken)


def on_appointment(session: Session, appointment_id: int, *, now: dt.datetime | None = None) -> list[int]:
    """A visit was booked, moved, checked in, charted, signed or cancelled: the rules whose
    inputs it touches, for its episode, its patient and its note."""
    now = now or utcnow()
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return []
    for_write(session)
    touched = []
    case_id = session.exec(select(CaseVisit.case_id).where(CaseVisit.appointment_id == appointment_id)).first()
    if case_id is not None:
        touched.append(evaluate(session, "authorisation", case_id, now=now))
    touched += [evaluate(session, kind, appointment.patient_id, now=now) for kind in ("plan_of_care", "progress_note", "eligibility")]
    note_id = session.exec(select(Note.id).where(Note.appointment_id == appointment_id)).first()
    if note_id is not None:
        touched += [evaluate(session, "unsigned_note", note_id, now=now), evaluate(session, "cosign", note_id, now=now)]
    return [t for t in touched if t is not None]


def on_claims(session: Session, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Claims, remittances or ledgers changed (the event names no claim): the claim and balance rules."""
    return sweep(session, now=now, kinds=("claim_denied", "claim_unanswered", "balance_90"))
