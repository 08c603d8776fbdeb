"""The rules that write the staff's to-do list, each defined in one place.

A rule has its words (``text``: what the condition is, ``owner``: who gets the task, ``due``,
``closes``: what closes it by itself; docs/tasks.md lists them), a ``check`` that says, for one
subject (an episode of care, a patient, a note, a claim), whether the condition holds now and
what the task is, and ``candidates``: the subjects whose condition may hold (the sweep looks
at those and at the subjects of the rule's open tasks).

``evaluate`` (one subject) opens the task when the condition holds and none is open, and
closes it by itself when the condition no longer holds; a task a person completed is not
opened again while the same instance of the condition lasts (the instance is part of the key:
the claim's denial, the authorisation's numbers, the plan, the anchor note...).

Rules run on the live bus's events (``on_appointment``, ``on_claims``: clinic_app/tasks_worker.py)
and in a daily ``sweep`` for what time alone makes due. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import case, func, or_
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
from clinic_app.services.tasks.store import Want, reconcile

RECEPTION, CLINICIAN, BILLER = "reception", "clinician", "biller"

# Thresholds (docs/tasks.md).
AUTH_VISITS_LEFT = 2
AUTH_END_DAYS = 7
PLAN_END_DAYS = 7
PROGRESS_VISITS = 10
PROGRESS_DAYS = 30
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
    check: Callable[[Session, int, dt.datetime], Want | None]
    candidates: Callable[[Session, dt.datetime], Iterable[int]]


# -- shared look-ups ---------------------------------------------------------------------------
def clinic_zone(session: Session) -> str:
    tz = session.exec(select(Location.timezone).order_by(Location.id).limit(1)).first()
    return tz or "America/New_York"


def _user_of_provider(session: Session, provider_id: int | None) -> int | None:
    if provider_id is None:
        return None
    return session.exec(
        select(User.id).where(User.provider_id == provider_id, User.active, User.role == CLINICIAN).order_by(User.id).limit(1)
    ).first()


def _for_clinician(session: Session, provider_id: int | None) -> dict:
    """The provider's own account, or the clinicians' queue when they have none."""
    user_id = _user_of_provider(session, provider_id)
    return {"assignee_user_id": user_id} if user_id else {"queue_role": CLINICIAN}


def _upcoming(session: Session, now: dt.datetime):
    return Appointment.starts_at >= now, Appointment.status.not_in(RELEASED)


# -- authorisation -------------------------------------------------------------------------------
def _check_authorisation(session: Session, case_id: int, now: dt.datetime) -> Want | None:
    episode = session.get(CareCase, case_id)
    if episode is None or not episode.active or (episode.authorized_visits is None and episode.auth_end is None):
        return None
    tz = clinic_zone(session)
    today = local_day(now, tz)
    upcoming = session.exec(
        select(Appointment).join(CaseVisit, CaseVisit.appointment_id == Appointment.id)
        .where(CaseVisit.case_id == case_id, *_upcoming(session, now)).order_by(Appointment.starts_at, Appointment.id)
    ).all()
    if not upcoming:
        return None
    reasons = []
    if episode.authorized_visits is not None:
        used = session.exec(
            select(func.count(CaseVisit.id)).join(Appointment, Appointment.id == CaseVisit.appointment_id)
            .where(CaseVisit.case_id == case_id, Appointment.status.not_in(RELEASED))
        ).one()
        left = episode.authorized_visits - used
        if left < 0:
            reasons.append(f"{-left} visit{'s' if left < -1 else ''} booked past the {episode.authorized_visits} authorised")
        elif left <= AUTH_VISITS_LEFT:
            reasons.append(f"{left} authorised visit{'' if left == 1 else 's'} left")
    if episode.auth_end is not None and episode.auth_end <= today + dt.timedelta(days=AUTH_END_DAYS):
        after = [a for a in upcoming if local_day(a.starts_at, tz) > episode.auth_end]
        if after:
            reasons.append(f"ends {episode.auth_end.isoformat()} with {len(after)} visit{'s' if len(after) > 1 else ''} booked after it")
    if not reasons:
        return None
    first = upcoming[0]
    return Want(
        key=f"authorisation:{case_id}:{episode.authorized_visits}:{episode.auth_end}",
        patient_id=episode.patient_id, title=f"Authorisation ({episode.title}): " + "; ".join(reasons),
        due_on=local_day(first.starts_at, tz), queue_role=RECEPTION, appointment_id=first.id, case_id=case_id,
    )


def _authorisation_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(
        select(CaseVisit.case_id).distinct()
        .join(Appointment, Appointment.id == CaseVisit.appointment_id)
        .join(CareCase, CareCase.id == CaseVisit.case_id)
        .where(*_upcoming(session, now), CareCase.active,
               or_(CareCase.authorized_visits.is_not(None), CareCase.auth_end.is_not(None)))
    ).all()


# -- plan of care --------------------------------------------------------------------------------
def _check_plan(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    plan = session.exec(
        select(CarePlan).where(CarePlan.patient_id == patient_id).order_by(CarePlan.recorded_at.desc(), CarePlan.id.desc()).limit(1)
    ).first()
    if plan is None:
        return None
    tz = clinic_zone(session)
    today = local_day(now, tz)
    ends = plan.starts_on + dt.timedelta(weeks=plan.duration_weeks)
    if ends > today + dt.timedelta(days=PLAN_END_DAYS):
        return None
    after = [a for a in session.exec(
        select(Appointment).where(Appointment.patient_id == patient_id, *_upcoming(session, now)).order_by(Appointment.starts_at)
    ).all() if local_day(a.starts_at, tz) > ends]
    if not after:
        return None
    return Want(
        key=f"plan_of_care:{patient_id}:{plan.id}", patient_id=patient_id,
        title=f"Plan of care ends {ends.isoformat()}; {len(after)} visit{'s' if len(after) > 1 else ''} booked after it",
        due_on=ends, appointment_id=after[0].id, **_for_clinician(session, after[0].provider_id),
    )


def _plan_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(
        select(CarePlan.patient_id).distinct().join(Appointment, Appointment.patient_id == CarePlan.patient_id)
        .where(*_upcoming(session, now))
    ).all()


# -- progress note -------------------------------------------------------------------------------
def _is_anchor():
    name = func.lower(AppointmentType.name)
    return or_(*[name.contains(word) for word in PROGRESS_ANCHOR_WORDS])


def _check_progress(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    anchor = session.exec(
        select(Note.id, Note.provider_id, Appointment.starts_at)
        .join(Appointment, Appointment.id == Note.appointment_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(Note.patient_id == patient_id, Note.signed_at.is_not(None), _is_anchor())
        .order_by(Appointment.starts_at.desc()).limit(1)
    ).first()
    if anchor is None:
        return None
    note_id, provider_id, anchor_at = anchor
    nxt = session.exec(
        select(Appointment).where(Appointment.patient_id == patient_id, *_upcoming(session, now)).order_by(Appointment.starts_at).limit(1)
    ).first()
    if nxt is None:  # not in care any more
        return None
    tz = clinic_zone(session)
    since = session.exec(
        select(Appointment.starts_at).where(
            Appointment.patient_id == patient_id, Appointment.starts_at > anchor_at, Appointment.starts_at < now,
            Appointment.status.not_in(RELEASED),
        ).order_by(Appointment.starts_at).limit(PROGRESS_VISITS)
    ).all()
    by_days = local_day(anchor_at, tz) + dt.timedelta(days=PROGRESS_DAYS)
    due = min([by_days] + ([local_day(since[PROGRESS_VISITS - 1], tz)] if len(since) >= PROGRESS_VISITS else []))
    if due > local_day(now, tz):
        return None
    why = f"{PROGRESS_VISITS} visits" if len(since) >= PROGRESS_VISITS and due != by_days else f"{PROGRESS_DAYS} days"
    return Want(
        key=f"progress_note:{patient_id}:{note_id}", patient_id=patient_id,
        title=f"Progress note due: {why} since the evaluation or last progress note", due_on=due,
        appointment_id=nxt.id, note_id=note_id, **_for_clinician(session, nxt.provider_id or provider_id),
    )


def _progress_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    upcoming = select(Appointment.patient_id).where(*_upcoming(session, now))
    return session.exec(
        select(Note.patient_id).distinct()
        .join(Appointment, Appointment.id == Note.appointment_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(Note.signed_at.is_not(None), _is_anchor(), Note.patient_id.in_(upcoming))
    ).all()


# -- notes: unsigned, co-signature ------------------------------------------------------------------
def _check_unsigned(session: Session, note_id: int, now: dt.datetime) -> Want | None:
    note = session.get(Note, note_id)
    if note is None or note.signed_at is not None or note.created_at > now - dt.timedelta(hours=UNSIGNED_HOURS):
        return None
    tz = clinic_zone(session)
    return Want(
        key=f"unsigned_note:{note_id}:", patient_id=note.patient_id,
        title=f"Sign the note started {local_day(note.created_at, tz).isoformat()} (unsigned over {UNSIGNED_HOURS} h)",
        due_on=local_day(note.created_at + dt.timedelta(hours=UNSIGNED_HOURS), tz),
        appointment_id=note.appointment_id, note_id=note_id, **_for_clinician(session, note.provider_id),
    )


def _unsigned_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(
        select(Note.id).where(Note.signed_at.is_(None), Note.created_at <= now - dt.timedelta(hours=UNSIGNED_HOURS))
    ).all()


def _check_cosign(session: Session, note_id: int, now: dt.datetime) -> Want | None:
    note = session.get(Note, note_id)
    if note is None or note.signed_at is None:
        return None
    supervisor = session.exec(
        select(ClinicianSupervision.supervisor_provider_id).where(ClinicianSupervision.provider_id == note.provider_id)
    ).first()
    if supervisor is None or session.exec(select(NoteCosignature.id).where(NoteCosignature.note_id == note_id)).first():
        return None
    tz = clinic_zone(session)
    return Want(
        key=f"cosign:{note_id}:", patient_id=note.patient_id,
        title=f"Co-sign the note signed {local_day(note.signed_at, tz).isoformat()}",
        due_on=local_day(note.signed_at, tz) + dt.timedelta(days=1),
        appointment_id=note.appointment_id, note_id=note_id, **_for_clinician(session, supervisor),
    )


def _cosign_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(
        select(Note.id).join(ClinicianSupervision, ClinicianSupervision.provider_id == Note.provider_id)
        .outerjoin(NoteCosignature, NoteCosignature.note_id == Note.id)
        .where(Note.signed_at.is_not(None), NoteCosignature.id.is_(None))
    ).all()


# -- claims ------------------------------------------------------------------------------------------
def _last_event(session: Session, claim_id: int, statuses: tuple[str, ...]) -> ClaimEvent | None:
    return session.exec(
        select(ClaimEvent).where(ClaimEvent.claim_id == claim_id, ClaimEvent.to_status.in_(statuses))
        .order_by(ClaimEvent.at.desc(), ClaimEvent.id.desc()).limit(1)
    ).first()


def _check_denied(session: Session, claim_id: int, now: dt.datetime) -> Want | None:
    claim = session.get(Claim, claim_id)
    if claim is None or claim.status not in ("denied", "rejected"):
        return None
    event = _last_event(session, claim_id, (claim.status,))
    when = event.at if event is not None else claim.created_at
    return Want(
        key=f"claim_denied:{claim_id}:{event.id if event else 0}", patient_id=claim.patient_id,
        title=f"Work the {claim.status} claim {claim.number}", due_on=local_day(when, clinic_zone(session)) + dt.timedelta(days=7),
        queue_role=BILLER, claim_id=claim_id, appointment_id=claim.appointment_id,
    )


def _denied_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(select(Claim.id).where(Claim.status.in_(("denied", "rejected")))).all()


def _check_unanswered(session: Session, claim_id: int, now: dt.datetime) -> Want | None:
    claim = session.get(Claim, claim_id)
    if claim is None or claim.status not in ("submitted", "accepted"):
        return None
    event = _last_event(session, claim_id, ("submitted",))
    sent = event.at if event is not None else claim.created_at
    if sent > now - dt.timedelta(days=CLAIM_UNANSWERED_DAYS):
        return None
    return Want(
        key=f"claim_unanswered:{claim_id}:{claim.submit_count}", patient_id=claim.patient_id,
        title=f"Claim {claim.number} unanswered {CLAIM_UNANSWERED_DAYS}+ days after it was sent",
        due_on=local_day(sent, clinic_zone(session)) + dt.timedelta(days=CLAIM_UNANSWERED_DAYS),
        queue_role=BILLER, claim_id=claim_id, appointment_id=claim.appointment_id,
    )


def _unanswered_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    cutoff = now - dt.timedelta(days=CLAIM_UNANSWERED_DAYS)
    return session.exec(
        select(Claim.id).join(ClaimEvent, ClaimEvent.claim_id == Claim.id)
        .where(Claim.status.in_(("submitted", "accepted")), ClaimEvent.to_status == "submitted")
        .group_by(Claim.id).having(func.max(ClaimEvent.at) <= cutoff)
    ).all()


# -- eligibility ---------------------------------------------------------------------------------
def _check_eligibility(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    visit = session.exec(
        select(Appointment).where(
            Appointment.patient_id == patient_id, *_upcoming(session, now),
            Appointment.starts_at < now + dt.timedelta(days=ELIGIBILITY_DAYS),
        ).order_by(Appointment.starts_at).limit(1)
    ).first()
    if visit is None:
        return None
    tz = clinic_zone(session)
    day = local_day(visit.starts_at, tz)
    coverage = session.exec(
        select(Coverage).where(
            Coverage.patient_id == patient_id, Coverage.active, Coverage.priority == 1, Coverage.effective_from <= day,
            or_(Coverage.effective_to.is_(None), Coverage.effective_to >= day),
        ).order_by(Coverage.id.desc()).limit(1)
    ).first()
    if coverage is None or coverage.eligibility_status == "active":
        return None
    words = "not checked" if not coverage.eligibility_status else coverage.eligibility_status.replace("_", " ")
    return Want(
        key=f"eligibility:{patient_id}:{coverage.id}", patient_id=patient_id,
        title=f"Check eligibility ({words}) before the visit on {day.isoformat()}", due_on=day,
        queue_role=RECEPTION, appointment_id=visit.id,
    )


def _eligibility_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    return session.exec(
        select(Appointment.patient_id).distinct()
        .join(Coverage, Coverage.patient_id == Appointment.patient_id)
        .where(*_upcoming(session, now), Appointment.starts_at < now + dt.timedelta(days=ELIGIBILITY_DAYS),
               Coverage.active, Coverage.priority == 1, Coverage.eligibility_status != "active")
    ).all()


# -- balance over 90 days ---------------------------------------------------------------------------
def _over_90(cutoff: dt.datetime):
    """What the patient still owes of what they owed 90 days ago: the balance then, less every
    credit (payment, adjustment) since (oldest debt is paid first)."""
    return func.coalesce(func.sum(case(
        (LedgerEntry.created_at <= cutoff, LedgerEntry.amount_cents),
        (LedgerEntry.amount_cents < 0, LedgerEntry.amount_cents),
        else_=0,
    )), 0)


def _check_balance(session: Session, patient_id: int, now: dt.datetime) -> Want | None:
    cutoff = now - dt.timedelta(days=BALANCE_DAYS)
    old, total = session.exec(
        select(_over_90(cutoff), func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(LedgerEntry.patient_id == patient_id, LedgerEntry.payer_id.is_(None))
    ).one()
    if old <= 0 or total <= 0:
        return None
    return Want(
        key=f"balance_90:{patient_id}:", patient_id=patient_id,
        title=f"Patient balance over {BALANCE_DAYS} days: {dollars(min(old, total))}",
        due_on=local_day(now, clinic_zone(session)), queue_role=BILLER,
    )


def _balance_candidates(session: Session, now: dt.datetime) -> Iterable[int]:
    cutoff = now - dt.timedelta(days=BALANCE_DAYS)
    return session.exec(
        select(LedgerEntry.patient_id).where(LedgerEntry.payer_id.is_(None)).group_by(LedgerEntry.patient_id)
        .having(_over_90(cutoff) > 0, func.sum(LedgerEntry.amount_cents) > 0)
    ).all()


# -- intake not complete the day before the visit ------------------------------------------------------
def _tomorrow(session: Session, now: dt.datetime) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """Tomorrow at the clinic, and its start and end in UTC."""
    from zoneinfo import ZoneInfo

    tz = clinic_zone(session)
    day = local_day(now, tz) + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
    return day, start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def _check_intake(session: Session, appointment_id: int, now: dt.datetime) -> Want | None:
    from clinic_app.services.portal.intake import pending_forms

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


# -- the rules, in one place -------------------------------------------------------------------
RULES: dict[str, Rule] = {rule.kind: rule for rule in (
    Rule("authorisation", "Authorisation",
         f"An active episode of care with an authorisation has at least one upcoming booked visit, and either "
         f"its authorised visits minus its booked-or-done visits is {AUTH_VISITS_LEFT} or fewer, or its end date is "
         f"within {AUTH_END_DAYS} days (or past) with an upcoming visit booked after it.",
         "Front desk queue", "The day of the episode's next booked visit.",
         "The authorisation is renewed (more visits or a later end), the visits past it are cancelled, "
         "or the episode is closed.", "case", _check_authorisation, _authorisation_candidates),
    Rule("plan_of_care", "Plan of care",
         f"The patient's latest plan of care (start + duration in weeks) ends within {PLAN_END_DAYS} days (or has "
         f"ended) and a visit is booked after its end.",
         "The clinician of the first visit after the end (the clinicians' queue if they have no account)",
         "The plan's end date.", "A new plan that covers the booked visits, or those visits are cancelled.",
         "patient", _check_plan, _plan_candidates),
    Rule("progress_note", "Progress note due",
         f"The patient has an upcoming visit and, since their latest signed note of an evaluation or progress "
         f"visit (appointment type named with evaluation, progress or re-eval), {PROGRESS_VISITS} visits have "
         f"taken place or {PROGRESS_DAYS} days have passed, whichever first.",
         "The clinician of the patient's next visit (the clinicians' queue if they have no account)",
         f"The day of the {PROGRESS_VISITS}th visit or {PROGRESS_DAYS} days after the anchor visit, whichever first.",
         "A signed note of an evaluation or progress visit, or no upcoming visit.", "patient",
         _check_progress, _progress_candidates),
    Rule("unsigned_note", "Unsigned note",
         f"A note was started more than {UNSIGNED_HOURS} hours ago and is not signed.",
         "The note's clinician (the clinicians' queue if they have no account)",
         f"The day the note turned {UNSIGNED_HOURS} hours old.", "The note is signed.", "note",
         _check_unsigned, _unsigned_candidates),
    Rule("cosign", "Co-signature",
         "A signed note of a clinician who has a supervisor has no co-signature.",
         "The supervising clinician", "The day after the note was signed.", "The supervisor co-signs.",
         "note", _check_cosign, _cosign_candidates),
    Rule("claim_denied", "Claim denied or rejected",
         "A claim's status is denied (835) or rejected (999/277CA).",
         "Billers' queue", "7 days after it was denied or rejected.",
         "The claim's status changes (corrected and resubmitted, appealed, paid).", "claim",
         _check_denied, _denied_candidates),
    Rule("claim_unanswered", "Claim unanswered",
         f"A claim is submitted or accepted and was last sent {CLAIM_UNANSWERED_DAYS} or more days ago.",
         "Billers' queue", f"{CLAIM_UNANSWERED_DAYS} days after it was sent.",
         "The payer answers (paid, denied, rejected) or the claim is sent again.", "claim",
         _check_unanswered, _unanswered_candidates),
    Rule("eligibility", "Eligibility",
         f"The patient has a visit in the next {ELIGIBILITY_DAYS} days and their primary coverage in effect that day "
         f"is not checked or was answered inactive or not found.",
         "Front desk queue", "The day of the visit.",
         "An eligibility answer of active, the coverage ends, or no visit in the next days.", "patient",
         _check_eligibility, _eligibility_candidates),
    Rule("balance_90", "Balance over 90 days",
         f"The patient's own balance is above zero and part of what they owed {BALANCE_DAYS} days ago is still "
         f"unpaid (credits since then pay the oldest debt first).",
         "Billers' queue", "The day it was found.", "Payments or adjustments bring that part to zero.", "patient",
         _check_balance, _balance_candidates),
    Rule("intake_incomplete", "Intake incomplete",
         "A booked visit tomorrow (at the clinic) needs intake forms (its visit type's) that the patient has not "
         "completed.",
         "Front desk queue", "The day before the visit.",
         "The patient completes the forms, the visit is cancelled or moved off tomorrow, or its day comes.",
         "appointment", _check_intake, _intake_candidates),
    Rule("message_unanswered", "Patient message unanswered",
         f"The latest message of a patient's conversation with the front desk is the patient's, and their first "
         f"message since the desk last wrote is {MESSAGE_WORKING_HOURS} or more working hours old (Monday to Friday, "
         f"{WORK_START:%H:%M}-{WORK_END:%H:%M} at the clinic).",
         "Front desk queue", "The day it was found.", "A member of staff answers in the conversation.", "thread",
         _check_message, _message_candidates),
    Rule("profile_change", "Portal details change",
         "The patient asked in the portal (My details) to change their contact details and the desk has not "
         "answered yet.",
         "Front desk queue", "The day it was asked.",
         "The desk accepts or declines the change (on the patient's profile); a newer request from the patient "
         "replaces the task with its own.", "patient", _check_profile_change, _profile_change_candidates),
)}

HAND_MADE = "manual"
KIND_LABELS = {**{kind: rule.label for kind, rule in RULES.items()}, HAND_MADE: "Hand-made"}


def evaluate(session: Session, kind: str, subject_id: int, *, now: dt.datetime | None = None) -> int | None:
    """Re-evaluate one rule for one subject: open, retitle or close its task. Returns the id of
    a task that changed, or None."""
    rule = RULES[kind]
    now = now or utcnow()
    return reconcile(session, kind=kind, subject=f"{kind}:{subject_id}", want=rule.check(session, subject_id, now), now=now)


def _open_subjects(session: Session, kind: str) -> set[int]:
    subjects = session.exec(select(Task.subject).where(Task.kind == kind, Task.open_key.is_not(None))).all()
    return {int(subject.split(":")[1]) for subject in subjects}


def sweep(session: Session, *, now: dt.datetime | None = None, kinds: Iterable[str] | None = None) -> dict[str, int]:
    """Every rule over every subject whose condition may hold or whose task is open (what time
    alone makes due or ends), and snoozed tasks whose day has come back. Returns the number of
    tasks opened, changed or closed per rule."""
    for_write(session)
    now = now or utcnow()
    counts: dict[str, int] = {}
    for kind in kinds or RULES:
        subjects = set(RULES[kind].candidates(session, now)) | _open_subjects(session, kind)
        counts[kind] = sum(1 for subject in sorted(subjects) if evaluate(session, kind, subject, now=now) is not None)
    from clinic_app.services.tasks.inbox import wake_snoozed

    counts["woken"] = wake_snoozed(session, now=now)
    return counts


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
