"""The biller's queue."""

import reflex as rx

from clinic_app.components.layout import frame, message_box
from clinic_app.components.status_badge import status_badge
from clinic_app.state.billing import BillingQueueState


def _row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.service_date, " ", row.time_label),
        rx.table.cell(row.patient_name, rx.text(row.mrn, size="1", color_scheme="gray")),
        rx.table.cell(row.provider_name),
        rx.table.cell(
            rx.foreach(
                row.charges,
                lambda c: rx.text(c.code, " x", c.units, "  $", c.amount, "  (", c.diagnoses, ")", size="2"),
            )
        ),
        rx.table.cell("$", row.total),
        rx.table.cell(status_badge("ready_to_bill", row.status_label)),
        rx.table.cell(rx.button("Mark billed", on_click=BillingQueueState.mark_billed(row.id), aria_label=row.bill_label)),
        class_name="queue-row",
    )


def billing_page() -> rx.Component:
    return frame(
        "Billing queue",
        rx.hstack(
            rx.el.label("Location", html_for="billing-location"),
            rx.select.root(
                rx.select.trigger(id="billing-location", aria_label="Location"),
                rx.select.content(rx.foreach(BillingQueueState.locations, lambda o: rx.select.item(o.label, value=o.value))),
                value=BillingQueueState.location_id,
                on_change=BillingQueueState.set_location,
            ),
            rx.text(BillingQueueState.rows.length(), " visits ready to bill, $", BillingQueueState.queue_total),
            align="center",
            spacing="3",
            margin_bottom="12px",
        ),
        message_box(BillingQueueState.message, BillingQueueState.message_is_error),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h) for h in ("Date of service", "Patient", "Provider", "Charges", "Total", "Status", "Action")]
                )
            ),
            rx.table.body(rx.foreach(BillingQueueState.rows, _row)),
            width="100%",
        ),
    )
