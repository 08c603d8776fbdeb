"""The staff inbox (/messages): threads about patients with colleagues and with patients.

Live: the page shows the topics of its user (their threads), of the desk's queue (reception) and
of their own patients' messages (clinicians). A change (a new message, a thread read) is built
once per change on each worker (the thread's newest message and its members' read positions)
and each open inbox places it: the list's order and unread marks, the open thread's messages and
read receipts. Nothing of a thread reaches a screen that may not read it: only those screens are
registered for its topics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import ClassVar

import reflex as rx
from sqlmodel import Session, col, select

from clinic_app import routes
from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.events import DESK_MESSAGES_TOPIC, MessagesChanged, clinician_messages_topic, messages_topic
from clinic_app.live.surfaces import Surface, register
from clinic_app.models import Message, MessageMember, MessageThread, Patient, User
from clinic_app.services.frontdesk.patients import describe
from clinic_app.services.frontdesk.profile import display_zone
from clinic_app.services.frontdesk.reminders import senders_from_environment
from clinic_app.services.messaging import messages, notify
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm, local_day
from clinic_app.services.platform.permissions import CLINICIAN, RECEPTION, allowed
from clinic_app.state.auth import AuthState
from clinic_app.state.common import in_db
from clinic_app.state.reflex_adapter import client_token
from clinic_app.state.screen import FAILED, Screen

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ThreadItem:
    """A thread in the list."""

    id: int
    subject: str
    patient: str
    with_whom: str
    when: str
    last_text: str
    unread: bool


@dataclasses.dataclass
class MessageItem:
    """A message in the open thread."""

    id: int
    author_id: int  # 0: the patient
    author: str
    mine: bool
    body: str
    when: str
    receipt: str  # "Read by ..." / "Seen by the patient" / ""


def _when(moment, tz: str) -> str:
    return f"{local_day(moment, tz).isoformat()} {hhmm(moment, tz)}"


def _topics(actor: Actor) -> list[str]:
    topics = [messages_topic(actor.user_id)]
    if actor.role == RECEPTION:
        topics.append(DESK_MESSAGES_TOPIC)
    if actor.role == CLINICIAN and actor.provider_id:
        topics.append(clinician_messages_topic(actor.provider_id))
    return topics


class MessagesState(Screen, rx.State):
    """One member of staff's inbox and the thread they have open."""

    _permission: ClassVar[str] = "message.staff"
    threads: list[ThreadItem] = []
    unread_threads: int = 0
    open_id: int = 0
    open_subject: str = ""
    open_patient: str = ""
    open_patient_href: str = ""
    open_with: str = ""
    open_messages: list[MessageItem] = []
    reply_text: str = ""
    # Writing to colleagues about a patient (the profile's "Message a colleague" opens it).
    new_patient_id: int = 0
    new_patient: str = ""
    colleagues: list[list[str]] = []  # [user id, "Name (role)"]
    new_subject: str = ""
    new_body: str = ""
    sending: bool = False
    _user_id: int = 0
    _tz: str = "UTC"

    async def _refresh(self, actor: Actor):
        self._user_id = actor.user_id
        wanted = self.router.page.params.get("patient", "")

        def work(session: Session):
            rows = messages.inbox(session, actor=actor)
            people = messages.colleagues(session, actor=actor)
            about = None
            if str(wanted).isdigit():
                patient = session.get(Patient, int(wanted))
                about = describe(patient) if patient is not None and patient.active else None
            return rows, people, about, display_zone(session, actor)

        rows, people, about, self._tz = await in_db(work)
        self._show_list(rows)
        self.colleagues = [[str(i), name] for i, name in people]
        if about is not None:
            self.new_patient_id, self.new_patient = int(wanted), about
        registry.show(client_token(self), "messages", _topics(actor))
        if self.open_id and self.open_id not in {t.id for t in self.threads}:
            self._close()
        return None

    def _show_list(self, rows: list[messages.ThreadRow]) -> None:
        self.threads = [
            ThreadItem(id=r.id, subject=r.subject, patient=r.patient, with_whom=r.with_whom, when=_when(r.last_at, self._tz),
                       last_text=r.last_text, unread=r.unread > 0)
            for r in rows
        ]
        self.unread_threads = sum(1 for t in self.threads if t.unread)

    def _close(self) -> None:
        self.open_id, self.open_subject, self.open_patient, self.open_with = 0, "", "", ""
        self.open_patient_href, self.open_messages, self.reply_text = "", [], ""

    @rx.event
    async def open_thread(self, thread_id: int):
        def work(session: Session, actor: Actor):
            row, shown = messages.read_thread(session, actor=actor, thread_id=thread_id)
            return row, shown, messages.inbox(session, actor=actor)

        result = await self._act("message.staff", work)
        if result is FAILED:
            return
        row, shown, rows = result
        self._show_list(rows)
        if self.open_id != row.id:
            self.reply_text = ""
        self.open_id, self.open_subject, self.open_patient, self.open_with = row.id, row.subject, row.patient, row.with_whom
        self.open_patient_href = routes.patient_profile(row.patient_id)
        self.open_messages = [
            MessageItem(id=m.id, author_id=m.author_id, author=m.author, mine=m.mine, body=m.body,
                        when=_when(m.sent_at, self._tz), receipt=_receipt(m.read_by, m.patient_read, m.by_patient, row.kind))
            for m in shown
        ]
        self.message = ""

    @rx.event
    def set_reply(self, text: str):
        self.reply_text = text

    @rx.event
    async def send_reply(self, form: dict | None = None):
        """Send what the reply box shows (the form's own text, so the last words typed go too)."""
        body = (form or {}).get("body", self.reply_text)
        thread_id = self.open_id
        if not thread_id or self.sending:
            return
        self.sending = True
        try:
            sent = await self._act("message.staff", lambda s, a: (
                messages.reply(s, actor=a, thread_id=thread_id, body=body), notify.patient_notice(s, thread_id=thread_id)),
                done="Message sent.")
        finally:
            self.sending = False
        if sent is not FAILED:
            self.reply_text = ""
            await _tell_patient(sent[1])
            return MessagesState.open_thread(thread_id)
        self.reply_text = body  # refused: what was typed stays
        return None

    # -- writing to colleagues ------------------------------------------------------------
    @rx.event
    def set_new_subject(self, text: str):
        self.new_subject = text

    @rx.event
    def set_new_body(self, text: str):
        self.new_body = text

    @rx.event
    async def send_new(self, form: dict | None = None):
        subject = (form or {}).get("subject", self.new_subject)
        body = (form or {}).get("body", self.new_body)
        patient_id = self.new_patient_id
        # The boxes ticked, as the form has them (the page keeps them as they are on a refusal).
        chosen = [key.removeprefix("to-") for key, value in (form or {}).items() if key.startswith("to-") and value]
        if self.sending:
            return None
        self.sending = True
        try:
            thread = await self._act("message.staff", lambda s, a: messages.start_staff_thread(
                s, actor=a, patient_id=patient_id, to_user_ids=chosen, subject=subject, body=body).id, done="Message sent.")
        finally:
            self.sending = False
        if thread is FAILED:
            self.new_subject, self.new_body = subject, body  # nothing typed is lost
            return None
        self.new_patient_id, self.new_patient, self.new_subject, self.new_body = 0, "", "", ""
        return MessagesState.open_thread(thread)

    @rx.event
    def cancel_new(self):
        self.new_patient_id, self.new_patient, self.new_subject, self.new_body = 0, "", "", ""

    # -- the live push --------------------------------------------------------------------
    def apply_change(self, change: dict | None) -> None:
        """A thread this inbox shows changed: a new message (to the top, marked unread unless
        it is mine) or a read receipt (the open thread's messages say who has read them)."""
        if not change:
            return
        me = self._user_id
        unread = unread_after(change, me)
        others = [t for t in self.threads if t.id != change["id"]]
        item = ThreadItem(id=change["id"], subject=change["subject"], patient=change["patient"],
                          with_whom=messages.with_whom(change["people"], [name for uid, (name, _upto) in change["members"].items()
                                                                          if int(uid) != me]), when=_when(change["last_at"], self._tz), last_text=change["last_text"],
                          unread=unread and change["id"] != self.open_id)
        self.threads = [item, *others]
        self.unread_threads = sum(1 for t in self.threads if t.unread)
        if change["id"] == self.open_id:
            known = {m.id for m in self.open_messages}
            if change["last_id"] not in known:
                last = change["last"]
                self.open_messages = [*self.open_messages, MessageItem(
                    id=change["last_id"], author_id=change["last_author_id"] or 0, author=last["author"],
                    mine=change["last_author_id"] == me, body=last["body"], when=_when(change["last_at"], self._tz), receipt="")]
            self.open_messages = [dataclasses.replace(m, receipt=_live_receipt(m, change, me)) for m in self.open_messages]


async def _tell_patient(notice: notify.Notice | None) -> None:
    """After the reply's commit: e-mail the patient that there is a message (never its content)."""
    if notice is None:
        return
    try:
        await asyncio.to_thread(notify.send, notice, email=senders_from_environment()[0])
    except Exception:  # the answer stands; the patient sees it at their next visit to the portal
        log.exception("the new-message e-mail to a patient was not sent")


def _receipt(read_by: tuple[str, ...], patient_read: bool, by_patient: bool, kind: str) -> str:
    if kind == "patient" and not by_patient:
        return "Seen by the patient" if patient_read else "Not seen by the patient yet"
    return "Read by " + ", ".join(read_by) if read_by else ""


def _live_receipt(m: MessageItem, change: dict, me: int) -> str:
    if change["kind"] == "patient" and m.author_id != 0:
        return "Seen by the patient" if m.id in change["patient_seen"] else "Not seen by the patient yet"
    names = sorted(name for uid, (name, upto) in change["members"].items()
                   if int(uid) not in (me, m.author_id) and upto >= m.id)
    return "Read by " + ", ".join(names) if names else ""


def thread_change(event: MessagesChanged) -> dict | None:
    """What every open inbox of the thread needs to place the change (built once per change)."""
    with session_scope() as session:
        thread = session.get(MessageThread, event.thread_id)
        last = session.exec(select(Message).where(Message.thread_id == event.thread_id)
                            .order_by(col(Message.id).desc()).limit(1)).first()
        if thread is None or last is None:
            return None
        patient = session.get(Patient, thread.patient_id)
        members = session.exec(select(MessageMember.user_id, User.full_name, MessageMember.read_upto)
                               .join(User, User.id == MessageMember.user_id).where(MessageMember.thread_id == thread.id)).all()
        author = (f"{patient.first_name} {patient.last_name} (patient)" if last.by_patient
                  else session.get(User, last.author_user_id).full_name)
        seen = session.exec(select(Message.id).where(Message.thread_id == thread.id, Message.patient_read_at.is_not(None))).all()
        return {
            "id": thread.id, "kind": thread.kind, "subject": thread.subject, "patient": describe(patient),
            "people": messages.thread_people(session, thread), "last_at": last.sent_at, "last_id": last.id, "last_author_id": last.author_user_id or 0,
            "last_text": last.body[:80] + ("..." if len(last.body) > 80 else ""),
            "last": {"author": author, "body": last.body},
            "read_upto": {str(uid): upto for uid, _name, upto in members},
            "members": {str(uid): (name, upto) for uid, name, upto in members},
            "patient_seen": list(seen),
        }


def _staff_topics(event: MessagesChanged) -> list[str]:
    return [t for t in event.topics() if t.startswith("messages:")]


BADGE = "msgbadge"


def _badge_topics(event: MessagesChanged) -> list[str]:
    """The header badges of the same people as the inboxes (topics of their own)."""
    return [BADGE + t.removeprefix("messages") for t in _staff_topics(event)]


def unread_after(change: dict, user_id: int) -> bool:
    """Whether the changed thread has a message ``user_id`` has not read."""
    return change["last_author_id"] != user_id and change["last_id"] > change["read_upto"].get(str(user_id), 0)


class MessageBadgeState(rx.State):
    """The header's link to the inbox with how many conversations have new messages (live)."""

    count: int = 0
    _unread: list[int] = []
    _user_id: int = 0

    @rx.event
    async def load(self):
        auth = await self.get_state(AuthState)
        actor = await auth.actor()
        if actor is None or not allowed(actor.role, "message.staff"):
            return
        self._user_id = actor.user_id
        self._unread = await in_db(lambda s: messages.unread_threads(s, actor=actor))
        self.count = len(self._unread)
        registry.show(client_token(self), BADGE, [BADGE + t.removeprefix("messages") for t in _topics(actor)])

    def apply_change(self, change: dict | None) -> None:
        if not change or not self._user_id:
            return
        others = [i for i in self._unread if i != change["id"]]
        self._unread = [change["id"], *others] if unread_after(change, self._user_id) else others
        self.count = len(self._unread)


register(Surface("messages", _staff_topics, thread_change, MessagesState, "apply_change", event_type=MessagesChanged))
register(Surface(BADGE, _badge_topics, thread_change, MessageBadgeState, "apply_change", event_type=MessagesChanged))

