"""Patients registering themselves (/portal/register), following the e-mail's link
(/portal/register/verify?token=...), and the desk's list of registrations to accept or decline
(/portal-registrations). The rules are in services/portal/registration.py.

The password travels in the form's submit event only (its inputs are not bound to this state),
is hashed on the sign-in hashing pool, and is never kept in a var.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.events import REGISTRATIONS_TOPIC, RegistrationsChanged
from clinic_app.live.surfaces import Surface, register
from clinic_app.services.frontdesk import reminders
from clinic_app.services.platform import limits
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import accounts, registration
from clinic_app.state.auth import as_id
from clinic_app.state.common import Option, in_db
from clinic_app.state.portal_invite import public_url
from clinic_app.state.reflex_adapter import client_token
from clinic_app.state.screen import FAILED, Screen

log = logging.getLogger(__name__)
FIELDS = ("first_name", "last_name", "birth_date", "email", "phone", "location_id")


def _client(state: rx.State) -> str:
    return state.router.session.client_ip or "unknown"


async def _mail(mail: registration.Mail | None) -> bool:
    """Send ``mail`` after the commit; False when the relay did not take it."""
    sender, _sms = reminders.senders_from_environment()
    try:
        await asyncio.to_thread(registration.send, mail, sender=sender)
    except OSError:
        log.warning("a portal registration e-mail was not sent")
        return False
    return True


class RegisterState(rx.State):
    """The patient's registration form. The answer after sending is the same whether or not
    the e-mail already has an account (services/portal/registration.register)."""

    locations: list[Option] = []
    location_id: str = ""
    error: str = ""
    sent_to: str = ""
    sending: bool = False

    @rx.event
    async def load(self):
        self.error, self.sent_to, self.sending = "", "", False
        places = await in_db(registration.locations)
        self.locations = [Option(str(p.id), p.name) for p in places]
        self.location_id = self.locations[0].value if self.locations else ""

    @rx.event
    def set_location(self, value: str):
        if any(o.value == value for o in self.locations):
            self.location_id = value

    @rx.event
    async def submit(self, form_data: dict):
        values = {name: str(form_data.get(name, ""))[:120] for name in FIELDS}
        password = str(form_data.get("password", ""))[:256]
        again = str(form_data.get("password_again", ""))[:256]
        self.error = ""
        if password != again:
            self.error = "The two passwords differ; type the same one twice."
            return
        location = values.pop("location_id") or self.location_id
        if not location.isdigit():
            self.error = "Choose the location you visit."
            return
        self.sending = True
        yield
        base, client = public_url(self), _client(self)

        def work() -> registration.Mail:
            with session_scope() as session:
                return registration.register(session, **values, location_id=int(location), password=password,
                                             base_url=base, source=client)

        try:
            registration.check_register_rate(client=client, email=values["email"])
            mail = await limits.hash_pool().run(work)
        except (ClinicError, limits.Busy) as exc:
            self.error, self.sending = str(exc), False
            return
        await _mail(mail)
        self.sending = False
        self.sent_to = mail.to
        # Never say here whether the address already has an account.


class VerifyState(rx.State):
    """The e-mail's link: verifies the address once (counted against the client's one-time
    link limit)."""

    done: str = ""
    error: str = ""

    @rx.event
    async def load(self):
        self.done, self.error = "", ""
        token = str(self.router.url.query_parameters.get("token", ""))[:100]
        try:
            accounts.check_token_rate(client=_client(self))
            await in_db(lambda s: registration.verify(s, token=token))
        except ClinicError as exc:
            self.error = str(exc)
            return
        self.done = ("Thank you: your e-mail address is confirmed. The clinic now checks your details "
                     "and e-mails you when you can sign in.")


class RegistrationsState(Screen, rx.State):
    """The desk's list of verified portal registrations (/portal-registrations)."""

    _permission = "patient.register"
    rows: list[registration.Pending] = []
    declining_id: int = 0
    decline_reason: str = ""
    busy: bool = False

    async def _refresh(self, actor: Actor):
        found = await in_db(lambda s: registration.pending(s, actor=actor))
        self.apply_rows(found)
        registry.show(client_token(self), SURFACE, [REGISTRATIONS_TOPIC])  # confirmed, accepted, declined: live

    def apply_rows(self, rows: list[registration.Pending]) -> None:
        """The list as it stands (on load, and pushed when any desk or patient changes it)."""
        self.rows = rows
        if self.declining_id not in {r.id for r in self.rows}:
            self.declining_id, self.decline_reason = 0, ""

    async def _reload(self):
        try:
            await self._refresh(await self._actor(self._permission))
        except ClinicError as exc:
            self._fail(exc)

    async def _accept(self, registration_id: int, patient_id: int | None):
        base = public_url(self)
        try:
            result = await self._act(self._permission, lambda s, a: registration.accept(
                s, actor=a, registration_id=registration_id, patient_id=patient_id, base_url=base))
        finally:
            self.busy = False
        if result is FAILED:
            return
        patient, mail = result
        sent = await _mail(mail)
        name = f"{patient.first_name} {patient.last_name}"
        self._ok(f"Accepted: {name} (MRN {patient.mrn}) can sign in to the portal now"
                 + ("; they were e-mailed." if sent else "; the e-mail could not be sent, so tell them."))
        await self._reload()

    @rx.event
    async def create_record(self, registration_id: int):
        wanted = as_id(registration_id)
        self.busy = True  # the buttons are disabled until the answer comes (no double accept)
        yield
        await self._accept(wanted, None)

    @rx.event
    async def link_record(self, registration_id: int, patient_id: int):
        wanted, record = as_id(registration_id), as_id(patient_id)
        self.busy = True
        yield
        await self._accept(wanted, record)

    @rx.event
    def start_decline(self, registration_id: int):
        self.declining_id, self.decline_reason = as_id(registration_id), ""
        self._clear()

    @rx.event
    def stop_decline(self):
        self.declining_id, self.decline_reason = 0, ""

    @rx.event
    def set_decline_reason(self, value: str):
        self.decline_reason = str(value)[:300]

    @rx.event
    async def decline(self):
        wanted, reason = self.declining_id, self.decline_reason
        name = next((r.name for r in self.rows if r.id == wanted), "The registration")
        mail = await self._act(self._permission, lambda s, a: registration.decline(
            s, actor=a, registration_id=wanted, reason=reason))
        if mail is FAILED:
            return
        sent = await _mail(mail)
        self._ok(f"Declined: {name}'s registration" + ("; they were e-mailed to call the clinic." if sent
                                                        else "; the e-mail could not be sent."))
        self.declining_id, self.decline_reason = 0, ""
        await self._reload()


SURFACE = "portal_registrations"


def waiting_rows(_event: RegistrationsChanged) -> list[registration.Pending]:
    """The desk's list after the change, built once per change on each worker (on a thread)."""
    with session_scope() as session:
        return registration.waiting_list(session)


register(Surface(SURFACE, lambda e: REGISTRATIONS_TOPIC, waiting_rows, RegistrationsState, "apply_rows",
                 event_type=RegistrationsChanged))
