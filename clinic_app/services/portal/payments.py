"""Paying online from the patient portal, through a payment gateway.

Card data never reaches this application: the page hands the card to the gateway (Stripe's own
card element, or the local gateway's test page), and the server only

1. ``start_payment``: checks the amount (whole cents, more than 0, at most what the patient
   owes unless the clinic allows prepaying), asks the gateway to create a payment for it and
   keeps a pending ``online_payment`` row. The portal makes one idempotency key per payment
   form: a double click or a retried request finds the same row and the same gateway payment.
2. ``settle`` (from ``confirm_payment``, which asks the gateway, or from a signed webhook):
   a succeeded payment is posted to the patient's ledger once (the row is locked; the gateway's
   payment id and the ledger link are unique in the database), a declined one posts nothing.
3. ``send_receipt``: the receipt by e-mail, through the same SMTP sender as reminders, once.

Services here never commit: the caller's ``in_db`` / ``session_scope`` does. The portal passes
the signed-in patient's id; nothing here trusts an id from the page beyond that.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.live import publish_on_commit
from clinic_app.live.events import PaymentsChanged
from clinic_app.models import Appointment, LedgerEntry, OnlinePayment, Patient
from clinic_app.services.platform import audit
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotFound
from clinic_app.services.platform.money import dollars
from clinic_app.services.revenue import ledger, statements
from clinic_app.services.revenue.payers import parse_money

if TYPE_CHECKING:
    import datetime as dt

    from clinic_app.services.frontdesk.reminders import EmailSender

# At most this much in one online payment (a typo guard even when prepaying is allowed).
MAX_ONLINE_CENTS = 1_000_000
# The local gateway's test cards (Stripe's own test numbers, so the demo reads the same).
APPROVE_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"
_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


class GatewayUnavailable(ClinicError):
    """The payment gateway did not answer or refused the request; nothing was charged."""


@dataclass(frozen=True)
class Checkout:
    """What the page needs to collect the card: the gateway's payment id and its client secret
    (Stripe's element confirms with it, with the publishable key), or the local gateway's page
    to send the patient to."""

    gateway: str
    payment_id: str
    client_secret: str
    redirect_url: str = ""
    publishable_key: str = ""


@dataclass(frozen=True)
class GatewayResult:
    """What the gateway says became of a payment: pending, succeeded or declined."""

    gateway: str
    payment_id: str
    status: str
    amount_cents: int
    currency: str
    message: str = ""


class PaymentGateway(Protocol):
    """A card payment service. It holds the card; we hold its payment id and the result."""

    name: str

    def create_payment(self, *, amount_cents: int, currency: str, patient_reference: str,
                       idempotency_key: str) -> Checkout:
        """Create (or, for the same idempotency key, find again) a payment for the amount."""
        ...

    def confirm(self, payment_id: str, token: str = "") -> GatewayResult:
        """What became of the payment (``token``: the result the gateway handed back, if any)."""
        ...


# -- the local gateway (tests and demos) ---------------------------------------------------
class LocalGateway:
    """A working gateway with no outside service, for tests and demos.

    Stateless: the payment id and client secret are signed (HMAC) with a key derived from the
    clinic's audit key (``key`` for tests), so every worker agrees. Its page (api/portal_pay.py,
    ``/pay/local/<id>``) takes a test card number and calls ``authorize``, which returns a
    signed result token; ``confirm`` checks the token. 4242 4242 4242 4242 approves,
    4000 0000 0000 0002 declines; ``authorize(..., outcome=...)`` does the same without a card.
    The card number is only compared with those two, never kept or logged.
    """

    name = "local"

    def __init__(self, key: bytes | None = None, page: str = "/pay/local") -> None:
        self._key = key or hmac.new(audit.audit_key(), b"local-payment-gateway", hashlib.sha256).digest()
        self.page = page

    def _sign(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]

    def create_payment(self, *, amount_cents: int, currency: str, patient_reference: str,
                       idempotency_key: str) -> Checkout:
        payment_id = "loc_" + self._sign("id", idempotency_key)[:24]
        secret = f"{payment_id}:{amount_cents}:{currency}:{self._sign('secret', payment_id, str(amount_cents), currency)}"
        return Checkout(self.name, payment_id, secret, f"{self.page}/{payment_id}")

    def parse_secret(self, client_secret: str) -> tuple[str, int, str]:
        """The payment id, amount and currency a client secret stands for (refused if forged)."""
        parts = (client_secret or "").split(":")
        if len(parts) == 4 and parts[1].isdigit():
            payment_id, amount, currency, sig = parts
            if hmac.compare_digest(sig, self._sign("secret", payment_id, amount, currency)):
                return payment_id, int(amount), currency
        raise InvalidInput("This payment link is not valid; start the payment again from the portal.")

    def authorize(self, client_secret: str, *, card_number: str = "", outcome: str = "") -> str:
        """Simulate the card network: a signed result token for the payment."""
        payment_id, amount, currency = self.parse_secret(client_secret)
        digits = re.sub(r"[\s-]", "", card_number or "")
        if outcome not in ("", "succeeded", "declined"):
            raise InvalidInput("The outcome is succeeded or declined.")
        if not outcome:
            if digits == APPROVE_CARD:
                outcome = "succeeded"
            elif digits == DECLINE_CARD:
                outcome = "declined"
            else:
                raise InvalidInput("This is the test gateway: use 4242 4242 4242 4242 (approved) or "
                                   "4000 0000 0000 0002 (declined).")
        body = f"{payment_id}.{amount}.{currency}.{outcome}"
        return f"{body}.{self._sign('result', body)}"

    def confirm(self, payment_id: str, token: str = "") -> GatewayResult:
        if not token:
            return GatewayResult(self.name, payment_id, "pending", 0, "")
        parts = token.split(".")
        if len(parts) == 5 and parts[0] == payment_id and parts[1].isdigit():
            body = ".".join(parts[:4])
            if hmac.compare_digest(parts[4], self._sign("result", body)):
                message = "Your card was declined." if parts[3] == "declined" else ""
                return GatewayResult(self.name, payment_id, parts[3], int(parts[1]), parts[2], message)
        raise InvalidInput("The payment's result could not be verified; nothing was posted.")


# -- Stripe ----------------------------------------------------------------------------------
def _field(obj: Any, name: str) -> Any:
    try:
        return obj[name]
    except (KeyError, TypeError):
        return None


class StripeGateway:
    """Stripe Payment Intents (the ``stripe`` package). The server creates the intent and
    returns its client_secret; Stripe's card element on the page confirms it with the card;
    Stripe then calls the webhook (``payment_intent.succeeded``), whose signature is checked
    with the webhook secret. ``api_base`` points the client at another address (tests)."""

    name = "stripe"

    def __init__(self, *, secret_key: str, webhook_secret: str = "", api_base: str = "",
                 publishable_key: str = "") -> None:
        import stripe

        if not secret_key:
            raise GatewayUnavailable("Stripe is not configured: set STRIPE_SECRET_KEY.")
        self._stripe = stripe
        self._client = stripe.StripeClient(secret_key, base_addresses={"api": api_base} if api_base else None,
                                           max_network_retries=1)
        self.webhook_secret = webhook_secret
        self.publishable_key = publishable_key

    def create_payment(self, *, amount_cents: int, currency: str, patient_reference: str,
                       idempotency_key: str) -> Checkout:
        try:
            intent = self._client.v1.payment_intents.create(
                params={"amount": amount_cents, "currency": currency,
                        "metadata": {"patient_reference": patient_reference},
                        "automatic_payment_methods": {"enabled": True}},
                options={"idempotency_key": idempotency_key},
            )
        except self._stripe.StripeError as exc:
            raise GatewayUnavailable("The card service did not take the payment; nothing was charged. "
                                     "Try again in a minute.") from exc
        return Checkout(self.name, intent.id, intent.client_secret or "", publishable_key=self.publishable_key)

    def confirm(self, payment_id: str, token: str = "") -> GatewayResult:
        try:
            intent = self._client.v1.payment_intents.retrieve(payment_id)
        except self._stripe.StripeError as exc:
            raise GatewayUnavailable("The card service did not answer; try again in a minute.") from exc
        return self.result(intent)

    def result(self, intent: Any) -> GatewayResult:
        """A PaymentIntent (from the API or a webhook event) as a result."""
        status, message = _field(intent, "status"), ""
        error = _field(intent, "last_payment_error")
        if status == "succeeded":
            outcome = "succeeded"
        elif status == "canceled":
            outcome, message = "declined", "The payment was cancelled."
        elif status == "requires_payment_method" and error:
            outcome, message = "declined", str(_field(error, "message") or "Your card was declined.")
        else:
            outcome = "pending"
        return GatewayResult(self.name, str(_field(intent, "id")), outcome, int(_field(intent, "amount") or 0),
                             str(_field(intent, "currency") or ""), message[:200])

    def webhook(self, payload: bytes, signature: str) -> GatewayResult | None:
        """The payment result a webhook call carries, after its Stripe-Signature header is checked
        (InvalidInput if it does not match); None for events that change no payment."""
        if not self.webhook_secret:
            raise InvalidInput("The Stripe webhook secret is not set (STRIPE_WEBHOOK_SECRET); nothing was posted.")
        try:
            event = self._stripe.Webhook.construct_event(payload, signature, self.webhook_secret)
        except (ValueError, self._stripe.SignatureVerificationError) as exc:
            raise InvalidInput("The webhook's signature does not match; nothing was posted.") from exc
        if event["type"] in ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"):
            result = self.result(event["data"]["object"])
            if event["type"] != "payment_intent.succeeded" and result.status == "pending":
                result = GatewayResult(result.gateway, result.payment_id, "declined", result.amount_cents,
                                       result.currency, "Your card was declined.")
            return result
        return None


def gateway_from_settings() -> PaymentGateway:
    """The gateway ``CLINIC_PAYMENT_GATEWAY`` names, with its keys from the environment."""
    if settings.payment_gateway() == "stripe":
        keys = settings.stripe_keys()
        return StripeGateway(secret_key=keys["secret_key"], webhook_secret=keys["webhook_secret"],
                             api_base=keys["api_base"], publishable_key=keys["publishable_key"])
    return LocalGateway()


# -- the patient's account -------------------------------------------------------------------
def _patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient no longer exists.")
    return patient


def account(session: Session, *, patient_id: int) -> dict:
    """The patient's own view of their account: what they owe, what insurance still owes, and
    their entries (newest first) in words, for the portal's Pay page."""
    _patient(session, patient_id)
    totals = ledger.balances(session, patient_id=patient_id)
    rows = ledger.entries(session, patient_id=patient_id)
    return {
        "balance_cents": totals["patient"],
        "insurance_cents": totals["insurance"],
        "balance": dollars(totals["patient"]),
        "entries": [
            {"date": e.created_at.date().isoformat(), "kind": ledger.KIND_LABELS[e.kind],
             "party": "insurance" if e.payer_id else "you", "amount": dollars(e.amount_cents),
             "amount_cents": e.amount_cents}
            for e in reversed(rows)
        ],
    }


def statement(session: Session, *, patient_id: int, as_of: dt.date) -> bytes:
    """The patient's own statement as PDF (the portal's download): the one the desk prints,
    headed by the location of their latest visit; audited as the portal's."""
    for_write(session)
    patient = _patient(session, patient_id)
    location_id = session.exec(select(Appointment.location_id).where(Appointment.patient_id == patient_id)
                               .order_by(Appointment.starts_at.desc()).limit(1)).first()
    data = statements.render_statement(session, patient=patient, as_of=as_of, location_id=location_id)
    audit.record(session, actor=None, action="print", entity="statement", entity_id=patient_id, patient_id=patient_id,
                 source="portal")
    return data


def new_idempotency_key() -> str:
    """One per payment form the portal shows (sent back with the form)."""
    return secrets.token_urlsafe(24)


def cents_from_text(text: str) -> int:
    """Cents from what a patient typed ("25", "25.00", "$25.50"); refused with words otherwise."""
    return parse_money(text)


def check_amount(session: Session, *, patient_id: int, amount_cents: Any, prepay: bool = False,
                 allow_prepay: bool | None = None) -> int:
    """The amount in whole cents if the patient may pay it online now; InvalidInput otherwise."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidInput("The amount must be a whole number of cents (e.g. 2500 for $25.00).")
    if amount_cents <= 0:
        raise InvalidInput("Enter an amount of more than $0.00.")
    if amount_cents > MAX_ONLINE_CENTS:
        raise InvalidInput(f"An online payment is at most {dollars(MAX_ONLINE_CENTS)}; call the clinic for more.")
    owed = ledger.balances(session, patient_id=patient_id)["patient"]
    allowed = settings.portal_prepay() if allow_prepay is None else allow_prepay
    if amount_cents > owed and not (prepay and allowed):
        if owed <= 0:
            raise InvalidInput("You owe nothing right now, so there is nothing to pay.")
        raise InvalidInput(f"You owe {dollars(owed)}; pay at most that.")
    return amount_cents


def _by_key(session: Session, key: str) -> OnlinePayment | None:
    return session.exec(select(OnlinePayment).where(OnlinePayment.idempotency_key == key)
                        .execution_options(populate_existing=True)).first()


def start_payment(
    session: Session, *, gateway: PaymentGateway, patient_id: int, amount_cents: Any, idempotency_key: str,
    prepay: bool = False, allow_prepay: bool | None = None, now: dt.datetime | None = None,
) -> tuple[OnlinePayment, Checkout]:
    """Check the amount, create the gateway's payment and keep it pending.

    The same idempotency key again (a double click, a retry) gives the same payment, whatever
    the balance is by then; the same key with another amount or patient is refused."""
    if not _KEY.fullmatch(idempotency_key or ""):
        raise InvalidInput("This payment form is out of date; reload the page and try again.")
    _patient(session, patient_id)
    currency = settings.payment_currency()
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        if existing.patient_id != patient_id or existing.amount_cents != amount_cents or existing.gateway != gateway.name:
            raise InvalidInput("This payment form was already used for another amount; reload the page.")
        checkout = gateway.create_payment(amount_cents=existing.amount_cents, currency=existing.currency,
                                          patient_reference=f"patient-{patient_id}", idempotency_key=idempotency_key)
        if checkout.payment_id != existing.gateway_payment_id:
            raise InvalidInput("This payment form is out of date; reload the page and try again.")
        return existing, checkout
    cents = check_amount(session, patient_id=patient_id, amount_cents=amount_cents, prepay=prepay,
                         allow_prepay=allow_prepay)
    owed = ledger.balances(session, patient_id=patient_id)["patient"]
    # The gateway is asked before this transaction writes (SQLite's write lock is not held over the network).
    checkout = gateway.create_payment(amount_cents=cents, currency=currency, patient_reference=f"patient-{patient_id}",
                                      idempotency_key=idempotency_key)
    for_write(session)
    row = OnlinePayment(
        patient_id=patient_id, gateway=gateway.name, gateway_payment_id=checkout.payment_id,
        idempotency_key=idempotency_key, amount_cents=cents, currency=currency, prepayment=cents > owed,
        created_at=now or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another request with this key (or this gateway payment) got there first: the same payment.
        existing = _by_key(session, idempotency_key)
        if existing is None or existing.patient_id != patient_id or existing.amount_cents != cents:
            raise InvalidInput("This payment was already started; reload the page.") from None
        return existing, checkout
    audit.record(session, actor=None, action="payment:start", entity="online_payment", entity_id=row.id,
                 patient_id=patient_id, detail=f"{row.gateway} {row.gateway_payment_id} {cents}", source="portal")
    return row, checkout


def settle(session: Session, *, result: GatewayResult, now: dt.datetime | None = None) -> OnlinePayment:
    """Record what the gateway says: succeeded -> posted to the ledger once; declined -> nothing
    posted. A payment already posted stays as it is (a retried webhook changes nothing)."""
    for_write(session)
    row = session.exec(
        select(OnlinePayment).where(OnlinePayment.gateway_payment_id == result.payment_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None or row.gateway != result.gateway:
        raise NotFound("No payment started here has that id; nothing was posted.")
    if row.status == "succeeded" or result.status == "pending":
        return row
    if result.amount_cents != row.amount_cents or result.currency.lower() != row.currency.lower():
        raise InvalidInput("The card service reports another amount than was asked for; nothing was posted. "
                           "The clinic will look into it.")
    if result.status not in ("succeeded", "declined"):
        raise InvalidInput(f"Unknown payment result {result.status[:20]!r}; nothing was posted.")
    now = now or utcnow()
    # The claim: a conditional update, so that of two callers at once (the webhook and the page's
    # return) the second waits for the first's commit and then finds nothing left to do. It is
    # also this transaction's first write, so the ledger's for_write below keeps it open.
    still = OnlinePayment.status == "pending" if result.status == "declined" else OnlinePayment.status != "succeeded"
    claimed = session.execute(
        update(OnlinePayment).where(OnlinePayment.id == row.id, still).values(settled_at=now)
    ).rowcount
    session.refresh(row)
    if claimed != 1:
        return row
    if result.status == "succeeded":
        entry = ledger.post_online_payment(session, patient_id=row.patient_id, amount_cents=row.amount_cents,
                                           reference=row.gateway_payment_id, now=now)
        row.status, row.ledger_entry_id, row.decline_reason = "succeeded", entry.id, ""
    else:
        row.status, row.decline_reason = "declined", (result.message or "The card was declined.")[:200]
    session.add(row)
    session.flush()
    audit.record(session, actor=None, action=f"payment:{row.status}", entity="online_payment", entity_id=row.id,
                 patient_id=row.patient_id, detail=f"{row.gateway} {row.gateway_payment_id}", source="portal")
    publish_on_commit(session, PaymentsChanged(patient_id=row.patient_id))  # the patient's open Pay page
    return row


def confirm_payment(session: Session, *, gateway: PaymentGateway, payment_id: str, token: str = "",
                    now: dt.datetime | None = None) -> OnlinePayment:
    """Ask the gateway what became of a payment (the page came back from paying) and settle it."""
    return settle(session, result=gateway.confirm(payment_id, token), now=now)


def payment_for(session: Session, *, patient_id: int, payment_id: str) -> OnlinePayment:
    """One of this patient's online payments by the gateway's id (NotFound for anyone else's)."""
    row = session.exec(select(OnlinePayment).where(OnlinePayment.gateway_payment_id == payment_id)).first()
    if row is None or row.patient_id != patient_id:
        raise NotFound("No payment of yours has that id.")
    return row


def send_receipt(session: Session, *, online_payment_id: int, email: EmailSender,
                 now: dt.datetime | None = None) -> bool:
    """E-mail the receipt of a succeeded payment once (True if sent now). Call it after the
    payment's transaction committed; the caller commits this one too (a failed send raises and
    its rollback leaves the receipt unsent, to try again)."""
    for_write(session)
    row = session.get(OnlinePayment, online_payment_id)
    if row is None or row.status != "succeeded":
        return False
    patient = _patient(session, row.patient_id)
    if not patient.email:
        return False
    now = now or utcnow()
    claimed = session.execute(
        update(OnlinePayment).where(OnlinePayment.id == row.id, OnlinePayment.receipt_sent_at.is_(None))
        .values(receipt_sent_at=now)
    ).rowcount
    if claimed != 1:
        return False  # sent already (or being sent by another worker)
    entry = session.get(LedgerEntry, row.ledger_entry_id)
    owed = ledger.balances(session, patient_id=row.patient_id)["patient"]
    clinic = settings.clinic_name()
    balance_line = f"Your balance is now {dollars(owed)}." if owed >= 0 else f"You have a credit of {dollars(-owed)}."
    body = (
        f"Hello {patient.first_name},\n\n"
        f"Thank you: we received your payment of {dollars(row.amount_cents)} on {entry.created_at:%d %B %Y}.\n\n"
        f"Receipt number: P{row.id}\nPayment reference: {row.gateway_payment_id}\n{balance_line}\n\n"
        f"{clinic}\n"
    )
    email.send(to=patient.email, subject=f"Receipt: your payment of {dollars(row.amount_cents)} to {clinic}", body=body)
    audit.record(session, actor=None, action="payment:receipt", entity="online_payment", entity_id=row.id,
                 patient_id=row.patient_id, source="portal")
    return True


def recent(session: Session, *, patient_id: int, limit: int = 5) -> list[OnlinePayment]:
    """The patient's own latest online payments, newest first (the Pay page's results)."""
    return list(session.exec(select(OnlinePayment).where(OnlinePayment.patient_id == patient_id)
                             .order_by(OnlinePayment.id.desc()).limit(limit)).all())
