"""The portal's Profile page (/portal/profile): the signed-in patient asks to change their
contact details; and, on the desk's patient profile, that request to accept or decline.

The patient's side reads who they are from the ``portal_session`` cookie on every event (as
state/portal.py); the desk's side is a section of the staff's patient profile.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.api.portal import PORTAL_SIGN_IN
from clinic_app.models.people import PREFERRED_CHANNELS
from clinic_app.services.frontdesk.patients import CHANNEL_LABELS
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import profile
from clinic_app.services.portal.accounts import Me
from clinic_app.state.common import Option, in_db
from clinic_app.state.patient_profile import ProfileState
from clinic_app.state.portal import PortalScreen
from clinic_app.state.screen import FAILED, Section

TEXT_FIELDS = {name: 200 if name == "address_line" else 120 for name in profile.FIELDS if name != "reminders_opt_out"}


@dataclasses.dataclass
class ChangeLine:
    label: str
    before: str
    after: str


class PortalProfileState(PortalScreen, rx.State):
    """The patient's contact details as a form; sending it asks the desk to make the change."""

    name: str = ""
    phone: str = ""
    email: str = ""
    address_line: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    preferred_channel: str = "phone"
    reminders_opt_out: bool = False
    emergency_name: str = ""
    emergency_relationship: str = ""
    emergency_phone: str = ""
    channel_options: list[Option] = [Option(c, CHANNEL_LABELS[c]) for c in PREFERRED_CHANNELS if c in CHANNEL_LABELS]
    waiting: list[ChangeLine] = []
    decision: str = ""


    async def _refresh(self, me: Me) -> None:
        def work(s):
            return profile.current(s, me), profile.my_waiting(s, me), profile.my_last_decision(s, me)

        values, waiting, decision = await in_db(work)
        if waiting:  # the form shows what is asked while the clinic checks it
            values = {**values, **{k: v for k, v in waiting.asked.items() if k in values}}
        for name, value in values.items():
            setattr(self, name, value if name == "reminders_opt_out" else str(value or ""))
        self.waiting = [ChangeLine(x.label, x.before, x.after) for x in waiting.lines] if waiting else []
        self.decision = decision

    @rx.event
    async def load(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.name, self.message, self.message_is_error = me.name, "", False
        try:
            await self._refresh(me)
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
        return None

    @rx.event
    def set_field(self, name: str, value: str):
        if name in TEXT_FIELDS:
            setattr(self, name, str(value)[:TEXT_FIELDS[name]])

    @rx.event
    def set_opt_out(self, value: bool):
        self.reminders_opt_out = bool(value)

    @rx.event
    async def send(self):
        """Ask the desk to make the change (checked with registration's rules); typed values stay on error."""
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        values = {name: getattr(self, name) for name in profile.FIELDS}
        try:
            made = await in_db(lambda s: profile.request_change(s, me, values=values).status == "accepted")
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        await self._refresh(me)
        self.message, self.message_is_error = ("Saved: your details are updated." if made
                                               else "Sent: the clinic will check and make the change."), False
        return None


class ProfileChangeDesk(Section, ProfileState):
    """On the desk's patient profile: the patient's change asked in the portal, to accept or decline."""

    change_id: int = 0
    change_lines: list[ChangeLine] = []
    change_when: str = ""
    decline_reason: str = ""

    @rx.event
    async def load_change(self):
        patient_id = self.patient_id
        if not patient_id:
            return
        try:
            actor = await self._actor("patient.register")
        except ClinicError:
            self.change_id, self.change_lines = 0, []
            return
        found = await in_db(lambda s: profile.waiting(s, actor=actor, patient_id=patient_id))
        self.change_id = found.id if found else 0
        self.change_lines = [ChangeLine(x.label, x.before, x.after) for x in found.lines] if found else []

    @rx.event
    def set_decline_reason(self, value: str):
        self.decline_reason = str(value)[:200]

    @rx.event
    async def accept_change(self):
        wanted = self.change_id
        if await self._act("patient.register", lambda s, a: profile.accept(s, actor=a, request_id=wanted),
                           done="Change accepted: the record is updated (see its history).") is not FAILED:
            await self.load_change()
            return ProfileState.load
        return None

    @rx.event
    async def decline_change(self):
        wanted, reason = self.change_id, self.decline_reason
        if await self._act("patient.register", lambda s, a: profile.decline(s, actor=a, request_id=wanted, reason=reason),
                           done="Change declined; the patient sees why in the portal.") is not FAILED:
            self.decline_reason = ""
            await self.load_change()
