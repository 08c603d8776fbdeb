"""The patient profile's portal section: whether the patient has a portal account, and the
desk's "Send portal invitation" (an e-mail with a one-time link, through the reminders' SMTP
sender, after the commit that stored the link's hash)."""

from __future__ import annotations

import asyncio
import os

import reflex as rx

from clinic_app.services.frontdesk import reminders
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import accounts, booking
from clinic_app.state.common import in_db
from clinic_app.state.patient_profile import ProfileState
from clinic_app.state.screen import FAILED, Section


def public_url(state: rx.State) -> str:
    """Where patients reach the app: CLINIC_PUBLIC_URL, else the address this page was opened at."""
    configured = os.environ.get("CLINIC_PUBLIC_URL", "").strip()
    if configured:
        return configured.rstrip("/")
    url = state.router.url
    return f"{url.scheme}://{url.netloc}" if url.netloc else "http://localhost:3000"


class ProfilePortal(Section, ProfileState):
    """The portal account of the profile's patient, and their online requests to approve."""

    portal_status: str = ""
    invite_email: str = ""
    requests: list[booking.Request] = []

    @rx.event
    async def load_portal(self):
        patient_id = self.patient_id
        if not patient_id:
            return
        try:
            actor = await self._actor("patient.search")
            status, email = await in_db(lambda s: accounts.invitation_status(s, actor=actor, patient_id=patient_id))
        except ClinicError as exc:
            self._fail(exc)
            return
        self.portal_status, self.invite_email = status, email
        try:
            desk = await self._actor("appointment.book")
        except ClinicError:
            self.requests = []
            return
        self.requests = await in_db(lambda s: booking.requests(s, actor=desk, patient_id=patient_id))

    @rx.event
    async def approve(self, appointment_id: int):
        wanted = int(appointment_id)
        if await self._act("appointment.book", lambda s, a: booking.approve(s, actor=a, appointment_id=wanted),
                           done="Online request approved; the visit is booked.") is not FAILED:
            await self.load_portal()

    @rx.event
    async def decline(self, appointment_id: int):
        wanted = int(appointment_id)
        if await self._act("appointment.cancel", lambda s, a: booking.decline(s, actor=a, appointment_id=wanted),
                           done="Online request declined; the time is free again.") is not FAILED:
            await self.load_portal()

    @rx.event
    def set_invite_email(self, value: str):
        self.invite_email = str(value)[:120]

    @rx.event
    async def send_invite(self):
        patient_id, email = self.patient_id, self.invite_email
        try:
            accounts.check_invite_rate(patient_id=patient_id)
        except ClinicError as exc:
            self._fail(exc)
            return
        invitation = await self._act(
            "patient.register", lambda s, a: accounts.invite(s, actor=a, patient_id=patient_id, email=email))
        if invitation is FAILED:
            return
        sender, _sms = reminders.senders_from_environment()
        try:
            await asyncio.to_thread(accounts.send, invitation, sender=sender, base_url=public_url(self))
        except OSError:
            self._fail("The invitation is saved, but the e-mail could not be sent; try again in a moment.")
            return
        self._ok(f"Invitation sent to {invitation.to}; the link works once, for {accounts.INVITE_HOURS} hours.")
        await self.load_portal()
