"""The patient profile (/patients/<id>): a screen with a section per part that changes.

``ProfileState`` loads the patient's details, visits, account and documents; the
insurance and waitlist sections are substates with their own message beside their own
controls, each reloading only itself after an action.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx

from clinic_app.db import utcnow
from clinic_app.models import Payer
from clinic_app.services.frontdesk import profile, waitlist
from clinic_app.services.frontdesk.patient_lookup import mrn_words
from clinic_app.services.frontdesk.profile import CoverageLine, MoneyLine, VisitLine
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotFound
from clinic_app.services.platform.money import plain
from clinic_app.services.revenue import eligibility, payers, repricing, statements
from clinic_app.state import billing_setup
from clinic_app.state.auth import as_id
from clinic_app.state.common import Option, in_db, today_at
from clinic_app.state.screen import FAILED, Screen, Section
from clinic_app.state.waitlist import WaitlistActions

UPLOAD_271 = "upload-271"


@dataclasses.dataclass
class Detail:
    """A label and its value, as the profile lists the patient's details."""

    label: str
    value: str


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class ProfileState(Screen, rx.State):
    """One patient's profile for the desk."""

    _permission = "patient.search"
    patient_id: int = 0
    name: str = ""
    summary: str = ""
    details: list[Detail] = []
    consents: list[Detail] = []
    upcoming: list[VisitLine] = []
    past: list[VisitLine] = []
    patient_owes: str = ""
    insurance_owes: str = ""
    money: list[MoneyLine] = []
    receipts: list[VisitLine] = []
    _tz: str = "UTC"

    def _wanted_id(self) -> int:
        raw = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]  # /patients/<id>
        if not str(raw).isdigit() or int(raw) <= 0:
            raise NotFound("That patient is not on file (the link may be old); search for them again.")
        return int(raw)

    async def _refresh(self, actor: Actor):
        wanted = self._wanted_id()
        if wanted != self.patient_id:  # another patient: nothing of the last one stays on screen
            self._clear()
            self.name, self.summary, self.details = "", "", []
            for section in (ProfileCoverage, ProfileWaitlist):
                (await self.get_state(section))._clear()
        self.patient_id = wanted
        now = utcnow()

        def work(session):
            patient = profile.open_profile(session, actor=actor, patient_id=wanted)
            tz = profile.display_zone(session, actor)
            upcoming, past = profile.visits(session, actor=actor, patient_id=wanted, now=now)
            return (patient, tz, upcoming, past, profile.account(session, actor=actor, patient_id=wanted, tz=tz),
                    profile.consents(session, patient_id=wanted))

        try:
            patient, tz, upcoming, past, account, consents = await in_db(work)
        except ClinicError:
            self.patient_id, self.name, self.details = 0, "", []
            raise
        self._tz = tz
        self.name = f"{patient.last_name}, {patient.first_name}"
        self.summary = f"{mrn_words(patient.mrn)} · born {patient.birth_date.isoformat()} (age {_age(patient.birth_date, today_at(tz))})"
        if not patient.active:
            self.summary += " · merged into another record (inactive)"
        self.details = [Detail(label=k, value=v) for k, v in profile.demographics(patient)]
        self.consents = [Detail(label=k, value=v) for k, v in consents]
        self.upcoming, self.past = upcoming, past
        self.patient_owes, self.insurance_owes = account.patient_owes, account.insurance_owes
        self.money, self.receipts = account.lines, account.billed_visits
        coverage = await self.get_state(ProfileCoverage)
        await coverage.reload(actor)
        wait = await self.get_state(ProfileWaitlist)
        await wait.reload(actor)
        return None

    @rx.event
    async def edit_details(self):
        from clinic_app.state.registration import RegistrationState

        if not self.patient_id:
            return None
        return RegistrationState.edit_from_profile(self.patient_id)

    @rx.event
    async def download_statement(self):
        patient_id, today = self.patient_id, today_at(self._tz)
        pdf = await self._act("payment.take", lambda s, a: statements.statement_pdf(s, actor=a, patient_id=patient_id, as_of=today),
                              done="Statement ready.")
        if pdf is FAILED:
            return None
        return rx.download(data=pdf, filename=f"statement-{today.isoformat()}.pdf", mime_type="application/pdf")

    @rx.event
    async def download_receipt(self, appointment_id: int):
        try:
            wanted = as_id(appointment_id)
        except ClinicError as exc:
            return self._fail(exc)
        if wanted not in {r.id for r in self.receipts}:
            return self._fail(InvalidInput("Choose a billed visit of this patient."))
        pdf = await self._act("payment.take", lambda s, a: statements.invoice_pdf(s, actor=a, appointment_id=wanted),
                              done="Receipt ready.")
        if pdf is FAILED:
            return None
        return rx.download(data=pdf, filename=f"receipt-{wanted}.pdf", mime_type="application/pdf")


# -- insurance --------------------------------------------------------------------------
COVERAGE_TEXT = {
    "cov_member": 40, "cov_group": 40, "cov_first": 80, "cov_last": 80, "cov_birth": 10, "cov_street": 55,
    "cov_city": 30, "cov_state": 2, "cov_zip": 10, "cov_from": 10, "cov_to": 10, "cov_copay": 12, "end_on": 10,
}
RELATIONSHIPS = [Option(value="self", label="The patient"), Option(value="spouse", label="Spouse"),
                 Option(value="child", label="Child of the subscriber"), Option(value="other", label="Other")]
PRIORITIES = [Option(value="1", label="Primary"), Option(value="2", label="Secondary")]
SEXES = billing_setup.SEX_OPTIONS
# The coverage form's fields here (named as on billing set-up, plus the card's copay).
COVERAGE_INPUTS = {**billing_setup.COVERAGE_INPUTS, "copay": "cov_copay"}


class ProfileCoverage(Section, ProfileState):
    """The patient's insurance: list, add, edit, end, eligibility 270/271, re-pricing."""

    rows: list[CoverageLine] = []
    payer_options: list[Option] = []
    relationships: list[Option] = RELATIONSHIPS
    sexes: list[Option] = SEXES
    # What is wrong with each field of the form (by its state field), all at once, beside it.
    problems: dict[str, str] = {}
    priorities: list[Option] = PRIORITIES
    form_open: bool = False
    editing_id: int = 0
    ending_id: int = 0
    cov_payer: str = ""
    cov_priority: str = "1"
    cov_relationship: str = "self"
    cov_sex: str = "unknown"
    cov_member: str = ""
    cov_group: str = ""
    cov_first: str = ""
    cov_last: str = ""
    cov_birth: str = ""
    cov_street: str = ""
    cov_city: str = ""
    cov_state: str = ""
    cov_zip: str = ""
    cov_from: str = ""
    cov_to: str = ""
    cov_copay: str = ""
    end_on: str = ""

    async def reload(self, actor: Actor) -> None:
        patient_id, tz = self.patient_id, self._tz
        today = today_at(tz)

        def work(session):
            return (profile.coverages(session, actor=actor, patient_id=patient_id, today=today, tz=tz),
                    payers.desk_payers(session, actor=actor))

        rows, payer_list = await in_db(work)
        self.rows = rows
        self.payer_options = [Option(value=str(p.id), label=p.name) for p in payer_list]

    async def _after(self, actor_permission: str = "coverage.edit") -> None:
        actor = await self._actor(actor_permission)
        await self.reload(actor)

    @rx.event
    def set_text(self, name: str, value: str):
        if name in COVERAGE_TEXT:
            setattr(self, name, str(value)[: COVERAGE_TEXT[name]])
            self._fixed(name)

    @rx.event
    def set_choice(self, name: str, value: str):
        choices = {"cov_payer": {o.value for o in self.payer_options}, "cov_priority": {"1", "2"},
                   "cov_relationship": {o.value for o in RELATIONSHIPS}, "cov_sex": {o.value for o in SEXES}}
        if name in choices and value in choices[name]:
            setattr(self, name, value)
            self._fixed(name)

    def _fixed(self, name: str) -> None:
        if name in self.problems:
            self.problems = {k: v for k, v in self.problems.items() if k != name}

    def _clear(self) -> None:
        super()._clear()
        self.problems = {}

    def _fail(self, exc: Exception | str) -> None:
        """A coverage refused for its fields: each one's problem beside it, and all in the alert."""
        problems = {COVERAGE_INPUTS[k]: v for k, v in getattr(exc, "problems", {}).items() if k in COVERAGE_INPUTS}
        if not isinstance(exc, payers.CoverageInvalid) or not problems:
            super()._fail(exc)
            return
        self.problems = problems
        super()._fail(f"Please correct: {exc}")  # all of them in the alert too, as registration does

    def _fill(self, **values: str) -> None:
        blank = dict.fromkeys(COVERAGE_TEXT, "")
        blank.update(cov_payer=self.payer_options[0].value if self.payer_options else "", cov_priority="1",
                     cov_relationship="self", cov_sex="unknown", cov_from=today_at(self._tz).isoformat())
        blank.update(values)
        for name, value in blank.items():
            setattr(self, name, value)

    @rx.event
    def start_add(self):
        """A fresh form (today as the start, the first payer chosen)."""
        self._clear()
        self.editing_id, self.ending_id = 0, 0
        self._fill(cov_priority="2" if any(r.priority == "Primary" and r.in_effect for r in self.rows) else "1")
        self.form_open = True

    @rx.event
    async def start_edit(self, coverage_id: int):
        """The form on the coverage's current values."""
        self._clear()
        try:
            wanted = as_id(coverage_id)
            actor = await self._actor("coverage.edit")
            patient_id = self.patient_id

            def work(session):
                found = [c for c in payers.coverages(session, actor=actor, patient_id=patient_id) if c.id == wanted]
                if not found:
                    raise NotFound("That coverage is no longer on file; reload the page.")
                return found[0]

            c = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self.editing_id, self.ending_id = c.id, 0
        self._fill(
            cov_payer=str(c.payer_id), cov_priority=str(c.priority), cov_relationship=c.relationship, cov_member=c.member_id,
            cov_group=c.group_number, cov_first=c.subscriber_first_name, cov_last=c.subscriber_last_name,
            cov_birth=c.subscriber_birth_date.isoformat() if c.subscriber_birth_date else "", cov_sex=c.subscriber_sex,
            cov_street=c.address,
            cov_city=c.city, cov_state=c.state, cov_zip=c.zip_code, cov_from=c.effective_from.isoformat(),
            cov_to=c.effective_to.isoformat() if c.effective_to else "",
            cov_copay="" if c.copay_cents is None else f"{plain(c.copay_cents)}",
        )
        self.form_open = True
        return None

    @rx.event
    def close_form(self):
        self.form_open, self.editing_id = False, 0

    def _form(self) -> payers.CoverageForm:
        return payers.CoverageForm(
            payer_id=self.cov_payer, member_id=self.cov_member, group_number=self.cov_group, priority=self.cov_priority,
            relationship=self.cov_relationship, subscriber_first_name=self.cov_first, subscriber_last_name=self.cov_last,
            subscriber_birth_date=self.cov_birth, subscriber_sex=self.cov_sex, address=self.cov_street, city=self.cov_city, state=self.cov_state,
            zip_code=self.cov_zip, effective_from=self.cov_from, effective_to=self.cov_to, copay=self.cov_copay,
        )

    @rx.event
    async def save(self):
        """Add the coverage, or save the one being edited; unbilled visits it covers are re-priced."""
        self.problems = {}
        form, patient_id, editing = self._form(), self.patient_id, self.editing_id
        now = utcnow()

        def work(session, actor):
            fields = payers.coverage_fields(form)
            if editing:
                copay = fields.pop("copay")
                changed = payers.update_coverage(session, actor=actor, coverage_id=editing, copay=copay, now=now, **fields)
                what = f"Saved the coverage: {', '.join(changed).replace('_cents', '').replace('_', ' ')}."
            else:
                coverage = payers.add_coverage(session, actor=actor, patient_id=patient_id, now=now, **fields)
                what = f"Added {'primary' if coverage.priority == 1 else 'secondary'} coverage."
            return " ".join(x for x in (what, repricing.words(repricing.made_at(session, patient_id=patient_id, at=now))) if x)

        if await self._act("coverage.edit", work, done=lambda text: text) is FAILED:
            return None
        self.form_open, self.editing_id = False, 0
        await self._after()
        return None

    @rx.event
    def start_end(self, coverage_id: int):
        self._clear()
        try:
            self.ending_id = as_id(coverage_id)
        except ClinicError as exc:
            return self._fail(exc)
        self.form_open, self.end_on = False, today_at(self._tz).isoformat()
        return None

    @rx.event
    def cancel_end(self):
        self.ending_id = 0

    @rx.event
    async def end(self):
        """End the coverage on the chosen day (its last day of cover)."""
        coverage_id, text, patient_id, now = self.ending_id, self.end_on, self.patient_id, utcnow()

        def work(session, actor):
            last = payers.typed_date(text, "the coverage's last day", required=True)
            payers.end_coverage(session, actor=actor, coverage_id=coverage_id, effective_to=last, now=now)
            return " ".join(x for x in (f"Coverage ends on {last.isoformat()}.",
                                        repricing.words(repricing.made_at(session, patient_id=patient_id, at=now))) if x)

        if not coverage_id or await self._act("coverage.edit", work, done=lambda text: text) is FAILED:
            return None
        self.ending_id = 0
        await self._after()
        return None

    @rx.event
    async def reprice(self):
        """Price this patient's unbilled visits again from the coverage on file."""
        patient_id = self.patient_id
        done = await self._act("coverage.edit", lambda s, a: repricing.reprice_unbilled(s, actor=a, patient_id=patient_id),
                               done=lambda r: repricing.words(r) or "Every unbilled visit already has the price of its coverage.")
        if done is not FAILED:
            await self._after()

    @rx.event
    async def request_270(self, coverage_id: int):
        """Write the 270 eligibility request for a coverage (a file to send to the payer)."""
        try:
            wanted = as_id(coverage_id)
        except ClinicError as exc:
            return self._fail(exc)
        text = await self._act("coverage.edit", lambda s, a: eligibility.request_270(s, actor=a, coverage_id=wanted),
                               done="270 request written: send the downloaded file to the payer, then upload their 271 here.")
        if text is FAILED:
            return None
        return rx.download(data=text, filename=f"eligibility-270-{wanted}-{utcnow():%Y%m%d%H%M}.x12", mime_type="text/plain")

    @rx.event
    async def upload_271(self, files: list[rx.UploadFile]):
        """Read the payer's 271 answer into the coverage it answers for; the answer in words."""
        if not files:
            return self._fail(InvalidInput("Choose the 271 file the payer sent first."))
        raw = await files[0].read()
        tz, patient_id = self._tz, self.patient_id

        def work(session, actor):
            answers = eligibility.import_271(session, actor=actor, raw=raw)
            mine = {c.id: c for c in payers.coverages(session, actor=actor, patient_id=patient_id)}
            words = []
            for answer in answers:
                coverage = mine.get(answer["coverage_id"])
                if coverage is None:
                    words.append(f"It also answered for another patient's coverage ({answer['status']}).")
                    continue
                payer = session.get(Payer, coverage.payer_id)
                words.append(f"{payer.name}, member {coverage.member_id}: {eligibility.eligibility_words(coverage, tz)}.")
            return " ".join(words)

        done = await self._act("coverage.edit", work, done=lambda text: f"271 read. {text}")
        if done is not FAILED:
            await self._after()
        return rx.clear_selected_files(UPLOAD_271)


# -- waitlist ---------------------------------------------------------------------------
WAIT_TEXT = {"wait_first": 10, "wait_last": 10, "wait_from": 5, "wait_until": 5, "wait_note": 200}


class ProfileWaitlist(WaitlistActions, ProfileState):
    """The patient's waitlist entries; add one with its preferences; book a freed slot."""

    locations: list[Option] = []
    types: list[Option] = []
    providers: list[Option] = []
    form_open: bool = False
    wait_location: str = ""
    wait_type: str = ""
    wait_provider: str = "any"
    wait_first: str = ""
    wait_last: str = ""
    wait_from: str = ""
    wait_until: str = ""
    wait_note: str = ""
    _providers: list[tuple[int, str, int]] = []

    @rx.event
    async def start_add(self):
        self._clear()
        def work(session):
            locations, kinds, people = waitlist.choices(session)
            return locations, kinds, [(p.id, p.name, p.location_id) for p in people]

        try:
            await self._actor("appointment.book")
            locations, types, providers = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self.locations = [Option(value=str(loc.id), label=loc.name) for loc in locations]
        self.types = [Option(value=str(t.id), label=t.name) for t in types]
        self._providers = providers
        self.wait_location = self.locations[0].value if self.locations else ""
        self.wait_type = self.types[0].value if self.types else ""
        self._set_providers()
        today = today_at(self._tz)
        self.wait_first, self.wait_last = today.isoformat(), (today + dt.timedelta(days=14)).isoformat()
        self.wait_from = self.wait_until = self.wait_note = ""
        self.form_open = True
        return None

    def _set_providers(self) -> None:
        here = [(pid, name) for pid, name, loc in self._providers if str(loc) == self.wait_location]
        self.providers = [Option(value="any", label="Any provider"), *[Option(value=str(pid), label=name) for pid, name in here]]
        self.wait_provider = "any"

    @rx.event
    def close_form(self):
        self.form_open = False

    @rx.event
    def set_text(self, name: str, value: str):
        if name in WAIT_TEXT:
            setattr(self, name, str(value)[: WAIT_TEXT[name]])

    @rx.event
    def set_choice(self, name: str, value: str):
        options = {"wait_location": self.locations, "wait_type": self.types, "wait_provider": self.providers}
        if name in options and value in {o.value for o in options[name]}:
            setattr(self, name, value)
            if name == "wait_location":
                self._set_providers()

    @rx.event
    async def add(self):
        patient_id = self.patient_id
        location, kind, provider = self.wait_location, self.wait_type, self.wait_provider
        first, last, start, until, note = self.wait_first, self.wait_last, self.wait_from, self.wait_until, self.wait_note

        def work(session, actor):
            if not location.isdigit() or not kind.isdigit():
                raise InvalidInput("Choose the location and the kind of visit.")
            return waitlist.add_to_waitlist(
                session, actor=actor, patient_id=patient_id, location_id=int(location), appointment_type_id=int(kind),
                provider_id=int(provider) if provider.isdigit() else None,
                earliest_day=payers.typed_date(first, "the first day that suits", required=True),
                latest_day=payers.typed_date(last, "the last day that suits", required=True),
                preferred_from=start, preferred_until=until, note=note,
            )

        if await self._act("appointment.book", work, done="Added to the waitlist.") is FAILED:
            return None
        self.form_open = False
        await self.reload(await self._actor("appointment.book"))
        return None


    async def _entries(self, actor: Actor) -> list[dict]:
        patient_id = self.patient_id
        return await in_db(lambda s: waitlist.entries_of(s, actor=actor, patient_id=patient_id))

    def _booked(self):
        return ProfileState.load  # the new visit under "Upcoming", the entry booked
