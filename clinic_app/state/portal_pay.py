"""The portal's Pay page (/portal/pay): the signed-in patient's balance and account entries,
their statement as PDF, and paying an amount through the configured gateway.

The amount is checked by the service (services/portal/payments.py: whole cents, more than 0,
at most what is owed unless prepaying is allowed); the gateway takes the card. The local
gateway: its own page /pay/local/<id>, which settles, e-mails the receipt and links back here.
Stripe: the server creates the PaymentIntent and this page gets its client secret and the
publishable key; /clinic-stripe.js loads Stripe.js, mounts the Payment Element and confirms it,
and Stripe sends the patient back here with ``payment_intent`` and ``redirect_status``. The
signed webhook posts the payment; this page only reads what the ledger has ("Payment received"
or "Processing"). One idempotency key per form shown: a double click starts one payment.

Live: the page registers for ``page_topic(patient_id)``; when one of the patient's payments is
settled (``PaymentsChanged``, sent on commit), the balance, the payments and a result still
"Processing" change here without a reload.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse

import reflex as rx
from sqlmodel import Session

from clinic_app import settings
from clinic_app.api.portal import PORTAL_SIGN_IN
from clinic_app.db import session_scope, utcnow
from clinic_app.live import registry
from clinic_app.live.events import PaymentsChanged, portal_topic
from clinic_app.live.surfaces import Surface, register
from clinic_app.live.tabs import tabs
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.platform.money import dollars
from clinic_app.services.portal import inbox, payments
from clinic_app.services.portal.accounts import Me
from clinic_app.state.common import in_db
from clinic_app.state.portal import PortalScreen
from clinic_app.state.reflex_adapter import client_token, socket_id

SURFACE = "portal_pay"

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
    # Stripe's Payment Element (mounted by /clinic-stripe.js once card_secret is set): the intent's
    # client secret is the patient's own payment's, made to be handed to the browser.
    card_secret: str = ""
    card_key: str = ""
    card_js: str = ""
    card_label: str = ""
    # Coming back from Stripe: the payment's result in words (status: received / processing / declined).
    result_status: str = ""
    result_text: str = ""
    _result_id: str = ""
    _redirect_status: str = ""  # what Stripe said on the way back: succeeded, processing or failed
    _patient_id: int = 0

    def _signed_out(self) -> None:
        registry.show(client_token(self), SURFACE, [])  # no more pushes of this patient's payments
        self.reset()

    async def _account(self, me: Me) -> None:
        self._show(await in_db(lambda s: account_view(s, patient_id=me.acting_for)))

    def _show(self, view: dict) -> None:
        account = view["account"]
        self.balance, self.owes = account["balance"], account["balance_cents"] > 0
        self.insurance = dollars(account["insurance_cents"]) if account["insurance_cents"] else ""
        self.entries = [EntryRow(date=e["date"], kind=e["kind"], party=e["party"], amount=e["amount"])
                        for e in account["entries"][:30]]
        self.payments_made = [
            PaymentRow(id=p["id"], when=p["when"], amount=dollars(p["amount_cents"]),
                       status=STATUS_WORDS.get(p["status"], p["status"]),
                       detail=(f"Receipt P{p['id']}" if p["status"] == "succeeded" else p["decline_reason"]
                               if p["status"] == "declined" else "The card page was left before paying; nothing was charged."))
            for p in view["payments"]
        ]
        shown = next((p for p in view["payments"] if self._result_id and p["gateway_payment_id"] == self._result_id), None)
        if shown is not None:
            self._say_result(shown)

    @rx.event
    async def load(self):
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        self.name = me.name
        self.message, self.message_is_error, self.paying = "", False, False
        self.card_secret = self.card_key = self.card_js = self.card_label = ""
        self._key = payments.new_idempotency_key()
        params = self.router.url.query_parameters
        self._result_id, self._patient_id = str(params.get("payment_intent", ""))[:100], me.acting_for
        self._redirect_status = str(params.get("redirect_status", ""))[:20]
        await self._result(me)
        await self._account(me)
        tabs().hold(client_token(self), socket_id(self))
        registry.show(client_token(self), SURFACE, [page_topic(me.acting_for)])
        # A new form each time: what is owed now (after a payment, the new balance).
        self.amount_text = self.balance.lstrip("$").replace(",", "") if self.owes else ""
        return None

    @rx.event
    def set_amount(self, text: str):
        text = str(text)[:20]
        if text != self.amount_text:  # the card form open is for the old amount: "Continue" makes a new one
            self.card_secret = self.card_key = self.card_js = self.card_label = ""
        self.amount_text = text

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
        if checkout.gateway == "stripe":
            self.paying = False
            if not checkout.publishable_key:
                self._fail("Paying by card online is not set up yet; please call the clinic to pay.")
                return None
            self._key = ""  # this form is used: the element confirms this payment
            self.card_secret, self.card_key = checkout.client_secret, checkout.publishable_key
            self.card_js, self.card_label = settings.stripe_js_url(), f"Pay {dollars(cents)}"
            self.result_status = self.result_text = ""
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

    async def _result(self, me: Me) -> None:
        """The payment Stripe sent the patient back with, as the ledger has it now."""
        self.result_status = self.result_text = ""
        if not self._result_id:
            return
        payment_id = self._result_id
        try:
            row = await in_db(lambda s: payments.payment_for(s, patient_id=me.acting_for, payment_id=payment_id))
        except ClinicError as exc:
            self._result_id = ""
            self._fail(exc)
            return
        self._say_result({"id": row.id, "amount_cents": row.amount_cents, "status": row.status,
                          "decline_reason": row.decline_reason})

    def _say_result(self, payment: dict) -> None:
        amount = dollars(payment["amount_cents"])
        went_through = self._redirect_status in ("succeeded", "processing")  # a card declined first, then another
        if payment["status"] == "succeeded":
            self.result_status = "received"
            self.result_text = f"Payment received: {amount}. Thank you; a receipt is on its way by e-mail (P{payment['id']})."
        elif (payment["status"] == "declined" and not went_through) or self._redirect_status == "failed":
            self.result_status = "declined"
            reason = (payment["decline_reason"] or "the card was declined").rstrip(".")
            self.result_text = f"Your payment of {amount} did not go through: {reason}. Nothing was charged."
        else:
            self.result_status = "processing"
            self.result_text = (f"Processing: the card service is confirming your payment of {amount}. "
                                "This page shows it as received as soon as the clinic has it.")

    @rx.event
    async def check_again(self):
        """The patient asks whether a payment still processing has reached the clinic."""
        me = await self._me()
        if me is None:
            return rx.redirect(PORTAL_SIGN_IN)
        await self._result(me)
        await self._account(me)
        return None

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

    # -- the live push --------------------------------------------------------------------------
    def apply_change(self, change: dict | None) -> None:
        """One of this patient's payments was settled: the balance, the payments, the result."""
        if not change or change["patient_id"] != self._patient_id:
            return
        self._show(change)


def account_view(session: Session, *, patient_id: int) -> dict:
    """What the page shows of the patient's account and latest online payments (its load and
    the live push build it alike)."""
    tz = inbox.zone(session, Me(account_id=0, patient_id=patient_id))
    return {
        "patient_id": patient_id,
        "account": payments.account(session, patient_id=patient_id),
        "payments": [{"id": p.id, "gateway_payment_id": p.gateway_payment_id, "when": inbox.when(p.created_at, tz),
                      "amount_cents": p.amount_cents, "status": p.status, "decline_reason": p.decline_reason}
                     for p in payments.recent(session, patient_id=patient_id)],
    }


def page_topic(patient_id: int) -> str:
    """This page's topic for the patient (its own prefix on ``portal_topic``, as the Messages page's)."""
    return f"{SURFACE}:{portal_topic(patient_id)}"


def pay_topics(event: PaymentsChanged) -> list[str]:
    return [page_topic(event.patient_id)]


def payments_change(event: PaymentsChanged) -> dict:
    """The patient's account after the change (built once per change, on a thread)."""
    with session_scope() as session:
        return account_view(session, patient_id=event.patient_id)


register(Surface(SURFACE, pay_topics, payments_change, PortalPayState, "apply_change", event_type=PaymentsChanged))
