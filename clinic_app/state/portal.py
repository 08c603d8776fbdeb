"""The patient portal's screens: home (upcoming and past visits, move and cancel), booking,
setting a password from an invitation, and the day-of check-in link.

Who the patient is comes from the ``portal_session`` cookie (HttpOnly, set by api/portal.py)
on the socket's handshake, checked against the server's portal session on every event before
anything is read (``_me``); no session, and the tab's portal data is dropped and it is sent to
/portal. The staff's gate (state/sessions.py) never reads this cookie, and this state never
reads the staff's: a member of staff signed in on the same browser is nobody here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import reflex as rx

from clinic_app.api.portal import PORTAL_SIGN_IN, portal_token
from clinic_app.db import utcnow
from clinic_app.services.frontdesk.reminders import senders_from_environment
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.platform.limits import TooManyAttempts
from clinic_app.services.portal import accounts, booking, checkin, confirmations, dependants
from clinic_app.services.portal.accounts import Me
from clinic_app.state.common import Option, in_db

log = logging.getLogger(__name__)
BOOK = "/portal/book"
HOME = "/portal/home"


@dataclasses.dataclass
class VisitRow:
    """A visit as the patient's list shows it."""

    id: int
    when: str
    what: str
    who: str
    where: str
    status: str
    can_change: bool
    cancel_label: str
    move_label: str


def _row(v: booking.Visit) -> VisitRow:
    return VisitRow(id=v.id, when=v.when, what=v.what, who=v.who, where=v.where, status=v.status,
                    can_change=v.can_change, cancel_label=f"Cancel visit: {v.what} on {v.when}",
                    move_label=f"Move {v.what} on {v.when}")


def _id_and_pending(appointment) -> tuple[int, bool]:
    return appointment.id, bool(appointment.awaiting_approval)


async def _confirm_by_email(me: Me, appointment_id: int, *, booked: bool = False) -> None:
    """After the change's commit: the confirmation e-mail with the .ics (and on a booking the
    intake link when a form is pending), to the patient, or to the parent or guardian whose
    account made it for a dependant. A failed send leaves the visit as it is."""
    email = senders_from_environment()[0]
    try:
        await in_db(lambda s: confirmations.after_change(s, appointment_id=appointment_id, email=email, booked=booked,
                                                         account_id=me.account_id))
    except Exception:
        log.exception("the confirmation e-mail of appointment %s was not sent", appointment_id)


class PortalWho(rx.State):
    """Whose records the portal shows, for a tab and every portal page in it: the account
    holder's own ("Me") or a dependant's the desk linked (services/portal/dependants.py).
    Checked against the account's live links on every event (``_apply``): a revoked link falls
    back to the holder's own records at once, and says so."""

    people: list[Option] = []
    acting_for: str = ""
    showing: str = ""
    _ids: list[int] = []
    _names: dict[int, str] = {}
    _account_id: int = 0

    async def _apply(self, me: Me) -> Me:
        """``me`` acting for the chosen person, if the account may still see their records."""
        if me.account_id != self._account_id:  # another account signed in on this tab: start at "Me"
            self.reset()
            self._account_id = me.account_id
        if sorted(me.patient_ids) != self._ids:
            found = await in_db(lambda s: dependants.people(s, me))
            self._names = {p.patient_id: p.name for p in found}
            self.people = [Option(str(p.patient_id), "Me" if p.patient_id == me.patient_id else p.name) for p in found]
            self._ids = sorted(me.patient_ids)
        wanted = int(self.acting_for) if self.acting_for.isdigit() else me.patient_id
        if wanted not in me.patient_ids:
            self.acting_for = str(me.patient_id)
            self.showing = "Access to those records has ended; showing your own records."
            return me
        self.acting_for = str(wanted)
        if wanted == me.patient_id:
            self.showing = "Showing your own records." if me.dependant_ids else ""
        else:
            self.showing = f"Showing {self._names.get(wanted, 'your dependant')}'s records."
        return dependants.acting_as(me, wanted)

    @rx.event
    async def switch(self, value: str):
        """Show another person's records: the page loads again for them."""
        token = portal_token(self.router.headers.cookie)
        me = await in_db(lambda s: accounts.check_session(s, token=token)) if token else None
        if me is None:
            self.reset()
            return rx.redirect(PORTAL_SIGN_IN)
        if value.isdigit() and int(value) in me.patient_ids:
            self.acting_for = value
        await self._apply(me)
        path = self.router.url.path
        return rx.redirect(path if path.startswith("/portal/") else HOME)


class PortalScreen(rx.State, mixin=True):
    """What every signed-in portal page shares: its message, and the signed-in patient checked
    on every event (services/portal/accounts.check_session); without a live portal session the
    page keeps nothing of the patient's."""

    message: str = ""
    message_is_error: bool = False

    def _ok(self, text: str) -> None:
        self.message, self.message_is_error = text, False

    def _fail(self, exc: Exception | str) -> None:
        self.message, self.message_is_error = str(exc), True

    def _signed_out(self) -> None:
        """Called when no portal session is live: forget everything shown."""
        self.reset()

    async def _me(self) -> Me | None:
        """The signed-in patient, checked now; None (and nothing of the portal kept) otherwise."""
        token = portal_token(self.router.headers.cookie)
        me = await in_db(lambda s: accounts.check_session(s, token=token)) if token else None
        who = await self.get_state(PortalWho)
        if me is None:
            self._signed_out()
            who.reset()
            return None
        return await who._apply(me)


class PortalState(PortalScreen, rx.State):
    """The signed-in patient's portal (home and booking)."""

    name: str = ""
    upcoming: list[VisitRow] = []
    past: list[VisitRow] = []
    confirm_cancel_id: int = 0
    confirm_cancel_text: str = ""
    # Booking (or moving ``moving_id``).
    type_options: list[Option] = []
    provider_options: list[Option] = []
    pick_type: str = ""
    pick_provider: str = ""
    day_options: list[Option] = []
    pick_day: str = ""
    times: list[Option] = []
    pick_time: str = ""
    pick_time_label: str = ""
    moving_id: int = 0
    moving_text: str = ""
    loading: bool = False
    # Whose visits the words name: "your", or a dependant's first name when a parent acts for them.
    _first_name: str = ""
    whose_visits: str = "Your "  # the home page's headings: "Your upcoming visits", "Mia's upcoming visits"


    # -- home ----------------------------------------------------------------------------------
    @rx.event
    async def load_home(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.name = me.name
        self.confirm_cancel_id = 0
        await self._visits(me)
        return None

    def _whose(self, capital: bool = False) -> str:
        return f"{self._first_name}'s" if self._first_name else "Your" if capital else "your"

    async def _visits(self, me: Me) -> None:
        who = await self.get_state(PortalWho)
        self._first_name = "" if me.acting_for == me.patient_id else who._names.get(me.acting_for, "").split(" ")[0]
        self.whose_visits = self._whose(capital=True) + " "
        now = utcnow()
        upcoming, past = await in_db(lambda s: (booking.visits(s, me, now=now),
                                                 booking.visits(s, me, upcoming=False, now=now, limit=10)))
        self.upcoming = [_row(v) for v in upcoming]
        self.past = [_row(v) for v in past]

    @rx.event
    def ask_cancel(self, appointment_id: int):
        chosen = next((v for v in self.upcoming if v.id == appointment_id), None)
        if chosen is not None:
            self.confirm_cancel_id = chosen.id
            self.confirm_cancel_text = f"Cancel {self._whose()} {chosen.what} with {chosen.who} on {chosen.when}?"

    @rx.event
    def keep_visit(self):
        self.confirm_cancel_id = 0

    @rx.event
    async def cancel_visit(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        wanted = int(self.confirm_cancel_id)
        self.confirm_cancel_id = 0
        try:
            await in_db(lambda s: booking.cancel(s, me, appointment_id=wanted))
            self._ok(f"{self._whose(capital=True)} visit is cancelled.")
        except ClinicError as exc:
            self._fail(exc)
        else:
            await _confirm_by_email(me, wanted)
        await self._visits(me)
        return None

    @rx.event
    async def start_move(self, appointment_id: int):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        chosen = next((v for v in self.upcoming if v.id == appointment_id), None)
        if chosen is None or not chosen.can_change:
            self._fail("That visit cannot be moved online; please call the clinic.")
            return None
        self.moving_id, self.moving_text = chosen.id, f"Moving {self._whose()} {chosen.what} with {chosen.who} on {chosen.when}."
        return rx.redirect(BOOK)

    # -- booking ---------------------------------------------------------------------------------
    @rx.event
    async def load_book(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.name = me.name
        self.message, self.message_is_error = "", False
        self.pick_day, self.pick_time, self.pick_time_label, self.times, self.day_options = "", "", "", [], []
        moving = self.moving_id
        if moving:
            try:
                visit = await in_db(lambda s: next(v for v in booking.visits(s, me) if v.id == moving and v.can_change))
            except (StopIteration, ClinicError):
                self.moving_id, self.moving_text = 0, ""
                moving = 0
            else:
                self.pick_type, self.pick_provider = str(visit.appointment_type_id), str(visit.provider_id)
        if not moving:
            options = await in_db(lambda s: booking.options(s, me))
            self.type_options = [Option(str(c.id), c.label) for c in options.types]
            self.provider_options = [Option(str(c.id), c.label) for c in options.providers]
            self.pick_type = self.type_options[0].value if self.type_options else ""
            self.pick_provider = self.provider_options[0].value if self.provider_options else ""
            if not self.type_options or not self.provider_options:
                self._fail("Online booking is not available to you; please call the clinic to book.")
                return None
        await self._days(me)
        return None

    async def _days(self, me: Me) -> None:
        self.pick_day, self.pick_time, self.pick_time_label, self.times = "", "", "", []
        if not (self.pick_type.isdigit() and self.pick_provider.isdigit()):
            self.day_options = []
            return
        kind, provider = int(self.pick_type), int(self.pick_provider)
        try:
            days = await in_db(lambda s: booking.booking_days(s, me, provider_id=provider, appointment_type_id=kind))
        except ClinicError as exc:
            self.day_options = []
            self._fail(exc)
            return
        self.day_options = [Option(d.isoformat(), f"{d:%a %d %b}") for d in days]
        if days:
            self.pick_day = days[0].isoformat()
            await self._times(me)

    async def _times(self, me: Me) -> None:
        self.pick_time, self.pick_time_label = "", ""
        try:
            day = dt.date.fromisoformat(self.pick_day)
        except ValueError:
            self.times = []
            return
        kind, provider, moving = int(self.pick_type), int(self.pick_provider), self.moving_id or None
        try:
            found = await in_db(lambda s: booking.open_times(s, me, provider_id=provider, appointment_type_id=kind,
                                                             day=day, ignore_id=moving))
        except ClinicError as exc:
            self.times = []
            self._fail(exc)
            return
        self.times = [Option(t.starts_at.isoformat(), t.label) for t in found]

    @rx.event
    async def set_type(self, value: str):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        if not self.moving_id and any(o.value == value for o in self.type_options):
            self.pick_type = value
            await self._days(me)
        return None

    @rx.event
    async def set_provider(self, value: str):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        if not self.moving_id and any(o.value == value for o in self.provider_options):
            self.pick_provider = value
            await self._days(me)
        return None

    @rx.event
    async def set_day(self, value: str):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        if any(o.value == value for o in self.day_options):
            self.pick_day = value
            await self._times(me)
        return None

    @rx.event
    def set_time(self, value: str):
        chosen = next((o for o in self.times if o.value == value), None)
        if chosen is not None:
            self.pick_time, self.pick_time_label = chosen.value, chosen.label

    @rx.event
    async def confirm(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        if not self.pick_time:
            # The button shows only with a time chosen: this is the second press of a double
            # press, whose first already booked (and cleared the time). Book nothing more.
            return None
        try:
            starts_at = dt.datetime.fromisoformat(self.pick_time)
        except ValueError:
            self._fail("Choose a time first.")
            return None
        kind, provider, moving = int(self.pick_type), int(self.pick_provider), self.moving_id
        day_label = next((o.label for o in self.day_options if o.value == self.pick_day), self.pick_day)
        when = f"{day_label} at {self.pick_time_label}"
        try:
            if moving:
                await in_db(lambda s: booking.reschedule(s, me, appointment_id=moving, starts_at=starts_at))
                pending, changed = False, moving
            else:
                changed, pending = await in_db(lambda s: _id_and_pending(booking.book(
                    s, me, provider_id=provider, appointment_type_id=kind, starts_at=starts_at)))
        except ClinicError as exc:
            self._fail(exc)
            await self._times(me)
            return None
        if not pending:  # a request the desk has still to approve is confirmed when it does
            await _confirm_by_email(me, changed, booked=not moving)
        self.moving_id, self.moving_text = 0, ""
        self.pick_time, self.pick_time_label = "", ""
        await self._visits(me)
        whose = self._whose(capital=True)
        done = (f"{whose} visit is moved to {when}." if moving
                else f"{whose} request for {when} is sent; the clinic will confirm it." if pending
                else f"{self._first_name or 'You'} {'is' if self._first_name else 'are'} booked for {when}.")
        self._ok(done)
        return rx.redirect(HOME)

    @rx.event
    def stop_moving(self):
        self.moving_id, self.moving_text = 0, ""
        return rx.redirect(HOME)


class WelcomeState(rx.State):
    """Setting a password from an invitation link (/portal/welcome?token=...)."""

    token: str = ""
    email: str = ""
    error: str = ""

    @rx.event
    async def load(self):
        token = str(self.router.url.query_parameters.get("token", ""))[:100]
        self.token, self.email, self.error = token, "", ""
        try:
            self.email = await in_db(lambda s: accounts.check_invitation(s, token=token))
        except ClinicError as exc:
            self.error = str(exc)


class CheckinState(rx.State):
    """The day-of check-in link (/portal/checkin?token=...): nothing about the visit is shown
    until the patient confirms their date of birth."""

    ready: bool = False
    error: str = ""
    birth_date: str = ""
    done: str = ""
    _token: str = ""

    def _client(self) -> str:
        return self.router.session.client_ip or "unknown"

    @rx.event
    async def load(self):
        self._token = str(self.router.url.query_parameters.get("token", ""))[:100]
        self.ready, self.error, self.birth_date, self.done = False, "", "", ""
        token = self._token
        try:
            await in_db(lambda s: checkin.check_link(s, token=token))
            self.ready = True
        except ClinicError as exc:
            self.error = str(exc)

    @rx.event
    def set_birth_date(self, value: str):
        self.birth_date = str(value)[:10]

    @rx.event
    async def confirm(self):
        token = self._token
        try:
            accounts.check_token_rate(client=self._client())
            accounts.check_checkin_rate(token=token)
            born = dt.date.fromisoformat(self.birth_date) if self.birth_date else None
        except TooManyAttempts as exc:
            self.error = str(exc)
            return
        except ValueError:
            self.error = "Enter your date of birth as a date (YYYY-MM-DD)."
            return
        try:
            done = await in_db(lambda s: checkin.confirm(s, token=token, birth_date=born))
        except ClinicError as exc:
            self.error = str(exc)
            return
        self.ready, self.error = False, ""
        self.done = f"You are checked in at {done.time} for your {done.starts} visit with {done.provider}. Please take a seat."
