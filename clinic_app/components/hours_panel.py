"""The working hours and time off part of the board's side panel: one labelled field per weekday."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.layout import message_box
from clinic_app.components.time_field import time_field
from clinic_app.state.calendar import CalendarState
from clinic_app.state.hours import DAY_NAMES
from clinic_app.state.hours import HoursSection as H


def _off_day(name: str, label: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"hours-{name}"),
        rx.input(id=f"hours-{name}", type="date", value=getattr(H, name), on_change=lambda v: H.set_off(name, v)),
        spacing="1",
    )


def _off_time(name: str, label: str) -> rx.Component:
    return time_field(f"hours-{name}", label, getattr(H, name), lambda v: H.set_off(name, v), hint=False)


def hours_panel() -> rx.Component:
    """Shown while the side panel shows "hours"."""
    return rx.vstack(
        rx.heading("Working hours and time off", size="4"),
        rx.el.label("Provider", html_for="hours-provider"),
        rx.select.root(
            rx.select.trigger(id="hours-provider", aria_label="Provider"),
            rx.select.content(rx.foreach(CalendarState.providers, lambda o: rx.select.item(o.label, value=o.value))),
            value=H.provider_id,
            on_change=H.set_provider,
        ),
        rx.text("Hours per day, 24-hour, e.g. 08:00-12:00, 13:00-17:00; empty = not working. "
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
        rx.text("Times are 24-hour, e.g. 14:30.", size="1", color_scheme="gray"),
        rx.hstack(_off_day("off_from_day", "From date"), _off_time("off_from_time", "From time")),
        rx.hstack(_off_day("off_until_day", "Until date"), _off_time("off_until_time", "Until time")),
        rx.el.label("Reason", html_for="hours-off_reason"),
        rx.input(id="hours-off_reason", value=H.off_reason, on_change=lambda v: H.set_off("off_reason", v)),
        rx.button("Add time off", on_click=H.add_time_off, variant="soft", size="3"),
        message_box(H.message, H.message_is_error),
        rx.button("Close hours panel", on_click=H.close, variant="ghost", size="3"),
        spacing="2",
        align="start",
        width="100%",
    )
