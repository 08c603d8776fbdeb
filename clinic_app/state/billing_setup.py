"""Billing set-up: payers, fee schedules and self-pay rates, billing profiles, coverage."""

from __future__ import annotations

import dataclasses

import reflex as rx
from sqlmodel import select

from clinic_app.models import Payer
from clinic_app.services.frontdesk import board
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotFound
from clinic_app.services.platform.money import amount as money
from clinic_app.services.platform.permissions import allowed
from clinic_app.services.revenue import payers
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import Option, in_db

SELF_PAY = "self"
RELATIONSHIP_LABELS = {"self": "Self", "spouse": "Spouse", "child": "Child", "other": "Other"}
FILING_OPTIONS = [Option(value=code, label=f"{code}: {words}") for code, words in payers.FILING_INDICATORS.items()]
SEX_OPTIONS = [Option(value=v, label=v.title()) for v in ("female", "male", "other", "unknown")]

# Every typed field of the page and its longest accepted text (forged payloads are cut).
FIELDS = {
    "payer_name": 60, "payer_code": 80, "payer_modifiers": 20,
    "fee_code": 5, "fee_amount": 12,
    "bp_org": 60, "bp_npi": 10, "bp_tax": 10, "bp_street": 55, "bp_city": 30, "bp_state": 2, "bp_zip": 10,
    "cov_mrn": 20, "cov_member": 40, "cov_group": 40, "cov_first": 80, "cov_last": 80, "cov_birth": 10,
    "cov_street": 55, "cov_city": 30, "cov_state": 2, "cov_zip": 10, "cov_from": 10, "cov_to": 10, "cov_end": 10,
}


# The coverage form's fields on this page, by the name of payers.CoverageForm's field.
COVERAGE_INPUTS = {
    "payer_id": "cov_payer", "member_id": "cov_member", "group_number": "cov_group", "priority": "cov_priority",
    "relationship": "cov_relationship", "subscriber_first_name": "cov_first", "subscriber_last_name": "cov_last",
    "subscriber_birth_date": "cov_birth", "subscriber_sex": "cov_sex", "address": "cov_street", "city": "cov_city",
    "state": "cov_state", "zip_code": "cov_zip", "effective_from": "cov_from", "effective_to": "cov_to",
}


@dataclasses.dataclass
class PayerRow:
    id: int
    name: str
    code: str
    modifiers: str
    filing: str
    status: str
    edit_label: str


@dataclasses.dataclass
class FeeRow:
    id: int
    code: str
    amount: str
    remove_label: str


@dataclasses.dataclass
class CoverageRow:
    id: int
    payer: str
    member_id: str
    group: str
    priority: str
    relationship: str
    dates: str
    end_label: str


class BillingSetupState(rx.State):
    """Payers, fee schedules, billing profiles and patients' coverage."""

    message: str = ""
    message_is_error: bool = False
    section: str = ""
    can_cover: bool = False
    payer_rows: list[PayerRow] = []
    payer_options: list[Option] = []
    fee_options: list[Option] = []
    fee_rows: list[FeeRow] = []
    fee_schedule: str = SELF_PAY
    locations: list[Option] = []
    location_id: str = ""
    payer_form_id: int = 0
    payer_active: bool = True
    payer_filing: str = "CI"
    filing_options: list[Option] = FILING_OPTIONS
    sex_options: list[Option] = SEX_OPTIONS
    priority_options: list[Option] = [Option(value="1", label="Primary"), Option(value="2", label="Secondary")]
    relationship_options: list[Option] = [
        Option(value="self", label="The patient"), Option(value="spouse", label="The patient's spouse"),
        Option(value="child", label="The patient's parent (patient is a child)"), Option(value="other", label="Someone else"),
    ]
    cov_sex: str = "unknown"
    # What is wrong with each field of the coverage form (by the page's field name), all at once.
    cov_problems: dict[str, str] = {}
    coverage_rows: list[CoverageRow] = []
    cov_patient: str = ""
    cov_payer: str = ""
    cov_priority: str = "1"
    cov_relationship: str = "self"
    _cov_patient_id: int = 0
    # The typed fields (see FIELDS), kept as typed when an action fails.
    payer_name: str = ""
    payer_code: str = ""
    payer_modifiers: str = ""
    fee_code: str = ""
    fee_amount: str = ""
    bp_org: str = ""
    bp_npi: str = ""
    bp_tax: str = ""
    bp_street: str = ""
    bp_city: str = ""
    bp_state: str = ""
    bp_zip: str = ""
    cov_mrn: str = ""
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
    cov_end: str = ""

    @rx.event
    async def load(self):
        actor, redirect = await page_actor(self, "billing.setup")
        if redirect:
            return redirect
        self.can_cover = allowed(actor.role, "coverage.edit")
        locations = await in_db(board.locations)
        self.locations = [Option(value=str(loc.id), label=loc.name) for loc in locations]
        if self.location_id not in {o.value for o in self.locations} and locations:
            ids = [loc.id for loc in locations]
            self.location_id = str(actor.location_id if actor.location_id in ids else ids[0])
        self.message = ""
        await self._load_payers()
        await self._load_fees()
        await self._load_profile()
        return None

    @rx.event
    def set_form(self, field: str, value: str):
        if field in FIELDS:
            setattr(self, field, str(value)[: FIELDS[field]])
            self._fixed(field)

    def _fixed(self, field: str) -> None:
        if field in self.cov_problems:
            self.cov_problems = {k: v for k, v in self.cov_problems.items() if k != field}

    # -- payers -------------------------------------------------------------------------
    async def _load_payers(self) -> None:
        actor = await current_actor(self, "billing.setup")
        rows = await in_db(lambda s: payers.list_payers(s, actor=actor))
        self.payer_rows = [
            PayerRow(id=p.id, name=p.name, code=p.payer_id, modifiers=p.default_modifiers.replace(",", ", "),
                     filing=f"{p.claim_filing_indicator}: {payers.FILING_INDICATORS.get(p.claim_filing_indicator, '')}",
                     status="Active" if p.active else "Not used", edit_label=f"Edit payer {p.name}")
            for p in rows
        ]
        self.payer_options = [Option(value=str(p.id), label=f"{p.name} ({p.payer_id})") for p in rows if p.active]
        self.fee_options = [Option(value=SELF_PAY, label="Self-pay rates"), *self.payer_options]
        if self.cov_payer not in {o.value for o in self.payer_options}:
            self.cov_payer = self.payer_options[0].value if self.payer_options else ""

    @rx.event
    async def edit_payer(self, payer_id: int):
        try:
            actor = await current_actor(self, "billing.setup")
            rows = await in_db(lambda s: payers.list_payers(s, actor=actor))
            payer = next((p for p in rows if p.id == as_id(payer_id)), None)
            if payer is None:
                raise NotFound("That payer no longer exists.")
        except ClinicError as exc:
            return self._fail("payers", exc)
        self.payer_form_id, self.payer_name, self.payer_code = payer.id, payer.name, payer.payer_id
        self.payer_modifiers, self.payer_active = payer.default_modifiers.replace(",", " "), payer.active
        self.payer_filing = payer.claim_filing_indicator
        self._done("payers", f"Editing {payer.name}; change the fields and save.")
        return None

    @rx.event
    def new_payer(self):
        self.payer_form_id, self.payer_name, self.payer_code, self.payer_modifiers, self.payer_active = 0, "", "", "", True
        self.payer_filing = "CI"
        self.message = ""

    @rx.event
    def set_payer_active(self, value: bool):
        self.payer_active = bool(value)

    @rx.event
    def set_payer_filing(self, value: str):
        # Anything off the list is kept as typed for the service to refuse by name.
        self.payer_filing = str(value)[:2]

    @rx.event
    async def save_payer(self):
        try:
            actor = await current_actor(self, "billing.setup")
            name, code, modifiers, filing = self.payer_name, self.payer_code, self.payer_modifiers, self.payer_filing
            if self.payer_form_id:
                payer_db_id, active = as_id(self.payer_form_id), self.payer_active
                payer = await in_db(lambda s: payers.update_payer(
                    s, actor=actor, payer_db_id=payer_db_id, name=name, payer_id=code, default_modifiers=modifiers,
                    active=active, claim_filing_indicator=filing,
                ))
            else:
                payer = await in_db(lambda s: payers.create_payer(
                    s, actor=actor, name=name, payer_id=code, default_modifiers=modifiers, claim_filing_indicator=filing,
                ))
            await self._load_payers()
        except ClinicError as exc:
            return self._fail("payers", exc)
        self.new_payer()
        self._done("payers", f"Payer {payer.name} ({payer.payer_id}) saved.")
        return None

    # -- fee schedules ------------------------------------------------------------------
    def _schedule_payer(self) -> int | None:
        return None if self.fee_schedule == SELF_PAY else as_id(self.fee_schedule)

    async def _load_fees(self) -> None:
        actor = await current_actor(self, "billing.setup")
        if self.fee_schedule not in {o.value for o in self.fee_options}:
            self.fee_schedule = SELF_PAY
        payer_id = self._schedule_payer()
        rows = await in_db(lambda s: payers.fees(s, actor=actor, payer_id=payer_id))
        self.fee_rows = [FeeRow(id=f.id, code=f.code, amount=money(f.amount_cents), remove_label=f"Remove fee for {f.code}") for f in rows]

    @rx.event
    async def set_fee_schedule(self, value: str):
        self.fee_schedule = value if value in {o.value for o in self.fee_options} else SELF_PAY
        try:
            await self._load_fees()
        except ClinicError as exc:
            return self._fail("fees", exc)
        self.message = ""
        return None

    @rx.event
    async def save_fee(self):
        try:
            actor = await current_actor(self, "billing.setup")
            code, amount, payer_id = self.fee_code, self.fee_amount, self._schedule_payer()
            row = await in_db(lambda s: payers.set_fee(s, actor=actor, code=code, amount=amount, payer_id=payer_id))
            await self._load_fees()
        except ClinicError as exc:
            return self._fail("fees", exc)
        self._done("fees", f"{row.code} now ${money(row.amount_cents)} per unit.")
        self.fee_code, self.fee_amount = "", ""
        return None

    @rx.event
    async def remove_fee(self, fee_id: int):
        try:
            actor = await current_actor(self, "billing.setup")
            wanted = as_id(fee_id)
            await in_db(lambda s: payers.remove_fee(s, actor=actor, fee_id=wanted))
            await self._load_fees()
        except ClinicError as exc:
            return self._fail("fees", exc)
        self._done("fees", "Fee removed; that code is now priced at the clinic's standard fee.")
        return None

    # -- billing profile ----------------------------------------------------------------
    async def _load_profile(self) -> None:
        if not self.location_id:
            return
        location_id = as_id(self.location_id)
        profile = await in_db(lambda s: payers.billing_profile(s, location_id=location_id))
        if profile is None:
            self.bp_org = self.bp_npi = self.bp_tax = self.bp_street = self.bp_city = self.bp_state = self.bp_zip = ""
            return
        self.bp_org, self.bp_npi, self.bp_tax = profile.organisation, profile.npi, profile.tax_id
        self.bp_street, self.bp_city, self.bp_state, self.bp_zip = profile.address, profile.city, profile.state, profile.zip_code

    @rx.event
    async def set_location(self, value: str):
        if value not in {o.value for o in self.locations}:
            return self._fail("profile", InvalidInput("Choose a location from the list."))
        self.location_id = value
        await self._load_profile()
        self.message = ""
        return None

    @rx.event
    async def save_profile(self):
        try:
            actor = await current_actor(self, "billing.setup")
            if not self.bp_org.strip():
                raise InvalidInput("Give the organisation's name as the payer knows it.")
            profile = {
                "location_id": as_id(self.location_id), "organisation": self.bp_org, "npi": self.bp_npi,
                "tax_id": self.bp_tax, "address": self.bp_street, "city": self.bp_city, "state": self.bp_state,
                "zip_code": self.bp_zip,
            }
            await in_db(lambda s: payers.set_billing_profile(s, actor=actor, **profile))
        except ClinicError as exc:
            return self._fail("profile", exc)
        name = next((o.label for o in self.locations if o.value == self.location_id), "")
        self._done("profile", f"Billing profile of {name} saved.")
        return None

    # -- coverage -----------------------------------------------------------------------
    async def _load_coverage(self) -> None:
        actor = await current_actor(self, "coverage.edit")
        patient_id = self._cov_patient_id
        rows, names = await in_db(lambda s: (
            payers.coverages(s, actor=actor, patient_id=patient_id), {p.id: p.name for p in s.exec(select(Payer))}
        ))
        self.coverage_rows = [
            CoverageRow(
                id=c.id, payer=names.get(c.payer_id, ""), member_id=c.member_id, group=c.group_number,
                priority="Primary" if c.priority == 1 else "Secondary", relationship=RELATIONSHIP_LABELS[c.relationship],
                dates=f"{c.effective_from} to {c.effective_to or 'open end'}",
                end_label=f"End {'primary' if c.priority == 1 else 'secondary'} coverage with {names.get(c.payer_id, '')}",
            )
            for c in rows
        ]

    @rx.event
    async def find_patient(self):
        try:
            actor = await current_actor(self, "coverage.edit")
            mrn = self.cov_mrn
            patient = await in_db(lambda s: payers.patient_by_mrn(s, actor=actor, mrn=mrn))
            self._cov_patient_id = patient.id
            self.cov_patient = f"{patient.last_name}, {patient.first_name} ({patient.mrn})"
            await self._load_coverage()
        except ClinicError as exc:
            return self._fail("coverage", exc)
        self._done("coverage", f"Coverage of {self.cov_patient}.")
        return None

    @rx.event
    def set_cov_choice(self, field: str, value: str):
        choices = {
            "cov_payer": {o.value for o in self.payer_options}, "cov_priority": {"1", "2"},
            "cov_relationship": set(RELATIONSHIP_LABELS), "cov_sex": {o.value for o in SEX_OPTIONS},
        }
        if field in choices and value in choices[field]:
            setattr(self, field, value)
            self._fixed(field)

    @rx.event
    async def add_coverage(self):
        """Add the coverage; every field that is wrong is named beside it, all at once."""
        self.cov_problems = {}
        try:
            actor = await current_actor(self, "coverage.edit")
            if not self._cov_patient_id:
                raise InvalidInput("Find the patient first.")
            if not self.cov_payer:
                raise InvalidInput("Add a payer first.")
            patient_id = self._cov_patient_id
            form = payers.CoverageForm(**{name: getattr(self, field) for name, field in COVERAGE_INPUTS.items()})
            await in_db(lambda s: payers.add_coverage(s, actor=actor, patient_id=patient_id, **payers.coverage_fields(form)))
            await self._load_coverage()
        except payers.CoverageInvalid as exc:
            # Each beside its field, and all of them in the one alert (as registration does).
            self.cov_problems = {COVERAGE_INPUTS[name]: text for name, text in exc.problems.items() if name in COVERAGE_INPUTS}
            return self._fail("coverage", InvalidInput(f"Please correct: {exc}"))
        except ClinicError as exc:
            return self._fail("coverage", exc)
        self._done("coverage", f"Coverage added for {self.cov_patient}.")
        for name in ("cov_member", "cov_group", "cov_first", "cov_last", "cov_birth", "cov_street", "cov_city", "cov_state",
                     "cov_zip", "cov_from", "cov_to"):
            setattr(self, name, "")
        self.cov_sex = "unknown"
        return None

    @rx.event
    async def end_coverage(self, coverage_id: int):
        try:
            actor = await current_actor(self, "coverage.edit")
            end = payers.typed_date(self.cov_end, "the last day of coverage (under the list)", required=True)
            wanted = as_id(coverage_id)
            await in_db(lambda s: payers.end_coverage(s, actor=actor, coverage_id=wanted, effective_to=end))
            await self._load_coverage()
        except ClinicError as exc:
            return self._fail("coverage", exc)
        self._done("coverage", f"Coverage ends on {end}.")
        return None

    def _done(self, section: str, text: str) -> None:
        self.section, self.message, self.message_is_error = section, text, False

    def _fail(self, section: str, exc: Exception):
        self.section, self.message, self.message_is_error = section, str(exc), True
