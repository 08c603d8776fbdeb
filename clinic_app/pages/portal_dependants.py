"""The patient profile's "Portal access for a parent or guardian" panel (state/portal_dependants.py)."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import panel, section_message
from clinic_app.state.patient_profile import ProfileState
from clinic_app.state.portal_dependants import RELATIONSHIP_OPTIONS, ProfileDependants

FIELD = {"height": "36px", "padding": "0 8px", "border": "1px solid var(--gray-8)", "borderRadius": "6px",
         "background": "var(--color-surface)", "color": "var(--gray-12)"}


def dependants_panel() -> rx.Component:
    S = ProfileDependants
    # Mounted once the profile has its patient (and again for the next patient).
    return rx.cond(ProfileState.name != "", rx.box(_panel(S), on_mount=S.load_dependants, width="100%"))


def _link(S, x) -> rx.Component:
    return rx.hstack(
        rx.text(x.holder, " (", x.relationship, "), since ", x.granted, size="2"),
        rx.button("End access", on_click=S.ask_revoke(x.id), size="2", color_scheme="red", variant="soft",
                  aria_label="End access for " + x.holder),
        align="center", wrap="wrap", spacing="2",
    )


def _panel(S) -> rx.Component:
    return panel(
        "Portal access for a parent or guardian",
        section_message(S.message, S.message_is_error),
        rx.cond(
            S.links.length() > 0,
            rx.vstack(rx.foreach(S.links, lambda x: _link(S, x)), spacing="1"),
            rx.text("No one else sees this patient's records in the portal.", size="2"),
        ),
        rx.cond(
            S.confirm_revoke_id != 0,
            rx.hstack(
                rx.text(S.confirm_revoke_text, size="2", weight="bold"),
                rx.button("End access", on_click=S.revoke, size="2", color_scheme="red"),
                rx.button("Keep access", on_click=S.keep_access, size="2", variant="soft"),
                role="alertdialog", aria_label="End portal access", align="center", wrap="wrap", spacing="2",
            ),
        ),
        rx.hstack(
            rx.vstack(
                rx.el.label("Parent or guardian (name)", html_for="dependant-holder-search", style={"fontSize": "14px"}),
                rx.input(id="dependant-holder-search", value=S.holder_text, on_change=S.set_holder_text,
                         max_length=80, width="220px", size="2"),
                spacing="1",
            ),
            rx.button("Find account holder", on_click=S.find_holders, size="2"),
            align="end", spacing="2", wrap="wrap",
        ),
        rx.cond(
            S.holder_options.length() > 0,
            rx.hstack(
                rx.vstack(
                    rx.el.label("Account holder", html_for="dependant-holder", style={"fontSize": "14px"}),
                    rx.el.select(rx.foreach(S.holder_options, lambda o: rx.el.option(o.label, value=o.value)),
                                 id="dependant-holder", value=S.pick_holder, on_change=S.set_pick_holder,
                                 style={**FIELD, "maxWidth": "420px"}),
                    spacing="1",
                ),
                rx.vstack(
                    rx.el.label("Relationship", html_for="dependant-relationship", style={"fontSize": "14px"}),
                    rx.el.select(*[rx.el.option(o.label, value=o.value) for o in RELATIONSHIP_OPTIONS],
                                 id="dependant-relationship", value=S.relationship, on_change=S.set_relationship,
                                 style=FIELD),
                    spacing="1",
                ),
                rx.button("Give portal access", on_click=S.grant, size="2"),
                align="end", spacing="2", wrap="wrap",
            ),
        ),
        panel_id="profile-dependants",
    )
