"""The biller's day: visits ready to bill (live), claims to send, denials, AR aging."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import reflex as rx

from clinic_app import settings
from clinic_app.db import one_transaction, session_scope, utcnow
from clinic_app.live import registry
from clinic_app.live.events import CLAIMS_TOPIC, AppointmentChanged, ClaimsChanged, billing_topic
from clinic_app.live.surfaces import Surface, register
from clinic_app.models import Location, Patient, Payer
from clinic_app.services.frontdesk import board
from clinic_app.services.frontdesk.patient_lookup import mrn_words
from clinic_app.services.frontdesk.patients import account_search
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotFound
from clinic_app.services.platform.money import amount as money
from clinic_app.services.revenue import (
    batches,
    billing,
    billing_files,
    billing_reports,
    claim_form,
    claims,
    cob,
    era,
    ledger,
    revenue_reports,
    statements,
)
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import Option, in_db
from clinic_app.state.reflex_adapter import client_token
from clinic_app.state.screen import Section


@dataclasses.dataclass
class ChargeLine:
    code: str
    units: int
    amount: str
    diagnoses: str


@dataclasses.dataclass
class QueueRow:
    id: int
    patient_name: str
    mrn: str
    provider_name: str
    service_date: str
    time_label: str
    status_label: str
    total: str
    charges: list[ChargeLine]
    coverage: str
    bill_text: str
    bill_label: str
    claim_label: str


@dataclasses.dataclass
class ClaimCount:
    status: str
    label: str
    count: int


@dataclasses.dataclass
class ClaimRow:
    claim_id: int
    number: str
    patient: str
    payer: str
    service_date: str
    status: str
    total: str
    follows: str
    can_bill_secondary: bool
    form_label: str
    secondary_label: str


@dataclasses.dataclass
class BatchRow:
    batch_id: int
    file_name: str
    created: str
    claims: int
    total: str
    payers: str
    status: str
    status_words: str
    download_label: str
    sent_label: str
    outbox_label: str


@dataclasses.dataclass
class DenialRow:
    claim_id: int
    number: str
    payer: str
    service_date: str
    total: str
    reasons: str
    status: str
    appeal_label: str
    resend_label: str


@dataclasses.dataclass
class EntryRow:
    id: int
    date: str
    service_date: str
    kind: str
    party: str
    detail: str
    amount: str
    reversible: bool
    reversed: bool
    reverse_label: str


@dataclasses.dataclass
class AgingRow:
    name: str
    b0_30: str
    b31_60: str
    b61_90: str
    b90: str
    unapplied: str
    total: str


@dataclasses.dataclass
class ReasonRow:
    reason: str
    words: str
    claims: int
    share: str


@dataclasses.dataclass
class PeriodRow:
    period: str
    insurance: str
    patient: str
    total: str


# The correction forms' typed fields and their longest accepted text.
_TYPED = {"bill_reason": 120, "wo_amount": 12, "wo_reason": 120, "rf_amount": 12, "rf_reference": 40, "rf_reason": 120, "reverse_reason": 120}


def _row(row: dict) -> QueueRow:
    return QueueRow(
        id=row["id"], patient_name=row["patient_name"], mrn=row["mrn"], provider_name=row["provider_name"],
        service_date=row["service_date"], time_label=row["time_label"], status_label=row["status_label"],
        total=row["total"], charges=[ChargeLine(**c) for c in row["charges"]], coverage=row["coverage"],
        bill_text=f"Bill patient (self-pay) ${row['total']}",
        bill_label=f"Bill patient (self-pay) ${row['total']}: {row['patient_name']}, {row['service_date']}",
        claim_label=f"Create claim: {row['patient_name']}, {row['service_date']}",
    )


def _denial(row: dict) -> DenialRow:
    return DenialRow(
        **row, appeal_label=f"Appeal claim {row['number']}", resend_label=f"Correct and resend claim {row['number']}",
    )


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _aging(row: dict) -> AgingRow:
    return AgingRow(
        name=row["name"], b0_30=money(row["0-30"]), b31_60=money(row["31-60"]), b61_90=money(row["61-90"]),
        b90=money(row["90+"]), unapplied=money(row["unapplied"]), total=money(row["total"]),
    )


def payment_months() -> dict:
    """The payments report's range: this month and the eleven before it, by month."""
    today = utcnow().date()
    first = dt.date(today.year - (1 if today.month < 12 else 0), today.month % 12 + 1, 1)
    return {"start": first, "end": today, "grain": "month"}


def claim_sections(session, *, actor) -> dict:
    """What the claim sections of the billing page show, for every biller alike."""
    start, end = utcnow() - dt.timedelta(days=30), utcnow()
    clean = revenue_reports.clean_claim_rate(session, actor=actor, start=start, end=end)
    denial = revenue_reports.denial_rate(session, actor=actor, start=start, end=end)
    aging = revenue_reports.ar_aging(session, actor=actor, as_of=utcnow().date())
    return {
        "aging_patients": aging["by_patient"],
        "denial_reasons": denial["by_reason"],
        "payments": revenue_reports.payments_by_period(session, actor=actor, **payment_months()),
        "counts": revenue_reports.claims_by_status(session, actor=actor),
        "waiting": len(batches.claims_for_batch(session)),
        "batches": batches.recent(session, actor=actor),
        "denials": era.denials(session, actor=actor),
        "recent": claims.recent_claims(session, actor=actor),
        "aging": aging["by_payer"],
        "rates_line": (
            f"Last 30 days: clean-claim rate {_percent(clean['rate'])} of {clean['answered']} answered "
            f"({clean['pending']} awaiting an answer); denial rate {_percent(denial['rate'])} of {denial['adjudicated']} adjudicated."
        ),
    }


class BillingQueueState(rx.State):
    """One biller's queue screen."""

    location_id: str = ""
    locations: list[Option] = []
    rows: list[QueueRow] = []
    message: str = ""
    message_is_error: bool = False
    problems: list[str] = []
    claim_counts: list[ClaimCount] = []
    ready_to_send: int = 0
    batches: list[BatchRow] = []
    outbox: str = ""
    denials: list[DenialRow] = []
    recent_claims: list[ClaimRow] = []
    aging: list[AgingRow] = []
    aging_patients: list[AgingRow] = []
    denial_reasons: list[ReasonRow] = []
    payment_periods: list[PeriodRow] = []
    rates_line: str = ""
    # The "Bill the patient" dialog: which visit, its words, and the reason an insured visit needs.
    bill_id: int = 0
    bill_title: str = ""
    bill_coverage: str = ""
    bill_reason: str = ""
    bill_problem: str = ""
    bill_button: str = ""
    # The patient account panel: look-up, ledger, payment form (kept on error).
    account_mrn: str = ""  # the MRN of the account shown
    account_query: str = ""  # what the look-up box holds: name, date of birth, phone or MRN
    account_matches: list[Option] = []  # several patients matched the look-up: choose one
    account_name: str = ""
    account_patient_owes: str = ""
    account_insurance_owes: str = ""
    account_entries: list[EntryRow] = []
    pay_amount: str = ""
    pay_method: str = "cash"
    pay_reference: str = ""
    # Account corrections: write-off, refund, reversal (each with its reason).
    account_parties: list[Option] = []
    wo_amount: str = ""
    wo_party: str = "patient"
    wo_reason: str = ""
    rf_amount: str = ""
    rf_method: str = "cash"
    rf_reference: str = ""
    rf_reason: str = ""
    reverse_entry_id: int = 0
    reverse_summary: str = ""
    reverse_reason: str = ""
    _account_patient_id: int = 0
    _totals: dict[int, int] = {}

    @rx.event
    async def load(self):
        actor, redirect = await page_actor(self, "billing.view")
        if redirect:
            return redirect
        locations = await in_db(board.locations)
        self.locations = [Option(value=str(loc.id), label=loc.name) for loc in locations]
        if self.location_id not in {o.value for o in self.locations}:
            ids = [loc.id for loc in locations]
            self.location_id = str(actor.location_id if actor.location_id in ids else ids[0])
        return await self._refresh()

    async def _refresh(self):
        try:
            actor = await current_actor(self, "billing.view")
            location_id = as_id(self.location_id)
            rows = await in_db(lambda s: billing.queue(s, actor=actor, location_id=location_id))
        except ClinicError as exc:
            return self._fail(exc)
        self.rows = [_row(r) for r in rows]
        self._totals = {r["id"]: r["total_cents"] for r in rows}
        registry.show(client_token(self), "billing", [billing_topic(int(self.location_id)), CLAIMS_TOPIC])
        await (await self.get_state(ReopenSection))._reload()
        return await self._refresh_claims()

    async def _refresh_claims(self):
        """Claim counts, recent claims, the denial worklist and AR aging (also pushed live)."""
        try:
            actor = await current_actor(self, "billing.view")
            sections = await in_db(lambda s: claim_sections(s, actor=actor))
        except ClinicError as exc:
            return self._fail(exc)
        self.apply_claims(sections)
        return None

    def apply_claims(self, sections: dict | None) -> None:
        """The claim sections as ``claim_sections`` built them (after this biller's action or by push)."""
        if not sections:
            return
        counts = sections["counts"]
        self.claim_counts = [ClaimCount(status=s, label=claims.STATUS_LABELS[s], count=counts.get(s, 0)) for s in claims.STATUS_LABELS]
        self.ready_to_send = sections["waiting"]
        self.batches = [
            BatchRow(**b, download_label=f"Download zip of batch {b['batch_id']}", sent_label=f"Mark sent: batch {b['batch_id']}",
                     outbox_label=f"Send to outbox: batch {b['batch_id']}")
            for b in sections["batches"]
        ]
        self.outbox = str(settings.claims_outbox() or "")
        self.denials = [_denial(r) for r in sections["denials"]]
        self.recent_claims = [
            ClaimRow(**r, form_label=f"Download claim form (PDF) for claim {r['number']}",
                     secondary_label=f"Bill the secondary payer for claim {r['number']}")
            for r in sections["recent"]
        ]
        self.aging = [_aging(r) for r in sections["aging"]]
        self.aging_patients = [_aging(r) for r in sections["aging_patients"]]
        self.denial_reasons = [
            ReasonRow(reason=r["reason"], words=r["words"], claims=r["claims"], share=_percent(r["share_of_denials"]))
            for r in sections["denial_reasons"]
        ]
        self.payment_periods = [
            PeriodRow(period=r["period"], insurance=money(r["insurance"]), patient=money(r["patient"]), total=money(r["total"]))
            for r in sections["payments"]
        ]
        self.rates_line = sections["rates_line"]

    @rx.event
    async def set_location(self, value: str):
        if value not in {o.value for o in self.locations}:
            return self._fail(InvalidInput("Choose a location from the list."))
        self.location_id = value
        return await self._refresh()

    def apply_row(self, row: dict | None) -> None:
        """A pushed change: a visit became ready to bill (add it) or left the queue (drop it)."""
        if row is None:
            return
        rows = [r for r in self.rows if r.id != row["id"]]
        self._totals.pop(row["id"], None)
        if row["status"] == "ready_to_bill":
            rows.append(_row(row))
            rows.sort(key=lambda r: (r.service_date, r.time_label, r.id))
            self._totals[row["id"]] = row["total_cents"]
        self.rows = rows

    @rx.var
    def queue_total(self) -> str:
        return money(sum(self._totals.values()))

    @rx.event
    def ask_bill(self, appointment_id: int):
        """Open the dialog that says what billing this visit to the patient does (and asks why, if insured)."""
        try:
            wanted = as_id(appointment_id)
        except ClinicError as exc:
            return self._fail(exc)
        row = next((r for r in self.rows if r.id == wanted), None)
        if row is None:
            return self._fail(InvalidInput("That visit is no longer in the queue; reload the page."))
        self.bill_id = row.id
        self.bill_title = f"Bill {row.patient_name} (self-pay) ${row.total}?"
        self.bill_coverage = row.coverage
        self.bill_reason, self.bill_problem = "", ""
        self.bill_button = row.bill_text
        return None

    @rx.event
    def close_bill(self):
        # The title stays: the dialog keeps its name while it closes (ask_bill sets all of it afresh).
        self.bill_id, self.bill_reason, self.bill_problem = 0, "", ""

    @rx.event
    def bill_open_change(self, is_open: bool):
        if not is_open:
            self.close_bill()

    @rx.event
    async def mark_billed(self, appointment_id: int):
        return await self._bill(appointment_id)

    async def _bill(self, appointment_id: int):
        """Bill the visit to the patient; the reason typed in the dialog goes with it (the service
        refuses an insured visit without one)."""
        try:
            actor = await current_actor(self, "billing.mark_billed")
            wanted = as_id(appointment_id)
            reason = self.bill_reason if wanted == self.bill_id else ""

            def work(session):
                appointment = billing.mark_billed(session, actor=actor, appointment_id=wanted, reason=reason)
                return billing.queue_row(session, appointment_id=appointment.id)

            row = await in_db(work)
        except ClinicError as exc:
            if self.bill_id:
                self.bill_problem = str(exc)  # beside the reason, in the dialog
                return None
            return self._fail(exc)
        self.apply_row(row)
        self.close_bill()
        self._done(f"{row['patient_name']}, {row['service_date']}: ${row['total']} billed to the patient (self-pay).")
        reopen = await self.get_state(ReopenSection)
        reopen._clear()  # its last message was about another visit
        return await reopen._reload()

    @rx.event
    async def confirm_bill(self):
        if not self.bill_id:
            return self._fail(InvalidInput("Choose the visit to bill first."))
        return await self._bill(self.bill_id)

    @rx.event
    async def create_claim(self, appointment_id: int):
        try:
            actor = await current_actor(self, "billing.claims")
            wanted = as_id(appointment_id)

            def work(session):
                claim = claims.create_claim(session, actor=actor, appointment_id=wanted)
                return claim, billing.queue_row(session, appointment_id=claim.appointment_id)

            claim, row = await in_db(work)
        except claims.ClaimProblems as exc:
            self._fail(InvalidInput("This visit cannot be claimed yet; fix these first:"))
            self.problems = exc.problems
            return None
        except ClinicError as exc:
            return self._fail(exc)
        self.apply_row(row)
        self._done(f"Claim {claim.number} created; it goes out with the next export.")
        return await self._refresh_claims()

    @rx.event
    async def create_all_claims(self):
        try:
            actor = await current_actor(self, "billing.claims")
            location_id = as_id(self.location_id)

            def work(session):
                made, held = claims.create_claims(session, actor=actor, location_id=location_id)
                return made, held, [billing.queue_row(session, appointment_id=claim.appointment_id) for claim in made]

            made, held, rows = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        for row in rows:
            self.apply_row(row)
        self._done(f"{len(made)} claims created; {len(held)} visits held back.")
        names = {r.id: f"{r.patient_name}, {r.service_date}" for r in self.rows}
        self.problems = [f"{names.get(i, i)}: {' '.join(p)}" for i, p in held.items()]
        return await self._refresh_claims()

    @rx.event
    async def appeal(self, claim_id: int):
        try:
            actor = await current_actor(self, "billing.claims")
            wanted = as_id(claim_id)
            claim = await in_db(lambda s: claims.set_status(s, actor=actor, claim_id=wanted, to_status="appealed",
                                                            note="appealed from the worklist"))
        except ClinicError as exc:
            return self._fail(exc)
        self._done(f"Claim {claim.number} marked appealed.")
        return await self._refresh_claims()

    @rx.event
    async def resend(self, claim_id: int):
        try:
            actor = await current_actor(self, "billing.claims")
            wanted = as_id(claim_id)
            claim = await in_db(lambda s: claims.resubmit(s, actor=actor, claim_id=wanted, note="corrected from the worklist"))
        except ClinicError as exc:
            return self._fail(exc)
        self._done(f"Claim {claim.number} goes out again, as a corrected claim, with the next export.")
        return await self._refresh_claims()

    @rx.event
    async def download_claim_form(self, claim_id: int):
        try:
            actor = await current_actor(self, "billing.view")
            wanted = as_id(claim_id)
            data = await in_db(lambda s: claim_form.claim_form_pdf(s, actor=actor, claim_id=wanted))
        except ClinicError as exc:
            return self._fail(exc)
        number = next((r.number for r in self.recent_claims if r.claim_id == as_id(claim_id)), str(claim_id))
        return rx.download(data=data, filename=f"claim-{number}.pdf", mime_type="application/pdf")

    async def _report_csv(self, build, name: str):
        try:
            actor = await current_actor(self, "billing.reports")
            text = await in_db(lambda s: build(s, actor))
        except ClinicError as exc:
            return self._fail(exc)
        return rx.download(data=text, filename=f"{name}-{utcnow():%Y-%m-%d}.csv", mime_type="text/csv")

    @rx.event
    async def download_aging(self):
        return await self._report_csv(
            lambda s, a: revenue_reports.aging_csv(s, actor=a, as_of=utcnow().date()), "ar-aging")

    @rx.event
    async def download_patient_aging(self):
        return await self._report_csv(
            lambda s, a: revenue_reports.aging_csv(s, actor=a, as_of=utcnow().date(), by="patient"), "ar-aging-patients")

    @rx.event
    async def download_payments(self):
        return await self._report_csv(
            lambda s, a: revenue_reports.payments_csv(revenue_reports.payments_by_period(s, actor=a, **payment_months())),
            "payments-by-month")

    @rx.event
    def set_account_query(self, value: str):
        self.account_query = str(value)[:80]

    @rx.event
    def set_pay_amount(self, value: str):
        self.pay_amount = value[:12]

    @rx.event
    def set_pay_method(self, value: str):
        self.pay_method = value if value in ledger.PATIENT_METHODS else "cash"

    @rx.event
    def set_pay_reference(self, value: str):
        self.pay_reference = value[:40]

    @rx.event
    async def find_account(self, form: dict):
        """The look-up: name, date of birth, phone or MRN (the desk's search, audited); one
        patient opens their account, several are listed to choose from."""
        self.account_query = str(form.get("account_query", self.account_query))[:80]
        try:
            actor = await current_actor(self, "payment.take")
            text = self.account_query.strip()
            if len(text) < 2:
                raise InvalidInput("Type at least 2 characters of a name, a date of birth, a phone number or an MRN.")

            def work(session):
                found = account_search(session, actor=actor, text=text)
                session.commit()  # the search's audit row stays, whatever the look-up finds
                exact = [p for p in found if p.mrn == text.upper()]
                if exact or len(found) == 1:
                    return ledger.account(session, actor=actor, mrn=(exact or found)[0].mrn), []
                if not found:  # an MRN of a merged or inactive record still opens its account
                    return ledger.account(session, actor=actor, mrn=text), []
                return None, [Option(value=str(p.id), label=f"{p.last_name}, {p.first_name} ({mrn_words(p.mrn)}, "
                                                            f"born {p.birth_date.isoformat()})") for p in found]

            account, matches = await in_db(work)
        except NotFound:
            self.account_matches = []
            return self._fail(InvalidInput(f"No patient matches {self.account_query.strip()[:80]!r}; "
                                           "search by name, date of birth, phone or MRN."))
        except ClinicError as exc:
            return self._fail(exc)
        self.account_matches = matches
        if account is None:
            self._done(f"{len(matches)} patients match; choose one.")
            return None
        self._open(account)
        return None

    @rx.event
    async def open_account(self, patient_id: str):
        """One of the listed matches chosen (only a listed one: the event names an id)."""
        if str(patient_id) not in {o.value for o in self.account_matches}:
            return self._fail(InvalidInput("That patient is not in the list; search again."))
        pid = int(str(patient_id))
        try:
            actor = await current_actor(self, "payment.take")

            def work(session):
                patient = session.get(Patient, pid)
                if patient is None:
                    raise NotFound("That patient no longer exists; search again.")
                return ledger.account(session, actor=actor, mrn=patient.mrn)

            found = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self.account_matches = []
        self._open(found)
        return None

    def _open(self, found: dict) -> None:
        self.account_mrn = found["mrn"]
        self._show_account(found)
        self._done(f"Account of {found['name']}.")

    def _show_account(self, found: dict) -> None:
        self._account_patient_id = found["patient_id"]
        self.account_name = found["name"]
        b = found["balances"]
        self.account_patient_owes = ("credit " if b["patient"] < 0 else "") + money(abs(b["patient"]))
        self.account_insurance_owes = money(b["insurance"])
        self.account_entries = [
            EntryRow(id=e["id"], date=e["date"], service_date=e["service_date"], kind=e["kind"], party=e["party"],
                     detail=e["detail"], amount=money(e["amount_cents"]), reversible=e["reversible"], reversed=e["reversed"],
                     reverse_label=f"Reverse entry {e['id']}: {e['kind']} {money(e['amount_cents'])}")
            for e in found["entries"]
        ]
        self.account_parties = [
            Option(value="patient", label="The patient"),
            *[Option(value=str(p["payer_id"]), label=f"{p['name']} (owes {money(p['owed_cents'])})") for p in found["payers"]],
        ]
        if self.wo_party not in {o.value for o in self.account_parties}:
            self.wo_party = "patient"

    @rx.event
    async def take_payment(self):
        try:
            actor = await current_actor(self, "payment.take")
            if not self._account_patient_id:
                raise InvalidInput("Find the patient's account first.")
            patient_id, mrn = self._account_patient_id, self.account_mrn
            amount, method, reference = self.pay_amount, self.pay_method, self.pay_reference

            def work(session):
                ledger.take_payment(
                    session, actor=actor, patient_id=patient_id, amount=amount, method=method, reference=reference,
                )
                return ledger.account(session, actor=actor, mrn=mrn)

            found = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self._show_account(found)
        self._done(f"Payment of ${self.pay_amount} by {self.pay_method} recorded for {found['name']}.")
        self.pay_amount, self.pay_reference = "", ""
        return await self._refresh_claims()

    @rx.event
    def set_typed(self, field: str, value: str):
        if field in _TYPED:
            setattr(self, field, str(value)[: _TYPED[field]])

    @rx.event
    def set_wo_party(self, value: str):
        self.wo_party = value if value in {o.value for o in self.account_parties} else "patient"

    @rx.event
    def set_rf_method(self, value: str):
        self.rf_method = value if value in ledger.PATIENT_METHODS else "cash"

    async def _account_action(self, work, done: str):
        """Run a ledger correction on the open account, then show the account as it now stands."""
        try:
            actor = await current_actor(self, "ledger.adjust")
            if not self._account_patient_id:
                raise InvalidInput("Find the patient's account first.")
            mrn = self.account_mrn

            def run(session):
                work(session, actor)
                return ledger.account(session, actor=actor, mrn=mrn)

            found = await in_db(run)
        except ClinicError as exc:
            return self._fail(exc)
        self._show_account(found)
        b = found["balances"]
        self._done(f"{done} Now the patient owes ${self.account_patient_owes}; insurance ${money(b['insurance'])}.")
        return await self._refresh_claims()

    @rx.event
    async def write_off(self):
        payer_id = None if self.wo_party == "patient" else as_id(self.wo_party)
        amount, reason = self.wo_amount, self.wo_reason
        result = await self._account_action(
            lambda session, actor: ledger.write_off(session, actor=actor, patient_id=self._account_patient_id, amount=amount,
                                                    reason=reason, payer_id=payer_id),
            f"Wrote off ${amount} ({reason.strip()}).",
        )
        if not self.message_is_error:
            self.wo_amount, self.wo_reason = "", ""
        return result

    @rx.event
    async def refund(self):
        amount, reason = self.rf_amount, self.rf_reason
        result = await self._account_action(
            lambda session, actor: ledger.refund(session, actor=actor, patient_id=self._account_patient_id, amount=amount,
                                                 method=self.rf_method, reference=self.rf_reference, reason=reason),
            f"Refund of ${amount} by {self.rf_method} recorded ({reason.strip()}).",
        )
        if not self.message_is_error:
            self.rf_amount, self.rf_reference, self.rf_reason = "", "", ""
        return result

    @rx.event
    def ask_reverse(self, entry_id: int):
        try:
            wanted = as_id(entry_id)
        except ClinicError as exc:
            return self._fail(exc)
        row = next((e for e in self.account_entries if e.id == wanted and e.reversible), None)
        if row is None:
            return self._fail(InvalidInput("That entry cannot be reversed; reload the account."))
        self.reverse_entry_id = row.id
        self.reverse_summary = f"Reverse entry {row.id}: {row.kind}, owed by {row.party}, {row.amount} ({row.detail or 'no detail'})"
        self.reverse_reason = ""
        self.message = ""
        return None

    @rx.event
    def cancel_reverse(self):
        self.reverse_entry_id, self.reverse_summary, self.reverse_reason = 0, "", ""

    @rx.event
    async def reverse(self):
        entry_id, reason = self.reverse_entry_id, self.reverse_reason
        if not entry_id:
            return self._fail(InvalidInput("Choose the entry to reverse first."))
        result = await self._account_action(
            lambda session, actor: ledger.reverse(session, actor=actor, entry_id=as_id(entry_id), reason=reason),
            f"Entry {entry_id} reversed by a new entry ({reason.strip()}); the original stays on the ledger.",
        )
        if not self.message_is_error:
            self.cancel_reverse()
        return result

    @rx.event
    async def bill_secondary(self, claim_id: int):
        try:
            actor = await current_actor(self, "billing.claims")
            wanted = as_id(claim_id)

            def work(session):
                claim = cob.create_secondary_claim(session, actor=actor, claim_id=wanted)
                return claim, session.get(Payer, claim.payer_id), cob.owed_by_payer(session, claim=claim)

            claim, payer, owed = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self._done(f"Secondary claim {claim.number} to {payer.name} for ${money(owed)} created; it goes out with the next export.")
        return await self._refresh_claims()

    @rx.event
    async def download_statement(self):
        try:
            actor = await current_actor(self, "payment.take")
            if not self._account_patient_id:
                raise InvalidInput("Find the patient's account first.")
            patient_id, location_id = self._account_patient_id, as_id(self.location_id)
            data = await in_db(lambda s: statements.statement_pdf(
                s, actor=actor, patient_id=patient_id, as_of=utcnow().date(), location_id=location_id,
            ))
        except ClinicError as exc:
            return self._fail(exc)
        return rx.download(data=data, filename=f"statement-{self.account_mrn.strip().upper()}.pdf", mime_type="application/pdf")

    def _done(self, text: str) -> None:
        self.message = text
        self.message_is_error = False
        self.problems = []

    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True
        self.problems = []


@dataclasses.dataclass
class BilledRow:
    id: int
    patient_name: str
    mrn: str
    service_date: str
    billed: str
    coverage: str
    reopen_label: str


class ReopenSection(Section, BillingQueueState):
    """Visits billed to the patient (on no claim): one billed by mistake is reopened, with a reason."""

    billed: list[BilledRow] = []
    reopen_id: int = 0
    reopen_title: str = ""
    reopen_words: str = ""
    reopen_reason: str = ""
    reopen_problem: str = ""

    async def _reload(self) -> None:
        try:
            actor = await current_actor(self, "billing.view")
            location_id = as_id(self.location_id)
            rows = await in_db(lambda s: billing.billed_to_patients(s, actor=actor, location_id=location_id))
        except ClinicError as exc:
            self._fail(exc)
            return
        self.billed = [
            BilledRow(**r, reopen_label=f"Reopen for billing: {r['patient_name']}, {r['service_date']}") for r in rows
        ]

    @rx.event
    def ask_reopen(self, appointment_id: int):
        try:
            wanted = as_id(appointment_id)
        except ClinicError as exc:
            return self._fail(exc)
        row = next((r for r in self.billed if r.id == wanted), None)
        if row is None:
            return self._fail(InvalidInput("That visit is no longer billed to the patient; reload the page."))
        self.reopen_id = row.id
        self.reopen_title = f"Reopen {row.patient_name}'s visit of {row.service_date} for billing?"
        self.reopen_words = (
            f"The ${row.billed} charged to the patient is reversed on the ledger (both entries stay) and the visit "
            "goes back to the billing queue, priced again from the coverage that applies"
            + (f" ({row.coverage}), ready to be claimed." if row.coverage else ".")
        )
        self.reopen_reason, self.reopen_problem = "", ""
        return None

    @rx.event
    def close_reopen(self):
        # The title stays: the dialog keeps its name while it closes (ask_reopen sets all of it afresh).
        self.reopen_id, self.reopen_reason, self.reopen_problem = 0, "", ""

    @rx.event
    def reopen_open_change(self, is_open: bool):
        if not is_open:
            self.close_reopen()

    @rx.event
    def set_reopen_reason(self, value: str):
        self.reopen_reason = str(value)[: billing.MAX_REASON]

    @rx.event
    async def confirm_reopen(self):
        wanted, reason = self.reopen_id, self.reopen_reason
        if not wanted:
            return self._fail(InvalidInput("Choose the visit to reopen first."))
        try:
            actor = await current_actor(self, "billing.mark_billed")

            def work(session):
                done = billing.reopen_for_billing(session, actor=actor, appointment_id=wanted, reason=reason)
                return done, billing.queue_row(session, appointment_id=wanted)

            done, row = await in_db(work)
        except ClinicError as exc:
            self.reopen_problem = str(exc)  # beside the reason, in the dialog
            return None
        self.close_reopen()
        queue = await self.get_state(BillingQueueState)
        queue.apply_row(row)
        self._ok(
            f"{row['patient_name']}, {row['service_date']}: ${money(done.reversed_cents)} charged to the patient reversed; "
            f"the visit is back in the billing queue. {done.repriced}".strip()
        )
        await self._reload()
        return None


FILES_UPLOAD = "billing-files"


@dataclasses.dataclass
class FileResult:
    name: str
    words: str
    ok: bool


class FilesSection(Section, BillingQueueState):
    """Files from the payer or the clearinghouse (835, 999, 277CA, 271), read from the page:
    each file all or nothing, the answer in words."""

    results: list[FileResult] = []
    reading: bool = False  # the button shows a spinner and takes no second press meanwhile

    @rx.event
    async def read_files(self, files: list[rx.UploadFile]):
        if not files:
            self._fail(InvalidInput("Choose the 835, 999, 277CA or 271 file first."))
            yield rx.clear_selected_files(FILES_UPLOAD)
            return
        try:
            actor = await current_actor(self, "billing.remittance")
            location_id = as_id(self.location_id)
        except ClinicError as exc:
            self._fail(exc)
            yield rx.clear_selected_files(FILES_UPLOAD)
            return
        self.reading = True
        yield
        try:
            self.results = [await self._read(upload, actor, location_id) for upload in files[:10]]
        finally:
            self.reading = False
        refused = sum(not r.ok for r in self.results)
        if refused:
            self._fail(f"{refused} of {len(self.results)} files refused; nothing of a refused file was changed.")
        else:
            self._ok(f"{len(self.results)} file{'s' if len(self.results) != 1 else ''} read.")
        queue = await self.get_state(BillingQueueState)
        await queue._refresh_claims()  # payments, the denial worklist and the reports
        yield rx.clear_selected_files(FILES_UPLOAD)

    @staticmethod
    async def _read(upload: rx.UploadFile, actor, location_id: int) -> FileResult:
        name = (upload.name or "file")[:80]
        data = await upload.read(billing_files.era.MAX_BYTES + 1)

        def run():
            # One transaction per file, as the command line reads it: a refused file changes nothing.
            with one_transaction() as session:
                tz = session.get(Location, location_id).timezone
                return billing_files.read_file(session, actor=actor, data=data, name=name, tz=tz)

        try:
            read = await asyncio.to_thread(run)
        except ClinicError as exc:
            return FileResult(name=name, words=str(exc), ok=False)
        return FileResult(name=name, words=read.words, ok=True)


class BatchSection(Section, BillingQueueState):
    """Claim batches: create one from the claims waiting, download it (again), mark it sent."""

    async def _after(self) -> None:
        queue = await self.get_state(BillingQueueState)
        await queue._refresh_claims()

    writing: bool = False  # the button shows a spinner and takes no second press meanwhile

    @rx.event
    async def create_batch(self):
        self.writing = True
        yield
        try:
            batch = await self._act("billing.claims", lambda s, a: batches.create_batch(s, actor=a))
        finally:
            self.writing = False
        if not batch:
            return
        self._ok(
            f"Batch {batch.id} written: {batch.claim_count} claims, ${money(batch.total_cents)}, in "
            f"{len(batch.file_names.split(','))} 837P file(s) ({batch.payer_names}). Download it and send it to the "
            "clearinghouse, then mark it sent; its claims stay Draft until then."
        )
        await self._after()

    @rx.event
    async def download_batch(self, batch_id: int):
        try:
            wanted = as_id(batch_id)
        except ClinicError as exc:
            return self._fail(exc)
        found = await self._act("billing.claims", lambda s, a: batches.download(s, actor=a, batch_id=wanted))
        if not found:
            return None
        name, data = found
        self._ok(f"{name} downloaded.")
        return rx.download(data=data, filename=name, mime_type="application/zip")

    async def _sent(self, work, batch_id) -> None:
        try:
            wanted = as_id(batch_id)
        except ClinicError as exc:
            self._fail(exc)
            return
        done = await self._act("billing.claims", lambda s, a: work(s, a, wanted))
        if not done:
            return
        words = f"Batch {wanted} {done['batch'].sent_how}: {done['submitted']} claims are now Submitted."
        if done["unchanged"]:
            words += " Unchanged: " + "; ".join(done["unchanged"][:5]) + "."
        self._ok(words)
        await self._after()

    @rx.event
    async def mark_batch_sent(self, batch_id: int):
        await self._sent(lambda s, a, wanted: batches.mark_sent(s, actor=a, batch_id=wanted), batch_id)

    @rx.event
    async def send_batch_to_outbox(self, batch_id: int):
        outbox = settings.claims_outbox()
        if outbox is None:
            self._fail(InvalidInput("No clearinghouse outbox folder is set up (CLINIC_CLAIMS_OUTBOX); download the batch instead."))
            return
        await self._sent(lambda s, a, wanted: batches.send_to_outbox(s, actor=a, batch_id=wanted, outbox=outbox), batch_id)


class ReportsSection(Section, BillingQueueState):
    """The reports over a range the biller picks (denials by reason, payments by period), with CSV."""

    report_from: str = ""
    report_to: str = ""
    report_grain: str = "month"
    from_problem: str = ""
    to_problem: str = ""
    range_active: bool = False
    range_words: str = ""
    range_reasons: list[ReasonRow] = []
    range_periods: list[PeriodRow] = []

    @rx.event
    def set_report_from(self, value: str):
        self.report_from = str(value)[:10]

    @rx.event
    def set_report_to(self, value: str):
        self.report_to = str(value)[:10]

    @rx.event
    def set_report_grain(self, value: str):
        self.report_grain = value if value in billing_reports.GRAINS else "month"

    async def _chosen(self) -> tuple[billing_reports.ReportRange, dict] | None:
        """The range's reports, or None with every problem shown beside its field."""
        self.from_problem, self.to_problem = "", ""
        try:
            chosen = billing_reports.parse_range(self.report_from, self.report_to, self.report_grain)
        except billing_reports.RangeProblems as exc:
            self.from_problem, self.to_problem = exc.problems.get("from", ""), exc.problems.get("to", "")
            self._fail("Check the dates of the report range.")
            return None
        location_id = as_id(self.location_id)

        def work(session, actor):
            tz = session.get(Location, location_id).timezone
            return billing_reports.range_reports(session, actor=actor, chosen=chosen, tz=tz)

        found = await self._act("billing.reports", work)
        if not found:
            return None
        return chosen, found

    @rx.event
    async def show_range(self):
        result = await self._chosen()
        if result is None:
            return
        chosen, found = result
        self.range_words = chosen.words
        self.range_reasons = [
            ReasonRow(reason=r["reason"], words=r["words"], claims=r["claims"], share=_percent(r["share_of_denials"]))
            for r in found["denials"]["by_reason"]
        ]
        self.range_periods = [
            PeriodRow(period=r["period"], insurance=money(r["insurance"]), patient=money(r["patient"]), total=money(r["total"]))
            for r in found["payments"]
        ]
        self.range_active = True
        self._ok(f"Reports for {chosen.words} (days in the location's time zone), payments by {chosen.grain}.")

    @rx.event
    def reset_range(self):
        self.range_active, self.range_words, self.range_reasons, self.range_periods = False, "", [], []
        self.from_problem, self.to_problem = "", ""
        self._clear()

    async def _range_csv(self, build, name: str):
        result = await self._chosen()
        if result is None:
            return None
        chosen, found = result
        self._clear()
        return rx.download(data=build(found), filename=f"{name}-{chosen.start}-to-{chosen.end}.csv", mime_type="text/csv")

    @rx.event
    async def download_range_denials(self):
        return await self._range_csv(lambda f: billing_reports.denials_csv(f["denials"]["by_reason"]), "denials-by-reason")

    @rx.event
    async def download_range_payments(self):
        return await self._range_csv(lambda f: revenue_reports.payments_csv(f["payments"]), "payments")


def _queue_row(event: AppointmentChanged) -> dict | None:
    with session_scope() as session:
        return billing.queue_row(session, appointment_id=event.appointment_id)


# Builds the claim sections once per change for every biller's screen; only screens that
# passed the billing.view check register for them (BillingQueueState._refresh).
_PUSH_READER = Actor(user_id=0, role="biller", name="live push")


def _claim_sections(_event: ClaimsChanged) -> dict:
    with session_scope() as session:
        return claim_sections(session, actor=_PUSH_READER)


register(Surface("billing", lambda e: billing_topic(e.location_id), _queue_row, BillingQueueState, "apply_row"))
register(Surface("billing_claims", lambda e: CLAIMS_TOPIC, _claim_sections, BillingQueueState, "apply_claims",
                 event_type=ClaimsChanged))
