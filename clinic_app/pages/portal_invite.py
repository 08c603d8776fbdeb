"""The patient profile's "Patient portal" panel (state/portal_invite.py)."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import panel, section_message
from clinic_app.state.patient_profile import ProfileState
from clinic_app.state.portal_invite import ProfilePortal


def portal_panel() -> rx.Component:
    S = ProfilePortal
    # Mounted once the profile has its patient (and again for the next patient).
    return rx.cond(ProfileState.name != "", rx.box(_panel(S), on_mount=S.load_portal, width="100%"))


def _panel(S) -> rx.Component:
    return panel(
        "Patient portal",
        section_message(S.message, S.message_is_error),
        rx.text(S.portal_status, size="2"),
        rx.hstack(
            rx.vstack(
                rx.el.label("Portal e-mail", html_for="portal-invite-email", style={"fontSize": "14px"}),
                rx.input(id="portal-invite-email", type="email", value=S.invite_email, on_change=S.set_invite_email,
                         max_length=120, width="240px", size="2"),
                spacing="1",
            ),
            rx.button("Send portal invitation", on_click=S.send_invite, size="2"),
            align="end", spacing="2", wrap="wrap",
        ),
        rx.cond(
            S.requests.length() > 0,
            rx.vstack(
                rx.heading("Online requests to approve", size="3", as_="h3"),
                rx.foreach(S.requests, lambda r: rx.hstack(
                    rx.text(r.when, " ", r.what, " with ", r.who, size="2"),
                    rx.button("Approve", on_click=S.approve(r.id), aria_label=r.approve_label, size="2"),
                    rx.button("Decline", on_click=S.decline(r.id), aria_label=r.decline_label, size="2",
                              color_scheme="red", variant="soft"),
                    align="center", wrap="wrap", spacing="2",
                )),
                spacing="2", margin_top="8px",
            ),
        ),
        panel_id="profile-portal",
    )
