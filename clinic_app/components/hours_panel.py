"""The working hours and time off panel: one labelled field per weekday."""

from __future__ import annotations

import reflex as rx

from clinic_app.state.calendar import CalendarState
from clinic_app.state.hours import DAY_NAMES
from clinic_app.state.hours import HoursState as H


def _off_field(name: str, label: str, type_: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"hours-{name}"),
        rx.input(id=f"hours-{name}", type=type_, value=getattr(H, name), on_change=lambda v: H.set_off(name, v)),
        spacing="1",
    )


def hours_panel() -> rx.Component:
    """Shown while HoursState.panel_open."""
    return rx.cond(
        H.panel_open,
        rx.card(
            rx.vstack(
                rx.heading("Working hours and time off", size="4"),
                rx.cond(H.message != "", rx.callout(H.message, color_scheme=rx.cond(H.message_is_error, "red", "green"),
                                                    role=rx.cond(H.message_is_error, "alert", "status"), size="1")),
                rx.el.label("Provider", html_for="hours-provider"),
                rx.select.root(
                    rx.select.trigger(id="hours-provider", aria_label="Provider"),
                    rx.select.content(rx.foreach(CalendarState.providers, lambda o: rx.select.item(o.label, value=o.value))),
                    value=H.provider_id,
                    on_change=H.set_provider,
                ),
                rx.text("Hours per day, e.g. 08:00-12:00, 13:00-17:00; empty = not working. "
                        "Leave every day empty for no set hours.", size="1", color_scheme="gray"),
                *[
                    rx.hstack(
                        rx.el.label(name, html_for=f"hours-day-{i}", style={"width": "90px"}),
                        rx.input(id=f"hours-day-{i}", value=H.days[i], on_change=lambda v, i=i: H.set_day(i, v), width="190px"),
                        align="center",
                    )
                    for i, name in enumerate(DAY_NAMES)
                ],
                rx.button("Save working hours", on_click=H.save_hours, size="3"),
                rx.heading("Add time off", size="3"),
                rx.hstack(_off_field("off_from_day", "From date", "date"), _off_field("off_from_time", "From time", "time")),
                rx.hstack(_off_field("off_until_day", "Until date", "date"), _off_field("off_until_time", "Until time", "time")),
                _off_field("off_reason", "Reason", "text"),
                rx.button("Add time off", on_click=H.add_time_off, variant="soft", size="3"),
                rx.button("Close hours panel", on_click=H.close, variant="ghost", size="3"),
                spacing="2",
                align="start",
            ),
            width="340px",
        ),
    )
