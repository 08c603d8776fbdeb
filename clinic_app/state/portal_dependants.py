"""The patient profile's "Portal access for a parent or guardian": the desk links the profile's
patient (the dependant) to an existing portal account, found by the holder's name, and ends such
access (services/portal/dependants.py)."""

from __future__ import annotations

import reflex as rx

from clinic_app.models.portal_dependant import DEPENDANT_RELATIONSHIPS
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import dependants
from clinic_app.state.common import Option, in_db
from clinic_app.state.patient_profile import ProfileState
from clinic_app.state.screen import FAILED, Section

RELATIONSHIP_OPTIONS = [Option(r, r.capitalize()) for r in DEPENDANT_RELATIONSHIPS]


class ProfileDependants(Section, ProfileState):
    """Who may see the profile's patient's records in the portal, and the form to add one."""

    links: list[dependants.Link] = []
    holder_text: str = ""
    holder_options: list[Option] = []
    pick_holder: str = ""
    relationship: str = "parent"
    confirm_revoke_id: int = 0
    confirm_revoke_text: str = ""

    @rx.event
    async def load_dependants(self):
        patient_id = self.patient_id
        self.holder_text, self.holder_options, self.pick_holder, self.relationship = "", [], "", "parent"
        self.confirm_revoke_id, self.confirm_revoke_text = 0, ""
        self._clear()
        if not patient_id:
            return
        try:
            actor = await self._actor("patient.search")
            self.links = await in_db(lambda s: dependants.links(s, actor=actor, patient_id=patient_id))
        except ClinicError as exc:
            self._fail(exc)

    @rx.event
    def set_holder_text(self, value: str):
        self.holder_text = str(value)[:80]

    @rx.event
    def set_pick_holder(self, value: str):
        if any(o.value == value for o in self.holder_options):
            self.pick_holder = value

    @rx.event
    def set_relationship(self, value: str):
        if value in DEPENDANT_RELATIONSHIPS:
            self.relationship = value

    @rx.event
    async def find_holders(self):
        text, patient_id = self.holder_text, self.patient_id
        found = await self._act(dependants.GRANT, lambda s, a: dependants.holders(s, actor=a, text=text,
                                                                                  patient_id=patient_id))
        if found is FAILED:
            return
        self.holder_options = [Option(str(h.account_id), h.label) for h in found]
        self.pick_holder = self.holder_options[0].value if self.holder_options else ""
        if not found:
            self._fail(f"No portal account holder found for {text!r}; invite them to the portal from their own "
                       "profile first.")
        else:
            self._clear()

    @rx.event
    async def grant(self):
        if not self.pick_holder.isdigit():
            self._fail("Find and choose the parent or guardian first.")
            return
        patient_id, account_id, relationship = self.patient_id, int(self.pick_holder), self.relationship
        if await self._act(dependants.GRANT, lambda s, a: dependants.link(
                s, actor=a, patient_id=patient_id, account_id=account_id, relationship=relationship),
                done=f"Portal access given: the account holder sees the records of {self.name} in the portal now.") is not FAILED:
            message = self.message
            await self.load_dependants()
            self._ok(message)

    @rx.event
    def ask_revoke(self, link_id: int):
        chosen = next((x for x in self.links if x.id == link_id), None)
        if chosen is not None:
            self.confirm_revoke_id = chosen.id
            self.confirm_revoke_text = f"End portal access of {chosen.holder} to the records of {self.name}?"

    @rx.event
    def keep_access(self):
        self.confirm_revoke_id, self.confirm_revoke_text = 0, ""

    @rx.event
    async def revoke(self):
        link_id, patient_id = int(self.confirm_revoke_id), self.patient_id
        if await self._act(dependants.GRANT, lambda s, a: dependants.revoke(s, actor=a, link_id=link_id,
                                                                            patient_id=patient_id),
                           done="Portal access ended; it stops at once, on any open session.") is not FAILED:
            message = self.message
            await self.load_dependants()
            self._ok(message)
