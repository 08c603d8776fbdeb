"""The portal's Messages page (/portal/messages): the signed-in patient's threads with the
clinic, one open thread, an answer, and a new message to the front desk or to one of their
clinicians.

Every handler checks the portal session first (``_me``) and passes only the signed-in
patient's own id to the services; a thread id from the page that is not theirs gets nothing.
Live: the page registers for ``page_topic(patient_id)`` (its own prefix on ``portal_topic``); a change to one of the patient's
patient threads (the desk's answer) is built once per change and placed here without a reload.
"""

from __future__ import annotations

import dataclasses

import reflex as rx
from sqlmodel import Session

from clinic_app.api.portal import PORTAL_SIGN_IN
from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.events import MessagesChanged, portal_topic
from clinic_app.live.surfaces import Surface, register
from clinic_app.live.tabs import tabs
from clinic_app.services.messaging import messages
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import dependants, inbox
from clinic_app.services.portal.accounts import Me
from clinic_app.state.common import Option, in_db
from clinic_app.state.portal import PortalScreen
from clinic_app.state.reflex_adapter import client_token, socket_id

SURFACE = "portal_messages"


@dataclasses.dataclass
class PortalThread:
    id: int
    subject: str
    to_whom: str
    when: str
    status: str  # "New answer" / "2 new answers" / "Read"
    unread: bool


@dataclasses.dataclass
class PortalMessage:
    id: int
    author: str
    body: str
    when: str
    mine: bool


def _thread(t: dict) -> PortalThread:
    n = int(t["unread"])
    status = "Read" if n == 0 else "New answer" if n == 1 else f"{n} new answers"
    return PortalThread(id=t["id"], subject=t["subject"], to_whom=t["to"], when=t["when"], status=status, unread=n > 0)


def _message(m: dict) -> PortalMessage:
    return PortalMessage(id=m["id"], author=m["author"], body=m["body"], when=m["when"], mine=m["mine"])


class PortalMessagesState(PortalScreen, rx.State):
    """The signed-in patient's conversations with the clinic."""

    name: str = ""
    threads: list[PortalThread] = []
    open_id: int = 0
    open_subject: str = ""
    open_to: str = ""
    open_messages: list[PortalMessage] = []
    reply_text: str = ""
    writing: bool = False
    to_options: list[Option] = []
    new_to: str = "desk"
    new_subject: str = ""
    new_body: str = ""
    sending: bool = False
    _patient_id: int = 0
    _account_id: int = 0
    _tz: str = "UTC"

    def _signed_out(self) -> None:
        registry.show(client_token(self), SURFACE, [])  # no more pushes of this patient's messages
        self.reset()

    @rx.event
    async def load(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.name, self._patient_id, self._account_id = me.name, me.acting_for, me.account_id
        self.message, self.message_is_error = "", False

        def work(s: Session):
            tz = inbox.zone(s, me)
            return tz, inbox.threads(s, patient_id=me.acting_for, tz=tz), inbox.recipients(s, me)

        self._tz, rows, people = await in_db(work)
        self.threads = [_thread(t) for t in rows]
        self.to_options = [Option(r.value, r.label) for r in people]
        if self.new_to not in {o.value for o in self.to_options}:
            self.new_to = "desk"
        if self.open_id and self.open_id not in {t.id for t in self.threads}:
            self._close()
        tabs().hold(client_token(self), socket_id(self))
        registry.show(client_token(self), SURFACE, [page_topic(me.acting_for)])
        if self.open_id:
            await self._open(me, self.open_id)
        return None

    def _close(self) -> None:
        self.open_id, self.open_subject, self.open_to, self.open_messages, self.reply_text = 0, "", "", [], ""

    async def _open(self, me: Me, thread_id: int) -> None:
        tz = self._tz

        def work(s: Session):
            row, shown = inbox.open_thread(s, me, thread_id=thread_id, tz=tz)
            return row, shown, inbox.threads(s, patient_id=me.acting_for, tz=tz)

        row, shown, rows = await in_db(work)
        if self.open_id != row["id"]:
            self.reply_text = ""
        self.open_id, self.open_subject, self.open_to = row["id"], row["subject"], row["to"]
        self.open_messages = [_message(m) for m in shown]
        self.threads = [_thread(t) for t in rows]

    @rx.event
    async def open_thread(self, thread_id: int):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.writing = False
        try:
            await self._open(me, thread_id)
            self.message = ""
        except ClinicError as exc:
            self._close()
            self._fail(exc)
        return None

    @rx.event
    def close_thread(self):
        self._close()

    @rx.event
    def set_reply(self, text: str):
        self.reply_text = str(text)[:5000]

    @rx.event
    async def send_reply(self, form: dict | None = None):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        body = str((form or {}).get("body", self.reply_text))
        thread_id = self.open_id
        if not thread_id or self.sending:
            return None
        self.sending = True
        try:
            await in_db(lambda s: messages.patient_reply(s, patient_id=me.acting_for, thread_id=thread_id, body=body))
        except ClinicError as exc:
            self.reply_text = body
            self._fail(exc)
            return None
        finally:
            self.sending = False
        self.reply_text = ""
        self._ok("Your message is sent.")
        await self._open(me, thread_id)
        return None

    # -- a new message ------------------------------------------------------------------------
    @rx.event
    def start_writing(self):
        self._close()
        self.writing, self.message = True, ""

    @rx.event
    def stop_writing(self):
        self.writing, self.new_subject, self.new_body = False, "", ""

    @rx.event
    def set_new_to(self, value: str):
        if any(o.value == value for o in self.to_options):
            self.new_to = value

    @rx.event
    def set_new_subject(self, text: str):
        self.new_subject = str(text)[:200]

    @rx.event
    def set_new_body(self, text: str):
        self.new_body = str(text)[:5000]

    @rx.event
    async def send_new(self, form: dict | None = None):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        form = form or {}
        to = str(form.get("to", self.new_to))
        subject, body = str(form.get("subject", self.new_subject)), str(form.get("body", self.new_body))
        if self.sending:
            return None
        self.sending = True
        try:
            thread_id = await in_db(lambda s: inbox.write(s, me, to=to, subject=subject, body=body).id)
        except ClinicError as exc:
            self.new_to, self.new_subject, self.new_body = to, subject, body  # nothing typed is lost
            self._fail(exc)
            return None
        finally:
            self.sending = False
        self.writing, self.new_subject, self.new_body = False, "", ""
        self._ok("Your message is sent. The clinic will answer here; we e-mail you when it does.")
        await self._open(me, thread_id)
        return None

    # -- the live push --------------------------------------------------------------------------
    def apply_change(self, change: dict | None) -> None:
        """One of this patient's threads changed: the list, and the open thread's messages."""
        if not change or change["patient_id"] != self._patient_id or self._account_id not in change["accounts"]:
            return  # another patient's, or a dependant whose access has just ended
        self.threads = [_thread(t) for t in change["threads"]]
        if change["thread_id"] == self.open_id:
            self.open_messages = [_message(m) for m in change["messages"]]


def page_topic(patient_id: int) -> str:
    """This page's topic for the patient: the registry replaces a surface's topics by their
    prefix, and another portal page on ``portal_topic`` never gets this page's pushes."""
    return f"{SURFACE}:{portal_topic(patient_id)}"


def portal_topics(event: MessagesChanged) -> list[str]:
    """Only patient threads reach the patient's portal (a staff thread's event names the patient too)."""
    return [page_topic(event.patient_id)] if event.queue else []


def portal_change(event: MessagesChanged) -> dict | None:
    """The patient's threads and the changed thread's messages (built once per change, on a thread)."""
    with session_scope() as session:
        change = inbox.change(session, patient_id=event.patient_id, thread_id=event.thread_id)
        if change is not None:
            change["accounts"] = sorted(dependants.accounts_seeing(session, patient_id=event.patient_id))
        return change


register(Surface(SURFACE, portal_topics, portal_change, PortalMessagesState, "apply_change", event_type=MessagesChanged))
