"""Online booking settings (/admin/online-booking), for admins and the desk."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import labelled_input, labelled_select, panel, section_message
from clinic_app.components.layout import frame
from clinic_app.state.portal_admin import OnlineBookingState

S = OnlineBookingState


def _check(label, checked, on_change, field_id) -> rx.Component:
    return rx.el.label(
        rx.el.input(type="checkbox", id=field_id, checked=checked, on_change=on_change,
                    style={"width": "20px", "height": "20px"}),
        label,
        html_for=field_id,
        style={"display": "flex", "gap": "8px", "alignItems": "center", "minHeight": "32px"},
    )


def online_booking_page() -> rx.Component:
    return frame(
        "Online booking",
        section_message(S.message, S.message_is_error),
        rx.vstack(
            labelled_select("Location", "ob-location", S.location_options, S.location_id, S.set_location),
            panel(
                "Offered online",
                _check("Patients may book online at this location", S.enabled, lambda v: S.set_flag("enabled", v),
                       "ob-enabled"),
                _check("New patients", S.new_patients, lambda v: S.set_flag("new_patients", v), "ob-new"),
                _check("Returning patients", S.returning_patients, lambda v: S.set_flag("returning_patients", v),
                       "ob-returning"),
                _check("Each online booking needs the desk's approval", S.needs_approval,
                       lambda v: S.set_flag("needs_approval", v), "ob-approval"),
                _check("Patients may register themselves online", S.self_registration,
                       lambda v: S.set_flag("self_registration", v), "ob-self-registration"),
                rx.heading("Appointment types", size="3", as_="h3", margin_top="8px"),
                rx.foreach(S.types, lambda p: _check(p.label, p.checked, lambda _v: S.toggle_type(p.id), p.field_id)),
                rx.heading("Providers", size="3", as_="h3", margin_top="8px"),
                rx.foreach(S.providers,
                           lambda p: _check(p.label, p.checked, lambda _v: S.toggle_provider(p.id), p.field_id)),
                panel_id="ob-offered",
            ),
            panel(
                "Rules",
                rx.hstack(
                    labelled_input("Minimum notice (hours)", "ob-notice", S.min_notice_hours,
                                   lambda v: S.set_number("min_notice_hours", v), width="120px"),
                    labelled_input("How far ahead (days)", "ob-ahead", S.days_ahead,
                                   lambda v: S.set_number("days_ahead", v), width="120px"),
                    labelled_input("Most upcoming bookings per patient", "ob-upcoming", S.max_upcoming,
                                   lambda v: S.set_number("max_upcoming", v), width="120px"),
                    labelled_input("Change or cancel online up to (hours before)", "ob-window", S.cancel_window_hours,
                                   lambda v: S.set_number("cancel_window_hours", v), width="120px"),
                    wrap="wrap", spacing="4",
                ),
                panel_id="ob-rules",
            ),
            panel(
                "On the day of the visit",
                rx.hstack(
                    labelled_select("Online check-in link in the reminder on the day", "ob-checkin",
                                    S.checkin_options, S.checkin_mode, S.set_checkin_mode),
                    labelled_input("Day-of reminder (hours before, 1-12; empty: none)", "ob-day-of", S.day_of_hours,
                                   S.set_day_of_hours, width="120px"),
                    wrap="wrap", spacing="4",
                ),
                panel_id="ob-day-of-panel",
            ),
            rx.button("Save online booking settings", on_click=S.save, size="3"),
            spacing="3", max_width="900px", width="100%",
        ),
    )
