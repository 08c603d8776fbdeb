"""The manager's dashboard."""

import reflex as rx

from clinic_app.components.layout import frame, message_box
from clinic_app.components.status_badge import status_badge
from clinic_app.state.kpi import KpiState


def _tile(label: str, value) -> rx.Component:
    return rx.card(
        rx.vstack(rx.text(label, size="2", color_scheme="gray"), rx.heading(value, size="7"), spacing="1"),
        min_width="180px",
        aria_label=label,
        role="group",
    )


def kpi_page() -> rx.Component:
    return frame(
        "Today at the clinic",
        rx.hstack(
            rx.el.label("Location", html_for="kpi-location"),
            rx.select.root(
                rx.select.trigger(id="kpi-location", aria_label="Location"),
                rx.select.content(rx.foreach(KpiState.locations, lambda o: rx.select.item(o.label, value=o.value))),
                value=KpiState.location_id,
                on_change=KpiState.set_location,
            ),
            rx.el.label("Day", html_for="kpi-day"),
            rx.input(id="kpi-day", type="date", value=KpiState.day, on_change=KpiState.set_day, width="170px"),
            align="center",
            spacing="3",
            margin_bottom="12px",
        ),
        message_box(KpiState.message, KpiState.message != ""),
        rx.flex(
            _tile("Visits scheduled", KpiState.scheduled),
            _tile("No-show rate", KpiState.no_show_rate),
            _tile("Notes awaiting signature", KpiState.awaiting_signature),
            _tile("Median minutes to signature", KpiState.median_lag),
            _tile("Charges (date of service)", "$" + KpiState.charges),
            wrap="wrap",
            gap="12px",
            margin_bottom="16px",
        ),
        rx.heading("Visits by status", size="4", margin_bottom="8px"),
        rx.flex(
            rx.foreach(
                KpiState.by_status,
                lambda s: rx.hstack(status_badge(s.status, s.label), rx.text(s.count, weight="bold", class_name="status-count"),
                                    aria_label=s.label + ": " + s.count.to(str), role="group"),
            ),
            wrap="wrap",
            gap="16px",
        ),
    )
