"""The patient's messages in the portal: who they may write to, their threads and one thread's
messages, in words and in their clinic's time zone.

Built on services/messaging/messages.py's patient side. Everything takes the signed-in
patient (``Me``) and reads only that patient's own patient threads; another patient's thread id
answers NotFound, the same as one that does not exist. Services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from clinic_app.models import Appointment, Location, Message, MessageThread, Provider, User
from clinic_app.services.messaging import messages
from clinic_app.services.platform.clock import hhmm, local_day
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.portal.accounts import Me

DESK = "desk"


@dataclass(frozen=True)
class Recipient:
    value: str  # "desk" or "clinician:<provider id>"
    label: str


def recipients(session: Session, me: Me) -> list[Recipient]:
    """The front desk, then the clinicians the patient has visits with (by name)."""
    rows = session.exec(select(Provider.id, Provider.name).join(Appointment, Appointment.provider_id == Provider.id)
                        .where(Appointment.patient_id == me.acting_for).distinct().order_by(Provider.name)).all()
    return [Recipient(DESK, "The front desk"), *(Recipient(f"clinician:{pid}", name) for pid, name in rows)]


def zone(session: Session, me: Me) -> str:
    """The time zone of the patient's latest visit's location (UTC without visits)."""
    tz = session.exec(select(Location.timezone).join(Appointment, Appointment.location_id == Location.id)
                      .where(Appointment.patient_id == me.acting_for)
                      .order_by(col(Appointment.starts_at).desc()).limit(1)).first()
    return tz or "UTC"


def when(moment, tz: str) -> str:
    return f"{local_day(moment, tz):%a %d %b %Y} {hhmm(moment, tz)}"


def write(session: Session, me: Me, *, to: str, subject: str, body: str) -> MessageThread:
    """A new thread from the patient to the front desk or to one of their own clinicians."""
    chosen = next((r for r in recipients(session, me) if r.value == to), None)
    if chosen is None:
        raise InvalidInput("Choose who the message is for: the front desk or one of your clinicians.")
    if chosen.value == DESK:
        return messages.patient_start(session, patient_id=me.acting_for, to="desk", subject=subject, body=body)
    provider_id = int(chosen.value.removeprefix("clinician:"))
    return messages.patient_start(session, patient_id=me.acting_for, to="clinician", provider_id=provider_id,
                                  subject=subject, body=body)


def threads(session: Session, *, patient_id: int, tz: str) -> list[dict]:
    """The patient's threads, newest first: id, subject, to, when, unread (clinic messages not seen)."""
    return [{"id": t["id"], "subject": t["subject"], "to": t["to"], "when": when(t["last_at"], tz), "unread": t["unread"]}
            for t in messages.patient_threads(session, patient_id=patient_id)]


def thread_messages(session: Session, *, patient_id: int, thread_id: int, tz: str) -> list[dict]:
    """One of the patient's threads as they see it, without marking anything seen (the live push)."""
    thread = session.get(MessageThread, thread_id)
    if thread is None or thread.kind != "patient" or thread.patient_id != patient_id:
        raise NotFound("That conversation is not among yours.")
    rows = session.exec(select(Message, User.full_name).join(User, User.id == Message.author_user_id, isouter=True)
                        .where(Message.thread_id == thread.id).order_by(Message.id)).all()
    return [{"id": m.id, "mine": m.by_patient, "author": "You" if m.by_patient else (name or "The clinic"),
             "body": m.body, "when": when(m.sent_at, tz)} for m, name in rows]


def open_thread(session: Session, me: Me, *, thread_id, tz: str) -> tuple[dict, list[dict]]:
    """The patient opens one of their threads: (its row, its messages); the clinic's messages count as seen."""
    shown = messages.patient_read_thread(session, patient_id=me.acting_for, thread_id=thread_id)
    row = next(t for t in threads(session, patient_id=me.acting_for, tz=tz) if t["id"] == int(thread_id))
    return row, [{"id": m["id"], "mine": m["mine"], "author": m["author"], "body": m["body"],
                  "when": when(m["sent_at"], tz)} for m in shown]


def change(session: Session, *, patient_id: int, thread_id: int) -> dict | None:
    """What the patient's open Messages page needs after a change to one of their patient
    threads (the live push): their threads and that thread's messages; None for any other thread."""
    thread = session.get(MessageThread, thread_id)
    if thread is None or thread.kind != "patient" or thread.patient_id != patient_id:
        return None
    tz = zone(session, Me(account_id=0, patient_id=patient_id))
    return {"patient_id": patient_id, "thread_id": thread.id, "threads": threads(session, patient_id=patient_id, tz=tz),
            "messages": thread_messages(session, patient_id=patient_id, thread_id=thread.id, tz=tz)}
