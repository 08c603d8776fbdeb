"""Threads of messages about one patient.

Two kinds, one model:
- staff threads, between colleagues (reception, clinicians, billers) about a patient: only the
  thread's members see it; each member's read position gives read receipts;
- patient threads, between the patient (the portal) and the clinic: to the desk's queue (every
  receptionist sees it) or, where the clinic allows it, to the patient's clinician; a member of
  staff who answers joins the thread.

A message is never edited or removed (the services offer no way; alembic 0026's triggers refuse
it). Every view and every message is in the audit log as PHI access. Services never commit: the
caller owns the transaction, and the change is pushed to the open inboxes when it commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from clinic_app.db import for_write, utcnow
from clinic_app.live import publish_on_commit
from clinic_app.live.events import MessagesChanged
from clinic_app.models import Message, MessageMember, MessageThread, Patient, Provider, User
from clinic_app.services.frontdesk.patients import describe
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import CLINICIAN, RECEPTION, require

MAX_BODY = 4000
MAX_SUBJECT = 120
MAX_RECIPIENTS = 10
QUEUES = ("desk", "clinician")
STAFF_ROLES = ("reception", "clinician", "biller")  # who may message colleagues about a patient


@dataclass(frozen=True)
class ThreadRow:
    """A thread in an inbox."""

    id: int
    kind: str  # staff or patient
    patient_id: int
    patient: str  # "Last, First (MRN, born ...)"
    subject: str
    with_whom: str  # the other people, in words
    last_at: dt.datetime
    last_text: str  # the start of the newest message
    unread: int


@dataclass(frozen=True)
class MessageRow:
    """A message as a thread shows it, with who has read it."""

    id: int
    author_id: int  # the staff member's user id; 0 for the patient
    author: str
    by_patient: bool
    mine: bool
    body: str
    sent_at: dt.datetime
    read_by: tuple[str, ...]  # the other staff members who have read it (read receipts)
    patient_read: bool  # patient threads: the patient has seen this staff message


def _text(value: str, most: int, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"Write {what} first.")
    if len(text) > most:
        raise InvalidInput(f"The {what} is too long ({len(text)} characters; at most {most}).")
    return text


def _patient(session: Session, patient_id) -> Patient:
    patient = session.get(Patient, int(patient_id)) if str(patient_id).isdigit() else None
    if patient is None or not patient.active:
        raise NotFound("That patient is not on record (or was merged into another record).")
    return patient


def _published(session: Session, thread: MessageThread) -> None:
    members = session.exec(select(MessageMember.user_id).where(MessageMember.thread_id == thread.id)).all()
    publish_on_commit(session, MessagesChanged(
        thread_id=thread.id, patient_id=thread.patient_id, user_ids=tuple(sorted(members)),
        queue=thread.to_queue if thread.kind == "patient" else "", provider_id=thread.provider_id or 0,
    ))


def _join(session: Session, thread_id: int, user_id: int, read_upto: int = 0) -> MessageMember:
    member = session.exec(select(MessageMember).where(MessageMember.thread_id == thread_id,
                                                      MessageMember.user_id == user_id)).first()
    if member is None:
        member = MessageMember(thread_id=thread_id, user_id=user_id, read_upto=read_upto,
                               read_at=utcnow() if read_upto else None)
        session.add(member)
    return member


def _add(session: Session, thread: MessageThread, *, body: str, author: int | None) -> Message:
    message = Message(thread_id=thread.id, author_user_id=author, by_patient=author is None, body=body, sent_at=utcnow())
    session.add(message)
    thread.last_at = message.sent_at
    session.add(thread)
    session.flush()
    return message


# -- staff ---------------------------------------------------------------------------------------
def _sees(session: Session, actor: Actor, thread: MessageThread) -> bool:
    """Whether ``actor`` may read ``thread``: a member, or the queue a patient thread went to."""
    member = session.exec(select(MessageMember.id).where(MessageMember.thread_id == thread.id,
                                                         MessageMember.user_id == actor.user_id)).first()
    if member is not None:
        return True
    if thread.kind != "patient":
        return False
    if thread.to_queue == "desk":
        return actor.role == RECEPTION
    return actor.role == CLINICIAN and actor.provider_id is not None and actor.provider_id == thread.provider_id


def _visible(actor: Actor):
    """The threads ``actor`` may read, as a query condition."""
    mine = select(MessageMember.thread_id).where(MessageMember.user_id == actor.user_id)
    conditions = [col(MessageThread.id).in_(mine)]
    if actor.role == RECEPTION:
        conditions.append((MessageThread.kind == "patient") & (MessageThread.to_queue == "desk"))
    if actor.role == CLINICIAN and actor.provider_id:
        conditions.append((MessageThread.kind == "patient") & (MessageThread.to_queue == "clinician")
                          & (MessageThread.provider_id == actor.provider_id))
    return or_(*conditions)


def _readable(session: Session, actor: Actor, thread_id) -> MessageThread:
    thread = session.get(MessageThread, int(thread_id)) if str(thread_id).isdigit() else None
    if thread is None or not _sees(session, actor, thread):
        # The same answer whether it does not exist or is someone else's: no probing for threads.
        raise NotFound("That conversation is not among yours.")
    return thread


def colleagues(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """The colleagues ``actor`` may write to: (user id, "Name (role)"), by name."""
    require(actor.role, "message.staff")
    users = session.exec(select(User).where(User.active, col(User.role).in_(STAFF_ROLES), User.id != actor.user_id)
                         .order_by(User.full_name)).all()
    return [(u.id, f"{u.full_name} ({u.role})") for u in users]


def start_staff_thread(session: Session, *, actor: Actor, patient_id, to_user_ids, subject: str, body: str) -> MessageThread:
    """Write to one or more colleagues about a patient."""
    for_write(session)
    require(actor.role, "message.staff")
    patient = _patient(session, patient_id)
    subject = _text(subject, MAX_SUBJECT, "subject")
    body = _text(body, MAX_BODY, "message")
    ids = sorted({int(u) for u in to_user_ids or () if str(u).isdigit()} - {actor.user_id})
    if not ids:
        raise InvalidInput("Choose at least one colleague to write to.")
    if len(ids) > MAX_RECIPIENTS:
        raise InvalidInput(f"Write to at most {MAX_RECIPIENTS} colleagues at once.")
    found = session.exec(select(User.id).where(col(User.id).in_(ids), User.active, col(User.role).in_(STAFF_ROLES))).all()
    if len(found) != len(ids):
        raise InvalidInput("One of the colleagues chosen can no longer receive messages; choose again.")
    thread = MessageThread(kind="staff", patient_id=patient.id, subject=subject, started_by=actor.user_id)
    session.add(thread)
    session.flush()
    message = _add(session, thread, body=body, author=actor.user_id)
    _join(session, thread.id, actor.user_id, read_upto=message.id)
    for user_id in ids:
        _join(session, thread.id, user_id)
    audit.record(session, actor=actor, action="message.send", entity="message_thread", entity_id=thread.id,
                 patient_id=patient.id, detail=f"to {len(ids)} colleague(s)")
    _published(session, thread)
    return thread


def reply(session: Session, *, actor: Actor, thread_id, body: str) -> Message:
    """Answer a thread ``actor`` may read (a patient thread: they join it)."""
    for_write(session)
    require(actor.role, "message.staff")
    thread = _readable(session, actor, thread_id)
    body = _text(body, MAX_BODY, "message")
    message = _add(session, thread, body=body, author=actor.user_id)
    member = _join(session, thread.id, actor.user_id)
    member.read_upto, member.read_at = message.id, utcnow()
    session.add(member)
    audit.record(session, actor=actor, action="message.send", entity="message_thread", entity_id=thread.id,
                 patient_id=thread.patient_id, detail="reply")
    _published(session, thread)
    return message


def inbox(session: Session, *, actor: Actor, patient_id: int | None = None, unread_only: bool = False,
          limit: int = 100) -> list[ThreadRow]:
    """The threads ``actor`` may read, newest first, with how many messages they have not read."""
    require(actor.role, "message.staff")
    read_upto = (select(MessageMember.read_upto).where(MessageMember.thread_id == MessageThread.id,
                                                        MessageMember.user_id == actor.user_id)
                 .correlate(MessageThread).scalar_subquery())
    unread = (select(func.count(Message.id)).where(Message.thread_id == MessageThread.id,
                                                   Message.id > func.coalesce(read_upto, 0),
                                                   or_(Message.author_user_id.is_(None), Message.author_user_id != actor.user_id))
              .correlate(MessageThread).scalar_subquery())
    query = select(MessageThread, unread.label("unread")).where(_visible(actor))
    if patient_id:
        query = query.where(MessageThread.patient_id == patient_id)
    if unread_only:
        query = query.where(unread > 0)
    rows = session.exec(query.order_by(col(MessageThread.last_at).desc(), col(MessageThread.id).desc()).limit(limit)).all()
    return [_row(session, actor, thread, count) for thread, count in rows]


def unread_threads(session: Session, *, actor: Actor) -> list[int]:
    """The threads with a message ``actor`` has not read (the header's badge), newest first."""
    return [row.id for row in inbox(session, actor=actor, unread_only=True, limit=1000)]


def unread_count(session: Session, *, actor: Actor) -> int:
    """How many threads have a message ``actor`` has not read."""
    return len(unread_threads(session, actor=actor))


def _row(session: Session, actor: Actor, thread: MessageThread, unread: int) -> ThreadRow:
    patient = session.get(Patient, thread.patient_id)
    last = session.exec(select(Message).where(Message.thread_id == thread.id).order_by(col(Message.id).desc()).limit(1)).first()
    return ThreadRow(id=thread.id, kind=thread.kind, patient_id=thread.patient_id, patient=describe(patient),
                     subject=thread.subject, with_whom=_with_whom(session, actor, thread), last_at=thread.last_at,
                     last_text=(last.body[:80] + ("..." if len(last.body) > 80 else "")) if last else "", unread=int(unread or 0))


def _with_whom(session: Session, actor: Actor, thread: MessageThread) -> str:
    names = session.exec(select(User.full_name).join(MessageMember, MessageMember.user_id == User.id)
                         .where(MessageMember.thread_id == thread.id, User.id != actor.user_id)).all()
    return with_whom(thread_people(session, thread), names)


def thread_people(session: Session, thread: MessageThread) -> str:
    """A patient thread's patient and where it went ("Cara Diaz (patient), to the front desk"); "" for staff threads."""
    if thread.kind != "patient":
        return ""
    patient = session.get(Patient, thread.patient_id)
    queue = "the front desk" if thread.to_queue == "desk" else _clinician_name(session, thread.provider_id)
    return f"{patient.first_name} {patient.last_name} (patient), to {queue}"


def with_whom(people: str, colleague_names) -> str:
    """Who else is in a thread, in words, as one member sees it."""
    return ", ".join([*([people] if people else []), *sorted(colleague_names)]) or "only you"


def _clinician_name(session: Session, provider_id: int | None) -> str:
    provider = session.get(Provider, provider_id) if provider_id else None
    return provider.name if provider else "their clinician"


def read_thread(session: Session, *, actor: Actor, thread_id) -> tuple[ThreadRow, list[MessageRow]]:
    """Open a thread: its messages with read receipts; it counts as read by ``actor`` (audited)."""
    for_write(session)
    require(actor.role, "message.staff")
    thread = _readable(session, actor, thread_id)
    messages = session.exec(select(Message).where(Message.thread_id == thread.id).order_by(Message.id)).all()
    members = session.exec(select(MessageMember, User.full_name).join(User, User.id == MessageMember.user_id)
                           .where(MessageMember.thread_id == thread.id)).all()
    newest = messages[-1].id if messages else 0
    # Reading a thread of one's queue joins it, so that it counts as read and shows who read it.
    mine = _join(session, thread.id, actor.user_id)
    if mine.read_upto < newest:
        mine.read_upto, mine.read_at = newest, utcnow()
        session.add(mine)
        _published(session, thread)  # the others see the read receipt, the badge goes down
    authors = dict(session.exec(select(User.id, User.full_name).where(
        col(User.id).in_({m.author_user_id for m in messages if m.author_user_id}))).all())
    patient = session.get(Patient, thread.patient_id)
    rows = [
        MessageRow(
            id=m.id, author_id=m.author_user_id or 0, author=f"{patient.first_name} {patient.last_name} (patient)" if m.by_patient else authors.get(m.author_user_id, "?"),
            by_patient=m.by_patient, mine=m.author_user_id == actor.user_id, body=m.body, sent_at=m.sent_at,
            read_by=tuple(sorted(name for member, name in members
                                 if member.user_id not in (actor.user_id, m.author_user_id) and member.read_upto >= m.id)),
            patient_read=m.patient_read_at is not None,
        )
        for m in messages
    ]
    audit.record(session, actor=actor, action="message.read", entity="message_thread", entity_id=thread.id,
                 patient_id=thread.patient_id)
    return _row(session, actor, thread, 0), rows


# -- the patient's side (the portal passes the signed-in patient's own id) ----------------------------
def patient_start(session: Session, *, patient_id: int, to: str, subject: str, body: str,
                  provider_id: int | None = None) -> MessageThread:
    """A patient writes to the clinic: to the front desk, or to their clinician where allowed."""
    for_write(session)
    patient = _patient(session, patient_id)
    if to not in QUEUES:
        raise InvalidInput("Choose who the message is for: the front desk or your clinician.")
    if to == "clinician" and (not provider_id or session.get(Provider, provider_id) is None):
        raise InvalidInput("Choose your clinician.")
    subject = _text(subject, MAX_SUBJECT, "subject")
    body = _text(body, MAX_BODY, "message")
    thread = MessageThread(kind="patient", patient_id=patient.id, subject=subject, to_queue=to,
                           provider_id=provider_id if to == "clinician" else None)
    session.add(thread)
    session.flush()
    _add(session, thread, body=body, author=None)
    audit.record(session, actor=None, action="message.send", entity="message_thread", entity_id=thread.id,
                 patient_id=patient.id, detail=f"by the patient to the {'front desk' if to == 'desk' else 'clinician'}",
                 source="portal")
    _published(session, thread)
    return thread


def _own_thread(session: Session, patient_id: int, thread_id) -> MessageThread:
    thread = session.get(MessageThread, int(thread_id)) if str(thread_id).isdigit() else None
    if thread is None or thread.kind != "patient" or thread.patient_id != patient_id:
        raise NotFound("That conversation is not among yours.")
    return thread


def patient_reply(session: Session, *, patient_id: int, thread_id, body: str) -> Message:
    """The patient answers one of their own threads."""
    for_write(session)
    thread = _own_thread(session, patient_id, thread_id)
    message = _add(session, thread, body=_text(body, MAX_BODY, "message"), author=None)
    audit.record(session, actor=None, action="message.send", entity="message_thread", entity_id=thread.id,
                 patient_id=patient_id, detail="reply by the patient", source="portal")
    _published(session, thread)
    return message


def patient_threads(session: Session, *, patient_id: int) -> list[dict]:
    """The patient's own threads, newest first, with how many clinic messages they have not seen."""
    unseen = (select(func.count(Message.id)).where(Message.thread_id == MessageThread.id, Message.by_patient.is_(False),
                                                    Message.patient_read_at.is_(None))
              .correlate(MessageThread).scalar_subquery())
    rows = session.exec(select(MessageThread, unseen).where(MessageThread.kind == "patient", MessageThread.patient_id == patient_id)
                        .order_by(col(MessageThread.last_at).desc())).all()
    return [{"id": t.id, "subject": t.subject, "to": "Front desk" if t.to_queue == "desk" else _clinician_name(session, t.provider_id),
             "last_at": t.last_at, "unread": int(n or 0)} for t, n in rows]


def patient_read_thread(session: Session, *, patient_id: int, thread_id) -> list[dict]:
    """The patient opens one of their threads: the clinic's messages in it count as seen."""
    for_write(session)
    thread = _own_thread(session, patient_id, thread_id)
    messages = session.exec(select(Message).where(Message.thread_id == thread.id).order_by(Message.id)).all()
    now, seen = utcnow(), False
    for m in messages:
        if not m.by_patient and m.patient_read_at is None:
            m.patient_read_at, seen = now, True
            session.add(m)
    if seen:
        _published(session, thread)
    authors = dict(session.exec(select(User.id, User.full_name).where(
        col(User.id).in_({m.author_user_id for m in messages if m.author_user_id}))).all())
    return [{"id": m.id, "mine": m.by_patient, "author": "You" if m.by_patient else authors.get(m.author_user_id, "The clinic"),
             "body": m.body, "sent_at": m.sent_at} for m in messages]
