"""Payment gateways calling back (docs/portal-payments.md).

``POST /payments/stripe/webhook``: Stripe's webhook. The ``Stripe-Signature`` header is
checked with ``STRIPE_WEBHOOK_SECRET`` (stripe.Webhook.construct_event) before anything else;
a bad or missing signature is answered 400 and posts nothing. ``payment_intent.succeeded``
posts the payment to the patient's ledger once (a retried event changes nothing) and e-mails
the receipt; ``payment_intent.payment_failed`` marks it declined; other events are
acknowledged and ignored.

``GET/POST /pay/local/{payment_id}``: the local gateway's own small card page (tests and demos,
only when ``CLINIC_PAYMENT_GATEWAY=local``): the patient types a test card number, the gateway
answers approved or declined, the payment is settled and the patient goes back to the portal.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from clinic_app import db
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotFound
from clinic_app.services.platform.money import dollars
from clinic_app.services.portal import payments

log = logging.getLogger(__name__)
PORTAL_PAY_ROUTE = "/portal/pay"


def _email_sender():
    from clinic_app.services.frontdesk.reminders import senders_from_environment

    return senders_from_environment()[0]


class PortalPay:
    def __init__(self, get_engine: Callable[[], Engine] = db.engine,
                 gateway: Callable[[], payments.PaymentGateway] = payments.gateway_from_settings,
                 email: Callable[[], object] = _email_sender) -> None:
        self.get_engine, self.gateway, self.email = get_engine, gateway, email

    def _settle_and_receipt(self, result: payments.GatewayResult) -> payments.OnlinePayment:
        with Session(self.get_engine(), expire_on_commit=False) as session:
            row = payments.settle(session, result=result)
            session.commit()
        if row.status == "succeeded" and row.receipt_sent_at is None:
            try:
                with Session(self.get_engine(), expire_on_commit=False) as session:
                    payments.send_receipt(session, online_payment_id=row.id, email=self.email())
                    session.commit()
            except Exception:  # the payment stands; the receipt can be sent again later
                log.exception("the receipt of online payment %s was not sent", row.id)
        return row

    async def stripe_webhook(self, request: Request) -> Response:
        payload = await request.body()
        signature = request.headers.get("stripe-signature", "")

        def work():
            gateway = self.gateway()
            if not isinstance(gateway, payments.StripeGateway):
                raise NotFound("Stripe is not the payment gateway here.")
            result = gateway.webhook(payload, signature)
            return None if result is None else self._settle_and_receipt(result)

        try:
            row = await asyncio.to_thread(work)
        except InvalidInput as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 400)
        except NotFound as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 404)
        except ClinicError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 503)
        return JSONResponse({"ok": True, "status": row.status if row is not None else "ignored"})

    # -- the local gateway's page -----------------------------------------------------------------
    def _local(self) -> payments.LocalGateway:
        gateway = self.gateway()
        if not isinstance(gateway, payments.LocalGateway):
            raise NotFound("The test payment page is off: this clinic takes cards through its payment service.")
        return gateway

    async def local_page(self, request: Request) -> Response:
        secret = request.query_params.get("secret", "")
        try:
            gateway = self._local()
            payment_id, amount, _ = gateway.parse_secret(secret)
        except NotFound as exc:
            return _page("Payment", f"<p>{html.escape(str(exc))}</p>", 404)
        except InvalidInput as exc:
            return _page("Payment", f"<p role='alert'>{html.escape(str(exc))}</p>", 400)
        if payment_id != request.path_params["payment_id"]:
            return _page("Payment", "<p role='alert'>This payment link is not valid.</p>", 400)
        form = f"""
<p>Test payment gateway: no real card is charged. Amount: <strong>{html.escape(dollars(amount))}</strong></p>
<form method="post">
  <input type="hidden" name="secret" value="{html.escape(secret)}">
  <label for="card">Card number</label>
  <input id="card" name="card_number" inputmode="numeric" autocomplete="off" aria-describedby="card-help" required>
  <p id="card-help">4242 4242 4242 4242 is approved, 4000 0000 0000 0002 is declined.</p>
  <button type="submit">Pay {html.escape(dollars(amount))}</button>
</form>"""
        return _page("Pay by card", form)

    async def local_pay(self, request: Request) -> Response:
        form = await request.form()
        secret, card = str(form.get("secret", ""))[:300], str(form.get("card_number", ""))[:40]
        payment_id = request.path_params["payment_id"]

        def work():
            gateway = self._local()
            if gateway.parse_secret(secret)[0] != payment_id:
                raise InvalidInput("This payment link is not valid.")
            token = gateway.authorize(secret, card_number=card)
            return self._settle_and_receipt(gateway.confirm(payment_id, token))

        try:
            row = await asyncio.to_thread(work)
        except NotFound as exc:
            return _page("Payment", f"<p>{html.escape(str(exc))}</p>", 404)
        except ClinicError as exc:
            return _page("Payment", f"<p role='alert'>{html.escape(str(exc))}</p><p><a href='{PORTAL_PAY_ROUTE}'>Back</a></p>", 400)
        back = f"<p><a href='{PORTAL_PAY_ROUTE}'>Back to your account</a></p>"
        if row.status == "succeeded":
            return _page("Payment received", f"<p role='status'>Paid {html.escape(dollars(row.amount_cents))}. "
                                             f"Thank you; a receipt is on its way by e-mail.</p>{back}")
        return _page("Payment declined", f"<p role='alert'>{html.escape(row.decline_reason or 'Declined.')} "
                                         f"Nothing was charged.</p>{back}", 402)

    def routes(self) -> list[Route]:
        return [
            Route("/payments/stripe/webhook", self.stripe_webhook, methods=["POST"]),
            Route("/pay/local/{payment_id}", self.local_page, methods=["GET"]),
            Route("/pay/local/{payment_id}", self.local_pay, methods=["POST"]),
        ]


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}}
input,button{{display:block;width:100%;min-height:44px;font-size:1rem;margin:.25rem 0 .75rem;box-sizing:border-box}}
button{{background:#1d4ed8;color:#fff;border:0;border-radius:6px}}</style></head>
<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>""", status)
