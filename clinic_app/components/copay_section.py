"""The copay lines of the selected visit's panel: eligibility, copay due, record payment."""

from __future__ import annotations

import reflex as rx

from clinic_app.state.copay import CopaySection as C


def copay_section() -> rx.Component:
    return rx.vstack(
        rx.cond(C.eligibility != "", rx.text("Eligibility: ", C.eligibility, size="2", id="visit-eligibility")),
        rx.cond(C.words != "", rx.text(C.words, size="2", weight=rx.cond(C.due_cents > 0, "bold", "regular"),
                                       id="visit-copay")),
        rx.cond(C.message != "", rx.callout(C.message, color_scheme=rx.cond(C.message_is_error, "red", "green"),
                                            role=rx.cond(C.message_is_error, "alert", "status"), size="1")),
        rx.cond(
            C.can_take,
            rx.vstack(
                rx.hstack(
                    rx.vstack(
                        rx.el.label("Amount ($)", html_for="copay-amount"),
                        rx.input(id="copay-amount", value=C.amount, on_change=C.set_amount, width="90px", inputmode="decimal"),
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.el.label("Paid by", html_for="copay-method"),
                        rx.select.root(
                            rx.select.trigger(id="copay-method", aria_label="Paid by"),
                            rx.select.content(rx.foreach(C.methods, lambda o: rx.select.item(o.label, value=o.value))),
                            value=C.method,
                            on_change=C.set_method,
                        ),
                        spacing="1",
                    ),
                ),
                rx.el.label("Terminal or cheque reference", html_for="copay-reference"),
                rx.input(id="copay-reference", value=C.reference, on_change=C.set_reference, max_length=40),
                rx.button("Record copay payment", on_click=C.record, size="3"),
                spacing="1",
            ),
        ),
        spacing="1",
        align="start",
    )
