"""The waitlist: the list page (/waitlist) and the actions it shares with the profile's
waitlist section (find a freed slot for an entry, book it, take an entry off the list)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app import routes
from clinic_app.services.frontdesk import waitlist
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.state.auth import as_id
from clinic_app.state.common import Option, in_db
from clinic_app.state.screen import FAILED, Screen, Section


@dataclasses.dataclass
class WaitRow:
    """A waitlist entry with its preferences, as the lists show it."""

    entry_id: int
    patient_name: str
    href: str
    phone: str
    type_name: str
    location: str
    days: str
    times: str
    provider: str
    waited: str
    note: str
    status: str
    label: str  # names the row's buttons


@dataclasses.dataclass
class SlotRow:
    """A freed slot a waiting patient could take, and why it fits."""

    appointment_id: int
    when: str
    provider: str
    why: str


def wait_rows(rows: list[dict]) -> list[WaitRow]:
    return [
        WaitRow(entry_id=r["entry_id"], patient_name=r["patient_name"], href=routes.patient_profile(r["patient_id"]),
                phone=r["phone"] or "no phone", type_name=r["type_name"], location=r["location"], days=r["days"],
                times=r["times"], provider=r["provider"], waited=r["waited"], note=r["note"], status=r["status"],
                label=f"{r['patient_name']}, {r['type_name']}, {r['days']}")
        for r in rows
    ]


class WaitlistActions(Section, mixin=True):
    """Entries and the offer flow: freed slots that fit an entry, booked in one press."""

    entries: list[WaitRow] = []
    slots_for: int = 0
    slots: list[SlotRow] = []
    slots_loaded: bool = False

    async def _entries(self, actor: Actor) -> list[dict]:
        raise NotImplementedError

    def _booked(self):
        """The event to run after a booking (the screen reloads what it shows)."""
        raise NotImplementedError

    async def reload(self, actor: Actor) -> None:
        self.entries = wait_rows(await self._entries(actor))
        if self.slots_for not in {e.entry_id for e in self.entries}:
            self.slots_for, self.slots, self.slots_loaded = 0, [], False

    @rx.event
    async def find_slots(self, entry_id: int):
        """The freed slots this entry could take, best first, with the reasons."""
        try:
            wanted = as_id(entry_id)
        except ClinicError as exc:
            return self._fail(exc)
        found = await self._act("appointment.book", lambda s, a: waitlist.freed_slots_for(s, actor=a, entry_id=wanted))
        if found is FAILED:
            return None
        self._clear()
        self.slots_for, self.slots_loaded = wanted, True
        self.slots = [SlotRow(appointment_id=f["appointment_id"], when=f["when"], provider=f["provider"], why=f["why"])
                      for f in found]
        return None

    @rx.event
    def close_slots(self):
        self.slots_for, self.slots, self.slots_loaded = 0, [], False

    @rx.event
    async def book_slot(self, appointment_id: int):
        """Book the waiting patient into the freed slot and take them off the waitlist."""
        try:
            freed = as_id(appointment_id)
        except ClinicError as exc:
            return self._fail(exc)
        slot = next((s for s in self.slots if s.appointment_id == freed), None)
        entry = next((e for e in self.entries if e.entry_id == self.slots_for), None)
        if slot is None or entry is None:
            return self._fail(InvalidInput("Choose one of the freed slots listed."))
        entry_id = entry.entry_id
        booked = await self._act(
            "appointment.book",
            lambda s, a: waitlist.book_offer(s, actor=a, entry_id=entry_id, freed_appointment_id=freed),
            done=f"Booked {entry.patient_name} on {slot.when} with {slot.provider}; taken off the waitlist.",
        )
        if booked is FAILED:
            return None
        self.slots_for, self.slots, self.slots_loaded = 0, [], False
        return self._booked()

    @rx.event
    async def remove(self, entry_id: int):
        """Take an entry off the waitlist (kept, marked removed)."""
        try:
            wanted = as_id(entry_id)
        except ClinicError as exc:
            return self._fail(exc)
        entry = next((e for e in self.entries if e.entry_id == wanted), None)
        if entry is None:
            return self._fail(InvalidInput("That entry is no longer listed; reload the page."))
        if await self._act("appointment.book", lambda s, a: waitlist.remove_entry(s, actor=a, entry_id=wanted),
                           done=f"{entry.patient_name} is off the waitlist.") is FAILED:
            return None
        await self.reload(await self._actor("appointment.book"))
        return None


class WaitlistState(Screen, rx.State):
    """The waitlist page: who is waiting at a location, longest first."""

    _permission = "appointment.book"
    locations: list[Option] = []
    location_id: str = ""

    async def _refresh(self, actor: Actor):
        locations = await in_db(lambda s: waitlist.choices(s)[0])
        self.locations = [Option(value=str(loc.id), label=loc.name) for loc in locations]
        if self.location_id not in {o.value for o in self.locations} and self.locations:
            ids = [loc.id for loc in locations]
            self.location_id = str(actor.location_id if actor.location_id in ids else ids[0])
        section = await self.get_state(WaitlistList)
        await section.reload(actor)

    @rx.event
    async def set_location(self, value: str):
        if value not in {o.value for o in self.locations}:
            return self._fail(InvalidInput("Choose a location from the list."))
        self.location_id = value
        return WaitlistState.load


class WaitlistList(WaitlistActions, WaitlistState):
    """The entries of the chosen location, with the offer flow."""

    async def _entries(self, actor: Actor) -> list[dict]:
        location_id = int(self.location_id or 0)
        return await in_db(lambda s: waitlist.waiting(s, actor=actor, location_id=location_id))

    def _booked(self):
        return WaitlistState.load
