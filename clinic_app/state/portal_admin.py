"""The online booking settings (/admin/online-booking): per location, which appointment types
and providers patients may book in the portal, and the rules (services/portal/booking.py)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.portal import booking
from clinic_app.state.common import Option, in_db
from clinic_app.state.screen import FAILED, Screen

NUMBERS = ("min_notice_hours", "days_ahead", "max_upcoming", "cancel_window_hours")
# Online check-in: the location's own choice, or as online booking (the default).
CHECKIN_MODES = {"booking": None, "on": True, "off": False}


@dataclasses.dataclass
class Pick:
    """A checkbox of the form: an id, its words, whether it is ticked."""

    id: int
    label: str
    checked: bool
    field_id: str


class OnlineBookingState(Screen, rx.State):
    _permission = "provider.hours"
    location_options: list[Option] = []
    location_id: str = ""
    types: list[Pick] = []
    providers: list[Pick] = []
    enabled: bool = False
    new_patients: bool = True
    returning_patients: bool = True
    needs_approval: bool = False
    self_registration: bool = False
    min_notice_hours: str = "12"
    days_ahead: str = "28"
    max_upcoming: str = "3"
    cancel_window_hours: str = "24"
    checkin_options: list[Option] = [Option("booking", "On when online booking is on"), Option("on", "On"),
                                      Option("off", "Off")]
    checkin_mode: str = "booking"
    day_of_hours: str = ""  # empty: no day-of reminder

    async def _refresh(self, actor: Actor):
        wanted = int(self.location_id) if self.location_id.isdigit() else None
        form = await in_db(lambda s: booking.rules_form(s, actor=actor, location_id=wanted))
        rules = form.rules
        self.location_options = [Option(str(c.id), c.label) for c in form.locations]
        self.location_id = str(rules.location_id)
        chosen_types, chosen_people = booking.ids(rules.type_ids), booking.ids(rules.provider_ids)
        self.types = [Pick(c.id, c.label, c.id in chosen_types, f"ob-type-{c.id}") for c in form.types]
        self.providers = [Pick(c.id, c.label, c.id in chosen_people, f"ob-provider-{c.id}") for c in form.providers]
        self.enabled, self.new_patients, self.returning_patients = rules.enabled, rules.new_patients, rules.returning_patients
        self.needs_approval, self.self_registration = rules.needs_approval, rules.self_registration
        for name in NUMBERS:
            setattr(self, name, str(getattr(rules, name)))
        self.checkin_mode = next(k for k, v in CHECKIN_MODES.items() if v is rules.online_checkin)
        self.day_of_hours = str(rules.day_of_reminder_hours or "")

    @rx.event
    async def set_location(self, value: str):
        if any(o.value == value for o in self.location_options):
            self.location_id = value
            self._clear()
            return await self.load()
        return None

    @rx.event
    def toggle_type(self, pick_id: int):
        self.types = [dataclasses.replace(p, checked=not p.checked) if p.id == pick_id else p for p in self.types]

    @rx.event
    def toggle_provider(self, pick_id: int):
        self.providers = [dataclasses.replace(p, checked=not p.checked) if p.id == pick_id else p for p in self.providers]

    @rx.event
    def set_flag(self, name: str, value: bool):
        if name in ("enabled", "new_patients", "returning_patients", "needs_approval", "self_registration"):
            setattr(self, name, bool(value))

    @rx.event
    def set_number(self, name: str, value: str):
        if name in NUMBERS:
            setattr(self, name, str(value)[:5])

    @rx.event
    def set_checkin_mode(self, value: str):
        if value in CHECKIN_MODES:
            self.checkin_mode = value

    @rx.event
    def set_day_of_hours(self, value: str):
        self.day_of_hours = str(value)[:3]

    @rx.event
    async def save(self):
        try:
            numbers = {name: int(getattr(self, name)) for name in NUMBERS}
            day_of = int(self.day_of_hours) if self.day_of_hours.strip() else None
        except ValueError:
            self._fail(InvalidInput("Enter whole numbers for the hours, days and bookings."))
            return
        checkin = CHECKIN_MODES[self.checkin_mode]
        location_id = int(self.location_id)
        type_ids = [p.id for p in self.types if p.checked]
        provider_ids = [p.id for p in self.providers if p.checked]
        enabled, new, returning, approval = self.enabled, self.new_patients, self.returning_patients, self.needs_approval
        self_registration = self.self_registration

        def work(s, a):
            booking.save_rules(s, actor=a, location_id=location_id, enabled=enabled, type_ids=type_ids,
                               provider_ids=provider_ids, new_patients=new, returning_patients=returning,
                               needs_approval=approval, self_registration=self_registration, **numbers)
            booking.save_checkin(s, actor=a, location_id=location_id, online_checkin=checkin,
                                 day_of_reminder_hours=day_of)

        if await self._act("provider.hours", work, done="Online booking settings saved.") is FAILED:
            return
