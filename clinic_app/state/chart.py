"""The clinician's chart on a tablet: the screen (day list, my open notes, the visit's
header, its section bar and the Sign bar) and the live push of its lists.

The visit itself is sections, each a substate of ``ChartState`` with its own message
and its own load (``chart_note.py``, ``chart_codes.py``, ``chart_measures.py``,
``chart_body.py``, ``chart_plan.py``, ``chart_record.py``): an edit in one section
reloads that section only (and the Sign bar's blockers). Opening a visit loads them all.

Every action that depends on the note (sign, copy forward, opening another visit,
closing this one) takes ``edits``: what every note field on screen holds at the tap,
read from the page (``components/chart_pending.py``), so that text typed less than the
autosave's debounce ago is saved first, in the same round trip (``NoteSection._flush``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar

import reflex as rx
from sqlmodel import Session

from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.bus import applied_here
from clinic_app.live.events import AppointmentChanged, chart_topic
from clinic_app.live.surfaces import Surface, register
from clinic_app.models import Location, Note, Provider
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import board, scheduling
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.platform.money import dollars
from clinic_app.state.auth import as_id
from clinic_app.state.calendar import changed_card
from clinic_app.state.common import in_db, today_at
from clinic_app.state.reflex_adapter import client_token
from clinic_app.state.screen import FAILED, Screen, Section

# The visit's sections, in the order of the section bar: (key, name).
SECTIONS = (
    ("note", "Note"),
    ("codes", "Codes & billing"),
    ("measures", "Measures"),
    ("body", "Body chart"),
    ("plan", "Plan & HEP"),
    ("record", "Record"),
)
SECTION_KEYS = tuple(k for k, _ in SECTIONS)


def open_topic(provider_id: int) -> str:
    """A clinician's open notes (any date), and their supervisor's for co-signature."""
    return f"chart:{provider_id}:open"


def live_topics(event: AppointmentChanged) -> list[str]:
    """The charts that show a changed visit: its day's list and its clinician's open notes."""
    return [chart_topic(event.provider_id, event.day), open_topic(event.provider_id)]


def live_row(event: AppointmentChanged, card: dict) -> dict:
    """The changed visit as the charts show it, from its board card (built once per change,
    off the event loop)."""
    with session_scope() as session:
        return charting.chart_card(session, appointment_id=event.appointment_id, card=card)


@dataclasses.dataclass
class Visit:
    """A row of the clinician's day list."""

    id: int
    patient_name: str
    type_name: str
    start_label: str
    status: str
    status_label: str


@dataclasses.dataclass
class OpenNote:
    """A row of "My open notes": a visit whose note awaits this clinician's signature
    (or co-signature), with its age."""

    appointment_id: int
    note_id: int
    patient_name: str
    when: str
    age_label: str
    kind: str  # sign | cosign
    provider_name: str
    status: str
    status_label: str
    label: str
    day: str
    start_label: str


@dataclasses.dataclass
class BlockerRow:
    """Something that stops the signature, and the control that fixes it."""

    text: str
    section: str
    target: str
    label: str


class ChartSection(Section, mixin=True):
    """A section of the open visit: loads itself from the visit the screen has open."""

    _order: ClassVar[int] = 0
    _affects_signing: ClassVar[bool] = False  # whether its edits can change what blocks the signature
    message_at: str = ""  # which part of the section the message is about (shown there)

    def _load(self, session: Session, actor: Actor) -> None:
        """Read this section's part of the open visit (on a worker thread, inside the
        event's transaction; the tab's state is held for the event meanwhile)."""
        raise NotImplementedError

    async def _change(self, permission: str, change: Callable[[Session, Actor], Any], *, done=None):
        """Run ``change``, then reload this section (and the Sign bar's blockers if it can
        change them), in one transaction; the outcome is shown in this section."""

        def work(session: Session, actor: Actor):
            result = change(session, actor)
            self._load(session, actor)
            if self._affects_signing:
                self._load_blockers(session)
            return result

        return await self._act(permission, work, done=done)


_SECTIONS: list[type[ChartSection]] = []


def chart_section(cls):
    """Register a section substate (the screen loads each when a visit opens)."""
    _SECTIONS.append(cls)
    _SECTIONS.sort(key=lambda c: c._order)
    return cls


class ChartState(Screen, rx.State):
    """One clinician's chart screen: the lists, the open visit's header and its Sign bar."""

    _permission: ClassVar[str] = "chart.view"

    # The list beside the visit: one day's visits, or every open note.
    day: str = ""
    today: str = ""
    visits: list[Visit] = []
    list_mode: str = "day"  # day | open
    open_notes: list[OpenNote] = []
    open_total: int = 0
    open_cosign: int = 0
    open_day: str = ""  # the open notes' date filter ("" = every date)
    list_open: bool = True  # narrow screens: the list instead of the visit

    # The open visit.
    appointment_id: int = 0
    note_id: int = 0
    patient_name: str = ""
    visit_label: str = ""
    visit_day_label: str = ""
    visit_status: str = ""
    visit_status_label: str = ""
    signed: bool = False
    own_note: bool = True
    supervised: bool = False
    can_cosign: bool = False
    allergy_words: str = ""
    section: str = "note"
    blockers: list[BlockerRow] = []
    signing: bool = False  # the Sign button shows a spinner and takes no second tap meanwhile

    _tz: str = "UTC"
    _provider_id: int = 0
    _supervisees: list[int] = []
    _patient_id: int = 0
    _open_all: list[dict] = []

    # -- the lists ------------------------------------------------------------------------
    async def _refresh(self, actor: Actor):
        def work(session: Session):
            provider = session.get(Provider, actor.provider_id) if actor.provider_id else None
            if provider is None:
                raise ClinicError("Your account is not linked to a provider; ask an admin.")
            self._tz = session.get(Location, provider.location_id).timezone
            self.today = today_at(self._tz).isoformat()
            self.day = self.day or self.today
            self._supervisees = charting.supervisees(session, provider_id=actor.provider_id)
            self._load_day(session, actor)
            self._load_open(session, actor)

        await in_db(work)
        self._provider_id = actor.provider_id or 0
        self._show_topics()
        linked = str(self.router.url.query_parameters.get("visit", "")).strip()
        if linked:  # /chart?visit=<appointment id> (a task's link): that visit's note, for its clinician only
            if not linked.isdigit():
                return self._fail(InvalidInput("This link names no visit; choose the visit from the list."))
            wanted = int(linked)
            return await self._open(lambda s, a: charting.open_note(s, actor=a, appointment_id=wanted))
        if self.appointment_id:  # a reload: the visit that was open opens again
            appointment_id, note_id = self.appointment_id, self.note_id
            if self.own_note:
                return await self._open(lambda s, a: charting.open_note(s, actor=a, appointment_id=appointment_id))
            return await self._open(lambda s, a: charting.read_note(s, actor=a, note_id=note_id))
        return None

    def _show_topics(self) -> None:
        topics = [chart_topic(self._provider_id, self.day), open_topic(self._provider_id)]
        topics += [open_topic(p) for p in self._supervisees]
        registry.show(client_token(self), "chart", topics)

    def _load_day(self, session: Session, actor: Actor) -> None:
        self.visits = [self._visit(r) for r in board.provider_day(session, actor=actor, day=dt.date.fromisoformat(self.day))]

    def _load_open(self, session: Session, actor: Actor) -> None:
        self._open_all = charting.open_notes(session, actor=actor)
        self._filter_open()

    def _filter_open(self) -> None:
        rows = [r for r in self._open_all if not self.open_day or r["day"] == self.open_day]
        self.open_notes = [self._open_note(r) for r in rows]
        self.open_total = len(self._open_all)
        self.open_cosign = sum(1 for r in self._open_all if r["kind"] == "cosign")

    @staticmethod
    def _visit(row: dict) -> Visit:
        return Visit(
            id=row["id"], patient_name=row["patient_name"], type_name=row["type_name"],
            start_label=row["start_label"], status=row["status"], status_label=row["status_label"],
        )

    @staticmethod
    def _open_note(row: dict) -> OpenNote:
        return OpenNote(
            appointment_id=row["appointment_id"], note_id=row["note_id"], patient_name=row["patient_name"],
            when=row["when"], age_label=row["age_label"], kind=row["kind"], provider_name=row["provider_name"],
            status=row["status"],
            status_label=row["status_label"], label=row["label"], day=row["day"], start_label=row["start_label"],
        )

    @rx.event
    async def pick_day(self, day: str):
        """Show any day's list (a date picker)."""
        try:
            wanted = dt.date.fromisoformat(str(day)[:10])
        except ValueError:
            return self._fail("Choose a date (YYYY-MM-DD).")
        self.day, self.list_mode, self.list_open = wanted.isoformat(), "day", True
        if await self._act("chart.view", lambda s, a: self._load_day(s, a)) is not FAILED:
            self._clear()
            self._show_topics()
        return None

    @rx.event
    async def show_open_notes(self):
        """My open notes: every unsigned note, whatever its date, oldest first."""
        self.list_mode, self.list_open = "open", True
        if await self._act("chart.view", lambda s, a: self._load_open(s, a)) is not FAILED:
            self._clear()

    @rx.event
    def show_day_list(self):
        self.list_mode, self.list_open = "day", True

    @rx.event
    def filter_open(self, day: str):
        """Keep the open notes of one date ("" shows them all)."""
        text = str(day)[:10]
        try:
            self.open_day = dt.date.fromisoformat(text).isoformat() if text else ""
        except ValueError:
            return self._fail("Choose a date (YYYY-MM-DD).")
        self._filter_open()
        return None

    # -- the live push ---------------------------------------------------------------------
    async def _act_here(self, permission: str, work, **kwargs):
        """``_act`` for a change whose card ``work`` applies to this tab itself: the live push
        of that change skips this tab (it would apply the same card a second time)."""
        with applied_here(client_token(self)):
            return await self._act(permission, work, **kwargs)

    def apply_card(self, row: dict) -> None:
        """A pushed change to one visit (reception checked a patient in, a note was signed
        on another tablet): the day list, the open notes and the open visit's status follow."""
        mine = row.get("provider_id") == self._provider_id
        visits = [v for v in self.visits if v.id != row["id"]]
        if mine and row.get("day") == self.day:  # a visit moved to another day or provider leaves
            visits.append(self._visit(row))
        if visits != self.visits:
            visits.sort(key=lambda v: (v.start_label, v.id))
            self.visits = visits
        opened = [r for r in self._open_all if r["appointment_id"] != row["id"]]
        shown = row.get("open")
        if shown and ((shown["kind"] == "sign" and mine) or (shown["kind"] == "cosign" and row.get("supervisor_id") == self._provider_id
                                                              and self._provider_id)):
            opened.append(shown)
        if opened != self._open_all:
            opened.sort(key=lambda r: (r["day"], r["start_label"], r["appointment_id"]))
            self._open_all = opened
            self._filter_open()
        if row["id"] == self.appointment_id:
            self.visit_status, self.visit_status_label = row["status"], row["status_label"]

    # -- the open visit ------------------------------------------------------------------------
    def _show_visit(self, session: Session, actor: Actor, note: Note) -> None:
        row = board.card(session, appointment_id=note.appointment_id)
        self.appointment_id, self.note_id, self._patient_id = note.appointment_id, note.id, note.patient_id
        self.patient_name = row["patient_name"]
        self.visit_label = f"{row['type_name']}, {row['day']} {row['start_label']}-{row['end_label']}"
        age = (today_at(self._tz) - dt.date.fromisoformat(row["day"])).days
        self.visit_day_label = "" if age == 0 else f"This visit was {charting.age_words(age)}." if age > 0 else ""
        self.visit_status, self.visit_status_label = row["status"], row["status_label"]
        self.signed = note.signed_at is not None
        self.own_note = note.provider_id == actor.provider_id
        sig = charting.signatures(session, note=note)
        self.supervised = bool(sig["supervisor"]) and self.own_note
        self.can_cosign = bool(sig["signed_at"] and sig["needs_cosignature"] and not self.own_note)
        self._load_blockers(session)

    def _load_blockers(self, session: Session) -> None:
        if not self.note_id or self.signed or not self.own_note:
            self.blockers = []
            return
        names = dict(SECTIONS)
        self.blockers = [
            BlockerRow(text=b.text, section=b.section, target=b.target, label=f"{b.text} ({names[b.section]})")
            for b in charting.sign_blockers(session, note_id=self.note_id)
        ]

    def _when(self, moment) -> str:
        return local(moment, self._tz).strftime("%Y-%m-%d %H:%M")

    async def _sections(self) -> list[ChartSection]:
        return [await self.get_state(cls) for cls in _SECTIONS]

    async def _note_section(self):
        from clinic_app.state.chart_note import NoteSection

        return await self.get_state(NoteSection)

    async def _open(self, find: Callable[[Session, Actor], Note], edits: dict | None = None):
        """Save what the open visit shows, then open the note ``find`` returns, every section
        loaded fresh, and bring it into view (one round trip)."""
        note_section = await self._note_section()
        sections = await self._sections()

        def work(session: Session, actor: Actor):
            note_section._flush(session, actor, edits)
            note = find(session, actor)
            self._show_visit(session, actor, note)
            for section in sections:
                section.reset()
                section._load(session, actor)
            return note

        if await self._act("chart.view", work) is FAILED:
            return None
        self._clear()
        self.section, self.list_open = "note", False
        return rx.call_script(
            "setTimeout(() => document.getElementById('chart-visit')?.scrollIntoView({block: 'start'}), 30)"
        )

    @rx.event
    async def open_visit(self, appointment_id: int, edits: dict | None = None):
        """Open (or start) the note of one of the clinician's visits, of any date."""
        try:
            wanted = as_id(appointment_id)
        except ClinicError as exc:
            return self._fail(exc)
        return await self._open(lambda s, a: charting.open_note(s, actor=a, appointment_id=wanted), edits)

    @rx.event
    async def open_for_cosign(self, note_id: int, edits: dict | None = None):
        """Open a signed note of a clinician this user supervises, to read and co-sign it."""
        try:
            wanted = as_id(note_id)
        except ClinicError as exc:
            return self._fail(exc)
        return await self._open(lambda s, a: charting.read_note(s, actor=a, note_id=wanted), edits)

    @rx.event
    async def open_listed(self, appointment_id: int, note_id: int, kind: str, edits: dict | None = None):
        """Open a row of My open notes: a note to sign, or one to co-sign."""
        if str(kind) == "cosign":
            return await self.open_for_cosign(note_id, edits)
        return await self.open_visit(appointment_id, edits)

    @rx.event
    async def close_note(self, edits: dict | None = None):
        """Leave the visit (what it shows is saved first)."""
        note_section = await self._note_section()
        if await self._act("chart.view", lambda s, a: note_section._flush(s, a, edits)) is FAILED:
            return
        self.appointment_id = self.note_id = 0
        self.blockers, self.list_open = [], True
        self._clear()

    @rx.event
    async def back_to_list(self, edits: dict | None = None):
        """On a narrow screen: the list instead of the visit (which stays open)."""
        note_section = await self._note_section()
        if await self._act("chart.view", lambda s, a: note_section._flush(s, a, edits)) is not FAILED:
            self.list_open = True

    @rx.event
    def show_section(self, key: str):
        if str(key) in SECTION_KEYS:
            self.section = str(key)

    @rx.event
    def go_to(self, key: str, target: str):
        """A blocker's link: its section, and the control that fixes it focused."""
        if str(key) not in SECTION_KEYS:
            return None
        self.section = str(key)
        target = "".join(c for c in str(target) if c.isalnum() or c == "-")[:40]
        return rx.call_script(
            f"setTimeout(() => {{ const e = document.getElementById('{target}'); "
            "if (e) { e.scrollIntoView({block: 'center'}); e.focus({preventScroll: true}); } }, 40)"
        )

    # -- session and signatures ----------------------------------------------------------------
    @rx.event
    async def start_session(self):
        appointment_id = self.appointment_id

        def work(session: Session, actor: Actor):
            scheduling.transition(session, actor=actor, appointment_id=as_id(appointment_id), to_status="in_session")
            self._load_blockers(session)
            return charting.chart_card(session, appointment_id=appointment_id)

        row = await self._act_here("appointment.start_session", work, done="Session started.")
        if row is not FAILED:
            self.apply_card(row)

    @rx.event
    async def sign(self, edits: dict | None = None):
        """Sign the note as the screen shows it: every field's text on screen is saved first,
        then the note locks, the visit becomes ready to bill and its charges are captured."""
        if self.signed or self.signing:  # a second tap on the same note
            return
        note_section = await self._note_section()
        note_id = self.note_id

        def work(session: Session, actor: Actor):
            # On a worker thread, so that every other socket is served meanwhile (the live
            # fan-out of this very signature among them).
            note_section._flush(session, actor, edits)
            charges = charting.sign_note(session, actor=actor, note_id=as_id(note_id))
            note = session.get(Note, note_id)
            self._show_visit(session, actor, note)
            note_section._load(session, actor)
            self.apply_card(charting.chart_card(session, appointment_id=note.appointment_id))
            return charges

        self.signing = True
        yield
        try:
            charges = await self._act_here("note.sign", work)
        finally:
            self.signing = False
        if charges is FAILED:
            return
        self.section = "note"  # the signed note, locked, with who signed it
        if not charges:
            self._ok("Note signed and locked. It goes to billing when your supervisor co-signs it.")
        else:
            self._ok(_charges_text("Note signed.", charges))

    @rx.event
    async def cosign(self):
        """Co-sign a supervised clinician's signed note: the visit becomes ready to bill."""
        note_section = await self._note_section()
        note_id = self.note_id

        def work(session: Session, actor: Actor):
            charges = charting.cosign_note(session, actor=actor, note_id=as_id(note_id))
            note = charting.readable_note(session, actor=actor, note_id=note_id)
            self._show_visit(session, actor, note)
            note_section._load(session, actor)
            self.apply_card(charting.chart_card(session, appointment_id=note.appointment_id))
            return charges

        if await self._act_here("note.cosign", work, done=lambda charges: _charges_text("Note co-signed.", charges)) is not FAILED:
            self.section = "note"

    @rx.event
    async def copy_forward(self, edits: dict | None = None):
        """Fill empty sections and add diagnoses from the patient's last signed note."""
        from clinic_app.state.chart_codes import CodesSection

        note_section, codes = await self._note_section(), await self.get_state(CodesSection)
        note_id = self.note_id

        def work(session: Session, actor: Actor):
            note_section._flush(session, actor, edits)
            copied = charting.copy_forward(session, actor=actor, note_id=as_id(note_id))
            note_section._load(session, actor)
            codes._load(session, actor)
            self._load_blockers(session)
            return copied

        await self._act("note.edit", work, done=lambda copied: "Copied from the last signed note: " + "; ".join(copied)
                        + ". Sections you had written were kept.")


def _charges_text(head: str, charges) -> str:
    total = sum(c.amount_cents for c in charges)
    return f"{head} {len(charges)} charge line(s), {dollars(total)}, sent to billing."



register(Surface("chart", live_topics, live_row, ChartState, "apply_card", base=changed_card, skip_applied=True))
