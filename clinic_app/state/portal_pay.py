"""The portal's Pay page (/portal/pay): the signed-in patient's balance and account entries,
their statement as PDF, and paying an amount through the configured gateway.

The amount is checked by the service (services/portal/payments.py: whole cents, more than 0,
at most what is owed unless prepaying is allowed); the gateway's card page takes the card (the
local gateway's /pay/local/<id>, which settles, e-mails the receipt and links back here). One
idempotency key per form shown: a double click starts one payment.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse

import reflex as rx
from sqlmodel import Session

from clinic_app.api.portal import PORTAL_SIGN_IN
from clinic_app.db import utcnow
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.platform.money import dollars
from clinic_app.services.portal import inbox, payments
from clinic_app.services.portal.accounts import Me
from clinic_app.state.common import in_db
from clinic_app.state.portal import PortalScreen

STATUS_WORDS = {"pending": "Not finished", "succeeded": "Paid", "declined": "Declined"}


@dataclasses.dataclass
class EntryRow:
    date: str
    kind: str
    party: str
    amount: str


@dataclasses.dataclass
class PaymentRow:
    id: int
    when: str
    amount: str
    status: str
    detail: str


class PortalPayState(PortalScreen, rx.State):
    """The signed-in patient's account and online payments."""

    name: str = ""
    balance: str = ""
    owes: bool = False
    insurance: str = ""
    entries: list[EntryRow] = []
    payments_made: list[PaymentRow] = []
    amount_text: str = ""
    paying: bool = False
    _key: str = ""


    async def _account(self, me: Me) -> None:
        def work(s: Session):
            tz = inbox.zone(s, me)
            return payments.account(s, patient_id=me.acting_for), payments.recent(s, patient_id=me.acting_for), tz

        account, recent, tz = await in_db(work)
        self.balance, self.owes = account["balance"], account["balance_cents"] > 0
        self.insurance = dollars(account["insurance_cents"]) if account["insurance_cents"] else ""
        self.entries = [EntryRow(date=e["date"], kind=e["kind"], party=e["party"], amount=e["amount"])
                        for e in account["entries"][:30]]
        self.payments_made = [
            PaymentRow(id=p.id, when=inbox.when(p.created_at, tz), amount=dollars(p.amount_cents),
                       status=STATUS_WORDS.get(p.status, p.status),
                       detail=(f"Receipt P{p.id}" if p.status == "succeeded" else p.decline_reason if p.status == "declined"
                               else "The card page was left before paying; nothing was charged."))
            for p in recent
        ]

    @rx.event
    async def load(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.name = me.name
        self.message, self.message_is_error, self.paying = "", False, False
        self._key = payments.new_idempotency_key()
        await self._account(me)
        # A new form each time: what is owed now (after a payment, the new balance).
        self.amount_text = self.balance.lstrip("$").replace(",", "") if self.owes else ""
        return None

    @rx.event
    def set_amount(self, text: str):
        self.amount_text = str(text)[:20]

    @rx.event
    async def pay(self, form: dict | None = None):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        text = str((form or {}).get("amount", self.amount_text))[:20]
        self.amount_text = text
        if self.paying:
            return None
        key = self._key or payments.new_idempotency_key()
        self._key = key
        self.paying = True
        try:
            cents = payments.cents_from_text(text)
            gateway = payments.gateway_from_settings()
            _row, checkout = await in_db(lambda s: payments.start_payment(
                s, gateway=gateway, patient_id=me.acting_for, amount_cents=cents, idempotency_key=key))
        except ClinicError as exc:
            self.paying = False
            self._fail(exc)
            return None
        if not checkout.redirect_url:
            self.paying = False
            self._fail("Paying by card here needs the clinic's card page; please call the clinic to pay.")
            return None
        self._key = ""  # this form is used; coming back shows a new one
        # A full page load: the card page is the server's, not one of this app's pages (a
        # same-host rx.redirect would stay in the app's own router and find no such page).
        url = f"{checkout.redirect_url}?secret={urllib.parse.quote(checkout.client_secret, safe='')}"
        return rx.call_script(f"window.location.assign({json.dumps(url)})")

    @rx.event
    async def download_statement(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        today = utcnow().date()
        try:
            pdf = await in_db(lambda s: payments.statement(s, patient_id=me.acting_for, as_of=today))
        except ClinicError as exc:
            self._fail(exc)
            return None
        return rx.download(data=pdf, filename=f"statement-{today.isoformat()}.pdf")
