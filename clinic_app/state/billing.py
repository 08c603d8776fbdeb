"""The biller's day: visits ready to bill (live), claims to send, denials, AR aging."""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx

from clinic_app.db import utcnow
from clinic_app.live import registry
from clinic_app.live.events import CLAIMS_TOPIC, billing_topic
from clinic_app.models import Patient, Payer
from clinic_app.services import billing, board, claim_form, claims, cob, era, ledger, revenue_reports, statements
from clinic_app.services.errors import ClinicError, InvalidInput, NotFound
from clinic_app.services.patients import account_search, mrn_words
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import Option, in_db, money
from clinic_app.state.live_push import client_token


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
_TYPED = {"wo_amount": 12, "wo_reason": 120, "rf_amount": 12, "rf_reference": 40, "rf_reason": 120, "reverse_reason": 120}


def _row(row: dict) -> QueueRow:
    return QueueRow(
        id=row["id"], patient_name=row["patient_name"], mrn=row["mrn"], provider_name=row["provider_name"],
        service_date=row["service_date"], time_label=row["time_label"], status_label=row["status_label"],
        total=row["total"], charges=[ChargeLine(**c) for c in row["charges"]],
        bill_label=f"Mark billed: {row['patient_name']}, {row['service_date']}",
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
    denials: list[DenialRow] = []
    recent_claims: list[ClaimRow] = []
    aging: list[AgingRow] = []
    aging_patients: list[AgingRow] = []
    denial_reasons: list[ReasonRow] = []
    payment_periods: list[PeriodRow] = []
    rates_line: str = ""
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
        self.ready_to_send = counts.get("draft", 0)
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
    async def mark_billed(self, appointment_id: int):
        try:
            actor = await current_actor(self, "billing.mark_billed")
            wanted = as_id(appointment_id)

            def work(session):
                appointment = billing.mark_billed(session, actor=actor, appointment_id=wanted)
                return billing.queue_row(session, appointment_id=appointment.id)

            row = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self.apply_row(row)
        self._done("Marked billed.")
        return None

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
    async def send_claims(self):
        try:
            actor = await current_actor(self, "billing.claims")
            files = await in_db(lambda s: claims.export_files(s, actor=actor))
        except ClinicError as exc:
            return self._fail(exc)
        if not files:
            self._done("No claims are ready to send.")
            return None
        self._done(f"{len(files)} 837P file(s) downloaded; their claims are submitted.")
        await self._refresh_claims()
        return [rx.download(data=text, filename=name) for name, text in files]

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
