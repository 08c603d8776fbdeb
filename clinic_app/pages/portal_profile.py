"""The portal's Profile page (/portal/profile), phone first (390x844): the patient's contact
details as a form whose change the desk accepts; and the desk's panel of that request on the
patient profile."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import panel, section_message
from clinic_app.pages.portal import FIELD_STYLE, TOUCH, shell
from clinic_app.state.patient_profile import ProfileState
from clinic_app.state.portal_profile import PortalProfileState as F
from clinic_app.state.portal_profile import ProfileChangeDesk as D


def _input(label: str, name: str, value, *, type_: str = "text", auto_complete: str = "", max_length: int = 120):
    field_id = f"profile-{name.replace('_', '-')}"
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.el.input(id=field_id, type=type_, value=value, on_change=lambda v: F.set_field(name, v),
                    auto_complete=auto_complete or None, max_length=max_length, style=FIELD_STYLE),
        spacing="1", width="100%",
    )


def _waiting() -> rx.Component:
    return rx.cond(
        F.waiting.length() > 0,
        rx.box(
            rx.text("Waiting for the clinic to check:", weight="bold"),
            rx.el.ul(rx.foreach(F.waiting, lambda c: rx.el.li(c.label, ": ", c.before, " to ", rx.el.strong(c.after))),
                     style={"margin": "4px 0 0 0", "paddingLeft": "20px"}),
            style={"border": "1px solid var(--amber-8)", "borderRadius": "8px", "padding": "12px",
                   "marginBottom": "12px"},
        ),
    )


def portal_profile() -> rx.Component:
    return shell(
        "My details",
        section_message(F.message, F.message_is_error),
        rx.cond(F.decision != "", rx.text(F.decision, size="2", margin_bottom="8px")),
        _waiting(),
        rx.text("Changes are checked by the clinic before your record changes.", size="2", color_scheme="gray",
                margin_bottom="8px"),
        rx.el.fieldset(
            rx.el.legend("How to reach you", style={"fontWeight": "600", "marginBottom": "6px"}),
            rx.vstack(
                _input("Phone", "phone", F.phone, type_="tel", auto_complete="tel", max_length=32),
                _input("E-mail", "email", F.email, type_="email", auto_complete="email"),
                rx.vstack(
                    rx.el.label("Preferred way to reach you", html_for="profile-channel"),
                    rx.el.select(rx.foreach(F.channel_options, lambda o: rx.el.option(o.label, value=o.value)),
                                 id="profile-channel", value=F.preferred_channel,
                                 on_change=lambda v: F.set_field("preferred_channel", v), style=FIELD_STYLE),
                    spacing="1", width="100%",
                ),
                rx.el.label(
                    rx.el.input(type="checkbox", checked=F.reminders_opt_out, on_change=F.set_opt_out,
                                style={"width": "24px", "height": "24px"}),
                    "No appointment reminders, please",
                    style={**TOUCH, "display": "flex", "alignItems": "center", "gap": "10px"},
                ),
                spacing="3", width="100%",
            ),
            style={"border": "none", "padding": "0", "margin": "0 0 16px 0"},
        ),
        rx.el.fieldset(
            rx.el.legend("Address", style={"fontWeight": "600", "marginBottom": "6px"}),
            rx.vstack(
                _input("Street address", "address_line", F.address_line, auto_complete="street-address", max_length=200),
                _input("City", "city", F.city, auto_complete="address-level2", max_length=80),
                _input("State", "region", F.region, auto_complete="address-level1", max_length=40),
                _input("ZIP code", "postal_code", F.postal_code, auto_complete="postal-code", max_length=12),
                spacing="3", width="100%",
            ),
            style={"border": "none", "padding": "0", "margin": "0 0 16px 0"},
        ),
        rx.el.fieldset(
            rx.el.legend("Emergency contact", style={"fontWeight": "600", "marginBottom": "6px"}),
            rx.vstack(
                _input("Emergency contact's name", "emergency_name", F.emergency_name),
                _input("Relationship to you", "emergency_relationship", F.emergency_relationship, max_length=40),
                _input("Emergency contact's phone", "emergency_phone", F.emergency_phone, type_="tel", max_length=32),
                spacing="3", width="100%",
            ),
            style={"border": "none", "padding": "0", "margin": "0 0 16px 0"},
        ),
        rx.button("Send my changes", on_click=F.send, size="3", width="100%", style=TOUCH),
    )


def desk_change_panel() -> rx.Component:
    """On the desk's patient profile: the change the patient asked in the portal."""
    return rx.cond(ProfileState.name != "", rx.box(_desk(), on_mount=D.load_change, width="100%"))


def _desk() -> rx.Component:
    return rx.cond(
        (D.change_id != 0) | (D.message != ""),
        panel(
            "Change asked in the portal",
            section_message(D.message, D.message_is_error),
            rx.cond(
                D.change_id != 0,
                rx.vstack(
                    rx.el.ul(rx.foreach(D.change_lines, lambda c: rx.el.li(
                        c.label, ": ", c.before, " to ", rx.el.strong(c.after))), style={"margin": "0", "paddingLeft": "20px"}),
                    rx.hstack(
                        rx.button("Accept the change", on_click=D.accept_change, size="2"),
                        rx.vstack(
                            rx.el.label("Reason to decline (the patient sees it)", html_for="profile-decline-reason",
                                        style={"fontSize": "14px"}),
                            rx.input(id="profile-decline-reason", value=D.decline_reason, on_change=D.set_decline_reason,
                                     max_length=200, width="240px", size="2"),
                            spacing="1",
                        ),
                        rx.button("Decline the change", on_click=D.decline_change, size="2", color_scheme="red",
                                  variant="soft"),
                        align="end", spacing="2", wrap="wrap",
                    ),
                    spacing="2", width="100%",
                ),
            ),
            panel_id="profile-change-request",
        ),
    )
