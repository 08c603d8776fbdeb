"""The portal's Pay page (/portal/pay), phone first (390x844): what the patient owes, their
statement (PDF), paying an amount by card through the clinic's gateway (the local gateway's
card page comes back here; Stripe's Payment Element is mounted on this page by
/clinic-stripe.js and Stripe comes back here with the result), their latest online payments
and their account's entries."""

from __future__ import annotations

import reflex as rx

from clinic_app import routes
from clinic_app.components.fields import section_message
from clinic_app.pages.portal import FIELD_STYLE, TOUCH, shell
from clinic_app.state.portal_pay import PortalPayState

Y = PortalPayState
CELL = {"padding": "6px 4px", "textAlign": "left", "borderBottom": "1px solid var(--gray-5)"}
STRIPE_JS = "/clinic-stripe.js"


def _result() -> rx.Component:
    """What became of the payment Stripe sent the patient back with, in words."""
    return rx.cond(
        Y.result_text != "",
        rx.box(
            rx.callout(Y.result_text, color_scheme=rx.match(Y.result_status, ("received", "green"), ("declined", "red"), "amber"),
                       role=rx.cond(Y.result_status == "declined", "alert", "status"), size="2", high_contrast=True),
            rx.cond(Y.result_status == "processing",
                    rx.button("Check again", on_click=Y.check_again, variant="soft", size="3", style=TOUCH, margin_top="8px")),
            id="portal-pay-result", margin_bottom="12px",
        ),
    )


def _card_element() -> rx.Component:
    """Stripe's Payment Element: /clinic-stripe.js loads Stripe.js, mounts the element in the
    labelled container and confirms the payment with the card, which goes to Stripe only."""
    return rx.cond(
        Y.card_secret != "",
        rx.el.div(
            rx.text("Card details", id="stripe-card-label", weight="medium", size="3"),
            rx.el.div(id="stripe-payment-element", role="group", aria_labelledby="stripe-card-label",
                      style={"minHeight": "44px", "margin": "6px 0 4px"}),
            rx.el.p(id="stripe-payment-error", role="alert",
                    style={"color": "var(--red-11)", "minHeight": "1.5em", "margin": "0 0 6px", "fontSize": "14px"}),
            rx.button(Y.card_label, id="stripe-pay-button", type="button", size="3", width="100%", style=TOUCH),
            id="stripe-payment",
            custom_attrs={"data-client-secret": Y.card_secret, "data-publishable-key": Y.card_key,
                          "data-stripe-js": Y.card_js, "data-return-url": routes.PORTAL_PAY},
            style={"marginTop": "12px", "width": "100%"},
        ),
    )


def _payment(p) -> rx.Component:
    return rx.el.li(
        rx.text(rx.el.strong(p.amount), " · ", p.when, size="2"),
        rx.text("Status: ", rx.el.strong(p.status), size="2"),
        rx.text(p.detail, size="2", color_scheme="gray"),
        style={"listStyle": "none", "border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "10px 12px",
               "marginBottom": "8px"},
    )


def _entry(e) -> rx.Component:
    return rx.el.tr(rx.el.td(e.date, style=CELL), rx.el.td(e.kind, " (", e.party, ")", style=CELL),
                    rx.el.td(e.amount, style={**CELL, "textAlign": "right"}))


def portal_pay() -> rx.Component:
    return shell(
        "Pay",
        section_message(Y.message, Y.message_is_error),
        _result(),
        rx.box(
            rx.text("You owe", size="2"),
            rx.text(Y.balance, size="7", weight="bold", id="portal-balance"),
            rx.cond(Y.insurance != "", rx.text("Waiting for insurance: ", Y.insurance, size="2", color_scheme="gray")),
            style={"border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "12px", "marginBottom": "12px"},
        ),
        rx.button("Download my statement (PDF)", on_click=Y.download_statement, variant="soft", size="3", style=TOUCH,
                  margin_bottom="16px"),
        rx.el.section(
            rx.heading("Pay by card", size="4", as_="h2", id="portal-pay-heading", margin_bottom="8px"),
            rx.el.form(
                rx.vstack(
                    rx.el.label("Amount in dollars", html_for="portal-amount"),
                    rx.el.input(id="portal-amount", name="amount", value=Y.amount_text, on_change=Y.set_amount,
                                input_mode="decimal", auto_complete="off", max_length=12, placeholder="e.g. 20.00",
                                style=FIELD_STYLE),
                    rx.text("The card goes straight to the card service; the clinic never sees the card number.",
                            size="2", color_scheme="gray"),
                    rx.button("Continue to pay by card", type="submit", loading=Y.paying, size="3", width="100%",
                              variant=rx.cond(Y.card_secret != "", "soft", "solid"), style=TOUCH),
                    spacing="2", width="100%",
                ),
                on_submit=Y.pay,
            ),
            _card_element(),
            rx.script(src=STRIPE_JS),
            aria_labelledby="portal-pay-heading", margin_bottom="20px",
        ),
        rx.heading("Your online payments", size="4", as_="h2", margin_bottom="8px"),
        rx.cond(
            Y.payments_made.length() > 0,
            rx.el.ul(rx.foreach(Y.payments_made, _payment), aria_label="Online payments, newest first",
                     style={"padding": "0"}),
            rx.text("No online payments yet.", margin_bottom="8px"),
        ),
        rx.heading("Your account", size="4", as_="h2", margin_top="16px", margin_bottom="8px"),
        rx.cond(
            Y.entries.length() > 0,
            rx.box(
                rx.el.table(
                    rx.el.caption("Charges and payments, newest first", style={"textAlign": "left", "fontSize": "14px"}),
                    rx.el.thead(rx.el.tr(rx.el.th("Date", scope="col", style=CELL), rx.el.th("What", scope="col", style=CELL),
                                         rx.el.th("Amount", scope="col", style={**CELL, "textAlign": "right"}))),
                    rx.el.tbody(rx.foreach(Y.entries, _entry)),
                    style={"width": "100%", "borderCollapse": "collapse", "fontSize": "14px"},
                ),
                style={"overflowX": "auto"},
            ),
            rx.text("Nothing on your account yet."),
        ),
    )
